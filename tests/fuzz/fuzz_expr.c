/* fuzz_expr.c - libFuzzer target: the expression parser of the gategrad
 * command, with two variables defined; whatever parses is run backward. */
#include <stdlib.h>
#include <string.h>

#include "gategrad/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    gg_graph *g = gg_graph_new();
    gg_expr_vars *vars = NULL;
    gg_expr_error err;
    if (g && gg_expr_vars_add(&vars, g, "x=0.5", &err) == 0 && gg_expr_vars_add(&vars, g, "y=-2", &err) == 0) {
        gg_node *root = gg_expr_build(g, text, vars, &err);
        if (root)
            gg_backward(g, root);
    }
    gg_expr_vars_free(vars);
    gg_graph_free(g);
    free(text);
    return 0;
}
