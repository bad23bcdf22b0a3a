/* newton.c - Newton's method on the Rosenbrock function with Hessian-vector
 * products: the gradient and H.v are graphs recorded once, re-run at every
 * step.
 *
 *     f(x, y) = (1 - x)^2 + 100 (y - x^2)^2,   minimum f(1, 1) = 0
 *
 * Newton's step solves H d = -grad f with the 2x2 Hessian H, whose columns
 * are H.e1 and H.e2: gg_hvp records H.v for a v we can rewrite, so two
 * gg_forward calls with v = e1 and v = e2 give H, without recording anything
 * more. From the textbook start (-1.2, 1) plain Newton lands on (1, 1) in a
 * handful of steps, the error squaring at each step near the end. */
#include <math.h>
#include <stdio.h>

#include <gategrad.h>

int main(void)
{
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, -1.2), *y = gg_scalar(g, 1.0);

    /* f, built once */
    gg_node *a = gg_sub(g, gg_const(g, 1), x);
    gg_node *b = gg_sub(g, y, gg_mul(g, x, x));
    gg_node *f = gg_add(g, gg_mul(g, a, a), gg_mul(g, gg_const(g, 100), gg_mul(g, b, b)));

    /* its gradient and H.v, recorded as graphs */
    gg_node *wrt[2] = {x, y}, *grad[2], *hv[2];
    gg_node *v[2] = {gg_const(g, 1), gg_const(g, 0)};
    if (gg_gradient(g, f, 2, wrt, grad) || gg_hvp(g, f, 2, wrt, v, hv)) {
        fprintf(stderr, "newton: %s\n", gg_error(g));
        return 1;
    }
    printf("gradient graph: %zu nodes in all (f has %zu)\n", gg_node_count(g), gg_node_id(f) + 1);

    for (int step = 0; step < 20; step++) {
        /* the gradient at the current point */
        gg_forward(g, f);
        gg_forward(g, grad[0]);
        gg_forward(g, grad[1]);
        double gx = gg_value(grad[0]), gy = gg_value(grad[1]);
        printf("step %d: x = %.15f, y = %.15f, f = %.6e, |grad| = %.3e\n", step, gg_value(x),
               gg_value(y), gg_value(f), sqrt(gx * gx + gy * gy));
        if (fabs(gg_value(x) - 1) < 1e-12 && fabs(gg_value(y) - 1) < 1e-12)
            break;
        /* the Hessian's columns, H.e1 and H.e2, by re-running H.v */
        double H[2][2];
        for (int c = 0; c < 2; c++) {
            gg_set_value(g, v[0], c == 0);
            gg_set_value(g, v[1], c == 1);
            gg_forward(g, hv[0]);
            gg_forward(g, hv[1]);
            H[0][c] = gg_value(hv[0]);
            H[1][c] = gg_value(hv[1]);
        }
        /* the 2x2 solve H d = -grad (Cramer's rule) and the step */
        double det = H[0][0] * H[1][1] - H[0][1] * H[1][0];
        double dx = (-gx * H[1][1] + gy * H[0][1]) / det;
        double dy = (-gy * H[0][0] + gx * H[1][0]) / det;
        gg_set_value(g, x, gg_value(x) + dx);
        gg_set_value(g, y, gg_value(y) + dy);
    }
    int ok = fabs(gg_value(x) - 1) < 1e-12 && fabs(gg_value(y) - 1) < 1e-12;
    printf("%s: (%.15f, %.15f)\n", ok ? "minimum reached" : "not converged", gg_value(x), gg_value(y));
    gg_graph_free(g);
    return ok ? 0 : 1;
}
