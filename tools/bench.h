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

#endif
