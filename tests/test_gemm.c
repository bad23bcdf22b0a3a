/* test_gemm.c - the GEMM kernels against a long-double reference: every
 * transpose combination, beta 0 and 1, odd sizes and padded strides, each
 * compiled-in kernel path, packed and in-place A, 1 vs 2 threads, concurrent callers; the thread
 * pool and the CPU helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gategrad/rng.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"

/* Padding added to every leading dimension; its cells hold a sentinel that
 * must never leak into results (A, B) nor be overwritten (C). */
#define PAD 3
#define SENTINEL 12345.0

typedef struct dims {
    size_t M, N, K;
} dims;

/* Odd sizes, sizes around the register blocks (12x32, 6x16, 4x8), and
 * sizes past the cache blocks (kc 384/192, NB 512+, MB 960+). */
static const dims cases[] = {
    {1, 1, 1},      {2, 3, 7},       {7, 17, 3},      {17, 31, 33},   {31, 33, 65},
    {33, 65, 100},  {65, 100, 129},  {100, 129, 17},  {129, 257, 31}, {257, 7, 129},
    {3, 257, 65},   {1, 129, 257},   {257, 1, 2},     {33, 33, 33},   {65, 65, 65},
    {129, 129, 129}, {100, 2, 257},  {17, 100, 1},    {12, 32, 5},    {13, 33, 9},
    {6, 16, 8},     {11, 31, 4},     {1000, 17, 7},   {13, 600, 9},   {7, 9, 800},
    {40, 530, 400},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const char *const paths[] = {"portable", "avx2", "avx512"};

/* Fills a rows x cols matrix (row stride cols + PAD) with values in
 * [-1, 1), the padding with SENTINEL. Returns the allocation. */
static double *random_matrix(gg_rng *r, size_t rows, size_t cols)
{
    size_t ld = cols + PAD;
    double *m = malloc(rows * ld * sizeof *m + 1);
    assert_non_null(m);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < ld; j++)
            m[i * ld + j] = j < cols ? 2 * gg_rng_uniform(r) - 1 : SENTINEL;
    return m;
}

/* The operands of one product, kept in double and converted per dtype. */
typedef struct problem {
    int ta, tb;
    double beta;
    size_t M, N, K, lda, ldb, ldc;
    double *A, *B, *C0; /* C0: C's contents before the call */
} problem;

static void problem_make(problem *p, gg_rng *r, dims d, int ta, int tb, double beta)
{
    p->ta = ta;
    p->tb = tb;
    p->beta = beta;
    p->M = d.M;
    p->N = d.N;
    p->K = d.K;
    p->A = ta ? random_matrix(r, d.K, d.M) : random_matrix(r, d.M, d.K);
    p->B = tb ? random_matrix(r, d.N, d.K) : random_matrix(r, d.K, d.N);
    p->C0 = random_matrix(r, d.M, d.N);
    p->lda = (ta ? d.M : d.K) + PAD;
    p->ldb = (tb ? d.K : d.N) + PAD;
    p->ldc = d.N + PAD;
    if (beta == 0) /* beta = 0 must ignore C, NaN included */
        for (size_t i = 0; i < d.M; i++)
            for (size_t j = 0; j < d.N; j++)
                p->C0[i * p->ldc + j] = NAN;
}

static void problem_free(problem *p)
{
    free(p->A);
    free(p->B);
    free(p->C0);
}

static size_t rows_of_a(const problem *p) { return p->ta ? p->K : p->M; }
static size_t rows_of_b(const problem *p) { return p->tb ? p->N : p->K; }

/* Checks C (as doubles) against a long-double reference, within the
 * worst-case bound for recursive summation in the tested precision:
 * (K + 2) eps (|beta C0| + sum |a b|). Padding must be untouched. */
static void check(const problem *p, const double *C, double eps)
{
    for (size_t i = 0; i < p->M; i++) {
        for (size_t j = 0; j < p->N; j++) {
            long double ref = 0, mag = 0;
            for (size_t k = 0; k < p->K; k++) {
                long double a = p->ta ? p->A[k * p->lda + i] : p->A[i * p->lda + k];
                long double b = p->tb ? p->B[j * p->ldb + k] : p->B[k * p->ldb + j];
                ref += a * b;
                mag += fabsl(a * b);
            }
            if (p->beta != 0) {
                ref += p->C0[i * p->ldc + j];
                mag += fabsl((long double)p->C0[i * p->ldc + j]);
            }
            double tol = (double)(p->K + 2) * eps * (double)mag;
            double got = C[i * p->ldc + j];
            if (!(fabs(got - (double)ref) <= tol))
                fail_msg("C[%zu][%zu] = %.17g, want %.17g (tol %.3g), M=%zu N=%zu K=%zu "
                         "ta=%d tb=%d beta=%g",
                         i, j, got, (double)ref, tol, p->M, p->N, p->K, p->ta, p->tb,
                         p->beta);
        }
        for (size_t j = p->N; j < p->ldc; j++)
            assert_true(C[i * p->ldc + j] == SENTINEL);
    }
}

static float *to_f32(const double *x, size_t n)
{
    float *y = malloc(n * sizeof *y + 1);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)x[i];
    return y;
}

/* Runs the f32 product; returns C widened to double (caller frees). The
 * f32 operands are the double ones rounded, so the reference is taken on
 * rounded values too (problem's matrices are overwritten with them). */
static double *run_f32(problem *p)
{
    size_t na = rows_of_a(p) * p->lda, nb = rows_of_b(p) * p->ldb, nc = p->M * p->ldc;
    float *A = to_f32(p->A, na), *B = to_f32(p->B, nb), *C = to_f32(p->C0, nc);
    for (size_t i = 0; i < na; i++)
        p->A[i] = A[i];
    for (size_t i = 0; i < nb; i++)
        p->B[i] = B[i];
    for (size_t i = 0; i < nc; i++)
        p->C0[i] = C[i];
    ggk_gemm_f32(p->ta, p->tb, p->M, p->N, p->K, A, p->lda, B, p->ldb, (float)p->beta, C,
                 p->ldc);
    double *out = malloc(nc * sizeof *out + 1);
    assert_non_null(out);
    for (size_t i = 0; i < nc; i++)
        out[i] = C[i];
    free(A);
    free(B);
    free(C);
    return out;
}

static double *run_f64(const problem *p)
{
    size_t nc = p->M * p->ldc;
    double *C = malloc(nc * sizeof *C + 1);
    assert_non_null(C);
    memcpy(C, p->C0, nc * sizeof *C);
    ggk_gemm_f64(p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->beta, C,
                 p->ldc);
    return C;
}

/* Every case x transpose pair x beta, in both dtypes, on the current path. */
static void all_cases_current_path(void)
{
    gg_rng r;
    gg_rng_seed(&r, 99);
    for (size_t c = 0; c < NCASES; c++)
        for (int t = 0; t < 8; t++) {
            problem p;
            problem_make(&p, &r, cases[c], t & 1, (t >> 1) & 1, (t >> 2) ? 1.0 : 0.0);
            double *C = run_f64(&p);
            check(&p, C, DBL_EPSILON);
            free(C);
            C = run_f32(&p);
            check(&p, C, FLT_EPSILON);
            free(C);
            problem_free(&p);
        }
}

static void every_path_every_case(void **state)
{
    (void)state;
    int tested = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (ggk_gemm_force_path(paths[i]) != 0) {
            print_message("  path %s not available here, skipped\n", paths[i]);
            continue;
        }
        assert_string_equal(ggk_gemm_path_name(), paths[i]);
        all_cases_current_path();
        tested++;
    }
    assert_int_equal(ggk_gemm_force_path(NULL), 0);
    assert_true(tested >= 1); /* the portable path always exists */
#ifdef __x86_64__
    if (ggk_cpu_simd_built() && ggk_cpu_has_avx512())
        assert_int_equal(tested, 3);
#endif
}

/* A large op(A) is packed (A^T over 512 KiB, A over 2 MiB), a small one
 * read in place: the first
 * rows of a large product (packed) must equal, bit for bit, the product of
 * just those rows (in place, with an edge panel of 4 rows under every
 * path's MR), on every path, for A and A^T, both B layouts, and a width
 * for the main and for the narrow kernel. */
static void packed_and_in_place_a_agree(void **state)
{
    (void)state;
    enum { BIG = 4000, SMALL = 100, K = 160, N = 40 }; /* 2.5 MB, packed */
    static const size_t widths[] = {N, 10};
    gg_rng r;
    gg_rng_seed(&r, 7);
    float *A = malloc(BIG * K * sizeof *A), *B = malloc(K * N * sizeof *B);
    float *Cbig = malloc(BIG * N * sizeof *Cbig), *Csmall = malloc(SMALL * N * sizeof *Csmall);
    assert_true(A && B && Cbig && Csmall);
    for (size_t i = 0; i < BIG * K; i++)
        A[i] = (float)(2 * gg_rng_uniform(&r) - 1);
    for (size_t i = 0; i < K * N; i++)
        B[i] = (float)(2 * gg_rng_uniform(&r) - 1);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (ggk_gemm_force_path(paths[i]) != 0)
            continue;
        for (int t = 0; t < 8; t++) {
            int ta = t & 1, tb = (t >> 1) & 1;
            size_t n = widths[t >> 2], lda = ta ? BIG : K, ldb = tb ? K : n;
            ggk_gemm_f32(ta, tb, BIG, n, K, A, lda, B, ldb, 0.0f, Cbig, n);
            ggk_gemm_f32(ta, tb, SMALL, n, K, A, lda, B, ldb, 0.0f, Csmall, n);
            if (memcmp(Cbig, Csmall, sizeof(float) * SMALL * n) != 0)
                fail_msg("path %s ta=%d tb=%d N=%zu: in-place rows differ from packed",
                         paths[i], ta, tb, n);
        }
    }
    assert_int_equal(ggk_gemm_force_path(NULL), 0);
    free(A);
    free(B);
    free(Cbig);
    free(Csmall);
}

/* op(B) with a short row stride is read in place, with a long one
 * packed: the same B at both strides must give the same bits, on every
 * path, for widths with and without an edge panel (main and narrow
 * kernels) and a K of two slices. */
static void packed_and_in_place_b_agree(void **state)
{
    (void)state;
    enum { M = 50, K = 400, WIDE = 600 }; /* WIDE floats: a 2400-byte stride, packed */
    static const size_t widths[] = {40, 64, 10, 16, 1};
    gg_rng r;
    gg_rng_seed(&r, 11);
    float *A = malloc(M * K * sizeof *A), *Bwide = malloc(K * WIDE * sizeof *Bwide), *C1 = malloc(M * WIDE * sizeof *C1);
    float *C2 = malloc(M * WIDE * sizeof *C2);
    assert_true(A && Bwide && C1 && C2);
    for (size_t i = 0; i < M * K; i++)
        A[i] = (float)(2 * gg_rng_uniform(&r) - 1);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (ggk_gemm_force_path(paths[i]) != 0)
            continue;
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            size_t n = widths[w];
            float *Bshort = malloc(K * n * sizeof *Bshort); /* exactly: an overrun is a sanitizer error */
            assert_non_null(Bshort);
            for (size_t k = 0; k < K; k++)
                for (size_t j = 0; j < n; j++)
                    Bshort[k * n + j] = Bwide[k * WIDE + j] = (float)(2 * gg_rng_uniform(&r) - 1);
            for (int ta = 0; ta < 2; ta++) {
                size_t lda = ta ? M : K;
                ggk_gemm_f32(ta, 0, M, n, K, A, lda, Bshort, n, 0.0f, C1, n);
                ggk_gemm_f32(ta, 0, M, n, K, A, lda, Bwide, WIDE, 0.0f, C2, n);
                if (memcmp(C1, C2, sizeof(float) * M * n) != 0)
                    fail_msg("path %s ta=%d N=%zu: B read in place differs from B packed", paths[i], ta, n);
            }
            free(Bshort);
        }
    }
    assert_int_equal(ggk_gemm_force_path(NULL), 0);
    free(A), free(Bwide), free(C1), free(C2);
}

static void force_path_rejects_unknown(void **state)
{
    (void)state;
    const char *before = ggk_gemm_path_name();
    assert_int_not_equal(ggk_gemm_force_path("sse9"), 0);
    assert_string_equal(ggk_gemm_path_name(), before);
    assert_int_equal(ggk_gemm_force_path("portable"), 0);
    assert_string_equal(ggk_gemm_path_name(), "portable");
    assert_int_equal(ggk_gemm_force_path("auto"), 0);
    if (!ggk_cpu_simd_built())
        assert_string_equal(ggk_gemm_path_name(), "portable");
    else if (ggk_cpu_has_avx512())
        assert_string_equal(ggk_gemm_path_name(), "avx512");
}

static void k_zero_and_empty(void **state)
{
    (void)state;
    float C[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, one = 1;
    ggk_gemm_f32(0, 0, 2, 3, 0, &one, 1, &one, 3, 0.0f, C, 3);
    for (int i = 0; i < 6; i++)
        assert_true(C[i] == 0.0f);
    double D[4] = {1, 2, 3, 4}, d1 = 1;
    ggk_gemm_f64(1, 1, 2, 2, 0, &d1, 2, &d1, 1, 1.0, D, 2);
    assert_true(D[0] == 1 && D[1] == 2 && D[2] == 3 && D[3] == 4);
    ggk_gemm_f64(0, 0, 0, 2, 5, NULL, 5, NULL, 2, 0.0, D, 2); /* M = 0: no-op */
    assert_true(D[0] == 1 && D[3] == 4);
}

static void nan_in_c_overwritten_when_beta_zero(void **state)
{
    (void)state;
    float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4] = {NAN, NAN, INFINITY, NAN};
    ggk_gemm_f32(0, 0, 2, 2, 2, A, 2, B, 2, 0.0f, C, 2);
    assert_true(C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50);
    double Ad[4] = {1, 2, 3, 4}, Bd[4] = {5, 6, 7, 8}, Cd[4] = {NAN, NAN, NAN, NAN};
    ggk_gemm_f64(1, 1, 2, 2, 2, Ad, 2, Bd, 2, 0.0, Cd, 2); /* A^T . B^T */
    assert_true(Cd[0] == 23 && Cd[1] == 31 && Cd[2] == 34 && Cd[3] == 46);
}

/* f32 product of the given shape with n threads, C starting at c0. */
static float *product_with_threads(int n, int ta, int tb, size_t M, size_t N, size_t K,
                                   const float *A, const float *B, const float *c0,
                                   float beta)
{
    assert_int_equal(gg_set_num_threads(n), 0);
    float *C = malloc(M * N * sizeof *C);
    assert_non_null(C);
    memcpy(C, c0, M * N * sizeof *C);
    ggk_gemm_f32(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, beta, C, N);
    return C;
}

static float *random_f32(gg_rng *r, size_t n)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2 * gg_rng_uniform(r) - 1);
    return x;
}

/* Splitting M or N over threads never changes the arithmetic done for an
 * element, so 1, 2 and 3 threads agree bit for bit (shapes big enough to
 * be threaded, split either way, with a K spanning several slices). */
static void threads_bit_identical(void **state)
{
    (void)state;
    static const dims shapes[] = {{128, 256, 784}, {784, 256, 128}, {300, 45, 500}, {37, 700, 130},
                                  {1000, 10, 256}};
    int saved = gg_num_threads();
    gg_rng r;
    gg_rng_seed(&r, 5);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 8; t++) {
            size_t M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
            float *A = random_f32(&r, M * K), *B = random_f32(&r, K * N);
            float *c0 = random_f32(&r, M * N), beta = (t >> 2) ? 1.0f : 0.0f;
            float *c1 = product_with_threads(1, t & 1, (t >> 1) & 1, M, N, K, A, B, c0, beta);
            float *c2 = product_with_threads(2, t & 1, (t >> 1) & 1, M, N, K, A, B, c0, beta);
            float *c3 = product_with_threads(3, t & 1, (t >> 1) & 1, M, N, K, A, B, c0, beta);
            assert_memory_equal(c1, c2, M * N * sizeof *c1);
            assert_memory_equal(c1, c3, M * N * sizeof *c1);
            free(A), free(B), free(c0), free(c1), free(c2), free(c3);
        }
    assert_int_equal(gg_set_num_threads(saved), 0);
}

/* A^T.B with a narrow N (the transposed kernel on AVX-512) gives the same
 * bits as A.B and A.B^T over the explicit transposes (the narrow kernel,
 * A read in place and B packed transposed), on every path: the same FMAs
 * per element in the same order, for every N under 16, both betas, an
 * edge block of rows and a K of two slices. */
static void narrow_transposed_matches_narrow(void **state)
{
    (void)state;
    enum { M = 37, K = 500 };
    gg_rng r;
    gg_rng_seed(&r, 11);
    float *A = random_f32(&r, K * M), *At = malloc(M * K * sizeof *At), *B = random_f32(&r, K * 15);
    float *Bt = malloc(15 * K * sizeof *Bt), *c0 = random_f32(&r, M * 15);
    float *C[3] = {malloc(M * 15 * sizeof(float)), malloc(M * 15 * sizeof(float)), malloc(M * 15 * sizeof(float))};
    assert_true(At && Bt && C[0] && C[1] && C[2]);
    for (size_t p = 0; p < K; p++)
        for (size_t i = 0; i < M; i++)
            At[i * K + p] = A[p * M + i];
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (ggk_gemm_force_path(paths[i]) != 0)
            continue;
        for (size_t n = 1; n < 16; n++) {
            for (size_t p = 0; p < K; p++)
                for (size_t j = 0; j < n; j++)
                    Bt[j * K + p] = B[p * n + j];
            for (int beta = 0; beta < 2; beta++) {
                for (int c = 0; c < 3; c++)
                    memcpy(C[c], c0, M * n * sizeof(float));
                ggk_gemm_f32(1, 0, M, n, K, A, M, B, n, (float)beta, C[0], n);  /* A^T as it stands */
                ggk_gemm_f32(0, 0, M, n, K, At, K, B, n, (float)beta, C[1], n); /* the narrow kernel, A in place */
                ggk_gemm_f32(0, 1, M, n, K, At, K, Bt, K, (float)beta, C[2], n); /* the same, B^T packed */
                for (int c = 0; c < 2; c++)
                    if (memcmp(C[c], C[2], M * n * sizeof(float)) != 0)
                        fail_msg("path %s N=%zu beta=%d: %s differs from A.B^T", paths[i], n, beta,
                                 c ? "A.B" : "A^T.B");
            }
        }
    }
    assert_int_equal(ggk_gemm_force_path(NULL), 0);
    free(A), free(At), free(B), free(Bt), free(c0), free(C[0]), free(C[1]), free(C[2]);
}

typedef struct caller {
    const float *A, *B;
    float *C;
    size_t M, N, K;
    int reps;
} caller;

static void *caller_main(void *arg)
{
    caller *c = arg;
    for (int i = 0; i < c->reps; i++)
        ggk_gemm_f32(0, 1, c->M, c->N, c->K, c->A, c->K, c->B, c->K, 0.0f, c->C, c->N);
    return NULL;
}

/* Two user threads multiplying at once (one gets the pool, the other runs
 * alone) both get exactly the single-threaded answer. */
static void concurrent_callers(void **state)
{
    (void)state;
    int saved = gg_num_threads();
    const size_t M = 150, N = 200, K = 300;
    gg_rng r;
    gg_rng_seed(&r, 11);
    float *A = random_f32(&r, M * K), *B = random_f32(&r, N * K);
    float *zero = calloc(M * N, sizeof *zero);
    assert_non_null(zero);
    float *want = product_with_threads(1, 0, 1, M, N, K, A, B, zero, 0.0f);
    assert_int_equal(gg_set_num_threads(2), 0);
    caller c[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (caller){A, B, calloc(M * N, sizeof(float)), M, N, K, 20};
        assert_non_null(c[i].C);
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &c[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_memory_equal(c[i].C, want, M * N * sizeof *want);
        free(c[i].C);
    }
    free(A), free(B), free(zero), free(want);
    assert_int_equal(gg_set_num_threads(saved), 0);
}

static void set_num_threads_validates(void **state)
{
    (void)state;
    int saved = gg_num_threads();
    assert_true(saved >= 1 && saved <= GG_MAX_THREADS);
    assert_int_not_equal(gg_set_num_threads(0), 0);
    assert_int_not_equal(gg_set_num_threads(-3), 0);
    assert_int_not_equal(gg_set_num_threads(GG_MAX_THREADS + 1), 0);
    assert_int_equal(gg_num_threads(), saved);
    assert_int_equal(gg_set_num_threads(3), 0);
    assert_int_equal(gg_num_threads(), 3);
    assert_int_equal(gg_set_num_threads(saved), 0);
    assert_int_equal(gg_num_threads(), saved);
}

static void count_task(void *arg, int tid, int n)
{
    int *hits = arg;
    assert_true(tid >= 0 && tid < n);
    __atomic_fetch_add(&hits[tid], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&hits[8], n, __ATOMIC_RELAXED);
}

/* ggk_parallel_run calls the task once per tid, never more than asked. */
static void pool_runs_each_tid_once(void **state)
{
    (void)state;
    int saved = gg_num_threads();
    for (int threads = 1; threads <= 4; threads++) {
        assert_int_equal(gg_set_num_threads(threads), 0);
        for (int want = 1; want <= 5; want++) {
            int hits[9] = {0};
            int n = ggk_parallel_run(count_task, hits, want);
            assert_true(n >= 1 && n <= want && n <= threads);
            for (int t = 0; t < 8; t++)
                assert_int_equal(hits[t], t < n ? 1 : 0);
            assert_int_equal(hits[8], n * n);
        }
    }
    ggk_threads_shutdown(); /* the pool restarts on demand */
    int hits[9] = {0};
    assert_int_equal(ggk_parallel_run(count_task, hits, 4), 4);
    assert_int_equal(gg_set_num_threads(saved), 0);
}

/* Valgrind does not model MXCSR's FTZ/DAZ bits (it reads them back as 0
 * and keeps subnormals), so under it the test only checks for crashes. */
static int under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") != NULL;
}

static void flush_denormals(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    if (under_valgrind()) {
        ggk_set_flush_denormals(1);
        ggk_set_flush_denormals(0);
        print_message("  under valgrind: FTZ/DAZ not checked\n");
        return;
    }
    volatile float tiny = 1e-30f, small = 1e-10f;
    ggk_set_flush_denormals(1);
    unsigned on_mode = ggk_fp_mode_get();
    /* volatile results: the products must happen while the mode is set */
    volatile float flushed = tiny * small; /* 1e-40 is subnormal in float */
    ggk_set_flush_denormals(0);
    unsigned off_mode = ggk_fp_mode_get();
    volatile float kept = tiny * small;
    assert_int_equal(on_mode & 0x8040u, 0x8040u); /* FTZ | DAZ */
    assert_int_equal(off_mode & 0x8040u, 0u);
    assert_true(flushed == 0.0f);
    assert_true(kept > 0.0f);
#else
    ggk_set_flush_denormals(1); /* a no-op elsewhere; must not crash */
    ggk_set_flush_denormals(0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_path_every_case),
        cmocka_unit_test(packed_and_in_place_a_agree),
        cmocka_unit_test(packed_and_in_place_b_agree),
        cmocka_unit_test(force_path_rejects_unknown),
        cmocka_unit_test(k_zero_and_empty),
        cmocka_unit_test(nan_in_c_overwritten_when_beta_zero),
        cmocka_unit_test(threads_bit_identical),
        cmocka_unit_test(narrow_transposed_matches_narrow),
        cmocka_unit_test(concurrent_callers),
        cmocka_unit_test(set_num_threads_validates),
        cmocka_unit_test(pool_runs_each_tid_once),
        cmocka_unit_test(flush_denormals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
