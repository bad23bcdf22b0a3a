/* kernels/bench_gemm.h - the GEMM benchmark behind `gategrad bench`
 * (internal). */
#ifndef GG_KERNELS_BENCH_GEMM_H
#define GG_KERNELS_BENCH_GEMM_H

#include <stdio.h>

/* Times f32 GEMM on the MLP shapes (forward and both backward products of
 * 784-256-128-10 at batch 128) and on 1024^3, with the current thread count
 * (gg_num_threads) and kernel path, and prints one line per shape to out:
 * GFLOP/s, the fraction of the CPU's estimated peak and, when OpenBLAS's
 * libopenblas.so.0 can be loaded at run time, OpenBLAS's GFLOP/s with the
 * same thread count and our ratio to it. json != 0 prints one JSON object
 * instead of a table. quick != 0 times few repetitions (a couple of seconds
 * in all) and skips 1024^3. Every shape's result is first checked against
 * a double-precision reference. Returns 0, 1 if a result was wrong, or -1
 * if memory ran out. Timings are reported, never judged. It may setenv
 * OPENBLAS_CORETYPE (see bench_gemm.c), so call it while no other thread
 * reads the environment. */
int gg__bench_gemm(FILE *out, int quick, int json);

#endif
