/* cmd_hessian.c - `gategrad hessian`: the value of an expression, its
 * gradient and its Hessian matrix (the gradient recorded as a graph and
 * differentiated again, gategrad/higher.h), as text or as one JSON line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad hessian [--json] EXPR NAME=VALUE...\n"
    "The value of EXPR, d EXPR / d NAME for every NAME given, and the matrix of\n"
    "second derivatives d2 EXPR / d NAME1 d NAME2 (the gradient is recorded as\n"
    "a graph of gates and differentiated again; 0 for a variable EXPR does not\n"
    "use; kinks as PyTorch: relu'' = abs'' = 0).\n"
    "  --json  the last line of output is one JSON object,\n"
    "          {\"value\": V, \"grad\": {\"x\": Gx, ...}, \"hessian\": {\"x\": {\"x\": Hxx,\n"
    "          \"y\": Hxy}, ...}}, numbers with 17 significant digits (inf, nan: null)\n"
    "Examples:\n"
    "  gategrad hessian \"x^3 * y + 2*x*y^2\" x=1.5 y=-2\n"
    "  gategrad hessian --json \"(1 - x)^2 + 100*(y - x^2)^2\" x=-1.2 y=1\n\n";

static void json_number(double v)
{
    if (isfinite(v))
        printf("%.17g", v);
    else
        fputs("null", stdout);
}

int cmd_hessian(int argc, char **argv)
{
    cli_args a;
    cli_expr e;
    int rc = cli_start(argc, argv, CLI_OPT_JSON, usage, &a, &e);
    if (rc >= 0)
        return rc;
    size_t n = gg_expr_vars_count(e.vars);
    gg_node **wrt = calloc(2 * n + 1, sizeof *wrt);
    double *H = calloc(n * n + 1, sizeof *H);
    if (!wrt || !H) {
        cli_error("out of memory");
        free(wrt);
        free(H);
        return cli_free(&a, &e, CLI_FAILED);
    }
    gg_node **grad = wrt + n;
    for (size_t i = 0; i < n; i++)
        wrt[i] = gg_expr_var_node(e.vars, i);
    if (gg_gradient(e.g, e.root, n, wrt, grad) || gg_hessian(e.g, e.root, n, wrt, H, n)) {
        cli_error("%s", gg_error(e.g));
        rc = CLI_FAILED;
    } else if (a.json) {
        fputs("{\"value\": ", stdout);
        json_number(gg_value(e.root));
        fputs(", \"grad\": {", stdout);
        for (size_t i = 0; i < n; i++) {
            printf("%s\"%s\": ", i ? ", " : "", gg_expr_var_name(e.vars, i));
            json_number(gg_value(grad[i]));
        }
        fputs("}, \"hessian\": {", stdout);
        for (size_t i = 0; i < n; i++) {
            printf("%s\"%s\": {", i ? ", " : "", gg_expr_var_name(e.vars, i));
            for (size_t j = 0; j < n; j++) {
                printf("%s\"%s\": ", j ? ", " : "", gg_expr_var_name(e.vars, j));
                json_number(H[i * n + j]);
            }
            fputs("}", stdout);
        }
        fputs("}}\n", stdout);
        rc = CLI_OK;
    } else {
        const char *f = gg_label(e.g, e.root);
        printf("%s = %.10g\n", f, gg_value(e.root));
        for (size_t i = 0; i < n; i++)
            printf("d%s/d%s = %.10g\n", f, gg_expr_var_name(e.vars, i), gg_value(grad[i]));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                printf("d2%s/d%s d%s = %.10g\n", f, gg_expr_var_name(e.vars, i),
                       gg_expr_var_name(e.vars, j), H[i * n + j]);
        rc = CLI_OK;
    }
    free(wrt);
    free(H);
    return cli_free(&a, &e, rc);
}
