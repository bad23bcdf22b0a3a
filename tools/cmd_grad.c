/* cmd_grad.c - `gategrad grad`: the value of an expression and its gradient
 * with respect to each variable, as text or as one JSON line. */
#include <math.h>
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad grad [--json] EXPR NAME=VALUE...\n"
    "The value of EXPR and d EXPR / d NAME for every NAME given (0 for a\n"
    "variable EXPR does not use).\n"
    "  --json  the last line of output is one JSON object,\n"
    "          {\"value\": V, \"grad\": {\"x\": Gx, ...}}, numbers with 17\n"
    "          significant digits so that doubles round-trip (inf, nan: null)\n"
    "Examples:\n"
    "  gategrad grad \"(x + y) * z\" x=-2 y=5 z=-4\n"
    "  gategrad grad --json \"2 * (x*y + max(z, w))\" x=3 y=-4 z=2 w=-1\n\n";

static void json_number(double v)
{
    if (isfinite(v))
        printf("%.17g", v);
    else
        fputs("null", stdout);
}

static void print_json(const cli_expr *e)
{
    fputs("{\"value\": ", stdout);
    json_number(gg_value(e->root));
    fputs(", \"grad\": {", stdout);
    for (size_t i = 0; i < gg_expr_vars_count(e->vars); i++) {
        printf("%s\"%s\": ", i ? ", " : "", gg_expr_var_name(e->vars, i));
        json_number(gg_grad(gg_expr_var_node(e->vars, i)));
    }
    fputs("}}\n", stdout);
}

static void print_text(const cli_expr *e)
{
    const char *f = gg_label(e->g, e->root);
    printf("%s = %.10g\n", f, gg_value(e->root));
    for (size_t i = 0; i < gg_expr_vars_count(e->vars); i++)
        printf("d%s/d%s = %.10g\n", f, gg_expr_var_name(e->vars, i),
               gg_grad(gg_expr_var_node(e->vars, i)));
}

int cmd_grad(int argc, char **argv)
{
    cli_args a;
    cli_expr e;
    int rc = cli_start(argc, argv, CLI_OPT_JSON, usage, &a, &e);
    if (rc >= 0)
        return rc;
    if ((rc = cli_backward(&e)) == CLI_OK) {
        if (a.json)
            print_json(&e);
        else
            print_text(&e);
    }
    return cli_free(&a, &e, rc);
}
