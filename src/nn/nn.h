/* nn/nn.h - what the layer, loss, optimizer and training files share
 * (internal, prefix ggn_). */
#ifndef GGN_NN_H
#define GGN_NN_H

#include <stddef.h>

#include "base/base.h"
#include "gategrad/nn.h"

/* Most tensors an MLP keeps in a checkpoint (weights, biases, per-layer
 * extras). */
#define GGN_MAX_PARAMS (8 * GG_MLP_MAX_LAYERS)

/* gg_optimizer_step, then gg_zero_grad_lazy on every parameter (leaves of
 * g): a training loop's next backward starts from zero gradients that
 * nothing swept, and its weight-gradient products store instead of adding. */
void ggn_optimizer_step_zero(gg_optimizer *o, gg_graph *g);

/* gg_classifier_fit as rank of size ranks (size 1: alone, even in an MPI
 * job, which is how the tests compute the one-process reference). */
int ggn_classifier_fit_ranks(gg_classifier *c, const gg_dataset *train, const gg_dataset *val,
                             const gg_fit_config *cfg, const gg_fit_callbacks *cb, gg_fit_result *res, int rank,
                             int size, char *err);

/* Index of the largest of row[0..len) (the first on ties). */
size_t ggn_argmax_f32(const float *row, size_t len);

#endif
