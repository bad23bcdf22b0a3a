/* cmd_dot.c - `gategrad dot`: an expression's graph, with values and
 * gradients, as Graphviz DOT on stdout; with --grad NAME, the graph that
 * computes d EXPR / d NAME (the backward pass recorded as gates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad dot [--grad NAME] EXPR NAME=VALUE...\n"
    "The graph of EXPR after one backward pass, as Graphviz DOT: a record per\n"
    "value (name | value | grad), an ellipse per gate.\n"
    "  --grad NAME  draw instead the graph that computes d EXPR / d NAME: the\n"
    "               backward pass recorded as gates of its own (backpropagation\n"
    "               as a circuit), its gradients those of one more backward pass\n"
    "Examples:\n"
    "  gategrad dot \"(x + y) * z\" x=-2 y=5 z=-4 | dot -Tsvg > circuit.svg\n"
    "  gategrad dot --grad x \"x * y + sin(x)\" x=1 y=2 | dot -Tsvg > dfdx.svg\n\n";

/* The graph of d root / d name, labelled "d<f>/d<name>"; NULL after a message. */
static gg_node *gradient_of(cli_expr *e, const char *name)
{
    gg_node *x = NULL, *d;
    for (size_t i = 0; i < gg_expr_vars_count(e->vars); i++)
        if (!strcmp(gg_expr_var_name(e->vars, i), name))
            x = gg_expr_var_node(e->vars, i);
    if (!x) {
        cli_error("--grad %s: no variable '%s' was given a value", name, name);
        return NULL;
    }
    if (gg_gradient(e->g, e->root, 1, &x, &d)) {
        cli_error("%s", gg_error(e->g));
        return NULL;
    }
    char label[256];
    snprintf(label, sizeof label, "d%s/d%s", gg_label(e->g, e->root), name);
    if (!gg_label(e->g, d) && !gg_find(e->g, label))
        gg_set_label(e->g, d, label);
    if (gg_requires_grad(d) && gg_backward(e->g, d)) {
        cli_error("%s", gg_error(e->g));
        return NULL;
    }
    return d;
}

int cmd_dot(int argc, char **argv)
{
    /* --grad NAME is taken out here; the rest is the common syntax */
    const char *wrt = NULL;
    char **rest = malloc(((size_t)argc + 1) * sizeof *rest);
    if (!rest) {
        cli_error("out of memory");
        return CLI_FAILED;
    }
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            while (i < argc)
                rest[n++] = argv[i++];
        else if (!strcmp(argv[i], "--grad")) {
            if (i + 1 >= argc) {
                cli_error("--grad needs a variable name");
                free(rest);
                return CLI_BAD_INPUT;
            }
            wrt = argv[++i];
        } else
            rest[n++] = argv[i];
    }
    rest[n] = NULL;
    cli_args a;
    cli_expr e;
    int rc = cli_start(n, rest, 0, usage, &a, &e);
    if (rc >= 0) {
        free(rest);
        return rc;
    }
    gg_node *root = e.root;
    if (wrt)
        rc = (root = gradient_of(&e, wrt)) ? CLI_OK : CLI_BAD_INPUT;
    else
        rc = cli_backward(&e);
    if (rc == CLI_OK && gg_dot(e.g, root, stdout, NULL)) {
        cli_error("%s", gg_error(e.g));
        rc = CLI_FAILED;
    }
    rc = cli_free(&a, &e, rc);
    free(rest);
    return rc;
}
