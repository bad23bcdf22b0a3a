/* dist.c - gategrad-bench --dist: data-parallel training steps under
 * mpiexec -np N, each per-rank batch beside one rank alone (same threads)
 * and one process with every rank's threads, both timed in the same run
 * while the other ranks sleep; the gradients' all-reduce against the ring
 * model fed by a ping-pong measured in the same run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "base/base.h"
#include "dist/dist.h"
#include "gategrad.h"

#define DIST_MODEL "784-256-128-10:relu"
#define STEPS 12

typedef struct net {
    gg_graph *g;
    gg_mlp *mlp;
    gg_node *x, *y, *loss;
    gg_optimizer *opt;
    gg_dist_grads *grads;
} net;

static void net_free(net *n)
{
    gg_dist_grads_free(n->grads);
    gg_optimizer_free(n->opt);
    if (n->mlp)
        gg_mlp_free(n->mlp);
    gg_graph_free(n->g);
}

/* With shared != 0 (collective) every rank takes rank 0's weights. */
static int net_new(net *n, size_t batch, int shared, char *err)
{
    memset(n, 0, sizeof *n);
    gg_mlp_spec spec;
    if (gg_mlp_spec_parse(DIST_MODEL, &spec, err) || !(n->g = gg_graph_new()))
        return -1;
    n->x = gg_input(n->g, GG_F32, 2, (int64_t[]){(int64_t)batch, 784}, NULL);
    n->y = gg_input(n->g, GG_F32, 1, (int64_t[]){(int64_t)batch}, NULL);
    if (!(n->mlp = gg_mlp_new(n->g, n->x, &spec, 1, err)))
        return -1;
    n->loss = gg_softmax_cross_entropy(n->g, gg_mlp_output(n->mlp), n->y);
    size_t np;
    gg_node *const *p = gg_mlp_params(n->mlp, &np);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_ADAM);
    if (!n->loss || !(n->opt = gg_optimizer_new(&cfg, p, np, err)) || !(n->grads = gg_dist_grads_new(p, np, 1, err)))
        return -1;
    gg_rng rng;
    gg_rng_seed(&rng, 7 + (uint64_t)gg_dist_rank());
    float *x = gg_data(n->x), *y = gg_data(n->y);
    for (size_t i = 0; i < batch * 784; i++)
        x[i] = (float)gg_rng_uniform(&rng);
    for (size_t i = 0; i < batch; i++)
        y[i] = (float)gg_rng_below(&rng, 10);
    return shared ? gg_dist_broadcast_params(p, np, err) : 0;
}

/* One step; *wait_s: the barrier before the all-reduce (waiting for the
 * slowest rank), *reduce_s: the all-reduce itself (0 when reduce is 0). */
static int step(net *n, int reduce, double *wait_s, double *reduce_s, char *err)
{
    if (gg_forward(n->g, n->loss) || gg_backward(n->g, n->loss))
        return -1;
    double t0 = bench_now(), loss = gg_value(n->loss);
    if (reduce && gg_dist_barrier(err))
        return -1;
    double t1 = bench_now();
    if (reduce && gg_dist_grads_step(n->grads, &loss, err) < 0)
        return -1;
    *wait_s = reduce ? t1 - t0 : 0;
    *reduce_s = reduce ? bench_now() - t1 : 0;
    gg_optimizer_step(n->opt);
    gg_optimizer_zero_grad(n->opt);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median step seconds (and all-reduce median, p90) over STEPS steps after
 * two warm-ups. */
static int time_steps(net *n, int reduce, double *step_s, double *wait_s, double *ar_med, double *ar_p90,
                      char *err)
{
    double st[STEPS], ar[STEPS], wait[STEPS], dummy[2];
    for (int i = 0; i < 2; i++)
        if (step(n, reduce, &dummy[0], &dummy[1], err))
            return -1;
    for (int i = 0; i < STEPS; i++) {
        double t0 = bench_now();
        if (step(n, reduce, &wait[i], &ar[i], err))
            return -1;
        st[i] = bench_now() - t0;
    }
    qsort(st, STEPS, sizeof *st, cmp), qsort(ar, STEPS, sizeof *ar, cmp), qsort(wait, STEPS, sizeof *wait, cmp);
    *step_s = st[STEPS / 2], *wait_s = wait[STEPS / 2], *ar_med = ar[STEPS / 2], *ar_p90 = ar[(STEPS * 9) / 10];
    return 0;
}

/* Rank 0 alone with threads threads (the others asleep): median step. */
static int time_alone(size_t batch, int threads, double *step_s, char *err)
{
    int rc = 0, keep = gg_num_threads();
    if (gg_dist_rank() == 0) {
        net n;
        double a, b, w;
        gg_set_num_threads(threads);
        rc = net_new(&n, batch, 0, err) ? -1 : time_steps(&n, 0, step_s, &w, &a, &b, err);
        net_free(&n);
        gg_set_num_threads(keep);
    }
    return ggm_barrier_idle(err) || rc ? -1 : 0;
}

/* 1 when this rank's weights are rank 0's bits, 0 when not, -1 on an error. */
static int same_weights(net *n, char *err)
{
    size_t np, count = gg_mlp_param_count(n->mlp);
    gg_node *const *p = gg_mlp_params(n->mlp, &np);
    float *mine = malloc(count * sizeof *mine), *theirs = malloc(count * sizeof *theirs), *at = mine;
    int rc = mine && theirs ? 1 : ggb_errorf(err, "out of memory");
    for (size_t i = 0; rc > 0 && i < np; i++) {
        memcpy(at, gg_data(p[i]), gg_numel(p[i]) * sizeof *at);
        at += gg_numel(p[i]);
    }
    if (rc > 0) {
        memcpy(theirs, mine, count * sizeof *mine);
        rc = gg_dist_broadcast(theirs, count * sizeof *theirs, err) ? -1 : !memcmp(mine, theirs, count * sizeof *mine);
    }
    free(mine), free(theirs);
    return rc;
}

static int bench_batch(size_t batch, double lat, double bw, char *err)
{
    int size = gg_dist_size(), threads = gg_num_threads();
    double one_s = 0, all_s = 0, step_s, wait_s, ar_med, ar_p90;
    if (time_alone(batch, threads, &one_s, err) ||
        time_alone(batch * (size_t)size, threads * gg_dist_local_size(), &all_s, err))
        return -1;
    net n;
    if (net_new(&n, batch, 1, err) || time_steps(&n, size > 1, &step_s, &wait_s, &ar_med, &ar_p90, err)) {
        net_free(&n);
        return -1;
    }
    double bytes = (double)gg_dist_grads_bytes(n.grads);
    int same = same_weights(&n, err);
    net_free(&n);
    if (same < 0)
        return -1;
    if (!same)
        return ggb_errorf(err, "per-rank batch %zu: the weights differ from rank 0's after the steps", batch);
    if (gg_dist_rank() != 0)
        return 0;
    double global = (double)(batch * (size_t)size) / step_s, alone = (double)batch / one_s;
    double ring = size > 1 ? 2.0 * (size - 1) / size * bytes / bw + 2.0 * (size - 1) * lat : 0;
    double bus = size > 1 && ar_med > 0 ? 2.0 * (size - 1) / size * bytes / ar_med / 1e9 : 0;
    printf("%6zu %9.0f %9.0f %5.2f %9.0f %8.3f %8.3f %8.3f %6.1f%% %7.0f %8.2f %8.3f\n", batch, global, alone,
           global / (size * alone), (double)(batch * (size_t)size) / all_s, wait_s * 1e3, ar_med * 1e3,
           ar_p90 * 1e3, 100 * ar_med / step_s, bytes, bus, ring * 1e3);
    return 0;
}

int bench_dist(int argc, char **argv)
{
    char err[GG_ERRLEN] = "";
    size_t batches[8] = {64, 128, 512, 2048}, nb = 4;
    int threads = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            nb = 0;
            for (char *s = argv[++i]; *s && nb < 8; s += strspn(s, ","))
                batches[nb++] = strtoul(s, &s, 10);
        } else {
            fprintf(stderr, "usage: mpiexec -np N gategrad-bench --dist [--threads T] [--batch B1,B2,...]\n");
            return 2;
        }
    }
    if (gg_dist_init(0, err)) {
        fprintf(stderr, "gategrad-bench --dist: %s\n", err);
        return 1;
    }
    gg_set_num_threads(threads > 0 ? threads : gg_dist_threads_per_rank());
    int size = gg_dist_size(), rc = 0;
    double lat = ggm_pingpong(8, 200, err), big = ggm_pingpong((size_t)1 << 22, 20, err);
    double bw = big > lat ? (double)((size_t)1 << 22) / (big - lat) : 0;
    if (gg_dist_rank() == 0) {
        printf("== Data-parallel steps: %s, Adam, %d rank%s x %d thread%s (%d on this machine, %ld cores) ==\n",
               DIST_MODEL, size, size == 1 ? "" : "s", gg_num_threads(), gg_num_threads() == 1 ? "" : "s",
               gg_dist_local_size(), sysconf(_SC_NPROCESSORS_ONLN));
        if (size > 1)
            printf("ping-pong rank 0 <-> 1: latency %.2f us, bandwidth %.2f GB/s (4 MiB messages)\n", lat * 1e6,
                   bw / 1e9);
        printf("Each rank runs one per-rank batch per step; 'alone' is rank 0 by itself with the same threads,\n"
               "'1 proc' one process at the global batch with all %d ranks' threads (%d), each timed in this run while the other\n"
               "ranks sleep. Efficiency = global / (ranks x alone). Timed on rank 0, medians of %d steps: wait = a\n"
               "barrier before the all-reduce (the slowest rank's lag), ar = the all-reduce itself (median, p90),\n"
               "share = ar / step; bus GB/s = 2(N-1)/N x bytes / ar; ring = the model 2(N-1)/N x bytes /\n"
               "bandwidth + 2(N-1) x latency from the ping-pong (its fastest round trips).\n",
               size, gg_num_threads() * gg_dist_local_size(), STEPS);
        printf("Ranks on one machine share its cores and memory bandwidth: on a 2-core machine two ranks\n"
               "cannot beat one process with two threads; these figures are for the cost model and the\n"
               "overheads, not a speed-up.\n");
        printf("%6s %9s %9s %5s %9s %8s %8s %8s %7s %7s %8s %8s\n", "batch", "global/s", "alone/s", "eff",
               "1proc/s", "wait ms", "ar ms", "ar p90", "share", "bytes", "bus GB/s", "ring ms");
    }
    for (size_t i = 0; i < nb && rc == 0; i++)
        if (batches[i] < 1 || bench_batch(batches[i], lat, bw, err))
            rc = -1;
    if (rc) {
        fprintf(stderr, "gategrad-bench --dist: rank %d: %s\n", gg_dist_rank(), err[0] ? err : "a bad batch size");
        gg_dist_abort(1);
    }
    gg_dist_finalize();
    return rc ? 1 : 0;
}
