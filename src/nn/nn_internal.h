/* nn_internal.h - helpers shared by the src/nn files. */
#ifndef GG_NN_INTERNAL_H
#define GG_NN_INTERNAL_H

/* Formats a message into err (GG_ERRLEN bytes) when err is not NULL. */
void gg__nn_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stddef.h>

#include "gategrad/nn.h"

/* gg_optimizer_step, then the gradients it used are zeroed in the same
 * pass (while in cache): a training loop's next backward starts from zero
 * with no gg_optimizer_zero_grad sweep of its own. */
void gg__optimizer_step_zero(gg_optimizer *o);

/* Index of the largest of row[0..len) (the first on ties). */
size_t gg__argmax_f32(const float *row, size_t len);

#endif
