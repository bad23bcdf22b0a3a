/* cmd_dot.c - `gategrad dot`: an expression's graph, with values and
 * gradients, as Graphviz DOT on stdout. */
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad dot EXPR NAME=VALUE...\n"
    "The graph of EXPR after one backward pass, as Graphviz DOT: a record per\n"
    "value (name | value | grad), an ellipse per gate.\n"
    "Examples:\n"
    "  gategrad dot \"(x + y) * z\" x=-2 y=5 z=-4 | dot -Tsvg > circuit.svg\n\n";

int cmd_dot(int argc, char **argv)
{
    cli_args a;
    cli_expr e;
    int rc = cli_start(argc, argv, 0, usage, &a, &e);
    if (rc >= 0)
        return rc;
    if ((rc = cli_backward(&e)) == CLI_OK && gg_dot(e.g, e.root, stdout, NULL)) {
        cli_error("%s", gg_error(e.g));
        rc = CLI_FAILED;
    }
    return cli_free(&a, &e, rc);
}
