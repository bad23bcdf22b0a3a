/* kernels/gemm_impl.h - what the GEMM driver (gemm.c) and its SIMD
 * micro-kernels (gemm_avx2.c, gemm_avx512.c) share (internal).
 *
 * The driver packs op(B) into NR-column micro-panels (kc x NR, k-major) and
 * op(A) into MR-row micro-panels (kc x MR, k-major), both zero-padded to
 * full width and 64-byte aligned, or reads a cache-sized op(A) where it
 * stands; then it calls the path's micro-kernel on each MR x NR tile of C. */
#ifndef GG_KERNELS_GEMM_IMPL_H
#define GG_KERNELS_GEMM_IMPL_H

#include <stddef.h>

/* Micro-kernel contract: T[i][j] = sum over p = 0, 1, .., kc-1 (in that
 * order, accumulating from zero) of A(i,p) * b[p*ldb + j]; then for
 * i < mr, j < nr: C[i*ldc + j] = accumulate ? C[i*ldc + j] + T[i][j]
 * : T[i][j] (C's old value is never read when accumulate is 0). A(i,p) is
 * a[p*lda + i] ("k-major": a packed panel, lda = MR, or op(A) = A^T read in
 * place) or, for the row-major kernels, a[i*lda + p] (op(A) = A read in
 * place). B is a packed panel (ldb = NR) or op(B) = B read in place. The
 * kernel reads all MR rows and NR columns, so the driver hands it only
 * full panels in place and packs (zero-pads) edge panels. kc >= 1,
 * 1 <= mr <= MR, 1 <= nr <= NR. The arithmetic done for an element must not
 * depend on mr, nr, the strides or the tile's position (bit-identical
 * threading, and packed and in-place operands give the same bits). */
typedef void (*gg__ukr_f32)(size_t kc, const float *a, size_t lda, const float *b,
                            size_t ldb, float *c, size_t ldc, int accumulate,
                            size_t mr, size_t nr);
typedef void (*gg__ukr_f64)(size_t kc, const double *a, size_t lda, const double *b,
                            size_t ldb, double *c, size_t ldc, int accumulate,
                            size_t mr, size_t nr);
/* Optional fast packers (f32 only; NULL = the driver's portable loops).
 * "Transposing" ones (op(A) = A, op(B) = B^T) read `rows` rows of src and
 * make each a column of a panel: dst[panel][p*width + i] =
 * src[(panel*width + i)*ld + p]. "Copying" ones (op(A) = A^T, op(B) = B)
 * read kb rows of `rows` contiguous values: dst[panel][p*width + i] =
 * src[p*ld + panel*width + i]. Both zero-fill the panel past `rows`.
 * width <= 16 or a multiple of 16. */
typedef void (*gg__pack_f32)(const float *src, size_t ld, size_t rows, size_t kb,
                             size_t width, float *dst);

/* A kernel path: its register-block shapes and micro-kernels per dtype.
 * The *n fields are an optional second f32 kernel for narrow products
 * (N <= nr32n), where the main kernel's NR would mostly compute padding.
 * ukr32r and ukr32nr are optional row-major twins of ukr32 and ukr32n
 * (same MR x NR), which let op(A) = A be read in place instead of packed. */
typedef struct gg__gemm_path {
    const char *name;
    size_t mr32, nr32;
    gg__ukr_f32 ukr32, ukr32r;
    size_t mr64, nr64;
    gg__ukr_f64 ukr64;
    size_t mr32n, nr32n;
    gg__ukr_f32 ukr32n, ukr32nr;
    gg__pack_f32 pack_trans32, pack_copy32;
} gg__gemm_path;

#ifdef GG_SIMD_X86
extern const gg__gemm_path gg__gemm_path_avx2;
extern const gg__gemm_path gg__gemm_path_avx512;
#endif

/* Name of the path gg__gemm_f32/f64 use now ("avx512", "avx2" or
 * "portable"). Static string. */
const char *gg__gemm_path_name(void);

/* For tests and benchmarks only: makes every later GEMM use the named path
 * ("avx512", "avx2", "portable"), or the best the CPU supports again when
 * name is NULL or "auto". Returns 0, or -1 (nothing changed) if the path
 * is unknown, not compiled in, or unsupported by this CPU. Not meant to be
 * called while other threads run GEMMs. */
int gg__gemm_force_path(const char *name);

#endif
