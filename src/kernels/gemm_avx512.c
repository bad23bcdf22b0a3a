/* kernels/gemm_avx512.c - AVX-512F micro-kernels (compiled with target
 * attributes; called only when the CPU has AVX-512F).
 *
 * Tile MR x NR with NR two zmm vectors wide: 12 x 32 floats / 12 x 16
 * doubles, i.e. 24 accumulators. Per k: two vector loads of B and twelve
 * broadcasts of A (folded into the FMAs as {1to16} memory operands), 24
 * FMAs - enough independent chains to cover the FMA latency on both ports.
 * Partial tiles use masked loads/stores with the same arithmetic. */
#include "kernels/gemm_impl.h"

#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))
#define MR 12

/* NAME: function; T: element; V: vector type; W: elements per vector;
 * MASK_T: mask type; SFX: intrinsic suffix (ps/pd). */
#define AVX512_UKR(NAME, T, V, W, MASK_T, SFX)                                        \
    TGT static void NAME(size_t kc, const T *restrict a, const T *restrict b,         \
                         T *restrict c, size_t ldc, int accumulate, size_t mr,        \
                         size_t nr)                                                   \
    {                                                                                 \
        V c0[MR], c1[MR];                                                             \
        for (int i = 0; i < MR; i++) {                                                \
            c0[i] = _mm512_setzero_##SFX();                                           \
            c1[i] = _mm512_setzero_##SFX();                                           \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                   \
            _mm_prefetch((const char *)(c + i * ldc + 2 * W - 1), _MM_HINT_T0);       \
        }                                                                             \
        for (size_t p = 0; p < kc; p++, a += MR, b += 2 * W) {                        \
            V b0 = _mm512_loadu_##SFX(b), b1 = _mm512_loadu_##SFX(b + W);             \
            for (int i = 0; i < MR; i++) {                                            \
                V ai = _mm512_set1_##SFX(a[i]);                                       \
                c0[i] = _mm512_fmadd_##SFX(ai, b0, c0[i]);                            \
                c1[i] = _mm512_fmadd_##SFX(ai, b1, c1[i]);                            \
            }                                                                         \
        }                                                                             \
        /* Full-width masks unless the tile is cut by the right edge of C. */         \
        MASK_T m0 = (MASK_T)(nr >= W ? ~0u : (1u << nr) - 1);                          \
        MASK_T m1 = (MASK_T)(nr >= 2 * W ? ~0u : nr > W ? (1u << (nr - W)) - 1 : 0);   \
        for (int i = 0; i < MR; i++) {                                                \
            if ((size_t)i >= mr)                                                      \
                break;                                                                \
            T *ci = c + i * ldc;                                                      \
            if (accumulate) {                                                         \
                c0[i] = _mm512_add_##SFX(_mm512_maskz_loadu_##SFX(m0, ci), c0[i]);    \
                c1[i] = _mm512_add_##SFX(_mm512_maskz_loadu_##SFX(m1, ci + W), c1[i]); \
            }                                                                         \
            _mm512_mask_storeu_##SFX(ci, m0, c0[i]);                                  \
            _mm512_mask_storeu_##SFX(ci + W, m1, c1[i]);                              \
        }                                                                             \
    }

AVX512_UKR(ukr_f32, float, __m512, 16, __mmask16, ps)
AVX512_UKR(ukr_f64, double, __m512d, 8, __mmask8, pd)

const gg__gemm_path gg__gemm_path_avx512 = {
    "avx512", MR, 32, ukr_f32, MR, 16, ukr_f64,
};
