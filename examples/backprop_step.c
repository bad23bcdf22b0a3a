/* backprop_step.c - the lecture's two-layer sigmoid network (seed 003, §6):
 * one forward pass, one backward pass, one SGD step with learning rate 0.5,
 * all through the MLP and optimizer API.
 *
 *   x = (0.1, 0.2); h = sigmoid(x W1); o = sigmoid(h W2); no biases
 *   E = 1/2 * ((0.4 - o1)^2 + (0.6 - o2)^2)
 *
 * fc1.weight is [inputs, hidden]: row i holds the weights leaving input i,
 * so W1 = [[w1, w3], [w2, w4]] and W2 = [[w5, w7], [w6, w8]]. */
#include <gategrad.h>
#include <stdio.h>

static void print_weights(gg_graph *g, const char *when)
{
    gg_node *w1 = gg_find(g, "fc1.weight"), *w2 = gg_find(g, "fc2.weight");
    printf("%s: w1..w4 = %.8f %.8f %.8f %.8f, w5..w8 = %.8f %.8f %.8f %.8f\n", when, gg_value_at(w1, 0),
           gg_value_at(w1, 2), gg_value_at(w1, 1), gg_value_at(w1, 3), gg_value_at(w2, 0), gg_value_at(w2, 2),
           gg_value_at(w2, 1), gg_value_at(w2, 3));
}

int main(void)
{
    char err[GG_ERRLEN];
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){1, 2}, (double[]){0.1, 0.2});
    gg_node *target = gg_input(g, GG_F64, 2, (int64_t[]){1, 2}, (double[]){0.4, 0.6});
    gg_mlp_spec spec;
    gg_mlp_spec_parse("2-2-2:sigmoid:out=sigmoid:nobias", &spec, err);
    gg_mlp *m = gg_mlp_new(g, x, &spec, 1, err);
    if (!m) {
        fprintf(stderr, "backprop_step: %s\n", err);
        return 1;
    }
    gg_set_data(g, gg_find(g, "fc1.weight"), (double[]){0.3, 0.4, 0.25, 0.35});
    gg_set_data(g, gg_find(g, "fc2.weight"), (double[]){0.45, 0.7, 0.4, 0.6});
    gg_node *o = gg_mlp_output(m), *e = gg_half_sse_loss(g, o, target);

    size_t n;
    gg_node *const *params = gg_mlp_params(m, &n);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_SGD);
    cfg.lr = 0.5;
    gg_optimizer *opt = gg_optimizer_new(&cfg, params, n, err);

    gg_forward(g, e);
    printf("forward: o1 = %.8f, o2 = %.8f, E = %.8f\n", gg_value_at(o, 0), gg_value_at(o, 1), gg_value(e));
    gg_optimizer_zero_grad(opt);
    gg_backward(g, e);
    gg_node *w1 = params[0], *w2 = params[1];
    printf("dE/dw1..w4 = %.8f %.8f %.8f %.8f\n", gg_grad_at(w1, 0), gg_grad_at(w1, 2), gg_grad_at(w1, 1),
           gg_grad_at(w1, 3));
    printf("dE/dw5..w8 = %.8f %.8f %.8f %.8f\n", gg_grad_at(w2, 0), gg_grad_at(w2, 2), gg_grad_at(w2, 1),
           gg_grad_at(w2, 3));
    print_weights(g, "before");
    gg_optimizer_step(opt);
    print_weights(g, "after ");
    gg_forward(g, e);
    printf("new E = %.8f\n", gg_value(e));
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
    return 0;
}
