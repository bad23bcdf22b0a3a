/* cmd_html.c - `gategrad html`: one self-contained page that steps
 * through an expression's backpropagation gate by gate (gg_html), for an
 * expression or one of the lecture's examples. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: gategrad html EXPR NAME=VALUE... [-o FILE] [--lang en|ko]\n"
    "       gategrad html --example NAME [-o FILE] [--lang en|ko]\n"
    "Writes one HTML page (no network, opens from a file) that steps through\n"
    "the circuit: forward gate by gate, then backward, with each wire's value\n"
    "(light green) and gradient (red), the active gate's rule and numbers,\n"
    "buttons, arrow keys and #step=N links. Scalar circuits of elementwise\n"
    "gates can be edited in the page. Without -o the page goes to stdout.\n"
    "Examples (--example): circuit, gates, neuron, shopping, two-layer, vectorized.\n"
    "  gategrad html \"(x + y) * z\" x=-2 y=5 z=-4 -o circuit.html\n"
    "  gategrad html --example two-layer --lang ko -o two-layer.html\n\n";

/* The lecture's examples (../shared/lecture-examples.md) as programs of the
 * expression language; vectorized (tensors) is built through the API. */
static const struct example {
    const char *name, *program, *vars[12];
} examples[] = {
    {"circuit", "q = x + y; f = q * z", {"x=-2", "y=5", "z=-4"}},
    {"gates", "xy = x * y; m = max(z, w); s = xy + m; f = 2 * s", {"x=3", "y=-4", "z=2", "w=-1"}},
    {"neuron", "w0x0 = w0 * x0; w1x1 = w1 * x1; dot = w0x0 + w1x1 + w2; f = sigmoid(dot)",
     {"w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"}},
    {"shopping",
     "apples = apple * apple_count; oranges = orange * orange_count; total = apples + oranges;"
     " price = total * tax",
     {"apple=100", "apple_count=2", "orange=150", "orange_count=3", "tax=1.1"}},
    {"two-layer",
     "z1 = w1*x1 + w2*x2; z2 = w3*x1 + w4*x2; h1 = sigmoid(z1); h2 = sigmoid(z2)\n"
     "z3 = w5*h1 + w6*h2; z4 = w7*h1 + w8*h2; o1 = sigmoid(z3); o2 = sigmoid(z4)\n"
     "E = 0.5*(0.4 - o1)^2 + 0.5*(0.6 - o2)^2",
     {"x1=0.1", "x2=0.2", "w1=0.3", "w2=0.25", "w3=0.4", "w4=0.35", "w5=0.45", "w6=0.4", "w7=0.7",
      "w8=0.6"}},
    {"vectorized", NULL, {0}},
};

/* f = ||W x||^2 with W = [[0.1, 0.5], [-0.3, 0.8]], x = [0.2, 0.4]. */
static gg_node *vectorized(gg_graph *g)
{
    static const double w[] = {0.1, 0.5, -0.3, 0.8}, x[] = {0.2, 0.4};
    gg_node *W = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 2}, w);
    gg_node *X = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 1}, x);
    gg_set_label(g, W, "W");
    gg_set_label(g, X, "x");
    gg_node *q = gg_matmul(g, W, X);
    gg_set_label(g, q, "q");
    gg_node *f = gg_sum(g, gg_mul(g, q, q));
    gg_set_label(g, f, "f");
    return f;
}

static int build_example(const char *name, gg_graph *g, gg_expr_vars **vars, gg_node **root)
{
    const struct example *ex = NULL;
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
        if (!strcmp(examples[i].name, name))
            ex = &examples[i];
    if (!ex) {
        cli_error("unknown example '%s' (known: circuit, gates, neuron, shopping, two-layer, "
                  "vectorized)", name);
        return CLI_BAD_INPUT;
    }
    if (!ex->program) {
        *root = vectorized(g);
    } else {
        gg_expr_error err;
        for (int i = 0; ex->vars[i]; i++)
            if (gg_expr_vars_add(vars, g, ex->vars[i], &err)) {
                cli_error("%s", err.message);
                return CLI_FAILED;
            }
        *root = gg_expr_build(g, ex->program, *vars, &err);
        if (!*root)
            cli_error("example %s: %s", name, err.message);
    }
    if (!*root) {
        cli_error("example %s: %s", name, gg_error(g));
        return CLI_FAILED;
    }
    return CLI_OK;
}

static int write_page(gg_graph *g, gg_node *root, const char *path, const gg_html_opts *o)
{
    if (!path) {
        if (gg_html(g, root, stdout, o)) {
            cli_error("%s", gg_error(g));
            return CLI_FAILED;
        }
        return CLI_OK;
    }
    gg_atomic_file af;
    char err[GG_ERRLEN];
    if (gg_atomic_open(path, &af, err)) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    if (gg_html(g, root, af.fp, o)) {
        cli_error("%s", gg_error(g));
        gg_atomic_abort(&af);
        return CLI_FAILED;
    }
    if (gg_atomic_commit(&af, err)) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    return CLI_OK;
}

int cmd_html(int argc, char **argv)
{
    const char *out = NULL, *example = NULL;
    gg_html_opts o = {0};
    /* Takes out this command's own options; the rest go to cli_start. */
    char **rest = malloc(((size_t)argc + 1) * sizeof *rest);
    if (!rest) {
        cli_error("out of memory");
        return CLI_FAILED;
    }
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char **to = !strcmp(s, "-o") || !strcmp(s, "--output") ? &out
                          : !strcmp(s, "--lang")                      ? &o.lang
                          : !strcmp(s, "--example")                   ? &example
                                                                      : NULL;
        if (i > 0 && !strcmp(s, "--")) {
            while (i < argc)
                rest[nrest++] = argv[i++];
            break;
        }
        if (!to) {
            rest[nrest++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            cli_error("%s needs a value", s);
            free(rest);
            return CLI_BAD_INPUT;
        }
        *to = argv[++i];
    }
    rest[nrest] = NULL;
    if (o.lang && strcmp(o.lang, "en") && strcmp(o.lang, "ko")) {
        cli_error("--lang %s: the page speaks en or ko", o.lang);
        free(rest);
        return CLI_BAD_INPUT;
    }
    int rc;
    if (example) {
        for (int i = 1; i < nrest; i++)
            if (!strcmp(rest[i], "--help") || !strcmp(rest[i], "-h")) {
                fputs(usage, stdout);
                free(rest);
                return CLI_OK;
            }
        if (nrest > 1) {
            cli_error("--example %s takes no expression or values (got '%s')", example, rest[1]);
            free(rest);
            return CLI_BAD_INPUT;
        }
        gg_graph *g = gg_graph_new();
        gg_expr_vars *vars = NULL;
        gg_node *root = NULL;
        rc = g ? build_example(example, g, &vars, &root) : CLI_FAILED;
        if (rc == CLI_OK)
            rc = write_page(g, root, out, &o);
        gg_expr_vars_free(vars);
        gg_graph_free(g);
        free(rest);
        return rc;
    }
    cli_args a;
    cli_expr e;
    rc = cli_start(nrest, rest, 0, usage, &a, &e);
    if (rc >= 0) {
        free(rest);
        return rc;
    }
    rc = cli_free(&a, &e, write_page(e.g, e.root, out, &o));
    free(rest);
    return rc;
}
