/* anomaly.c - optional NaN/Inf detection after every gate, naming the first
 * gate that produced one, like PyTorch's detect_anomaly. */
#include <math.h>
#include <stdio.h>

#include "core/core.h"

int gg_detect_anomaly(gg_graph *g, int on)
{
    if (!g)
        return -1;
    g->detect_anomaly = on != 0;
    ggc_scalar_end_update(g);
    return 0;
}

/* Index of the first NaN or Inf among n elements of buf, or -1. */
static long first_bad(gg_dtype dtype, const void *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = ggb_get(dtype, buf, i);
        if (!isfinite(v))
            return (long)i;
    }
    return -1;
}

/* "node 3 'x' (log)" */
static void describe(const gg_graph *g, const gg_node *n, char *buf, size_t size)
{
    const char *label = gg_label(g, n);
    snprintf(buf, size, "node %u%s%s%s (%s)", n->id, label ? " '" : "", label ? label : "",
             label ? "'" : "", ggc_gate_of(n)->name);
}

/* "x = 0" for scalars, "x: [3,4] first -1.5" for tensors, for each input. */
static void describe_inputs(const gg_graph *g, const gg_node *n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ggc_nin(n) && used < size; i++) {
        const gg_node *in = ggc_in(n, i);
        char who[96], shape[64];
        describe(g, in, who, sizeof who);
        const void *v = ggc_val((gg_node *)in);
        long bad = first_bad(in->dtype, v, ggc_numel(in));
        int w;
        if (in->rank == 0)
            w = snprintf(buf + used, size - used, "%s%s = %.17g", i ? ", " : "", who, ggb_get(in->dtype, v, 0));
        else
            w = snprintf(buf + used, size - used, "%s%s %s, element %ld = %.17g", i ? ", " : "", who,
                         gg_shape_str(in, shape, sizeof shape), bad < 0 ? 0 : bad,
                         ggb_get(in->dtype, v, bad < 0 ? 0 : (size_t)bad));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static bool report(gg_graph *g, const gg_node *n, const char *phase, const char *what, double v, long at)
{
    char who[96], inputs[GG_ERRLEN];
    describe(g, n, who, sizeof who);
    describe_inputs(g, n, inputs, sizeof inputs);
    ggc_fail(g, "anomaly: %s of %s produced %g in %s (element %ld); inputs: %s", phase, who, v, what, at,
             inputs);
    return false;
}

bool ggc_anomaly_forward(gg_graph *g, const gg_node *n)
{
    const void *v = ggc_val((gg_node *)n);
    long bad = first_bad(n->dtype, v, ggc_numel(n));
    return bad < 0 || report(g, n, "forward", "its value", ggb_get(n->dtype, v, (size_t)bad), bad);
}

bool ggc_anomaly_backward(gg_graph *g, const gg_node *n)
{
    for (int i = 0; i < ggc_nin(n); i++) {
        const gg_node *in = ggc_in(n, i);
        if (!ggc_needs_grad(in))
            continue;
        const void *gr = ggc_grad((gg_node *)in);
        long bad = first_bad(in->dtype, gr, ggc_numel(in));
        if (bad >= 0) {
            char what[64];
            snprintf(what, sizeof what, "the gradient of input %d (node %u)", i + 1, in->id);
            return report(g, n, "backward", what, ggb_get(in->dtype, gr, (size_t)bad), bad);
        }
    }
    return true;
}
