/* bench.h - the measurements behind `gategrad bench`. */
#ifndef GG_TOOLS_BENCH_H
#define GG_TOOLS_BENCH_H

#include <stddef.h>

typedef struct bench_scalar_result {
    size_t nodes;
    double engine_s, tape_s;          /* best of the repetitions, record + backward */
    size_t engine_bytes, tape_bytes;  /* memory each side held for the graph */
    double max_grad_diff;             /* relative, over the leaves' gradients */
} bench_scalar_result;

/* Builds and back-propagates an n-node random scalar graph (add, mul, max,
 * copy, sigmoid) with the engine and with a reference tape, reps times each,
 * interleaved. 0 on success. */
int bench_scalar(size_t n, int reps, bench_scalar_result *res);

typedef struct bench_train_result {
    const char *data;        /* "fashion-mnist", or "synthetic" of its shape */
    const char *model;       /* the MLP spec */
    size_t batch, samples, steps; /* steps per epoch */
    int threads;
    double epoch_s;          /* fastest seconds per training epoch */
    double gemm_s;           /* fastest seconds of the same epoch's matrix products alone */
    double allocs_per_step;  /* heap allocations per step after an epoch's first, worst
                                epoch; -1 where they cannot be counted (sanitizers) */
    double allocs_last_epoch; /* the same in the last epoch alone */
    double first_loss, last_loss; /* mean training loss of the first and last epoch */
    size_t peak_rss_bytes;   /* of the process after training (before other benchmarks) */
    size_t data_bytes;       /* of that, the training data set's arrays */
} bench_train_result;

/* Trains the classifier for reps epochs (Fashion-MNIST, or synthetic data
 * of its shape when absent or quick != 0: 1024 samples, one thread), each
 * followed by the epoch's matrix products alone. 0 on success; -1 with a message in
 * err (GG_ERRLEN bytes). */
int bench_train(int quick, int reps, bench_train_result *res, char *err);

/* Heap allocations (malloc, calloc, realloc, aligned) this process made so
 * far, or -1 when they cannot be counted (bench_alloc.c says how). */
long bench_alloc_count(void);

/* Monotonic clock, seconds. */
double bench_now(void);

#endif
