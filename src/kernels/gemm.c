/* kernels/gemm.c - blocked, packed, threaded GEMM with run-time selection of
 * the micro-kernel (AVX-512, AVX2+FMA, or portable C). The loop nest lives in
 * gemm_blocked.inc, instantiated here for float and double. */
#include "kernels/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "gategrad/threads.h"

#define GGK_CAT_(a, b) a##b
#define GGK_CAT(a, b) GGK_CAT_(a, b)

/* Cache blocking, in bytes so that f32 and f64 use the same footprint:
 * a kc-deep slice is 384 floats / 192 doubles; the A block is MB rows and
 * the B block NB columns of it (about 1.4 MB + 0.75 MB for f32). */
#define KC_BYTES 1536
/* K up to this (784 floats: a Fashion-MNIST image) is one slice when all
 * of op(B) is at most ONE_SLICE_B_BYTES (a layer of a few hundred units):
 * every tile of C is then stored once instead of stored and added to
 * again, which saves more than the A panel, now past L1, costs; a wider B
 * keeps the slices that hold its packed block in L2. */
#define ONE_SLICE_BYTES 3136
#define ONE_SLICE_B_BYTES (1u << 20)
#define MB_TARGET 960
#define NB_TARGET 512
/* op(A) up to this size is read in place rather than packed (a
 * conservative share of a 1-2 MiB L2). */
#define A_INPLACE_MAX_BYTES (512u << 10)
/* op(A) = A whose rows are not 1 KiB-aligned apart: up to this size. */
#define A_ROWS_INPLACE_MAX_BYTES (2u << 20)
/* op(B) is read in place below this row stride: from 2 KiB on, a panel's
 * rows fall into few cache sets (and a B that wide amortizes its packing
 * over many rows of A), so it is packed. */
#define B_INPLACE_MAX_STRIDE 2048u
/* Products under this many multiply-adds run on the calling thread: the
 * pool hand-off (a few microseconds) would cost more than it saves. */
#define PAR_MIN_MACS (1u << 20)
/* Packing cost of one element, in multiply-adds, for choosing the split. */
#define PACK_COST 8

/* ---- packing workspaces: a free list, so steady state never mallocs ---- */

typedef struct ggk_ws {
    struct ggk_ws *next;
    size_t bytes;
    void *data; /* 64-byte aligned, bytes long */
} ggk_ws;

static pthread_mutex_t ws_mu = PTHREAD_MUTEX_INITIALIZER;
static ggk_ws *ws_free;
#define GG_WS_RESERVE_MAX GG_MAX_THREADS
static int ws_made; /* workspaces in existence, free or in use */
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

void ggk_gemm_free_workspaces(void)
{
    pthread_mutex_lock(&ws_mu);
    while (ws_free) {
        ggk_ws *w = ws_free;
        ws_free = w->next;
        ggb_free(w->data);
        ggb_free(w);
        ws_made--;
    }
    pthread_mutex_unlock(&ws_mu);
}

static void ws_register(void)
{
    atexit(ggk_gemm_free_workspaces);
}

/* Takes from the free list the smallest workspace of at least bytes, or,
 * when none is that big, the largest (to be grown). Best fit matters: with
 * products of several sizes in flight on several threads, taking whichever
 * comes first would keep regrowing workspaces that are too small, and a
 * training step would allocate long after the first one. */
static ggk_ws *ws_take_locked(size_t bytes)
{
    ggk_ws **best = NULL, **largest = NULL;
    for (ggk_ws **p = &ws_free; *p; p = &(*p)->next) {
        if ((*p)->bytes >= bytes && (!best || (*p)->bytes < (*best)->bytes))
            best = p;
        if (!largest || (*p)->bytes > (*largest)->bytes)
            largest = p;
    }
    ggk_ws **pick = best ? best : largest;
    if (!pick)
        return NULL;
    ggk_ws *w = *pick;
    *pick = w->next;
    return w;
}

/* A workspace of at least bytes, or NULL if memory is exhausted. */
static ggk_ws *ws_get(size_t bytes)
{
    pthread_once(&ws_once, ws_register);
    pthread_mutex_lock(&ws_mu);
    ggk_ws *w = ws_take_locked(bytes);
    pthread_mutex_unlock(&ws_mu);
    if (w && w->bytes >= bytes)
        return w;
    if (!w) {
        if (!(w = ggb_calloc(1, sizeof *w)))
            return NULL;
        pthread_mutex_lock(&ws_mu);
        ws_made++;
        pthread_mutex_unlock(&ws_mu);
    }
    ggb_free(w->data);
    w->bytes = (bytes + 63) / 64 * 64;
    w->data = ggb_aligned_alloc(64, w->bytes);
    if (!w->data) {
        ggb_free(w);
        pthread_mutex_lock(&ws_mu);
        ws_made--;
        pthread_mutex_unlock(&ws_mu);
        return NULL;
    }
    return w;
}

static void ws_put(ggk_ws *w);

/* Makes sure `threads` workspaces of bytes exist before a product is dealt
 * out, so that which thread happens to claim a chunk first never decides
 * when one gets allocated: after the first threaded product of a training
 * step, no later step allocates. */
static void ws_reserve(int threads, size_t bytes)
{
    pthread_mutex_lock(&ws_mu);
    int missing = threads - ws_made;
    pthread_mutex_unlock(&ws_mu);
    ggk_ws *got[GG_WS_RESERVE_MAX];
    int k = 0;
    for (; k < missing && k < GG_WS_RESERVE_MAX; k++)
        if (!(got[k] = ws_get(bytes)))
            break;
    while (k-- > 0)
        ws_put(got[k]);
}

static void ws_put(ggk_ws *w)
{
    pthread_mutex_lock(&ws_mu);
    w->next = ws_free;
    ws_free = w;
    pthread_mutex_unlock(&ws_mu);
}

static void *ws_data(ggk_ws *w) { return w->data; }

/* ---- portable micro-kernels (plain C; compilers vectorize the j loops) ---- */

#define PORT_UKR(NAME, T, MR, NR)                                                  \
    static void NAME(size_t kc, const T *restrict a, size_t lda, const T *restrict b, \
                     size_t ldb, T *restrict c, size_t ldc, int accumulate,        \
                     size_t mr, size_t nr)                                         \
    {                                                                              \
        T acc[MR][NR] = {{0}};                                                     \
        for (size_t p = 0; p < kc; p++, a += lda, b += ldb)                        \
            for (int i = 0; i < MR; i++)                                           \
                for (int j = 0; j < NR; j++)                                       \
                    acc[i][j] += a[i] * b[j];                                      \
        for (size_t i = 0; i < mr; i++)                                            \
            for (size_t j = 0; j < nr; j++)                                        \
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j]; \
    }

PORT_UKR(ukr_portable_f32, float, 4, 8)
PORT_UKR(ukr_portable_f64, double, 4, 4)

static const ggk_gemm_path path_portable = {
    "portable", 4, 8, ukr_portable_f32, NULL, 4, 4, ukr_portable_f64, 0, 0, NULL, NULL, NULL, NULL, NULL,
};

/* ---- path selection ---- */

static _Atomic(const ggk_gemm_path *) forced_path;

static const ggk_gemm_path *best_path(void)
{
#ifdef GG_SIMD_X86
    if (ggk_cpu_has_avx512())
        return &ggk_gemm_path_avx512;
    if (ggk_cpu_has_avx2_fma())
        return &ggk_gemm_path_avx2;
#endif
    return &path_portable;
}

static const ggk_gemm_path *current_path(void)
{
    const ggk_gemm_path *p = atomic_load_explicit(&forced_path, memory_order_relaxed);
    return p ? p : best_path();
}

const char *ggk_gemm_path_name(void) { return current_path()->name; }

int ggk_gemm_force_path(const char *name)
{
    const ggk_gemm_path *p = NULL;
    if (!name || strcmp(name, "auto") == 0)
        p = NULL;
    else if (strcmp(name, "portable") == 0)
        p = &path_portable;
#ifdef GG_SIMD_X86
    else if (strcmp(name, "avx2") == 0 && ggk_cpu_has_avx2_fma())
        p = &ggk_gemm_path_avx2;
    else if (strcmp(name, "avx512") == 0 && ggk_cpu_has_avx512())
        p = &ggk_gemm_path_avx512;
#endif
    else
        return -1;
    atomic_store(&forced_path, p);
    return 0;
}

/* ---- planning ---- */

/* K slice depth for elements of esize bytes: all of K when K and op(B)
 * (K x N) are small enough (above), else at most KC_BYTES, K split evenly
 * (a short last slice wastes a pass over C); rounded up to a multiple of
 * 8. Depends on the product's shape alone, never on how its operands are
 * laid out or shared among threads, so that those never change a bit. */
static size_t pick_kc(size_t K, size_t N, size_t esize)
{
    if (K * esize <= ONE_SLICE_BYTES && K * N * esize <= ONE_SLICE_B_BYTES)
        return (K + 7) / 8 * 8;
    size_t kmax = KC_BYTES / esize, slices = (K + kmax - 1) / kmax;
    size_t kc = (K + slices - 1) / slices;
    kc = (kc + 7) / 8 * 8;
    return kc < kmax ? kc : kmax;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* Modeled per-thread cost of dealing dim (in blocks of unit) out to t
 * threads: the largest share of padded multiply-adds, plus packing, where
 * every thread packs all of the operand that is not split. */
static size_t split_cost(size_t dim, size_t unit, size_t other, size_t K, size_t t,
                         size_t packed_whole, size_t packed_split)
{
    size_t share = ceil_div(ceil_div(dim, unit), t) * unit;
    return share * other * K + PACK_COST * (packed_whole + packed_split / t);
}

/* Chooses how many threads to ask for, which dimension they split, and in
 * how many chunks: one per thread. Smaller chunks balance a delayed
 * thread better but repack the operand that is not split once more each,
 * which costs more than it balances (the README's Performance section has
 * the figures). A thread that starts late still loses its chunk to one
 * that is done (see task_ in gemm_blocked.inc). */
static int plan_split(size_t M, size_t N, size_t K, size_t mr, size_t nr, int *split_n,
                      size_t *unit, size_t *units, size_t *chunks)
{
    size_t t = 1;
    if ((double)M * (double)N * (double)K >= PAR_MIN_MACS)
        t = (size_t)gg_num_threads();
    size_t cost_n = split_cost(N, nr, M, K, t, M * K, K * N);
    size_t cost_m = split_cost(M, mr, N, K, t, K * N, M * K);
    *split_n = cost_n <= cost_m;
    *unit = *split_n ? nr : mr;
    *units = ceil_div(*split_n ? N : M, *unit);
    if (t > *units)
        t = *units;
    *chunks = t;
    return (int)t;
}

/* ---- narrow products through the path's transposed kernel ---- */

/* Rows of C per block of the transposed kernel (its two vectors). */
#define NT_ROWS 32
/* op(A) = A goes through it up to this N: past it, the narrow kernel's
 * lanes are nearly all used and packing A costs more than it saves. */
#define NT_PACKED_MAX_N 12

typedef struct narrow_t_job {
    ggk_narrow_t_f32 kernel;
    ggk_pack_f32 pack_trans; /* op(A) = A: each block's rows packed k-major first */
    size_t M, N, K, kc, lda, ldb, ldc;
    const float *A, *B;
    float *C;
    int transa, accumulate;
} narrow_t_job;

/* Rows [lo, hi) of C for op(A) = A: each 32-row block of A packed
 * transposed (32 values per k, as A^T stands) into panel, then the kernel.
 * Without a panel (memory exhausted), the naive sum, whose last bits may
 * differ. */
static void narrow_rows_task(const narrow_t_job *j, size_t lo, size_t hi, float *panel)
{
    for (size_t i = lo; i < hi; i += NT_ROWS) {
        size_t mi = hi - i < NT_ROWS ? hi - i : NT_ROWS;
        const float *a = j->A + i * j->lda;
        float *c = j->C + i * j->ldc;
        if (panel) {
            j->pack_trans(a, j->lda, mi, j->K, NT_ROWS, panel);
            j->kernel(0, mi, j->N, j->K, j->kc, panel, NT_ROWS, j->B, j->ldb, j->accumulate, c, j->ldc);
            continue;
        }
        for (size_t r = 0; r < mi; r++)
            for (size_t n = 0; n < j->N; n++) {
                float acc = 0;
                for (size_t p = 0; p < j->K; p++)
                    acc += a[r * j->lda + p] * j->B[p * j->ldb + n];
                c[r * j->ldc + n] = j->accumulate ? c[r * j->ldc + n] + acc : acc;
            }
    }
}

/* Thread tid's share of C's rows, in whole 32-row blocks (the kernel's). */
static void narrow_t_task(void *arg, int tid, int nthreads)
{
    const narrow_t_job *j = arg;
    size_t blocks = ceil_div(j->M, NT_ROWS);
    size_t lo = blocks * (size_t)tid / (size_t)nthreads * NT_ROWS;
    size_t hi = blocks * (size_t)(tid + 1) / (size_t)nthreads * NT_ROWS;
    if (hi > j->M)
        hi = j->M;
    if (lo >= hi)
        return;
    if (j->transa) {
        j->kernel(lo, hi, j->N, j->K, j->kc, j->A, j->lda, j->B, j->ldb, j->accumulate, j->C, j->ldc);
        return;
    }
    ggk_ws *ws = ws_get(NT_ROWS * j->K * sizeof(float));
    narrow_rows_task(j, lo, hi, ws ? ws_data(ws) : NULL);
    if (ws)
        ws_put(ws);
}

/* Runs C = op(A).B (+ C) with N < 16 on the path's transposed kernel, when
 * it has one; false: the blocked driver does it. For op(A) = A^T, A's rows
 * are the kernel's vectors as they stand; for op(A) = A (N up to
 * NT_PACKED_MAX_N), 32 rows at a time are packed transposed first, which
 * costs less than the narrow kernel's unused lanes. beta is 0 or 1. */
static bool narrow_t_f32(const ggk_gemm_path *path, int transa, int transb, size_t M, size_t N, size_t K,
                         const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                         size_t ldc)
{
    if (!path->narrow_t32 || transb || N >= 16 || (!transa && (!path->pack_trans32 || N > NT_PACKED_MAX_N)))
        return false;
    narrow_t_job j = {path->narrow_t32, path->pack_trans32, M, N, K, pick_kc(K, N, sizeof(float)),
                      lda, ldb, ldc, A, B, C, transa != 0, beta != 0};
    /* With no packing to share out, threads pay off on far smaller products;
     * op(A) = A's packing, done by each thread for its rows, is the cost. */
    double macs = (double)M * (double)N * (double)K;
    size_t threads = macs >= (transa ? PAR_MIN_MACS / 8 : PAR_MIN_MACS) ? (size_t)gg_num_threads() : 1;
    size_t blocks = ceil_div(M, NT_ROWS);
    if (threads > blocks)
        threads = blocks;
    if (!transa && threads > 1)
        ws_reserve((int)threads, NT_ROWS * K * sizeof(float));
    ggk_parallel_run(narrow_t_task, &j, (int)threads);
    return true;
}

/* ---- the two instantiations ---- */

static void ggk_scatter_f32(const float *src, size_t n, size_t stride,
                           float *restrict dst)
{
    for (size_t p = 0; p < n; p++)
        dst[p * stride] = src[p];
}

static void ggk_scatter_f64(const double *src, size_t n, size_t stride,
                           double *restrict dst)
{
    for (size_t p = 0; p < n; p++)
        dst[p * stride] = src[p];
}

#define GT float
#define GS f32
#define GMR mr32
#define GNR nr32
#define GUKR ukr32
#define GUKR_ROWS(path) (path)->ukr32r
#define GUKR_T ggk_ukr_f32
#define GPACK_T ggk_pack_f32
#define GPACK_TRANS(path) (path)->pack_trans32
#define GPACK_COPY(path) (path)->pack_copy32
#define GSPECIAL narrow_t_f32
/* Narrow products (N within the narrow kernel's NR) use that kernel. */
#define GNARROW(path, jb, rows)                             \
    do {                                                    \
        if ((path)->ukr32n && (jb)->N <= (path)->nr32n) {   \
            (jb)->mr = (path)->mr32n;                       \
            (jb)->nr = (path)->nr32n;                       \
            (jb)->ukr = (path)->ukr32n;                     \
            (rows) = (path)->ukr32nr;                       \
        }                                                   \
    } while (0)
#include "kernels/gemm_blocked.inc"
#undef GT
#undef GS
#undef GMR
#undef GNR
#undef GUKR
#undef GUKR_ROWS
#undef GUKR_T
#undef GPACK_T
#undef GPACK_TRANS
#undef GPACK_COPY
#undef GSPECIAL
#undef GNARROW

/* No f64 packers or narrow kernel: f64 is not a throughput target. */
typedef void (*ggk_pack_f64)(const double *, size_t, size_t, size_t, size_t, double *);
#define GT double
#define GS f64
#define GMR mr64
#define GNR nr64
#define GUKR ukr64
#define GUKR_ROWS(path) ((ggk_ukr_f64)0)
#define GUKR_T ggk_ukr_f64
#define GPACK_T ggk_pack_f64
#define GPACK_TRANS(path) NULL
#define GSPECIAL(...) false
#define GPACK_COPY(path) NULL
#define GNARROW(path, jb, rows) (void)0
#include "kernels/gemm_blocked.inc"
