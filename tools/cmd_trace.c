/* cmd_trace.c - `gategrad trace`: every gate of an expression, forward then
 * backward, as the lecture draws it. */
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad trace [--grad NAME] EXPR NAME=VALUE...\n"
    "One line per gate evaluated (inputs, output), then one line per gate's\n"
    "backward step: the upstream gradient, what the gate does with it (add\n"
    "distributes, mul swaps, max routes, a value used twice adds up), with the\n"
    "numbers, and the gradient each input holds afterwards.\n"
    "  --grad NAME  trace instead the graph that computes d EXPR / d NAME (the\n"
    "               backward pass recorded as gates), forward then backward: its\n"
    "               result line gives the second derivatives d2 EXPR / d NAME d V\n"
    "Examples:\n"
    "  gategrad trace \"(x + y) * z\" x=-2 y=5 z=-4\n"
    "  gategrad trace \"x * y + x\" x=3 y=4\n"
    "  gategrad trace --grad x \"x * x * y\" x=3 y=4\n\n";

int cmd_trace(int argc, char **argv)
{
    const char *wrt;
    int rc = cli_take_grad(&argc, argv, &wrt);
    if (rc >= 0)
        return rc;
    cli_args a;
    cli_expr e;
    if ((rc = cli_start(argc, argv, 0, usage, &a, &e)) >= 0)
        return rc;
    if (wrt && !(e.root = cli_gradient(&e, wrt)))
        return cli_free(&a, &e, CLI_BAD_INPUT);
    /* Traced from a second forward pass, so that the root's label is set. */
    gg_tracer *t = gg_trace_file(e.g, stdout, NULL);
    if (!t || gg_forward(e.g, e.root)) {
        cli_error("%s", gg_error(e.g));
        gg_trace_end(t);
        return cli_free(&a, &e, CLI_FAILED);
    }
    rc = cli_backward(&e);
    gg_trace_end(t);
    const char *f = gg_label(e.g, e.root);
    if (rc == CLI_OK) {
        printf("result   %s = %.10g", f, gg_value(e.root));
        for (size_t i = 0; i < gg_expr_vars_count(e.vars); i++)
            printf(", d%s/d%s = %.10g", f, gg_expr_var_name(e.vars, i),
                   gg_grad(gg_expr_var_node(e.vars, i)));
        printf("\n");
    }
    return cli_free(&a, &e, rc);
}
