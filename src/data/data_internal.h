/* data_internal.h - helpers shared by the data module's files. */
#ifndef GG_DATA_INTERNAL_H
#define GG_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "gategrad/data.h"

#if defined(__GNUC__)
#define GG__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GG__PRINTF(f, a)
/* Returns a malloc'ed identity permutation 0..n-1 (n <= UINT32_MAX; n = 0
 * gives a 1-element buffer), or NULL when out of memory. */
uint32_t *gg__identity_perm(size_t n);

#endif

/* Formats a message into err (GG_ERRLEN bytes, may be NULL); returns -1 so
 * callers can write `return gg__data_err(err, ...)`. */
int gg__data_err(char *err, const char *fmt, ...) GG__PRINTF(2, 3);

/* *out = a * b; returns 0, or -1 when the product overflows size_t. */
int gg__mul_size(size_t a, size_t b, size_t *out);

/* Allocates d->x (n * dim) and d->y (n) and sets n, dim, classes; n = 0
 * gives NULL arrays. Returns 0, or -1 on overflow or out of memory, with
 * *d zeroed. */
int gg__dataset_alloc(gg_dataset *d, size_t n, size_t dim, size_t classes, bool bytes);

/* Returns a malloc'ed identity permutation 0..n-1 (n <= UINT32_MAX; n = 0
 * gives a 1-element buffer), or NULL when out of memory. */
uint32_t *gg__identity_perm(size_t n);

#endif
