/* cmd_dot.c - `gategrad dot`: an expression's graph, with values and
 * gradients, as Graphviz DOT on stdout; with --grad NAME, the graph that
 * computes d EXPR / d NAME (the backward pass recorded as gates). */
#include <stdio.h>

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

int cmd_dot(int argc, char **argv)
{
    const char *wrt;
    int rc = cli_take_grad(&argc, argv, &wrt);
    if (rc >= 0)
        return rc;
    cli_args a;
    cli_expr e;
    if ((rc = cli_start(argc, argv, 0, usage, &a, &e)) >= 0)
        return rc;
    gg_node *root = e.root;
    if (wrt) {
        rc = (root = cli_gradient(&e, wrt)) ? CLI_OK : CLI_BAD_INPUT;
        if (rc == CLI_OK && gg_requires_grad(root) && gg_backward(e.g, root)) {
            cli_error("%s", gg_error(e.g));
            rc = CLI_FAILED;
        }
    } else
        rc = cli_backward(&e);
    if (rc == CLI_OK && gg_dot(e.g, root, stdout, NULL)) {
        cli_error("%s", gg_error(e.g));
        rc = CLI_FAILED;
    }
    return cli_free(&a, &e, rc);
}
