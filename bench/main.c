/* main.c - gategrad-bench: GEMM throughput, a training epoch and
 * scalar graphs, each figure beside a reference measured in the same run
 * (the machine may be shared and noisy: ratios matter, not seconds). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gategrad.h"
#include "kernels/kernels.h"

static const char usage[] =
    "usage: gategrad-bench [--quick] [--json] [--threads N] [--epochs N]\n"
    "Measures, each beside a reference taken in the same run (every timing is the fastest\n"
    "of several repetitions interleaved with its reference's):\n"
    "  GEMM       f32 GFLOP/s per shape of the MLP and 1024^3, against the CPU's measured\n"
    "             FMA peak and OpenBLAS when libopenblas.so.0 loads (sh tools/setup.sh --bench)\n"
    "  training   seconds per epoch of 784-256-128-10:relu, batch 128, Adam on\n"
    "             Fashion-MNIST (synthetic data of its shape when absent), against the same\n"
    "             epoch's matrix products alone and PyTorch's epoch; heap allocations per\n"
    "             step; peak RSS\n"
    "  growth     ms per step and GFLOP/s of 784-1024-1024-10 and 784-4096-4096-10 at\n"
    "             batch 256, against the step's matrix products alone and PyTorch's step\n"
    "  inference  samples/s of gg_classifier_predict over the test images (batch 256),\n"
    "             against its matrix products alone and PyTorch's eval mode\n"
    "             (the products alone against PyTorch: the best ratio any overhead allows),\n"
    "             and the GFLOP/s of our products beside those of PyTorch's whole pass\n"
    "  PyTorch    bench/pytorch_epoch.py (its copy beside this program) --serve under\n"
    "             /usr/bin/python3 with Debian's OpenMP OpenBLAS (python3-torch,\n"
    "             libopenblas0-openmp: sh tools/setup.sh --bench), the same thread count,\n"
    "             denormals flushed; 'none' when absent\n"
    "  scalar     record + backward of a 1,000,000-node random graph of add/mul/max/copy/\n"
    "             sigmoid gates summed into its root (every gradient non-zero), ns and bytes\n"
    "             per node, against a minimal array-based tape in warm memory: operands local,\n"
    "             and a quarter of them from anywhere back;\n"
    "             allocations and page faults of a truncate-and-rebuild loop\n"
    "  moons      micrograd's demo (examples/moons.c), ms per training step, against the\n"
    "             same forward and backward over C arrays\n"
    "  --quick     seconds instead of minutes: small sizes (only the MLP's GEMM shapes), few\n"
    "             repetitions, no PyTorch\n"
    "  --json      end with one JSON line holding every figure\n"
    "  --threads N threads for the kernels (default: GG_NUM_THREADS, else all cores)\n"
    "  --epochs N  training epochs timed (default 5, quick 3); the fastest is reported\n"
    "  --dist [--threads T] [--batch B,...]  alone, under mpiexec -np N: data-parallel steps\n"
    "             per per-rank batch (default 64,128,512,2048) against one rank and one process\n"
    "Exit code 1 when a result is wrong (a product, a gradient, a non-decreasing loss,\n"
    "an allocation in a training step or a rebuilt graph, the moons demo short of 100%);\n"
    "timings are reported, never judged. --quick trains on one thread (see bench/train.c).\n";

typedef struct bench_all {
    bool quick, json;
    int gemm_status;
    char *gemm_json;
    bench_train_result train;
    bench_scalar_result scalar;
    bench_moons_result moons;
    bench_hvp_result hvp;
    bench_scale_row scale[2];
    bench_predict_result predict;
    bench_torch torch;
    int have_torch;
    const char *failed; /* the first check that failed, or NULL */
} bench_all;

static void check(bench_all *b, bool ok, const char *what)
{
    if (!ok && !b->failed)
        b->failed = what;
}

/* The GEMM table goes straight to stdout; for --json it is kept for the
 * final line, its newlines folded. */
static int run_gemm(bench_all *b)
{
    if (!b->json) {
        printf("\n== GEMM ==\n");
        b->gemm_status = bench_gemm(stdout, b->quick, 0);
        return 0;
    }
    size_t len;
    FILE *mem = open_memstream(&b->gemm_json, &len);
    if (!mem)
        return -1;
    b->gemm_status = bench_gemm(mem, b->quick, 1);
    if (fclose(mem))
        return -1;
    for (char *p = b->gemm_json; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return 0;
}

static size_t dataset_bytes(const gg_dataset *d)
{
    return d->n * (d->dim * (d->xb ? 1 : sizeof *d->x) + sizeof *d->y);
}

/* A JSON number, or null for NAN and the infinities. */
static const char *jnum(double v, char buf[32])
{
    if (!isfinite(v))
        return "null";
    snprintf(buf, 32, "%.5f", v);
    return buf;
}

static double mib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static void print_train(const bench_train_result *t)
{
    printf("\n== Training: %s, batch %zu, Adam, %d thread%s ==\n", t->model, t->batch, t->threads,
           t->threads == 1 ? "" : "s");
    printf("data %s: %zu samples, %zu steps per epoch; train loss %.4f (first epoch) -> %.4f (last)\n",
           t->data, t->samples, t->steps, t->first_loss, t->last_loss);
    printf("%-28s %12s   %-30s %s\n", "figure", "value", "reference (same run)", "ratio");
    printf("%-28s %12.3f   %-22s %7.3f %6.2fx\n", "seconds per epoch", t->epoch_s,
           "GEMM alone, s/epoch", t->gemm_s, t->epoch_s / t->gemm_s);
    if (isnan(t->torch_s))
        printf("%-28s %12.3f   %-22s %7s\n", "seconds per epoch", t->epoch_s, "PyTorch", "-");
    else {
        printf("%-28s %12.3f   %-22s %7.3f %6.2fx   (PyTorch loss %.4f)\n", "seconds per epoch", t->epoch_s,
               "PyTorch, s/epoch", t->torch_s, t->epoch_s / t->torch_s, t->torch_loss);
        printf("%-28s %12.3f   %-22s %7.3f %6.2fx   (the floor: all but the products free)\n",
               "GEMM alone, s/epoch", t->gemm_s, "PyTorch, s/epoch", t->torch_s, t->gemm_s / t->torch_s);
    }
    printf("%-28s %11.0f%%\n", "GEMM share of the epoch", 100 * fmin(1, t->gemm_s / t->epoch_s));
    if (t->allocs_per_step >= 0)
        printf("%-28s %12.3f   %-22s %7.3f\n", "heap allocations per step", t->allocs_per_step,
               "(worst epoch) last", t->allocs_last_epoch);
    else
        printf("%-28s %12s   (malloc owned by a sanitizer)\n", "heap allocations per step", "-");
    printf("%-28s %8.0f MiB   %-22s %3.0f MiB\n", "peak RSS", mib(t->peak_rss_bytes),
           "of which data sets", mib(t->data_bytes));
}

static void print_torch_line(const bench_all *b)
{
    if (b->have_torch)
        printf("\nPyTorch reference: torch %s, %d thread%s, OpenMP OpenBLAS%s, denormals flushed\n",
               b->torch.version, b->train.threads, b->train.threads == 1 ? "" : "s",
               ggk_cpu_has_avx512() ? " (OPENBLAS_CORETYPE=SkylakeX)" : "");
    else
        printf("\nPyTorch reference: none (%s)\n", b->quick ? "--quick" : b->torch.missing);
}

static void print_scale(const bench_scale_row *rows)
{
    printf("\n== Training as the model grows: relu, batch %zu, Adam, %d threads ==\n", rows[0].batch,
           gg_num_threads());
    printf("%-22s %6s %8s %8s %9s %10s %8s %7s %7s\n", "model", "steps", "ms/step", "GFLOP/s", "GEMM ms",
           "PyTorch ms", "GFLOP/s", "ratio", "floor");
    for (int i = 0; i < 2; i++) {
        const bench_scale_row *r = &rows[i];
        if (!r->steps) {
            printf("%-22s %6s (skipped by --quick)\n", r->model, "-");
            continue;
        }
        double ours = r->ours_s / (double)r->steps, theirs = r->torch_s / (double)r->steps;
        double gemm = r->products_s / (double)r->steps;
        printf("%-22s %6zu %8.2f %8.1f %9.2f", r->model, r->steps, 1e3 * ours, 1e-9 * r->flops_per_step / ours,
               1e3 * gemm);
        if (isnan(theirs))
            printf(" %10s %8s %7s %7s\n", "-", "-", "-", "-");
        else
            printf(" %10.2f %8.1f %6.2fx %6.2fx\n", 1e3 * theirs, 1e-9 * r->flops_per_step / theirs, ours / theirs,
                   gemm / theirs);
    }
    printf("GEMM ms: the step's matrix products alone; floor: their ratio to PyTorch's step\n");
}

static void print_predict(const bench_predict_result *p)
{
    double ours = (double)p->samples / p->ours_s, theirs = (double)p->samples / p->torch_s;
    printf("\n== Inference: gg_classifier_predict, 784-256-128-10, %zu images, batch %zu ==\n", p->samples,
           p->batch);
    double gemm = (double)p->samples / p->products_s;
    if (isnan(theirs)) {
        printf("%-28s %12.0f   %-22s %7s\n", "samples per second", ours, "PyTorch eval mode", "-");
        printf("%-28s %12.0f   %-22s %7s\n", "GEMM alone, samples/s", gemm, "PyTorch eval mode", "-");
        return;
    }
    printf("%-28s %12.0f   %-22s %7.0f %6.2fx\n", "samples per second", ours, "PyTorch eval mode", theirs,
           ours / theirs);
    printf("%-28s %12.0f   %-22s %7.0f %6.2fx   (the ceiling: all but the products free)\n",
           "GEMM alone, samples/s", gemm, "PyTorch eval mode", theirs, gemm / theirs);
    double gflop = 1e-9 * p->flops;
    printf("%-28s %12.1f   %-22s %7.1f          (2x its rate takes %.0f; the peak is the GEMM table's)\n",
           "GEMM alone, GFLOP/s", gflop / p->products_s, "PyTorch pass, GFLOP/s", gflop / p->torch_s,
           2 * gflop / p->torch_s);
}

static void print_scalar_shape(const char *what, const bench_scalar_shape *s, double n)
{
    printf("%-28s %12.1f   %-22s %7.1f %6.2fx\n", what, 1e9 * s->engine_s / n,
           "reference tape", 1e9 * s->tape_s / n, s->engine_s / s->tape_s);
}

static void print_scalar(const bench_scalar_result *s)
{
    double n = (double)s->nodes;
    printf("\n== Scalar graphs: %zu nodes, record + backward ==\n", s->nodes);
    print_scalar_shape("ns per node, local", &s->local, n);
    print_scalar_shape("ns per node, 1/4 far back", &s->far, n);
    printf("%-28s %12.1f   %-22s %7.1f %6.2fx\n", "bytes per node", (double)s->local.engine_bytes / n,
           "reference tape", (double)s->local.tape_bytes / n,
           (double)s->local.engine_bytes / (double)s->local.tape_bytes);
    printf("%-28s %11.1f%%   %-22s %6.1f%%\n", "non-zero gradients, local", 100 * s->local.live_share,
           "1/4 far back", 100 * s->far.live_share);
    printf("%-28s %12ld   %-22s %7ld   (%d steps)\n", "rebuild: allocations", s->rebuild_allocs,
           "minor page faults", s->rebuild_faults, s->rebuild_steps);
}

static void print_moons(const bench_moons_result *m)
{
    printf("\n== micrograd's moons: 2-16-16-1 scalar MLP, %d points, %zu nodes, SGD ==\n", m->points,
           m->nodes);
    printf("%-28s %12.3f   %-22s %7.3f %6.2fx\n", "ms per training step", 1e3 * m->engine_s,
           "C arrays, same math", 1e3 * m->ref_s, m->engine_s / m->ref_s);
    printf("%-28s %11d%%   %-22s %6d%%\n", "accuracy after 100 steps", 100 * m->engine_right / m->points,
           "C arrays", 100 * m->ref_right / m->points);
    printf("%-28s %12ld\n", "allocations after step 1", m->allocs);
}

/* The scalar and moons figures as JSON members. */
static void scalar_json(const bench_all *b, char *buf, size_t size)
{
    const bench_scalar_result *s = &b->scalar;
    const bench_moons_result *m = &b->moons;
    double n = (double)s->nodes;
    snprintf(buf, size,
             "\"scalar\": {\"nodes\": %zu, \"ns_per_node\": %.2f, \"tape_ns_per_node\": %.2f, "
             "\"ratio\": %.3f, \"far_ns_per_node\": %.2f, \"far_tape_ns_per_node\": %.2f, "
             "\"far_ratio\": %.3f, \"bytes_per_node\": %.1f, \"tape_bytes_per_node\": %.1f, "
             "\"grad_diff\": %.3g, \"live_share\": %.4f, \"far_live_share\": %.4f, \"rebuild_allocs\": %ld, \"rebuild_minflt\": %ld}, "
             "\"moons\": {\"nodes\": %zu, \"ms_per_step\": %.4f, \"ref_ms_per_step\": %.4f, "
             "\"accuracy\": %.2f, \"allocs\": %ld}",
             s->nodes, 1e9 * s->local.engine_s / n, 1e9 * s->local.tape_s / n,
             s->local.engine_s / s->local.tape_s, 1e9 * s->far.engine_s / n, 1e9 * s->far.tape_s / n,
             s->far.engine_s / s->far.tape_s, (double)s->local.engine_bytes / n,
             (double)s->local.tape_bytes / n, fmax(s->local.max_grad_diff, s->far.max_grad_diff),
             s->local.live_share, s->far.live_share, s->rebuild_allocs, s->rebuild_faults, m->nodes, 1e3 * m->engine_s, 1e3 * m->ref_s,
             (double)m->engine_right / m->points, m->allocs);
}

static void print_hvp(const bench_hvp_result *h)
{
    printf("\n== Hessian-vector product: MLP loss, all parameters, batch 128, f32 ==\n");
    printf("%-28s %12.4f   %-22s %7.4f %6.2fx\n", "H.v seconds (gg_hvp graph)", h->hvp_s,
           "gradient (fwd+bwd)", h->gradient_s, h->hvp_s / h->gradient_s);
    printf("%-28s %12zu   %-22s %7zu\n", "nodes with the H.v graph", h->nodes_hvp, "the loss's graph",
           h->nodes_loss);
}

static void print_json(const bench_all *b)
{
    const bench_train_result *t = &b->train;
    char scalar[1024];
    scalar_json(b, scalar, sizeof scalar);
    printf("{\"quick\": %s, \"threads\": %d, \"kernel\": \"%s\", \"gemm\": %s, "
           "\"train\": {\"data\": \"%s\", \"model\": \"%s\", \"batch\": %zu, \"samples\": %zu, "
           "\"steps\": %zu, \"seconds_per_epoch\": %.4f, \"gemm_seconds_per_epoch\": %.4f, "
           "\"gemm_share\": %.3f, \"allocs_per_step\": %.3f, \"allocs_per_step_last_epoch\": %.3f, \"peak_rss_mib\": %.1f, "
           "\"data_mib\": %.1f, \"first_loss\": %.5f, \"last_loss\": %.5f}, "
           "%s, \"hvp\": {\"hvp_seconds\": %.5f, \"gradient_seconds\": %.5f, "
           "\"ratio\": %.3f}, ",
           b->quick ? "true" : "false", t->threads, ggk_gemm_path_name(), b->gemm_json, t->data,
           t->model, t->batch, t->samples, t->steps, t->epoch_s, t->gemm_s,
           fmin(1, t->gemm_s / t->epoch_s), t->allocs_per_step, t->allocs_last_epoch, mib(t->peak_rss_bytes),
           mib(t->data_bytes), t->first_loss, t->last_loss, scalar, b->hvp.hvp_s, b->hvp.gradient_s,
           b->hvp.hvp_s / b->hvp.gradient_s);
    char j1[32], j2[32], j3[32];
    printf("\"torch\": %s%s%s, \"torch_seconds_per_epoch\": %s, \"scale\": [", b->have_torch ? "\"" : "",
           b->have_torch ? b->torch.version : "null", b->have_torch ? "\"" : "", jnum(t->torch_s, j1));
    for (int i = 0; i < 2; i++)
        printf("%s{\"model\": \"%s\", \"batch\": %zu, \"steps\": %zu, \"seconds\": %s, "
               "\"gemm_seconds\": %s, \"torch_seconds\": %s, \"gflop_per_step\": %.3f}", i ? ", " : "",
               b->scale[i].model, b->scale[i].batch, b->scale[i].steps, jnum(b->scale[i].ours_s, j1),
               jnum(b->scale[i].products_s, j3), jnum(b->scale[i].torch_s, j2), 1e-9 * b->scale[i].flops_per_step);
    printf("], \"predict\": {\"samples\": %zu, \"seconds\": %s, \"gemm_seconds\": %s, \"torch_seconds\": %s, "
           "\"gflop\": %.3f}, ",
           b->predict.samples, jnum(b->predict.ours_s, j1), jnum(b->predict.products_s, j3),
           jnum(b->predict.torch_s, j2), 1e-9 * b->predict.flops);
    printf("\"ok\": %s%s%s%s}\n", b->failed ? "false" : "true", b->failed ? ", \"failed\": \"" : "",
           b->failed ? b->failed : "", b->failed ? "\"" : "");
}

/* Training first, so that its peak RSS is not the other benchmarks'. */
static int run_training(bench_all *b, int epochs, const char *data, const gg_dataset *train,
                        const gg_dataset *test)
{
    char err[GG_ERRLEN];
    bench_torch *torch = b->have_torch ? &b->torch : NULL;
    if (bench_train(b->quick, epochs, train, torch, &b->train, err)
        || bench_scale(b->quick, train, torch, b->scale, err)
        || bench_predict(b->quick, test, torch, &b->predict, err)) {
        fprintf(stderr, "gategrad-bench: %s\n", err);
        return 1;
    }
    b->train.data = data;
    b->train.data_bytes = dataset_bytes(train) + dataset_bytes(test);
    const bench_train_result *t = &b->train;
    check(b, isfinite(t->first_loss) && t->last_loss < t->first_loss, "training loss did not decrease");
    check(b, t->allocs_per_step <= 0, "a training step allocated");
    check(b, b->predict.prob_sum_error < 1e-4, "predicted probabilities do not sum to 1");
    if (!b->json) {
        print_torch_line(b);
        print_train(t);
        print_scale(b->scale);
        print_predict(&b->predict);
    }
    return 0;
}

static int run_all(bench_all *b, int epochs)
{
    gg_dataset train = {0}, test = {0};
    const char *name;
    if (bench_load_data(b->quick, &train, &test, &name)) {
        fprintf(stderr, "gategrad-bench: out of memory for the data sets\n");
        return 1;
    }
    b->have_torch = !b->quick && bench_torch_start(&b->torch, gg_num_threads()) == 0;
    int rc = run_training(b, epochs, name, &train, &test);
    bench_torch_stop(&b->torch);
    gg_dataset_free(&train);
    gg_dataset_free(&test);
    if (rc)
        return rc;
    if (run_gemm(b) || bench_scalar(b->quick ? 100000 : 1000000, b->quick ? 3 : 5, &b->scalar) ||
        bench_moons(b->quick ? 2 : 20, &b->moons)) {
        fprintf(stderr, "gategrad-bench: out of memory\n");
        return 1;
    }
    check(b, b->gemm_status == 0, "a GEMM result differs from the reference");
    check(b, b->scalar.local.max_grad_diff < 1e-9 && b->scalar.far.max_grad_diff < 1e-9,
          "scalar gradients differ from the reference tape");
    check(b, b->scalar.rebuild_allocs <= 0, "a rebuilt scalar graph allocated");
    check(b, b->scalar.local.live_share > 0.99 && b->scalar.far.live_share > 0.99,
          "the scalar graph's gradients vanished: its backward would time skipped nodes");
    check(b, b->moons.engine_right == b->moons.points, "the moons demo did not classify every point");
    check(b, fabs(b->moons.engine_loss - b->moons.ref_loss) <= 1e-9 * fabs(b->moons.ref_loss),
          "the moons demo's loss differs from the reference's");
    check(b, b->moons.allocs <= 0, "a moons training step allocated");
    check(b, bench_hvp(b->quick, &b->hvp) == 0 && isfinite(b->hvp.checksum),
          "the Hessian-vector product could not be recorded or is not finite");
    if (b->json)
        print_json(b);
    else {
        print_scalar(&b->scalar);
        print_moons(&b->moons);
        print_hvp(&b->hvp);
    }
    if (b->failed)
        fprintf(stderr, "gategrad-bench: %s\n", b->failed);
    return b->failed ? 1 : 0;
}

/* A whole number in [1, max] from text, or 0. */
static size_t count_arg(const char *text, size_t max)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    return *text >= '1' && *text <= '9' && !*end && v <= max ? (size_t)v : 0;
}

/* Parses the options into b, *threads and *epochs. Returns -1 to go on, or
 * the exit code (0 after --help, 2 after a message about a bad option). */
static int parse_args(int argc, char **argv, bench_all *b, size_t *threads, size_t *epochs)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--quick")) {
            b->quick = true;
        } else if (!strcmp(a, "--json")) {
            b->json = true;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--epochs")) {
            bool is_threads = a[2] == 't';
            size_t max = is_threads ? GG_MAX_THREADS : 9;
            size_t v = i + 1 < argc ? count_arg(argv[i + 1], max) : 0;
            if (!v) {
                fprintf(stderr, "gategrad-bench: %s needs a whole number from 1 to %zu\n", a, max);
                return 2;
            }
            *(is_threads ? threads : epochs) = v;
            i++;
        } else {
            fprintf(stderr, "gategrad-bench: unknown option '%s' (try --help)\n", a);
            return 2;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--dist"))
        return bench_dist(argc - 2, argv + 2);
    bench_all b = {0};
    size_t threads = 0, epochs = 0;
    int rc = parse_args(argc, argv, &b, &threads, &epochs);
    if (rc >= 0)
        return rc;
    if (threads)
        gg_set_num_threads((int)threads);
    rc = run_all(&b, epochs ? (int)epochs : b.quick ? 3 : 5);
    free(b.gemm_json);
    return rc;
}
