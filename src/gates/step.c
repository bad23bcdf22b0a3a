/* step.c - activations that the lecture's perceptrons need beyond the
 * elementwise family: the step function. */
#include "gates/gates.h"

static void step_forward(gg_node *n)
{
    gg_node *a = n->in[0];
    size_t cnt = ggc_numel(n);
    if (n->dtype == GG_F64) {
        const double *x = ggc_val(a);
        double *y = ggc_val(n);
        for (size_t i = 0; i < cnt; i++)
            y[i] = x[i] > 0;
    } else {
        const float *x = ggc_val(a);
        float *y = ggc_val(n);
        for (size_t i = 0; i < cnt; i++)
            y[i] = x[i] > 0;
    }
}

/* The derivative is 0 wherever it exists: nothing flows back. */
static void step_backward(gg_node *n) { (void)n; }

static double step_local(const gg_node *n, int i, size_t k)
{
    (void)n, (void)i, (void)k;
    return 0;
}

/* Recorded: nothing either. */
static bool step_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)g, (void)n, (void)up, (void)want, (void)din;
    return true;
}

const ggc_gate ggg_gate_step = {
    .name = "step",
    .arity = 1,
    .rule = "blocks the gradient: the step's derivative is 0 wherever it is defined",
    .rule_ko = "gradient를 막는다: 계단(step) 함수의 미분값은 정의된 곳에서 모두 0이다",
    .elementwise = true,
    .shape = ggg_same_shape,
    .forward = step_forward,
    .backward = step_backward,
    .local = step_local,
    .grad = step_grad,
};

gg_node *gg_step(gg_graph *g, gg_node *a) { return ggc_record(g, GG_GATE_step, a, NULL, 0, NULL); }
