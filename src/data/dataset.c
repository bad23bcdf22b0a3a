/* dataset.c - the gg_dataset container, splits, batches and one-hot. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"

void gg_dataset_free(gg_dataset *d)
{
    if (!d)
        return;
    ggb_free(d->x);
    ggb_free(d->xb);
    ggb_free(d->y);
    memset(d, 0, sizeof *d);
}

/* Pixels to [0, 1]: a true division (the bits every earlier run used),
 * vectorized for AVX-512 where the CPU has it. */
GGK_VEC static void bytes_to_unit(const uint8_t *restrict b, size_t n, float *restrict out)
{
    for (size_t j = 0; j < n; j++)
        out[j] = (float)b[j] / 255.0f;
}

void gg_dataset_row(const gg_dataset *d, size_t i, float *out)
{
    size_t dim = d->dim;
    if (d->x) {
        memcpy(out, d->x + i * dim, dim * sizeof *out);
        return;
    }
    bytes_to_unit(d->xb + i * dim, dim, out);
}

int ggd_dataset_alloc(gg_dataset *d, size_t n, size_t dim, size_t classes, bool bytes)
{
    memset(d, 0, sizeof *d);
    size_t nx, xbytes, ybytes;
    if (ggb_mul_size(n, dim, &nx) || ggb_mul_size(nx, bytes ? 1 : sizeof(float), &xbytes)
        || ggb_mul_size(n, sizeof(int32_t), &ybytes))
        return -1;
    if (n > 0) {
        void *x = xbytes ? ggb_malloc(xbytes) : NULL;
        if (bytes)
            d->xb = x;
        else
            d->x = x;
        d->y = ggb_malloc(ybytes);
        if ((xbytes && !x) || !d->y) {
            gg_dataset_free(d);
            return -1;
        }
    }
    d->n = n;
    d->dim = dim;
    d->classes = classes;
    return 0;
}

/* Copies samples idx[0..m) of src, stored as they are, into dst (already
 * allocated in the same form). */
static void copy_samples(const gg_dataset *src, const uint32_t *idx, size_t m, gg_dataset *dst)
{
    size_t dim = src->dim;
    for (size_t i = 0; i < m; i++) {
        if (src->xb)
            memcpy(dst->xb + i * dim, src->xb + (size_t)idx[i] * dim, dim);
        else if (src->x)
            memcpy(dst->x + i * dim, src->x + (size_t)idx[i] * dim, dim * sizeof(float));
        dst->y[i] = src->y[idx[i]];
    }
}

uint32_t *ggd_identity_perm(size_t n)
{
    uint32_t *p = ggb_malloc((n ? n : 1) * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = (uint32_t)i;
    return p;
}

int gg_dataset_split(const gg_dataset *src, double fraction, uint64_t seed,
                     gg_dataset *a, gg_dataset *b, char *err)
{
    if (a)
        memset(a, 0, sizeof *a);
    if (b)
        memset(b, 0, sizeof *b);
    if (!src || !a || !b || a == b)
        return ggb_errorf(err, "gg_dataset_split: NULL or aliased argument");
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return ggb_errorf(err, "gg_dataset_split: fraction %g is not in [0, 1]",
                            fraction);
    if (src->n > UINT32_MAX)
        return ggb_errorf(err, "gg_dataset_split: %zu samples, more than 2^32-1",
                            src->n);
    size_t na = (size_t)llround(fraction * (double)src->n);
    uint32_t *perm = ggd_identity_perm(src->n);
    bool bytes = src->xb != NULL;
    if (!perm || ggd_dataset_alloc(a, na, src->dim, src->classes, bytes)
        || ggd_dataset_alloc(b, src->n - na, src->dim, src->classes, bytes)) {
        ggb_free(perm);
        gg_dataset_free(a);
        return ggb_errorf(err, "gg_dataset_split: out of memory for %zu samples",
                            src->n);
    }
    gg_rng r;
    gg_rng_seed(&r, seed);
    gg_rng_shuffle(&r, perm, src->n);
    copy_samples(src, perm, na, a);
    copy_samples(src, perm + na, src->n - na, b);
    ggb_free(perm);
    return 0;
}

int gg_batcher_init(gg_batcher *b, const gg_dataset *data, size_t batch,
                    int shuffle, uint64_t seed, char *err)
{
    if (!b)
        return ggb_errorf(err, "gg_batcher_init: NULL batcher");
    memset(b, 0, sizeof *b);
    if (!data || data->n == 0 || batch == 0)
        return ggb_errorf(err, "gg_batcher_init: empty data set or batch size 0");
    if (data->n > UINT32_MAX)
        return ggb_errorf(err, "gg_batcher_init: %zu samples, more than 2^32-1",
                            data->n);
    b->perm = ggd_identity_perm(data->n);
    if (!b->perm)
        return ggb_errorf(err, "gg_batcher_init: out of memory for %zu samples",
                            data->n);
    b->data = data;
    b->batch = batch;
    b->shuffle = shuffle;
    gg_rng_seed(&b->rng, seed);
    if (shuffle)
        gg_rng_shuffle(&b->rng, b->perm, data->n);
    return 0;
}

/* Samples are visited in shuffled order, so each row starts with a cache
 * miss that the hardware prefetchers cannot foresee; asking for the row
 * and label a few samples ahead hides that latency behind the conversions
 * (the README's Performance section has the figures). */
#define PREFETCH_AHEAD 4
/* Batches of at least this many values are gathered by all the threads:
 * below it, handing out the work costs more than it saves. */
#define GATHER_PARALLEL_MIN 32768

/* always_inline: as a function of its own it only prefetches, which GCC
 * takes for "pure" and then deletes every call to (its result being
 * unused); inlined, the prefetches stay. */
static inline __attribute__((always_inline)) void prefetch_sample(const gg_dataset *d, size_t k, bool row)
{
    __builtin_prefetch(d->y + k);
    if (!row)
        return;
    const char *row_at = d->xb ? (const char *)(d->xb + k * d->dim) : (const char *)(d->x + k * d->dim);
    size_t bytes = d->dim * (d->xb ? 1 : sizeof *d->x);
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch(row_at + off);
}

/* One batch's gather: samples perm[0 .. m) into rows of x and y; then the
 * next batch's samples, perm[m .. m + next), are asked for, so that their
 * misses are served while the step computes. */
typedef struct gather_job {
    const gg_dataset *data;
    const uint32_t *perm;
    size_t m, next;
    float *x;
    int32_t *y;
} gather_job;

/* Thread tid's contiguous run [*lo, *hi) of m samples. */
static void share_of(size_t m, int tid, int nthreads, size_t *lo, size_t *hi)
{
    *lo = m * (size_t)tid / (size_t)nthreads;
    *hi = m * (size_t)(tid + 1) / (size_t)nthreads;
}

/* Thread tid's share of the gather, and of the next batch's requests. */
static void gather_part(void *arg, int tid, int nthreads)
{
    const gather_job *j = arg;
    size_t lo, hi;
    share_of(j->m, tid, nthreads, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        size_t k = j->perm[i];
        if (i + PREFETCH_AHEAD < hi)
            prefetch_sample(j->data, j->perm[i + PREFETCH_AHEAD], j->x != NULL);
        if (j->x)
            gg_dataset_row(j->data, k, j->x + i * j->data->dim);
        if (j->y)
            j->y[i] = j->data->y[k];
    }
    share_of(j->next, tid, nthreads, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        prefetch_sample(j->data, j->perm[j->m + i], j->x != NULL);
}

size_t gg_batcher_next(gg_batcher *b, float *x_out, int32_t *y_out)
{
    size_t n = b->data->n;
    if (b->pos >= n) {
        b->pos = 0;
        b->epoch++;
        if (b->shuffle)
            gg_rng_shuffle(&b->rng, b->perm, n);
        return 0;
    }
    size_t m = n - b->pos < b->batch ? n - b->pos : b->batch;
    size_t after = n - b->pos - m;
    gather_job job = {b->data, b->perm + b->pos, m, after < b->batch ? after : b->batch, x_out, y_out};
    int threads = x_out && m * b->data->dim >= GATHER_PARALLEL_MIN ? gg_num_threads() : 1;
    ggk_parallel_run(gather_part, &job, threads);
    b->pos += m;
    return m;
}

void gg_batcher_free(gg_batcher *b)
{
    if (!b)
        return;
    ggb_free(b->perm);
    memset(b, 0, sizeof *b);
}

int gg_one_hot(const int32_t *y, size_t m, size_t classes, float *out,
               char *err)
{
    size_t total;
    if (ggb_mul_size(m, classes, &total))
        return ggb_errorf(err, "gg_one_hot: %zu x %zu overflows", m, classes);
    if (total)
        memset(out, 0, total * sizeof *out);
    for (size_t i = 0; i < m; i++) {
        if (y[i] < 0 || (size_t)y[i] >= classes) {
            memset(out, 0, total * sizeof *out);
            return ggb_errorf(err, "gg_one_hot: label %d at index %zu is not in [0, %zu)",
                                (int)y[i], i, classes);
        }
        out[i * classes + (size_t)y[i]] = 1.0f;
    }
    return 0;
}
