/* kernels/gemm.h - the internal matrix-product interface every matmul goes
 * through. Row-major storage throughout.
 *
 *   C[M x N] = beta * C + op(A) . op(B)
 *
 * op(A) is M x K: A itself (transa == 0, stored M x K with row stride lda) or
 * A transposed (transa != 0, stored K x M with row stride lda). Likewise op(B)
 * is K x N: B (stored K x N) or B transposed (stored N x K). beta is 0 (C is
 * overwritten, its old contents ignored even if NaN) or 1 (accumulate, as the
 * backward products do). No transposed copy of A or B is ever materialized by
 * the caller. Results for a given thread count are bit-identical run to run. */
#ifndef GG_KERNELS_GEMM_H
#define GG_KERNELS_GEMM_H

#include <stddef.h>

void gg__gemm_f32(int transa, int transb, size_t M, size_t N, size_t K,
                  const float *A, size_t lda, const float *B, size_t ldb,
                  float beta, float *C, size_t ldc);

void gg__gemm_f64(int transa, int transb, size_t M, size_t N, size_t K,
                  const double *A, size_t lda, const double *B, size_t ldb,
                  double beta, double *C, size_t ldc);

#endif
