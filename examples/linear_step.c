/* linear_step.c - the lecture's linear 2-2-1 network (seed 000, §7): input
 * (2, 3), no activation, target 1, E = 1/2 (output - 1)^2, one SGD step with
 * learning rate 0.05, through the MLP and optimizer API. */
#include <gategrad.h>
#include <stdio.h>

int main(void)
{
    char err[GG_ERRLEN];
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){1, 2}, (double[]){2, 3});
    gg_node *target = gg_input(g, GG_F64, 2, (int64_t[]){1, 1}, (double[]){1});
    gg_mlp_spec spec;
    gg_mlp_spec_parse("2-2-1:linear:nobias", &spec, err);
    gg_mlp *m = gg_mlp_new(g, x, &spec, 1, err);
    if (!m) {
        fprintf(stderr, "linear_step: %s\n", err);
        return 1;
    }
    /* Row i of fc1.weight: the weights leaving input i (to h1, to h2). */
    gg_set_data(g, gg_find(g, "fc1.weight"), (double[]){0.11, 0.12, 0.21, 0.08});
    gg_set_data(g, gg_find(g, "fc2.weight"), (double[]){0.14, 0.15});
    gg_node *out = gg_mlp_output(m), *e = gg_half_sse_loss(g, out, target);

    size_t n;
    gg_node *const *params = gg_mlp_params(m, &n);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_SGD);
    cfg.lr = 0.05;
    gg_optimizer *opt = gg_optimizer_new(&cfg, params, n, err);
    gg_forward(g, e);
    printf("output = %.6f, error = %.7f, delta = %.3f\n", gg_value(out), gg_value(e), gg_value(out) - 1);
    gg_optimizer_zero_grad(opt);
    gg_backward(g, e);
    gg_optimizer_step(opt);
    gg_node *w1 = params[0], *w2 = params[1];
    printf("new w5 = %.7f, w6 = %.6f\n", gg_value_at(w2, 0), gg_value_at(w2, 1));
    printf("new w1 (i1->h1) = %.6f, w2 (i2->h1) = %.6f, w3 (i1->h2) = %.6f, w4 (i2->h2) = %.7f\n",
           gg_value_at(w1, 0), gg_value_at(w1, 2), gg_value_at(w1, 1), gg_value_at(w1, 3));
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
    return 0;
}
