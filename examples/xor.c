/* xor.c - a 2-4-1 sigmoid MLP learns XOR by backprop (lecture §8).
 *
 * No single perceptron separates XOR's classes; one hidden layer does. The
 * weights start random and different from each other (Xavier, seed 3): if
 * they started equal, every hidden unit would receive the same gradient and
 * stay a copy of the others. The network is one graph over all four inputs,
 * run again at every step: set nothing (the data never change), forward,
 * zero the gradients, backward, one optimizer step. */
#include <gategrad.h>
#include <stdio.h>

int main(void)
{
    char err[GG_ERRLEN];
    double inputs[] = {0, 0, 0, 1, 1, 0, 1, 1}, targets[] = {0, 1, 1, 0};
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){4, 2}, inputs);
    gg_node *t = gg_input(g, GG_F64, 2, (int64_t[]){4, 1}, targets);
    gg_mlp_spec spec;
    gg_mlp_spec_parse("2-4-1:sigmoid:out=sigmoid", &spec, err);
    gg_mlp *m = gg_mlp_new(g, x, &spec, 3, err);
    if (!m) {
        fprintf(stderr, "xor: %s\n", err);
        return 1;
    }
    gg_node *y = gg_mlp_output(m);
    gg_node *loss = gg_mse_loss(g, y, t);

    size_t n;
    gg_node *const *params = gg_mlp_params(m, &n);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_MOMENTUM);
    cfg.lr = 0.5;
    gg_optimizer *opt = gg_optimizer_new(&cfg, params, n, err);
    for (int step = 0; step <= 2000; step++) {
        if (gg_forward(g, loss) != 0) {
            fprintf(stderr, "xor: %s\n", gg_error(g));
            return 1;
        }
        if (step % 400 == 0)
            printf("step %4d  loss %.6f\n", step, gg_value(loss));
        gg_optimizer_zero_grad(opt);
        gg_backward(g, loss);
        gg_optimizer_step(opt);
    }
    gg_forward(g, loss);
    int right = 0;
    for (size_t i = 0; i < 4; i++) {
        double out = gg_value_at(y, i);
        right += (out > 0.5) == (targets[i] > 0.5);
        printf("%g XOR %g = %.4f (target %g)\n", inputs[2 * i], inputs[2 * i + 1], out, targets[i]);
    }
    printf("%d of 4 right\n", right);
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
    return right == 4 ? 0 : 1;
}
