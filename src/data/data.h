/* data/data.h - what the data module's files share (internal, prefix ggd_). */
#ifndef GGD_DATA_H
#define GGD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "gategrad/data.h"

/* Allocates d->x (n * dim) and d->y (n) and sets n, dim, classes; n = 0
 * gives NULL arrays. Returns 0, or -1 on overflow or out of memory, with
 * *d zeroed. */
int ggd_dataset_alloc(gg_dataset *d, size_t n, size_t dim, size_t classes, bool bytes);

/* Returns an identity permutation 0..n-1 (n <= UINT32_MAX; n = 0 gives a
 * 1-element buffer) from ggb_malloc, or NULL when out of memory. */
uint32_t *ggd_identity_perm(size_t n);

#endif
