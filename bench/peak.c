/* peak.c - the CPU's f32 FMA peak, measured: every thread runs chains of
 * independent vector FMAs at the GEMM kernel's width, all at once. A clock
 * read from /proc/cpuinfo is the base clock, not the one the cores run at
 * (boost, a hypervisor's rounding), and made products read over 100%. */
#include "bench.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Independent accumulators: more than an FMA's latency times its ports. */
enum { CHAINS = 12 };
#define FMA_ITERS 8000000L
/* Rounds, the best one kept: a round lasts about 10 ms, and the host's
 * hiccups are shorter than most. */
enum { FMA_ROUNDS = 7 };
/* Threads the measure runs at most. */
enum { BENCH_MAX_PEAK_THREADS = 256 };

typedef struct fma_job {
    int lanes; /* 16, 8 or 1 */
    double seconds;
    float sink;
} fma_job;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float fma_chains_avx512(long iters)
{
    __m512 acc[CHAINS], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], m, a);
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        s += _mm512_reduce_add_ps(acc[c]);
    return s;
}

__attribute__((target("avx2,fma"))) static float fma_chains_avx2(long iters)
{
    __m256 acc[CHAINS], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], m, a);
    float lanes[8], s = 0;
    for (int c = 0; c < CHAINS; c++) {
        _mm256_storeu_ps(lanes, acc[c]);
        for (int l = 0; l < 8; l++)
            s += lanes[l];
    }
    return s;
}
#endif

static float fma_chains_scalar(long iters)
{
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = (float)c;
    for (long i = 0; i < iters; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = acc[c] * 0.999999f + 1e-7f;
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        s += acc[c];
    return s;
}

static void *fma_thread(void *arg)
{
    fma_job *j = arg;
    double t0 = bench_now();
#if defined(__x86_64__)
    if (j->lanes == 16)
        j->sink = fma_chains_avx512(FMA_ITERS);
    else if (j->lanes == 8)
        j->sink = fma_chains_avx2(FMA_ITERS);
    else
#endif
        j->sink = fma_chains_scalar(FMA_ITERS);
    j->seconds = bench_now() - t0;
    return NULL;
}

/* One round on nthreads threads at once (the caller's among them): the sum
 * of their FMA rates, GFLOP/s. A thread that cannot start is left out. */
static double fma_round(int lanes, int nthreads)
{
    pthread_t tid[BENCH_MAX_PEAK_THREADS];
    fma_job jobs[BENCH_MAX_PEAK_THREADS];
    bool running[BENCH_MAX_PEAK_THREADS] = {false};
    for (int t = 0; t < nthreads; t++)
        jobs[t] = (fma_job){.lanes = lanes};
    for (int t = 1; t < nthreads; t++)
        running[t] = pthread_create(&tid[t], NULL, fma_thread, &jobs[t]) == 0;
    fma_thread(&jobs[0]);
    running[0] = true;
    double gflops = 0;
    for (int t = 0; t < nthreads; t++) {
        if (t > 0 && running[t])
            pthread_join(tid[t], NULL);
        if (running[t] && jobs[t].seconds > 0)
            gflops += 2.0 * lanes * CHAINS * (double)FMA_ITERS / jobs[t].seconds * 1e-9;
    }
    return gflops;
}

double bench_fma_peak(int nthreads)
{
    const char *path = ggk_gemm_path_name();
    int lanes = strcmp(path, "avx512") == 0 ? 16 : strcmp(path, "avx2") == 0 ? 8 : 1;
    nthreads = nthreads < 1 ? 1 : nthreads > BENCH_MAX_PEAK_THREADS ? BENCH_MAX_PEAK_THREADS : nthreads;
    double best = 0;
    bench_settle(); /* PyTorch's idle OpenMP threads spin for a while */
    for (int r = 0; r < FMA_ROUNDS; r++) {
        double g = fma_round(lanes, nthreads);
        best = g > best ? g : best;
    }
    return best;
}
