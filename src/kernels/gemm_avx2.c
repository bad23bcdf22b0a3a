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

/* Where A(i,p) lives: a k-major panel (packed, or op(A) = A^T in place)
 * or rows of op(A) = A in place (see kernels.h). */
#define A_KMAJOR(a, lda, i, p) (a)[(p) * (lda) + (i)]
#define A_ROWS(a, lda, i, p) (a)[(i) * (lda) + (p)]

#define AVX2_UKR(NAME, T, V, W, SFX, AT)                                              \
    TGT static void NAME(size_t kc, const T *restrict a, size_t lda,                  \
                         const T *restrict b, size_t ldb, T *restrict c, size_t ldc,  \
                         int accumulate, size_t mr, size_t nr)                        \
    {                                                                                 \
        V c0[MR], c1[MR];                                                             \
        UNROLL for (int i = 0; i < MR; i++) {                                         \
            c0[i] = _mm256_setzero_##SFX();                                           \
            c1[i] = _mm256_setzero_##SFX();                                           \
        }                                                                             \
        for (size_t p = 0; p < kc; p++, b += ldb) {                                   \
            V b0 = _mm256_loadu_##SFX(b), b1 = _mm256_loadu_##SFX(b + W);             \
            UNROLL for (int i = 0; i < MR; i++) {                                     \
                V ai = _mm256_set1_##SFX(AT(a, lda, i, p));                           \
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

AVX2_UKR(ukr_f32, float, __m256, 8, ps, A_KMAJOR)
AVX2_UKR(ukr_f32_rows, float, __m256, 8, ps, A_ROWS)
AVX2_UKR(ukr_f64, double, __m256d, 4, pd, A_KMAJOR)

/* ---- packing by 8 x 8 register transposes ---- */

/* Lane mask of the first n (0..8) of 8 floats, for maskload/maskstore. */
TGT static __m256i first_lanes(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* In-register transpose of r[0..7] (rows) into columns. */
TGT static void transpose8(__m256 r[8])
{
    __m256 t[8];
    for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; k++) {
        r[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
        t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
    }
    for (int k = 0; k < 8; k++)
        r[k] = t[k];
}

/* Packs rows x kb of a row-major matrix, transposed, into panels of width
 * (MR rows of A or NR columns of B^T): see ggk_pack_f32. 8 source rows by
 * 8 values at a time; rows past `rows` are zeros. */
TGT static void pack_transposed(const float *src, size_t ld, size_t rows, size_t kb,
                                size_t width, float *restrict dst)
{
    for (size_t r0 = 0; r0 < rows; r0 += width, dst += width * kb)
        for (size_t g = 0; g < width; g += 8) {
            size_t left = rows - r0 > g ? rows - r0 - g : 0, n = left < 8 ? left : 8;
            __m256i store = first_lanes(width - g < 8 ? width - g : 8);
            for (size_t p = 0; p < kb; p += 8) {
                size_t c = kb - p < 8 ? kb - p : 8;
                __m256i load = first_lanes(c);
                __m256 r[8];
                for (size_t i = 0; i < 8; i++)
                    r[i] = i < n ? _mm256_maskload_ps(src + (r0 + g + i) * ld + p, load) : _mm256_setzero_ps();
                transpose8(r);
                for (size_t k = 0; k < c; k++)
                    _mm256_maskstore_ps(dst + (p + k) * width + g, store, r[k]);
            }
        }
}

/* Copies kb rows of `rows` contiguous floats into panels of width floats
 * per k, zero-filled: see ggk_pack_f32. */
TGT static void pack_copy(const float *src, size_t ld, size_t rows, size_t kb, size_t width,
                          float *restrict dst)
{
    size_t panels = (rows + width - 1) / width;
    for (size_t k = 0; k < panels; k++, dst += width * kb)
        for (size_t g = 0; g < width; g += 8) {
            size_t r = k * width + g, left = rows > r ? rows - r : 0, w = width - g < 8 ? width - g : 8;
            __m256i load = first_lanes(left < w ? left : w), store = first_lanes(w);
            const float *s = src + (left ? r : 0);
            for (size_t p = 0; p < kb; p++)
                _mm256_maskstore_ps(dst + p * width + g, store, _mm256_maskload_ps(s + p * ld, load));
        }
}

const ggk_gemm_path ggk_gemm_path_avx2 = {
    "avx2", MR, 16, ukr_f32, ukr_f32_rows, MR, 8, ukr_f64, 0, 0, NULL, NULL, pack_transposed, pack_copy, NULL,
};
