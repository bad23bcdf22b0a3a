/* cmd_explain.c - `gategrad explain`: the chain rule for one variable,
 * every path from the expression down to it as a product of local
 * derivatives, then the sum over paths. */
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad explain EXPR NAME=VALUE... --wrt NAME [--max-paths N]\n"
    "d EXPR / d NAME by the chain rule: each path from the expression down to\n"
    "NAME as a product of local derivatives (names, numbers, product), then\n"
    "the sum over paths. Only the first N paths (default 16) are written out;\n"
    "the rest are counted and still summed.\n"
    "Examples:\n"
    "  gategrad explain \"(x + y) * z\" x=-2 y=5 z=-4 --wrt x\n"
    "  gategrad explain \"x * x + x\" x=3 --wrt x\n\n";

int cmd_explain(int argc, char **argv)
{
    cli_args a;
    cli_expr e;
    int rc = cli_start(argc, argv, CLI_OPT_WRT | CLI_OPT_MAX_PATHS, usage, &a, &e);
    if (rc >= 0)
        return rc;
    gg_node *leaf = gg_expr_var_find(e.vars, a.wrt);
    if (!leaf) {
        cli_error("--wrt %s: no variable of that name was given a value", a.wrt);
        return cli_free(&a, &e, CLI_BAD_INPUT);
    }
    gg_explain_opts opts = {.max_paths = a.max_paths};
    if (gg_explain(e.g, e.root, leaf, stdout, &opts)) {
        cli_error("%s", gg_error(e.g));
        rc = CLI_FAILED;
    }
    return cli_free(&a, &e, rc < 0 ? CLI_OK : rc);
}
