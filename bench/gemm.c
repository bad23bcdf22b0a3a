/* gemm.c - GEMM throughput against the CPU's measured peak and, when it can be
 * loaded at run time, OpenBLAS. */
#include "bench.h"

#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gategrad/rng.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"

typedef struct shape {
    const char *name;
    int ta, tb;
    size_t M, N, K;
} shape;

/* The 784-256-128-10 MLP at batch 128: forward Y = X.W, weight gradient
 * dW = X^T.dY, input gradient dX = dY.W^T; then square 1024 products. */
static const shape shapes[] = {
    {"fc1 fwd X.W", 0, 0, 128, 256, 784},
    {"fc1 dW X^T.dY", 1, 0, 784, 256, 128},
    {"fc1 dX dY.W^T", 0, 1, 128, 784, 256},
    {"fc2 fwd X.W", 0, 0, 128, 128, 256},
    {"fc2 dW X^T.dY", 1, 0, 256, 128, 128},
    {"fc2 dX dY.W^T", 0, 1, 128, 256, 128},
    {"fc3 fwd X.W", 0, 0, 128, 10, 128},
    {"fc3 dW X^T.dY", 1, 0, 128, 10, 128},
    {"fc3 dX dY.W^T", 0, 1, 128, 128, 10},
    {"1024 A.B", 0, 0, 1024, 1024, 1024},
    {"1024 A^T.B", 1, 0, 1024, 1024, 1024},
    {"1024 A.B^T", 0, 1, 1024, 1024, 1024},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])
/* --quick times the MLP's products only: a square 1024 product takes
 * seconds in the sanitizer builds of the portable kernel, where CI runs
 * --quick, and the MLP's nine cover the same kernels and transposes. */
#define QUICK_MAX_MACS ((size_t)1 << 27)

/* cblas_sgemm with OpenBLAS's 32-bit blasint and CBLAS enum values. */
typedef void (*sgemm_fn)(int order, int ta, int tb, int M, int N, int K,
                         float alpha, const float *A, int lda, const float *B,
                         int ldb, float beta, float *C, int ldc);
typedef void (*set_threads_fn)(int n);
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static sgemm_fn load_openblas(int nthreads)
{
    static void *lib;
    if (!lib) {
        /* Without this, OpenBLAS may pick a Haswell kernel on CPUs it does
         * not know (e.g. newer Xeons), halving its AVX-512 speed. */
        if (ggk_cpu_has_avx512() && !getenv("OPENBLAS_CORETYPE"))
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
        lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!lib)
            return NULL;
    }
    set_threads_fn set = (set_threads_fn)(uintptr_t)dlsym(lib, "openblas_set_num_threads");
    if (set)
        set(nthreads);
    return (sgemm_fn)(uintptr_t)dlsym(lib, "cblas_sgemm");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct operands {
    float *A, *B, *C;
    size_t lda, ldb;
} operands;

static int operands_alloc(operands *o, const shape *s, gg_rng *rng)
{
    size_t arows = s->ta ? s->K : s->M, acols = s->ta ? s->M : s->K;
    size_t brows = s->tb ? s->N : s->K, bcols = s->tb ? s->K : s->N;
    o->lda = acols;
    o->ldb = bcols;
    o->A = malloc(arows * acols * sizeof(float));
    o->B = malloc(brows * bcols * sizeof(float));
    o->C = malloc(s->M * s->N * sizeof(float));
    if (!o->A || !o->B || !o->C)
        return -1;
    for (size_t i = 0; i < arows * acols; i++)
        o->A[i] = (float)(2 * gg_rng_uniform(rng) - 1);
    for (size_t i = 0; i < brows * bcols; i++)
        o->B[i] = (float)(2 * gg_rng_uniform(rng) - 1);
    return 0;
}

static void operands_free(operands *o)
{
    free(o->A);
    free(o->B);
    free(o->C);
}

/* Checks 64 sampled entries of C against a double-precision dot product,
 * within the worst-case float summation bound (K+2) eps sum|a||b|. */
static int check_sampled(const shape *s, const operands *o, gg_rng *rng)
{
    for (int t = 0; t < 64; t++) {
        size_t i = gg_rng_below(rng, s->M), j = gg_rng_below(rng, s->N);
        double ref = 0, mag = 0;
        for (size_t p = 0; p < s->K; p++) {
            double a = s->ta ? o->A[p * o->lda + i] : o->A[i * o->lda + p];
            double b = s->tb ? o->B[j * o->ldb + p] : o->B[p * o->ldb + j];
            ref += a * b;
            mag += fabs(a * b);
        }
        double tol = (double)(s->K + 2) * FLT_EPSILON * mag + 1e-30;
        if (!(fabs(o->C[i * s->N + j] - ref) <= tol))
            return 1;
    }
    return 0;
}

static void run_ours(const shape *s, const operands *o)
{
    ggk_gemm_f32(s->ta, s->tb, s->M, s->N, s->K, o->A, o->lda, o->B, o->ldb, 0,
                 o->C, s->N);
}

static void run_blas(sgemm_fn f, const shape *s, const operands *o)
{
    f(CBLAS_ROW_MAJOR, s->ta ? CBLAS_TRANS : CBLAS_NO_TRANS,
      s->tb ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)s->M, (int)s->N, (int)s->K, 1.0f,
      o->A, (int)o->lda, o->B, (int)o->ldb, 0.0f, o->C, (int)s->N);
}

/* Seconds per call of one side, over enough calls to last about min_s. */
static double time_calls(const shape *s, const operands *o, sgemm_fn blas, int calls)
{
    double t0 = now_s();
    for (int c = 0; c < calls; c++) {
        if (blas)
            run_blas(blas, s, o);
        else
            run_ours(s, o);
    }
    return (now_s() - t0) / calls;
}

/* Lets both libraries' idle threads go back to sleep: OpenBLAS's keep
 * spinning on the cores for about 0.1 s after its last call (2^28 cycles,
 * Debian's build), which would slow whatever ran next; ours poll for 1 ms. */
static void settle(void)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Best GFLOP/s of ours and OpenBLAS (0 if absent) over reps repetitions
 * each, in runs of SIDE_RUN repetitions of one side at a time, each run
 * after a settle() when quiet is set. The fastest repetition is taken
 * because interference from other work on a shared machine only ever adds
 * time; both sides get the same rule. */
#define SIDE_RUN 3

static void time_shape(const shape *s, const operands *o, sgemm_fn blas, int reps,
                       double min_s, int quiet, double *ours, double *theirs)
{
    double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    int calls = (int)(min_s * 50e9 / flop) + 1; /* sized for ~50 GFLOP/s */
    double best_ours = INFINITY, best_blas = INFINITY;
    run_ours(s, o); /* warm-up: pool, workspaces, caches */
    if (blas)
        run_blas(blas, s, o);
    for (int done = 0; done < reps; done += SIDE_RUN)
        for (int side = 0; side < 2; side++) {
            if (side == 1 && !blas)
                continue;
            if (quiet && blas)
                settle();
            for (int r = done; r < done + SIDE_RUN && r < reps; r++) {
                double t = time_calls(s, o, side ? blas : NULL, calls);
                if (side)
                    best_blas = fmin(best_blas, t);
                else
                    best_ours = fmin(best_ours, t);
            }
        }
    *ours = flop / best_ours * 1e-9;
    *theirs = blas ? flop / best_blas * 1e-9 : 0;
}

static void print_header(FILE *out, int json, int nthreads, double peak, int have_blas)
{
    if (json) {
        fprintf(out, "{\"kernel\": \"%s\", \"threads\": %d, \"peak_gflops\": %.1f, "
                     "\"openblas\": %s, \"shapes\": [",
                ggk_gemm_path_name(), nthreads, peak, have_blas ? "true" : "false");
        return;
    }
    fprintf(out, "f32 GEMM, kernel %s, %d thread%s, measured FMA peak %.0f GFLOP/s%s\n",
            ggk_gemm_path_name(), nthreads, nthreads == 1 ? "" : "s", peak,
            have_blas ? "" : " (OpenBLAS not found: libopenblas.so.0)");
    fprintf(out, "%-15s %5s %5s %5s %9s %6s %9s %6s\n", "product", "M", "N", "K",
            "GFLOP/s", "%peak", "OpenBLAS", "ratio");
}

static void print_row(FILE *out, int json, int first, const shape *s, double g,
                      double peak, double gb)
{
    if (json) {
        fprintf(out, "%s\n  {\"name\": \"%s\", \"m\": %zu, \"n\": %zu, \"k\": %zu, "
                     "\"gflops\": %.2f, \"openblas_gflops\": %.2f, \"ratio\": %.3f}",
                first ? "" : ",", s->name, s->M, s->N, s->K, g, gb, gb > 0 ? g / gb : 0);
        return;
    }
    fprintf(out, "%-15s %5zu %5zu %5zu %9.1f %5.0f%%", s->name, s->M, s->N, s->K, g,
            100 * g / peak);
    if (gb > 0)
        fprintf(out, " %9.1f %5.2fx\n", gb, g / gb);
    else
        fprintf(out, " %9s %6s\n", "-", "-");
}

int bench_gemm(FILE *out, int quick, int json)
{
    int nthreads = gg_num_threads(), status = 0;
    double peak = bench_fma_peak(nthreads);
    sgemm_fn blas = load_openblas(nthreads);
    gg_rng rng;
    gg_rng_seed(&rng, 1234);
    print_header(out, json, nthreads, peak, blas != NULL);
    for (size_t i = 0; i < NSHAPES && status >= 0; i++) {
        const shape *s = &shapes[i];
        operands o = {0};
        if (quick && s->M * s->N * s->K > QUICK_MAX_MACS) {
            if (!json)
                fprintf(out, "%-15s %5zu %5zu %5zu (skipped by --quick)\n", s->name, s->M, s->N, s->K);
            continue;
        }
        if (operands_alloc(&o, s, &rng) != 0) {
            status = -1;
        } else {
            run_ours(s, &o);
            if (check_sampled(s, &o, &rng))
                status = 1;
            double g, gb;
            time_shape(s, &o, blas, quick ? 3 : 9, quick ? 0.005 : 0.05, !quick, &g, &gb);
            print_row(out, json, i == 0, s, g, peak, gb);
        }
        operands_free(&o);
    }
    if (json)
        fprintf(out, "\n], \"ok\": %s}\n", status == 0 ? "true" : "false");
    else if (status != 0)
        fprintf(out, "%s\n", status > 0 ? "WRONG RESULT: a product differs from the reference"
                                        : "out of memory");
    return status;
}
