/* losses.c - the losses that are plain compositions of gates, and the
 * accuracy metric. The fused ones are gates (src/gates/loss.c). */
#include "gategrad/nn.h"
#include "nn/nn.h"

gg_node *gg_mse_loss(gg_graph *g, gg_node *pred, gg_node *target)
{
    gg_node *d = gg_sub(g, pred, target);
    return gg_mean(g, gg_mul(g, d, d));
}

gg_node *gg_half_sse_loss(gg_graph *g, gg_node *pred, gg_node *target)
{
    if (!g || !pred)
        return NULL;
    gg_node *d = gg_sub(g, target, pred);
    gg_node *half = gg_constant(g, gg_node_dtype(pred), 0.5);
    return gg_mul(g, half, gg_sum(g, gg_mul(g, d, d)));
}

size_t ggn_argmax_f32(const float *row, size_t len)
{
    size_t best = 0;
    for (size_t j = 1; j < len; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

double gg_accuracy_f32(const float *logits, const int32_t *labels, size_t m, size_t classes)
{
    size_t right = 0;
    for (size_t r = 0; r < m; r++)
        right += (int32_t)ggn_argmax_f32(logits + r * classes, classes) == labels[r];
    return m ? (double)right / (double)m : 0.0;
}
