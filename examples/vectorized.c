/* vectorized.c - the lecture's vectorized example f(x, W) = ||W x||^2 on
 * tensor nodes: W = [[0.1, 0.5], [-0.3, 0.8]], x = [0.2, 0.4].
 *
 * Forward: q = W x = [0.22, 0.26], f = q . q = 0.116.
 * Backward: grad_W f = 2 q x^T = [[0.088, 0.176], [0.104, 0.208]],
 *           grad_x f = 2 W^T q = [-0.112, 0.636].
 * A gradient always has the same shape as its variable; the trace prints
 * tensors as their shape and elements (a summary when they are long). */
#include <gategrad.h>
#include <stdio.h>

int main(void)
{
    const double w_data[] = {0.1, 0.5, -0.3, 0.8}, x_data[] = {0.2, 0.4};
    gg_graph *g = gg_graph_new();
    gg_node *W = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 2}, w_data);
    gg_node *x = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 1}, x_data);
    gg_node *q = gg_matmul(g, W, x);            /* [2,1] */
    gg_node *f = gg_sum(g, gg_mul(g, q, q));    /* ||q||^2: q used twice */
    if (!f) {
        fprintf(stderr, "vectorized: %s\n", gg_error(g));
        gg_graph_free(g);
        return 1;
    }
    gg_set_label(g, W, "W");
    gg_set_label(g, x, "x");
    gg_set_label(g, q, "q");
    gg_set_label(g, f, "f");

    gg_tracer *trace = gg_trace_file(g, stdout, NULL);
    if (!trace || gg_forward(g, f) || gg_backward(g, f)) {
        fprintf(stderr, "vectorized: %s\n", gg_error(g));
        gg_trace_end(trace);
        gg_graph_free(g);
        return 1;
    }
    gg_trace_end(trace);
    printf("f = %g\n", gg_value(f));
    printf("grad W = [[%g, %g], [%g, %g]]\n", gg_grad_at(W, 0), gg_grad_at(W, 1),
           gg_grad_at(W, 2), gg_grad_at(W, 3));
    printf("grad x = [%g, %g]\n", gg_grad_at(x, 0), gg_grad_at(x, 1));
    gg_graph_free(g);
    return 0;
}
