/* kernels/gemm_avx512.c - AVX-512F micro-kernels (compiled with target
 * attributes; called only when the CPU has AVX-512F).
 *
 * Tile MR x NR with NR two zmm vectors wide: 12 x 32 floats / 12 x 16
 * doubles, i.e. 24 accumulators. Per k: two vector loads of B and twelve
 * broadcasts of A (folded into the FMAs as {1to16} memory operands), 24
 * FMAs - enough independent chains to cover the FMA latency on both ports.
 * Partial tiles use masked loads/stores with the same arithmetic. */
#include "kernels/kernels.h"

#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))
/* Fully unrolled loops keep the accumulator arrays in registers (clang
 * does not unroll these on its own and would spill them to the stack). */
#define UNROLL _Pragma("GCC unroll 16")
#define MR 12

/* Where A(i,p) lives: a k-major panel (packed, or op(A) = A^T in place)
 * or rows of op(A) = A in place (see kernels.h). */
#define A_KMAJOR(a, lda, i, p) (a)[(p) * (lda) + (i)]
#define A_ROWS(a, lda, i, p) (a)[(i) * (lda) + (p)]

/* NAME: function; T: element; V: vector type; W: elements per vector;
 * MASK_T: mask type; SFX: intrinsic suffix (ps/pd); AT: A's layout. */
#define AVX512_UKR(NAME, T, V, W, MASK_T, SFX, AT)                                    \
    TGT static void NAME(size_t kc, const T *restrict a, size_t lda,                  \
                         const T *restrict b, size_t ldb, T *restrict c, size_t ldc,  \
                         int accumulate, size_t mr, size_t nr)                        \
    {                                                                                 \
        V c0[MR], c1[MR];                                                             \
        UNROLL for (int i = 0; i < MR; i++) {                                         \
            c0[i] = _mm512_setzero_##SFX();                                           \
            c1[i] = _mm512_setzero_##SFX();                                           \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                   \
            _mm_prefetch((const char *)(c + i * ldc + 2 * W - 1), _MM_HINT_T0);       \
        }                                                                             \
        for (size_t p = 0; p < kc; p++, b += ldb) {                                   \
            V b0 = _mm512_loadu_##SFX(b), b1 = _mm512_loadu_##SFX(b + W);             \
            UNROLL for (int i = 0; i < MR; i++) {                                     \
                V ai = _mm512_set1_##SFX(AT(a, lda, i, p));                           \
                c0[i] = _mm512_fmadd_##SFX(ai, b0, c0[i]);                            \
                c1[i] = _mm512_fmadd_##SFX(ai, b1, c1[i]);                            \
            }                                                                         \
        }                                                                             \
        /* Full-width masks unless the tile is cut by the right edge of C. */         \
        MASK_T m0 = (MASK_T)(nr >= W ? ~0u : (1u << nr) - 1);                          \
        MASK_T m1 = (MASK_T)(nr >= 2 * W ? ~0u : nr > W ? (1u << (nr - W)) - 1 : 0);   \
        UNROLL for (int i = 0; i < MR; i++) {                                         \
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

AVX512_UKR(ukr_f32, float, __m512, 16, __mmask16, ps, A_KMAJOR)
AVX512_UKR(ukr_f32_rows, float, __m512, 16, __mmask16, ps, A_ROWS)
AVX512_UKR(ukr_f64, double, __m512d, 8, __mmask8, pd, A_KMAJOR)


/* ---- narrow kernel: 16 x 16 floats, one vector per row ---- */

#define MRN 16

#define NARROW_UKR(NAME, AT)                                                          \
    TGT static void NAME(size_t kc, const float *restrict a, size_t lda,              \
                         const float *restrict b, size_t ldb, float *restrict c,      \
                         size_t ldc, int accumulate, size_t mr, size_t nr)            \
    {                                                                                 \
        __m512 acc[MRN];                                                              \
        UNROLL for (int i = 0; i < MRN; i++)                                          \
            acc[i] = _mm512_setzero_ps();                                             \
        for (size_t p = 0; p < kc; p++, b += ldb) {                                   \
            __m512 bv = _mm512_loadu_ps(b);                                           \
            UNROLL for (int i = 0; i < MRN; i++)                                      \
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(AT(a, lda, i, p)), bv, acc[i]); \
        }                                                                             \
        __mmask16 m = (__mmask16)(nr >= 16 ? 0xFFFFu : (1u << nr) - 1);               \
        UNROLL for (int i = 0; i < MRN; i++) {                                        \
            if ((size_t)i >= mr)                                                      \
                break;                                                                \
            float *ci = c + i * ldc;                                                  \
            if (accumulate)                                                           \
                acc[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m, ci), acc[i]);         \
            _mm512_mask_storeu_ps(ci, m, acc[i]);                                     \
        }                                                                             \
    }

NARROW_UKR(ukr_f32_narrow, A_KMAJOR)
NARROW_UKR(ukr_f32_narrow_rows, A_ROWS)

/* ---- packing by 16 x 16 register transposes ---- */

/* In-register transpose of r[0..15] (rows) into columns. */
TGT static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 4; k++) {
        r[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++) {
            t[8 * h + k] = _mm512_shuffle_f32x4(r[8 * h + k], r[8 * h + k + 4], 0x88);
            t[8 * h + k + 4] = _mm512_shuffle_f32x4(r[8 * h + k], r[8 * h + k + 4], 0xdd);
        }
    for (int k = 0; k < 8; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
    }
}

/* dst[c*ldd + r] = src[r*lds + c] for r < 16 (0 for r >= rows), c < cols,
 * storing the lanes of smask in each dst row. rows, cols <= 16. */
TGT static void transpose_block(const float *src, size_t lds, size_t rows, size_t cols,
                                float *dst, size_t ldd, __mmask16 smask)
{
    __m512 r[16];
    __mmask16 lm = (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1);
    for (int i = 0; i < 16; i++)
        r[i] = (size_t)i < rows ? _mm512_maskz_loadu_ps(lm, src + i * lds)
                                : _mm512_setzero_ps();
    transpose16(r);
    for (int c = 0; c < 16; c++) {
        if ((size_t)c >= cols)
            break;
        _mm512_mask_storeu_ps(dst + c * ldd, smask, r[c]);
    }
}

/* ---- narrow A^T.B, computed as its transpose ---- */

/* For C = A^T.B with N < 16 (the last layer's weight gradient: ten
 * classes), the narrow kernel's rows would be 16 lanes wide with N used.
 * Here a 16-lane vector runs along M instead, where A^T's columns are A's
 * contiguous rows: per k two loads of A (32 rows of C) and N broadcasts of B, each
 * used twice, every lane useful; the 16 x N block is transposed in registers to C's rows. Each
 * element gets the same FMAs in the same order (kc slices, C + T) as in
 * the narrow kernel, so the bits do not change. */
static inline __mmask16 lanes(size_t n) { return (__mmask16)(n >= 16 ? 0xFFFFu : (1u << n) - 1); }

/* C rows r[0..mi) (C + t*ldc), their first n lanes: stored, or added to. */
TGT static inline __attribute__((always_inline)) void store_rows(const __m512 r[16], size_t mi, size_t n,
                                                                 int add, float *c, size_t ldc)
{
    __mmask16 nm = (__mmask16)((1u << n) - 1);
    for (size_t t = 0; t < mi; t++, c += ldc)
        _mm512_mask_storeu_ps(c, nm, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(nm, c), r[t]) : r[t]);
}

#define NT_KERNEL(NN)                                                                 \
    TGT static void narrow_t_##NN(size_t i0, size_t i1, size_t K, size_t kc, const float *A, \
                                  size_t lda, const float *B, size_t ldb, int accumulate,  \
                                  float *C, size_t ldc)                               \
    {                                                                                 \
        for (size_t i = i0; i < i1; i += 32) {                                        \
            size_t mi = i1 - i < 32 ? i1 - i : 32;                                    \
            __mmask16 m0 = lanes(mi), m1 = lanes(mi > 16 ? mi - 16 : 0);              \
            for (size_t p0 = 0; p0 < K; p0 += kc) {                                   \
                const float *a = A + p0 * lda + i, *b = B + p0 * ldb;                 \
                /* The sums live in arrays of their own: arrays the transpose \
                 * takes would be kept in memory, stored at every k. */        \
                __m512 ra[NN], sa[NN], r[16], s[16];                                  \
                UNROLL for (int j = 0; j < NN; j++)                                   \
                    ra[j] = sa[j] = _mm512_setzero_ps();                              \
                for (size_t p = p0; p < K && p < p0 + kc; p++, a += lda, b += ldb) {  \
                    __m512 av = _mm512_maskz_loadu_ps(m0, a), aw = _mm512_maskz_loadu_ps(m1, a + 16); \
                    UNROLL for (int j = 0; j < NN; j++) {                             \
                        __m512 bj = _mm512_set1_ps(b[j]);                             \
                        ra[j] = _mm512_fmadd_ps(bj, av, ra[j]);                       \
                        sa[j] = _mm512_fmadd_ps(bj, aw, sa[j]);                       \
                    }                                                                 \
                }                                                                     \
                UNROLL for (int j = 0; j < 16; j++) {                                 \
                    r[j] = j < NN ? ra[j] : _mm512_setzero_ps();                      \
                    s[j] = j < NN ? sa[j] : _mm512_setzero_ps();                      \
                }                                                                     \
                int add = accumulate || p0 > 0;                                       \
                transpose16(r);                                                       \
                store_rows(r, mi < 16 ? mi : 16, NN, add, C + i * ldc, ldc);          \
                if (mi > 16) {                                                        \
                    transpose16(s);                                                   \
                    store_rows(s, mi - 16, NN, add, C + (i + 16) * ldc, ldc);         \
                }                                                                     \
            }                                                                         \
        }                                                                             \
    }
NT_KERNEL(1) NT_KERNEL(2) NT_KERNEL(3) NT_KERNEL(4) NT_KERNEL(5) NT_KERNEL(6) NT_KERNEL(7)
NT_KERNEL(8) NT_KERNEL(9) NT_KERNEL(10) NT_KERNEL(11) NT_KERNEL(12) NT_KERNEL(13) NT_KERNEL(14)
NT_KERNEL(15)

typedef void (*nt_kernel_fn)(size_t, size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                             int, float *, size_t);
static const nt_kernel_fn nt_kernels[16] = {
    NULL,          narrow_t_1,  narrow_t_2,  narrow_t_3,  narrow_t_4,  narrow_t_5,
    narrow_t_6,    narrow_t_7,  narrow_t_8,  narrow_t_9,  narrow_t_10, narrow_t_11,
    narrow_t_12,   narrow_t_13, narrow_t_14, narrow_t_15,
};

TGT static void narrow_t(size_t i0, size_t i1, size_t N, size_t K, size_t kc, const float *A,
                         size_t lda, const float *B, size_t ldb, int accumulate, float *C, size_t ldc)
{
    nt_kernels[N](i0, i1, K, kc, A, lda, B, ldb, accumulate, C, ldc);
}

/* Packs rows x kb of a row-major matrix, transposed, into panels of width
 * rows-of-panel (mr <= 16 for A, nr = 16k for B^T): see ggk_pack_f32. */
TGT static void pack_transposed(const float *src, size_t ld, size_t rows, size_t kb,
                                size_t width, float *restrict dst)
{
    for (size_t r0 = 0; r0 < rows; r0 += width, dst += width * kb) {
        for (size_t g = 0; g < width; g += 16) { /* 16-row groups of the panel */
            size_t left = rows - r0 > g ? rows - r0 - g : 0;
            size_t n = left < 16 ? left : 16;
            size_t w = width - g < 16 ? width - g : 16;
            __mmask16 sm = (__mmask16)(w >= 16 ? 0xFFFFu : (1u << w) - 1);
            const float *s0 = n ? src + (r0 + g) * ld : src;
            for (size_t p = 0; p < kb; p += 16)
                transpose_block(s0 + p, ld, n, kb - p < 16 ? kb - p : 16,
                                dst + p * width + g, width, sm);
        }
    }
}

/* Copies kb rows of `rows` contiguous floats into panels of width floats
 * per k, zero-filled: see ggk_pack_f32. PACK_ROWS rows at a time, each
 * read in order and written panel by panel: walking a panel down all kb
 * rows instead reads a few lines per row at a large stride, which the
 * prefetchers do not follow, and a row at a time writes one line to every
 * panel, whose starts (kb * width floats apart) alias in L1 when that is a
 * multiple of 4 KiB. */
#define PACK_ROWS 8

TGT static void pack_copy(const float *src, size_t ld, size_t rows, size_t kb,
                          size_t width, float *restrict dst)
{
    size_t panels = (rows + width - 1) / width;
    for (size_t p0 = 0; p0 < kb; p0 += PACK_ROWS)
        for (size_t k = 0; k < panels; k++)
            for (size_t p = p0; p < p0 + PACK_ROWS && p < kb; p++) {
                const float *s = src + p * ld;
                float *d = dst + k * width * kb + p * width;
                for (size_t g = 0; g < width; g += 16) {
                    size_t r = k * width + g;
                    size_t left = rows > r ? rows - r : 0;
                    size_t w = width - g < 16 ? width - g : 16;
                    __mmask16 lm = (__mmask16)(left >= w ? (1u << w) - 1 : (1u << left) - 1);
                    __mmask16 sm = (__mmask16)((1u << w) - 1);
                    _mm512_mask_storeu_ps(d + g, sm, _mm512_maskz_loadu_ps(lm, s + (left ? r : 0)));
                }
            }
}

const ggk_gemm_path ggk_gemm_path_avx512 = {
    "avx512", MR, 32, ukr_f32, ukr_f32_rows, MR, 16, ukr_f64,
    MRN, 16, ukr_f32_narrow, ukr_f32_narrow_rows, pack_transposed, pack_copy, narrow_t,
};
