/* kernels/gemm.c - placeholder reference GEMM (to be replaced by the blocked,
 * dispatched kernels). */
#include "kernels/gemm.h"

#define GEMM_REF(NAME, T)                                                        \
    void NAME(int transa, int transb, size_t M, size_t N, size_t K, const T *A,  \
              size_t lda, const T *B, size_t ldb, T beta, T *C, size_t ldc)      \
    {                                                                            \
        for (size_t i = 0; i < M; i++)                                           \
            for (size_t j = 0; j < N; j++) {                                     \
                T acc = 0;                                                       \
                for (size_t k = 0; k < K; k++) {                                 \
                    T a = transa ? A[k * lda + i] : A[i * lda + k];              \
                    T b = transb ? B[j * ldb + k] : B[k * ldb + j];              \
                    acc += a * b;                                                \
                }                                                                \
                C[i * ldc + j] = (beta == 0 ? 0 : beta * C[i * ldc + j]) + acc;  \
            }                                                                    \
    }

GEMM_REF(gg__gemm_f32, float)
GEMM_REF(gg__gemm_f64, double)
