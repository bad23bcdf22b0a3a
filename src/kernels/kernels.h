/* kernels/kernels.h - the numeric kernels (internal, prefix ggk_): CPU
 * feature detection, the thread pool, vectorized loops and the matrix
 * product every matmul goes through. The kernels know nothing of graphs:
 * they take plain arrays. */
#ifndef GGK_KERNELS_H
#define GGK_KERNELS_H

#include <stddef.h>

/* ==== CPU features and floating-point mode ================================== */

/* 1 if this CPU and OS support AVX-512F (with FMA), else 0. Always 0 on
 * non-x86 machines. */
int ggk_cpu_has_avx512(void);

/* 1 if this CPU and OS support AVX2 and FMA, else 0. Always 0 on non-x86. */
int ggk_cpu_has_avx2_fma(void);

/* 1 if the AVX2/AVX-512 kernels were compiled in (meson option simd=true on
 * x86-64), else 0. */
int ggk_cpu_simd_built(void);

/* Turns flush-to-zero and denormals-are-zero on (on != 0) or off for the
 * calling thread (MXCSR FTZ/DAZ bits on x86; a no-op elsewhere). Denormal
 * operands can slow SSE/AVX arithmetic by 100x; training rarely needs them. */
void ggk_set_flush_denormals(int on);

/* The calling thread's floating-point control word (MXCSR on x86, 0
 * elsewhere) and its restoration: the thread pool copies the caller's mode
 * (FTZ/DAZ, rounding) to its workers so that results do not depend on the
 * thread count. */
unsigned ggk_fp_mode_get(void);
void ggk_fp_mode_set(unsigned mode);

/* ==== Threads =============================================================== */
/* The worker pool behind the parallel kernels (the public knobs are in
 * gategrad/threads.h). Design: gg_num_threads() - 1 worker threads, created on first use and
 * kept asleep on a condition variable between jobs (after a short spin, so
 * back-to-back products skip the wake-up). One caller at a time owns the
 * pool (a mutex taken with trylock); a concurrent caller does not wait but
 * runs its job on its own thread with nthreads = 1. Tasks must therefore
 * partition their work by the nthreads they are handed, and must give the
 * same results whatever it is. */

/* A parallel job: called once for each tid in [0, nthreads), concurrently,
 * tid 0 on the calling thread. */
typedef void (*ggk_task_fn)(void *arg, int tid, int nthreads);

/* Runs fn(arg, tid, n) for tid in [0, n) and returns n once all are done,
 * where n = min(want, threads available): 1 if want <= 1, the pool is busy
 * with another caller's job, or it has no workers. The workers run with the
 * caller's floating-point mode (FTZ/DAZ, rounding). Never fails. */
int ggk_parallel_run(ggk_task_fn fn, void *arg, int want);

/* Task tid's share [*lo, *hi) of [0, n) split nthreads ways, in whole runs
 * of step (16 floats: no two tasks write one cache line), the last short. */
static inline void ggk_share(size_t n, size_t step, int tid, int nthreads, size_t *lo, size_t *hi)
{
    size_t runs = (n + step - 1) / step;
    *lo = runs * (size_t)tid / (size_t)nthreads * step;
    *hi = runs * (size_t)(tid + 1) / (size_t)nthreads * step;
    *lo = *lo < n ? *lo : n;
    *hi = *hi < n ? *hi : n;
}

/* Stops and joins the worker threads and frees the pool. Registered with
 * atexit when the pool is first created, so leak checkers see nothing at
 * exit; the pool restarts if used again. Must not be called from a task. */
void ggk_threads_shutdown(void);

/* ==== Vectorized loops ====================================================== */
/* Plain C loops run at the CPU's widest vectors. GGK_VEC marks a function whose loops the compiler should vectorize for
 * AVX-512 as well as for baseline x86-64: both versions are compiled and the
 * dynamic loader picks one by the CPU (GCC/Clang target_clones, an ifunc).
 * The loop is written once, in C. Both versions give the same bits: such
 * loops use only exactly rounded operations lane by lane (no reductions
 * reordered), and ISO C mode keeps a*b+c from being contracted into an FMA.
 * Without the SIMD build (-Dsimd=false) or off x86-64 it is empty. */

/* ThreadSanitizer instruments the ifunc resolver, which the loader runs
 * before the sanitizer's runtime is up: no clones in a TSan build. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GGK_NO_CLONES 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GGK_NO_CLONES 1
#endif

#if defined(GG_SIMD_X86) && defined(__has_attribute) && !defined(GGK_NO_CLONES)
#if __has_attribute(target_clones)
#define GGK_VEC __attribute__((target_clones("avx512f", "default")))
#ifdef __clang__
/* Clang refuses noinline beside target_clones; a cloned function is called
 * through its ifunc and never inlined anyway. */
#define GGK_VEC_OUTLINE GGK_VEC
#endif
#endif
#endif
#ifndef GGK_VEC
#define GGK_VEC
#endif
/* A GGK_VEC function kept out of its callers (its large frame stays off
 * their fast paths). */
#ifndef GGK_VEC_OUTLINE
#define GGK_VEC_OUTLINE GGK_VEC __attribute__((noinline))
#endif

/* y[i] = e^x[i] for i < n (y may be x): within 1 ulp of the exact value,
 * 0 below the subnormals, inf past DBL_MAX, NaN for NaN; the same bits on
 * every CPU, unlike libm's exp against its vector variants
 * (kernels/exp.c). */
void ggk_exp_f64(const double *x, double *y, size_t n);

/* ==== GEMM ================================================================== */
/* The matrix product every matmul goes through. Row-major storage throughout.
 *
 *   C[M x N] = beta * C + op(A) . op(B)
 *
 * op(A) is M x K: A itself (transa == 0, stored M x K with row stride lda) or
 * A transposed (transa != 0, stored K x M with row stride lda). Likewise op(B)
 * is K x N: B (stored K x N) or B transposed (stored N x K). beta is 0 (C is
 * overwritten, its old contents ignored even if NaN) or 1 (accumulate, as the
 * backward products do). No transposed copy of A or B is ever materialized by
 * the caller. Results for a given thread count are bit-identical run to run. */

void ggk_gemm_f32(int transa, int transb, size_t M, size_t N, size_t K,
                  const float *A, size_t lda, const float *B, size_t ldb,
                  float beta, float *C, size_t ldc);

void ggk_gemm_f64(int transa, int transb, size_t M, size_t N, size_t K,
                  const double *A, size_t lda, const double *B, size_t ldb,
                  double beta, double *C, size_t ldc);

/* Frees the packing workspaces no product is using (registered with atexit
 * on first use; products allocate new ones as they need them). For the
 * fault-injection test, which makes every run start from cold kernels. */
void ggk_gemm_free_workspaces(void);

/* ==== GEMM kernel paths (gemm.c and its SIMD files) ========================= */
/* What the GEMM driver (gemm.c) and its SIMD micro-kernels (gemm_avx2.c,
 * gemm_avx512.c) share. The driver packs op(B) into NR-column micro-panels (kc x NR, k-major) and
 * op(A) into MR-row micro-panels (kc x MR, k-major), both zero-padded to
 * full width and 64-byte aligned, or reads a cache-sized op(A) where it
 * stands; then it calls the path's micro-kernel on each MR x NR tile of C. */

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
typedef void (*ggk_ukr_f32)(size_t kc, const float *a, size_t lda, const float *b,
                            size_t ldb, float *c, size_t ldc, int accumulate,
                            size_t mr, size_t nr);
typedef void (*ggk_ukr_f64)(size_t kc, const double *a, size_t lda, const double *b,
                            size_t ldb, double *c, size_t ldc, int accumulate,
                            size_t mr, size_t nr);
/* Optional fast packers (f32 only; NULL = the driver's portable loops).
 * "Transposing" ones (op(A) = A, op(B) = B^T) read `rows` rows of src and
 * make each a column of a panel: dst[panel][p*width + i] =
 * src[(panel*width + i)*ld + p]. "Copying" ones (op(A) = A^T, op(B) = B)
 * read kb rows of `rows` contiguous values: dst[panel][p*width + i] =
 * src[p*ld + panel*width + i]. Both zero-fill the panel past `rows`.
 * width <= 16 or a multiple of 16. */
typedef void (*ggk_pack_f32)(const float *src, size_t ld, size_t rows, size_t kb,
                             size_t width, float *dst);

/* Optional (f32): rows [i0, i1) of C = A^T.B (+ C when accumulate) for
 * N < 16, A stored K x M (lda), B K x N (ldb), K in slices of kc: the
 * same arithmetic per element as the narrow kernel in the blocked driver
 * (see gemm_avx512.c). */
typedef void (*ggk_narrow_t_f32)(size_t i0, size_t i1, size_t N, size_t K, size_t kc, const float *A,
                                 size_t lda, const float *B, size_t ldb, int accumulate, float *C,
                                 size_t ldc);

/* A kernel path: its register-block shapes and micro-kernels per dtype.
 * The *n fields are an optional second f32 kernel for narrow products
 * (N <= nr32n), where the main kernel's NR would mostly compute padding.
 * ukr32r and ukr32nr are optional row-major twins of ukr32 and ukr32n
 * (same MR x NR), which let op(A) = A be read in place instead of packed. */
typedef struct ggk_gemm_path {
    const char *name;
    size_t mr32, nr32;
    ggk_ukr_f32 ukr32, ukr32r;
    size_t mr64, nr64;
    ggk_ukr_f64 ukr64;
    size_t mr32n, nr32n;
    ggk_ukr_f32 ukr32n, ukr32nr;
    ggk_pack_f32 pack_trans32, pack_copy32;
    ggk_narrow_t_f32 narrow_t32;
} ggk_gemm_path;

#ifdef GG_SIMD_X86
extern const ggk_gemm_path ggk_gemm_path_avx2;
extern const ggk_gemm_path ggk_gemm_path_avx512;
#endif

/* Name of the path ggk_gemm_f32/f64 use now ("avx512", "avx2" or
 * "portable"). Static string. */
const char *ggk_gemm_path_name(void);

/* For tests and benchmarks only: makes every later GEMM use the named path
 * ("avx512", "avx2", "portable"), or the best the CPU supports again when
 * name is NULL or "auto". Returns 0, or -1 (nothing changed) if the path
 * is unknown, not compiled in, or unsupported by this CPU. Not meant to be
 * called while other threads run GEMMs. */
int ggk_gemm_force_path(const char *name);

#endif
