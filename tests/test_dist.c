/* test_dist.c - data-parallel training (gategrad/dist.h). Run alone it
 * checks the one-rank behaviour; tests/meson.build also runs it under
 * mpiexec -np 1..4, where every rank runs every test (the collectives in
 * the same order) and the figures are the sums over ranks. */
#include "testutil.h"

#include <stdio.h>

#include "dist/dist.h"
#include "gategrad.h"
#include "nn/nn.h"

static int rank, size;

/* ---- The launcher's environment ---------------------------------------- */

static void parse_ok(const char *const *env, int launched, long sz, long rk, long local)
{
    ggm_launch l;
    char err[GG_ERRLEN] = "";
    assert_int_equal(ggm_parse_launch(env, &l, err), 0);
    assert_int_equal(l.launched, launched);
    assert_int_equal(l.size, sz);
    assert_int_equal(l.rank, rk);
    assert_int_equal(l.local_size, local);
}

static void parse_bad(const char *const *env, const char *needle)
{
    ggm_launch l;
    char err[GG_ERRLEN] = "";
    assert_int_equal(ggm_parse_launch(env, &l, err), -1);
    assert_int_equal(l.launched, 0);
    assert_contains(err, needle);
}

static void test_launch_env(void **state)
{
    (void)state;
    parse_ok((const char *[]){"PATH=/bin", "HOME", NULL}, 0, -1, -1, -1);
    parse_ok((const char *[]){NULL}, 0, -1, -1, -1);
    parse_ok((const char *[]){"OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_RANK=3", "OMPI_COMM_WORLD_LOCAL_SIZE=2", NULL},
             1, 4, 3, 2);
    parse_ok((const char *[]){"PMI_RANK=0", "PMI_SIZE=2", NULL}, 1, 2, 0, -1);
    parse_ok((const char *[]){"PMIX_RANK=5", NULL}, 1, -1, 5, -1);
    /* Open MPI first; the first occurrence of a name wins. */
    parse_ok((const char *[]){"PMI_SIZE=9", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_SIZE=7", NULL}, 1, 2, -1, -1);
    parse_bad((const char *[]){"OMPI_COMM_WORLD_SIZE=2x", NULL}, "OMPI_COMM_WORLD_SIZE='2x'");
    parse_bad((const char *[]){"OMPI_COMM_WORLD_SIZE=", NULL}, "OMPI_COMM_WORLD_SIZE=''");
    parse_bad((const char *[]){"PMI_SIZE=-1", NULL}, "PMI_SIZE='-1'");
    parse_bad((const char *[]){"PMI_SIZE= 3", NULL}, "PMI_SIZE=' 3'");
    parse_bad((const char *[]){"PMI_SIZE=2147483648", NULL}, "not a count");
    parse_ok((const char *[]){"PMI_SIZE=2147483647", NULL}, 1, 2147483647L, -1, -1);
    parse_bad((const char *[]){"OMPI_COMM_WORLD_SIZE=0", NULL}, "is 0");
    parse_bad((const char *[]){"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=2", NULL}, "rank 2 of 2");
    parse_bad((const char *[]){"PMI_SIZE=2", "MPI_LOCALNRANKS=3", NULL}, "3 ranks on this machine of 2");
    parse_bad((const char *[]){"PMIX_RANK=x", NULL}, "PMIX_RANK");
}

/* ---- Slices and shards ------------------------------------------------- */

static void test_shards(void **state)
{
    (void)state;
    enum { N = 230, BATCH = 24 };
    uint32_t *shard = malloc(N * sizeof *shard), *first = malloc(N * sizeof *first);
    int *seen = malloc(N * sizeof *seen);
    assert_non_null(shard), assert_non_null(first), assert_non_null(seen);
    gg_dataset d = {.n = N, .dim = 1, .classes = 1};
    gg_batcher b;
    assert_int_equal(gg_batcher_init(&b, &d, BATCH, 1, 5, NULL), 0);
    for (size_t epoch = 0; epoch < 3; epoch++) {
        for (int sz = 1; sz <= 4; sz++) {
            memset(seen, 0, N * sizeof *seen);
            for (int r = 0; r < sz; r++) {
                size_t k = gg_dist_shard(N, BATCH, 5, epoch, r, sz, shard, NULL);
                /* This rank's slice of each of the batcher's batches, in order. */
                size_t at = 0, lo, hi;
                for (size_t start = 0; start < N; start += BATCH) {
                    gg_dist_slice(start + BATCH <= N ? BATCH : N - start, r, sz, &lo, &hi);
                    for (size_t i = lo; i < hi; i++, at++)
                        assert_int_equal(shard[at], b.perm[start + i]);
                }
                assert_int_equal(k, at);
                for (size_t i = 0; i < k; i++)
                    seen[shard[i]]++;
                if (sz == 4 && r == 1 && epoch == 0)
                    memcpy(first, shard, k * sizeof *shard);
                if (sz == 4 && r == 1 && epoch == 1)
                    assert_true(memcmp(first, shard, k * sizeof *shard) != 0);
            }
            for (size_t i = 0; i < N; i++)
                assert_int_equal(seen[i], 1); /* disjoint and covering */
        }
        while (gg_batcher_next(&b, NULL, NULL) > 0) /* to the next epoch's order */
            ;
    }
    size_t lo, hi;
    gg_dist_slice(14, 3, 4, &lo, &hi); /* a short last batch: 3, 3, 4, 4 */
    assert_int_equal(lo, 10), assert_int_equal(hi, 14);
    char err[GG_ERRLEN] = "";
    assert_int_equal(gg_dist_shard(N, BATCH, 5, 0, 4, 4, shard, err), 0);
    assert_contains(err, "gg_dist_shard");
    gg_batcher_free(&b);
    free(shard), free(first), free(seen);
}

/* ---- Sums ------------------------------------------------------------- */

static void test_allreduce_exact(void **state)
{
    (void)state;
    char err[GG_ERRLEN] = "";
    gg_graph *g = gg_graph_new();
    for (int dt = 0; dt < 2; dt++) {
        gg_dtype dtype = dt ? GG_F64 : GG_F32;
        gg_node *p[2] = {gg_tensor(g, dtype, 1, (int64_t[]){5}, NULL), gg_tensor(g, dtype, 2, (int64_t[]){30, 40}, NULL)};
        assert_non_null(p[0]), assert_non_null(p[1]);
        gg_dist_grads *r = gg_dist_grads_new(p, 2, 1, err);
        assert_non_null(r);
        assert_int_equal(gg_dist_grads_bytes(r), (5 + 1200 + 1) * (dt ? 8 : 4));
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < gg_numel(p[k]); i++) {
                double v = (double)((rank + 1) * (int)(i % 97 + 1) - 40 * k);
                if (dt)
                    ((double *)gg_grad_data(p[k]))[i] = v;
                else
                    ((float *)gg_grad_data(p[k]))[i] = (float)v;
            }
        double value = rank + 1;
        assert_int_equal(gg_dist_grads_reduce(r, 1.0, &value, err), 0);
        double ranks_sum = size * (size + 1) / 2.0;
        assert_true(value == ranks_sum);
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < gg_numel(p[k]); i++) {
                double want = ranks_sum * (double)(i % 97 + 1) - 40.0 * k * size;
                if (gg_grad_at(p[k], i) != want)
                    fail_msg("dtype %d tensor %d [%zu]: %.17g, expected %.17g", dt, k, i, gg_grad_at(p[k], i), want);
            }
        gg_dist_grads_free(r);
    }
    double sums[3] = {rank, 1, 1e15 + rank};
    assert_int_equal(gg_dist_sum(sums, 3, err), 0);
    assert_true(sums[0] == size * (size - 1) / 2.0);
    assert_true(sums[1] == size);
    assert_true(sums[2] == 1e15 * size + size * (size - 1) / 2.0);
    gg_graph_free(g);
}

/* no_sync: the first of two steps leaves each rank's gradients alone; the
 * second averages the sum of both over ranks and steps. */
static void test_accumulate(void **state)
{
    (void)state;
    char err[GG_ERRLEN] = "";
    gg_graph *g = gg_graph_new();
    gg_node *p = gg_tensor(g, GG_F32, 1, (int64_t[]){64}, NULL);
    gg_dist_grads *r = gg_dist_grads_new(&p, 1, 2, err);
    assert_non_null(r);
    float *gr = gg_grad_data(p);
    for (int i = 0; i < 64; i++)
        gr[i] = (float)((rank + 1) * (i + 1));
    double value = rank + 1;
    assert_int_equal(gg_dist_grads_step(r, &value, err), 0);
    for (int i = 0; i < 64; i++)
        assert_true(gr[i] == (float)((rank + 1) * (i + 1)));
    for (int i = 0; i < 64; i++)
        gr[i] += (float)(2 * (rank + 1) * (i + 1)); /* the second backward adds in */
    value = 2 * (rank + 1);
    assert_int_equal(gg_dist_grads_step(r, &value, err), 1);
    double mean_rank = (size + 1) / 2.0; /* mean of rank + 1 */
    for (int i = 0; i < 64; i++)
        assert_near(gr[i], 1.5 * mean_rank * (i + 1), 1e-6 * (i + 1));
    assert_near(value, 1.5 * mean_rank, 1e-6);
    gg_dist_grads_free(r);
    assert_null(gg_dist_grads_new(&p, 1, 0, err));
    assert_contains(err, "accumulate");
    gg_graph_free(g);
}

/* ---- Broadcast -------------------------------------------------------- */

/* Copies the values of m's parameters into one new buffer of *count floats. */
static float *flatten(gg_mlp *m, size_t *count)
{
    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    *count = gg_mlp_param_count(m);
    float *buf = malloc(*count * sizeof *buf), *at = buf;
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) {
        memcpy(at, gg_data(p[i]), gg_numel(p[i]) * sizeof *at);
        at += gg_numel(p[i]);
    }
    return buf;
}

/* Whether this rank's buf holds rank 0's bits. */
static bool same_as_rank0(const float *buf, size_t count)
{
    float *theirs = malloc(count * sizeof *theirs);
    assert_non_null(theirs);
    memcpy(theirs, buf, count * sizeof *buf);
    assert_int_equal(gg_dist_broadcast(theirs, count * sizeof *theirs, NULL), 0);
    bool same = !memcmp(theirs, buf, count * sizeof *buf);
    free(theirs);
    return same;
}

static void test_broadcast_seeds(void **state)
{
    (void)state;
    char err[GG_ERRLEN] = "";
    gg_mlp_spec spec;
    assert_int_equal(gg_mlp_spec_parse("3-8-4:tanh", &spec, err), 0);
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F32, 2, (int64_t[]){2, 3}, NULL);
    gg_mlp *m = gg_mlp_new(g, x, &spec, 100 + (uint64_t)rank, err);
    assert_non_null(m);
    size_t count, n;
    float *before = flatten(m, &count);
    assert_int_equal(same_as_rank0(before, count), rank == 0);
    gg_node *const *p = gg_mlp_params(m, &n);
    assert_int_equal(gg_dist_broadcast_params(p, n, err), 0);
    float *after = flatten(m, &count);
    assert_true(same_as_rank0(after, count));
    free(before), free(after);
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* ---- Training: N ranks at global batch B against one process at B -------- */

typedef struct step_check {
    gg_classifier *c;
    size_t steps, differing; /* steps seen; those whose weights differ from rank 0's */
} step_check;

static void after_step(void *ctx, size_t done, size_t total)
{
    (void)done, (void)total;
    step_check *s = ctx;
    size_t count;
    float *w = flatten(gg_classifier_model(s->c), &count);
    s->steps++;
    s->differing += !same_as_rank0(w, count);
    free(w);
}

static void test_fit_matches_one_rank(void **state)
{
    (void)state;
    enum { N = 230, BATCH = 24 }; /* 10 steps an epoch, the last of 14 samples */
    char err[GG_ERRLEN] = "";
    gg_dataset d;
    assert_int_equal(gg_playground("spiral", N, 0.1, 11, &d, err), 0);
    gg_mlp_spec spec;
    assert_int_equal(gg_mlp_spec_parse("2-16-16-2:tanh", &spec, err), 0);
    gg_fit_config cfg = {.epochs = 2, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = 3};
    cfg.opt.lr = 0.01;

    gg_classifier *alone = gg_classifier_new(&spec, BATCH, 7, err);
    assert_non_null(alone);
    assert_int_equal(ggn_classifier_fit_ranks(alone, &d, NULL, &cfg, NULL, NULL, 0, 1, err), 0);

    assert_int_equal(BATCH % size, 0);
    gg_classifier *ranks = gg_classifier_new(&spec, BATCH / (size_t)size, 7 + (uint64_t)rank * 1000, err);
    assert_non_null(ranks);
    step_check check = {.c = ranks};
    gg_fit_callbacks cb = {.batch = after_step, .ctx = &check};
    cfg.seed = 3 + (uint64_t)rank; /* rank 0's batch order wins */
    assert_int_equal(gg_classifier_fit(ranks, &d, NULL, &cfg, &cb, NULL, err), 0);
    assert_int_equal(check.steps, 20);
    assert_int_equal(check.differing, 0);

    size_t count;
    float *want = flatten(gg_classifier_model(alone), &count), *got = flatten(gg_classifier_model(ranks), &count);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < count; i++) {
        diff = fmax(diff, fabs((double)got[i] - want[i]));
        scale = fmax(scale, fabs((double)want[i]));
    }
    if (rank == 0)
        printf("# %d rank(s) at global batch %d against one process: 20 steps, weights differ by at most "
               "%.3g relative (largest |w| %.3g)\n", size, BATCH, diff / scale, scale);
    assert_true(diff <= 1e-5 * scale);
    if (size == 1)
        assert_memory_equal(got, want, count * sizeof *got);

    /* Evaluation summed over ranks: the counts of one process's predictions. */
    double acc, loss;
    assert_int_equal(gg_classifier_evaluate(ranks, &d, &loss, &acc, NULL, err), 0);
    float *probs = malloc(N * 2 * sizeof *probs);
    assert_non_null(probs);
    assert_int_equal(gg_classifier_predict(ranks, d.x, N, probs, err), 0);
    size_t right = 0;
    for (size_t i = 0; i < N; i++)
        right += (probs[2 * i + 1] > probs[2 * i]) == (d.y[i] == 1);
    assert_true(acc == (double)right / N);
    free(probs), free(want), free(got);
    gg_classifier_free(alone), gg_classifier_free(ranks);
    gg_dataset_free(&d);
}

static void test_one_rank_without_mpi(void **state)
{
    (void)state;
    if (size > 1)
        return; /* what follows is the one-rank side */
    assert_int_equal(gg_dist_rank(), 0);
    assert_int_equal(gg_dist_local_size(), 1);
    assert_int_equal(gg_dist_barrier(NULL), 0);
    float v = 3;
    assert_int_equal(gg_dist_broadcast(&v, sizeof v, NULL), 0);
    assert_true(v == 3);
    assert_true(gg_dist_threads_per_rank() >= 1);
    gg_dist_abort(1); /* one rank: returns */
    if (gg_dist_available())
        return; /* with MPI, forcing would start it */
    /* Built without MPI: forced, still one rank; launched as 2 ranks, an error. */
    char err[GG_ERRLEN] = "";
    assert_int_equal(gg_dist_init(1, err), 0);
    assert_int_equal(gg_dist_size(), 1);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    assert_int_equal(gg_dist_init(0, err), -1);
    assert_contains(err, "one of 2 ranks, but this gategrad was built without MPI");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("OMPI_COMM_WORLD_RANK");
    assert_int_equal(gg_dist_size(), 1);
}

int main(void)
{
    char err[GG_ERRLEN];
    if (gg_dist_init(0, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rank = gg_dist_rank(), size = gg_dist_size();
    printf("# rank %d of %d (MPI %s)\n", rank, size, gg_dist_available() ? "built in" : "not built");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch_env),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_allreduce_exact),
        cmocka_unit_test(test_accumulate),
        cmocka_unit_test(test_broadcast_seeds),
        cmocka_unit_test(test_fit_matches_one_rank),
        cmocka_unit_test(test_one_rank_without_mpi),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed) /* the others may wait in a collective: end them all */
        gg_dist_abort(1);
    gg_dist_finalize();
    return failed ? 1 : 0;
}
