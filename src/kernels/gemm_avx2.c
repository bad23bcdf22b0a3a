/* kernels/gemm_avx2.c - AVX2+FMA micro-kernels (compiled with target
 * attributes; called only when the CPU has AVX2 and FMA).
 *
 * Tile 6 x 16 floats / 6 x 8 doubles: 12 ymm accumulators, two B loads and
 * six broadcasts per k (the classic Haswell shape, 15 of 16 registers).
 * Partial tiles go through a small buffer with the same arithmetic. */
#include "kernels/kernels.h"

#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
/* Fully unrolled loops keep the accumulator arrays in registers (clang
 * does not unroll these on its own and would spill them to the stack). */
#define UNROLL _Pragma("GCC unroll 16")
#define MR 6

#define AVX2_UKR(NAME, T, V, W, SFX)                                                  \
    TGT static void NAME(size_t kc, const T *restrict a, size_t lda,                  \
                         const T *restrict b, size_t ldb, T *restrict c, size_t ldc,  \
                         int accumulate, size_t mr, size_t nr)                        \
    {                                                                                 \
        V c0[MR], c1[MR];                                                             \
        UNROLL for (int i = 0; i < MR; i++) {                                         \
            c0[i] = _mm256_setzero_##SFX();                                           \
            c1[i] = _mm256_setzero_##SFX();                                           \
        }                                                                             \
        for (size_t p = 0; p < kc; p++, a += lda, b += ldb) {                         \
            V b0 = _mm256_loadu_##SFX(b), b1 = _mm256_loadu_##SFX(b + W);             \
            UNROLL for (int i = 0; i < MR; i++) {                                     \
                V ai = _mm256_set1_##SFX(a[i]);                                       \
                c0[i] = _mm256_fmadd_##SFX(ai, b0, c0[i]);                            \
                c1[i] = _mm256_fmadd_##SFX(ai, b1, c1[i]);                            \
            }                                                                         \
        }                                                                             \
        if (mr == MR && nr == 2 * W) {                                                \
            UNROLL for (int i = 0; i < MR; i++) {                                     \
                T *ci = c + i * ldc;                                                  \
                if (accumulate) {                                                     \
                    c0[i] = _mm256_add_##SFX(_mm256_loadu_##SFX(ci), c0[i]);          \
                    c1[i] = _mm256_add_##SFX(_mm256_loadu_##SFX(ci + W), c1[i]);      \
                }                                                                     \
                _mm256_storeu_##SFX(ci, c0[i]);                                       \
                _mm256_storeu_##SFX(ci + W, c1[i]);                                   \
            }                                                                         \
            return;                                                                   \
        }                                                                             \
        T t[MR][2 * W];                                                               \
        UNROLL for (int i = 0; i < MR; i++) {                                         \
            _mm256_storeu_##SFX(t[i], c0[i]);                                         \
            _mm256_storeu_##SFX(t[i] + W, c1[i]);                                     \
        }                                                                             \
        for (size_t i = 0; i < mr; i++)                                               \
            for (size_t j = 0; j < nr; j++)                                           \
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];     \
    }

AVX2_UKR(ukr_f32, float, __m256, 8, ps)
AVX2_UKR(ukr_f64, double, __m256d, 4, pd)

const ggk_gemm_path ggk_gemm_path_avx2 = {
    "avx2", MR, 16, ukr_f32, NULL, MR, 8, ukr_f64, 0, 0, NULL, NULL, NULL, NULL,
};
