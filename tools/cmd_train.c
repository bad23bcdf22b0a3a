/* cmd_train.c - `gategrad train`: trains an MLP classifier on a data set,
 * reports per epoch, evaluates on the test split, saves a checkpoint.
 * Started by mpirun -np N it trains data-parallel (gategrad/dist.h): rank 0
 * speaks and writes files, any rank that fails prints why and ends the job. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "nn_common.h"
#include "train_report.h"

static const char usage[] =
    "usage: gategrad train [options]\n"
    "Trains an MLP classifier (softmax cross-entropy) and evaluates it on the test split.\n"
    "  --data NAME      fashion-mnist (default), xor, circle, gauss, spiral, a directory of\n"
    "                   MNIST-format IDX files, or FILE.csv (label in the last column)\n"
    "  --model SPEC     e.g. 784-256-128-10:relu:dropout=0.2:bn (the default for 784 features);\n"
    "                   2-D data: 2-16-16-2:tanh. First width = features, last = classes;\n"
    "                   options :relu :tanh :sigmoid :prelu :bn :maxout=K :dropout=P :nobias\n"
    "  --epochs N       default 30 (200 for data sets under 10000 samples)\n"
    "  --batch B        default 128 (32 for small data sets); under mpirun -np N the global\n"
    "                   batch, a multiple of N, each rank running B/N samples of it\n"
    "  --opt NAME       sgd, momentum, nesterov, adagrad, rmsprop, adam (default)\n"
    "  --lr X           default 0.001 for adam on large data, else 0.01\n"
    "  --schedule S     cosine (default, down to lr/100), step (x0.1 at 1/2 and 3/4), constant\n"
    "  --momentum X     momentum and nesterov (default 0.9)\n"
    "  --weight-decay X L2 on every parameter (default 0)\n"
    "  --val FRACTION   validation share of the training data (default 0.1; 0: no validation)\n"
    "  --patience N     early stopping: stop after N epochs without a lower validation loss\n"
    "                   and keep the best weights (default 0: off)\n"
    "  --seed S         weights, split, batch order, dropout (default 1)\n"
    "  --threads N      threads for the matrix products (default: all cores, at most 16;\n"
    "                   under mpirun, the cores divided by the ranks on the machine)\n"
    "  --load FILE      start from a checkpoint (its model unless --model is given; default: none)\n"
    "  --save FILE.safetensors  write the trained model, atomically (default: none)\n"
    "  --plot FILE.svg  loss and accuracy curves (default: none)\n"
    "  --boundary FILE.svg  the decision regions under the test points, 2-D data only\n"
    "                   (default: none)\n"
    "  --html FILE.html one self-contained page of the run: curves, the decision boundary at\n"
    "                   several epochs (2-D data), every layer's gradient norm per epoch, the\n"
    "                   model (default: none)\n"
    "  --json           end with one JSON line: test_accuracy, test_loss, epochs, ... (default: off)\n"
    "  --grad-norms     print each layer's weight-gradient norm per epoch (mean over the\n"
    "                   epoch's steps; in --json as grad_norms: [[fc1, fc2, ...] per epoch];\n"
    "                   default: off)\n"
    "Examples:\n"
    "  gategrad train --data fashion-mnist --save fm.safetensors\n"
    "  gategrad train --data spiral --model 2-16-16-2:tanh --boundary spiral.svg\n";

typedef struct train_opts {
    const char *data, *model, *opt, *schedule, *load, *save, *plot, *boundary, *html;
    size_t epochs, batch, patience, seed, threads;
    double lr, momentum, weight_decay, val;
    bool json, grad_norms, seen_epochs, seen_batch, seen_lr, seen_model;
} train_opts;

typedef struct progress {
    bool tty;
    size_t epochs;
    double t0;
    gg_epoch_stats *hist; /* one per epoch, allocated once */
    size_t n;
    int nlayers;     /* with --grad-norms, else 0 */
    train_report *report; /* with --html */
    gg_classifier *c;
} progress;


static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_batch(void *ctx, size_t done, size_t total)
{
    progress *p = ctx;
    if (!p->tty)
        return;
    if (done <= total / 200 + 1 || !p->t0)
        p->t0 = now();
    double dt = now() - p->t0, rate = dt > 0 ? (double)done / dt : 0;
    int width = 30, fill = (int)(width * (double)done / (double)total);
    fprintf(stderr, "\r  epoch %zu/%zu [%.*s%*s] %zu/%zu  %.0f samples/s  ETA %.0fs ", p->n + 1, p->epochs, fill,
            "##############################", width - fill, "", done, total, rate,
            rate > 0 ? (double)(total - done) / rate : 0);
    if (done == total)
        fprintf(stderr, "\r%*s\r", 100, "");
}

static void on_epoch(void *ctx, const gg_epoch_stats *s)
{
    progress *p = ctx;
    p->hist[p->n++] = *s;
    p->t0 = 0;
    if (p->report)
        train_report_epoch(p->report, p->c, s->epoch);
    if (!nn_primary())
        return;
    if (isnan(s->val_loss))
        printf("epoch %zu/%zu  train loss %.4f  lr %.2g  %.1fs\n", s->epoch, p->epochs, s->train_loss, s->lr,
               s->seconds);
    else
        printf("epoch %zu/%zu  train loss %.4f  val loss %.4f  val acc %.4f  lr %.2g  %.1fs\n", s->epoch,
               p->epochs, s->train_loss, s->val_loss, s->val_accuracy, s->lr, s->seconds);
    if (p->nlayers) {
        printf("  weight gradient norms:");
        for (int i = 0; i < p->nlayers; i++)
            printf("  fc%d %.3g", i + 1, s->grad_norm[i]);
        printf("\n");
    }
    fflush(stdout);
}

/* Fills in the defaults that depend on the data and checks the names. */
static int settle(train_opts *o, const gg_dataset *train, gg_mlp_spec *spec, gg_fit_config *cfg)
{
    bool small = train->n < 10000;
    if (!o->seen_epochs)
        o->epochs = small ? 200 : 30;
    if (!o->seen_batch)
        o->batch = small ? 32 : 128;
    gg_opt_kind kind;
    if (gg_opt_parse(o->opt, &kind)) {
        cli_error("--opt: unknown optimizer '%s' (sgd, momentum, nesterov, adagrad, rmsprop, adam)", o->opt);
        return CLI_BAD_INPUT;
    }
    cfg->opt = gg_opt_defaults(kind);
    cfg->opt.lr = o->seen_lr ? o->lr : (kind == GG_OPT_ADAM && !small ? 1e-3 : 1e-2);
    cfg->opt.momentum = o->momentum;
    cfg->opt.weight_decay = o->weight_decay;
    if (!strcmp(o->schedule, "cosine"))
        cfg->schedule = (gg_schedule){.kind = GG_SCHED_COSINE, .min_factor = 0.01};
    else if (!strcmp(o->schedule, "step"))
        cfg->schedule = (gg_schedule){.kind = GG_SCHED_STEP, .gamma = 0.1, .step_size = 0};
    else if (strcmp(o->schedule, "constant")) {
        cli_error("--schedule: unknown schedule '%s' (cosine, step, constant)", o->schedule);
        return CLI_BAD_INPUT;
    }
    cfg->epochs = o->epochs;
    cfg->patience = o->patience;
    cfg->seed = o->seed;
    char text[256], err[GG_ERRLEN];
    const char *model = o->model;
    if (!model) {
        bool wide = train->dim >= 64;
        snprintf(text, sizeof text, wide ? "%zu-256-128-%zu:relu:dropout=0.2:bn" : "%zu-16-16-%zu:tanh",
                 train->dim, train->classes < 2 ? 2 : train->classes);
        model = text;
    }
    if (!o->seen_model && o->load ? gg_mlp_read_spec(o->load, spec, err) : gg_mlp_spec_parse(model, spec, err)) {
        cli_error("%s", err);
        return CLI_BAD_INPUT;
    }
    size_t in = (size_t)spec->sizes[0], out = (size_t)spec->sizes[spec->nlayers];
    if (in != train->dim || out < train->classes) {
        cli_error("--model %s: takes %zu features to %zu classes, but --data %s has %zu features and %zu classes",
                  gg_mlp_spec_format(spec, text, sizeof text), in, out, o->data, train->dim, train->classes);
        return CLI_BAD_INPUT;
    }
    return CLI_OK;
}

static void print_json(const train_opts *o, const gg_fit_result *r, double loss, double acc, size_t params,
                       const gg_mlp_spec *spec, const progress *p)
{
    char text[256];
    printf("{\"test_accuracy\": %.6f, \"test_loss\": %.6f, \"epochs\": %zu, \"best_epoch\": %zu, "
           "\"train_seconds\": %.3f, \"seconds_per_epoch\": %.3f, \"params\": %zu, \"model\": \"%s\", "
           "\"data\": \"%s\", \"optimizer\": \"%s\", \"batch\": %zu, \"seed\": %zu, \"threads\": %d, "
           "\"ranks\": %d",
           acc, loss, r->epochs, r->best_epoch, r->train_seconds, r->epochs ? r->train_seconds / (double)r->epochs : 0,
           params, gg_mlp_spec_format(spec, text, sizeof text), o->data, o->opt, o->batch, o->seed,
           gg_num_threads(), gg_dist_size());
    if (p->nlayers) { /* per epoch, per layer */
        printf(", \"grad_norms\": [");
        for (size_t e = 0; e < p->n; e++) {
            printf("%s[", e ? ", " : "");
            for (int i = 0; i < p->nlayers; i++)
                printf("%s%.6g", i ? ", " : "", p->hist[e].grad_norm[i]);
            printf("]");
        }
        printf("]");
    }
    printf("}\n");
}

static int outputs(const train_opts *o, gg_classifier *c, const progress *p, const gg_dataset *test, double loss,
                   double acc)
{
    if (!nn_primary())
        return CLI_OK;
    char err[GG_ERRLEN];
    char seed[32], val[32];
    snprintf(seed, sizeof seed, "%zu", o->seed);
    snprintf(val, sizeof val, "%.17g", o->val);
    /* What rebuilds the split (gategrad predict reads them) and how the
     * features were fed: IDX pixels / 255, CSV and generated values as they are. */
    const char *meta[] = {"data", o->data, "seed", seed, "val", val,
                          "input", test->xb ? "idx-pixels/255" : "as-is", NULL};
    if ((o->save && gg_mlp_save(gg_classifier_model(c), o->save, meta, err)) ||
        (o->plot && svg_curves(o->plot, p->hist, p->n, err)) ||
        (o->boundary && svg_boundary(o->boundary, c, test, err)) ||
        (o->html && train_report_write(p->report, o->html,
                                       &(train_report_run){c, o->data, p->hist, p->n, loss, acc}, err))) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    return CLI_OK;
}

static int run(train_opts *o, const gg_dataset *train, const gg_dataset *val, const gg_dataset *test)
{
    gg_mlp_spec spec;
    gg_fit_config cfg = {0};
    int rc = settle(o, train, &spec, &cfg);
    if (rc != CLI_OK)
        return rc;
    if (cfg.schedule.kind == GG_SCHED_STEP)
        cfg.schedule.step_size = o->epochs * ((train->n + o->batch - 1) / o->batch) / 4;
    int ranks = gg_dist_size();
    if (o->batch % (size_t)ranks) {
        cli_error("--batch %zu: the global batch must be a multiple of the %d ranks", o->batch, ranks);
        return CLI_BAD_INPUT;
    }
    char err[GG_ERRLEN];
    gg_classifier *c = gg_classifier_new(&spec, o->batch / (size_t)ranks, o->seed, err);
    if (!c || (o->load && gg_mlp_load(gg_classifier_model(c), o->load, err))) {
        cli_error("%s", err);
        gg_classifier_free(c);
        return CLI_BAD_INPUT;
    }
    if ((rc = nn_dist_agree(CLI_OK)) != CLI_OK) { /* another rank's set-up failed */
        gg_classifier_free(c);
        return rc;
    }
    if (!o->json && nn_primary())
        gg_summary(gg_classifier_model(c), stdout);
    progress p = {.tty = nn_primary() && isatty(STDERR_FILENO), .epochs = o->epochs,
                  .hist = calloc(o->epochs, sizeof *p.hist), .nlayers = o->grad_norms ? spec.nlayers : 0, .c = c};
    if (o->html && nn_primary())
        p.report = train_report_new(o->epochs, test, (size_t)spec.sizes[spec.nlayers]);
    cfg.grad_norms = o->grad_norms || o->html;
    gg_fit_callbacks cb = {on_batch, on_epoch, &p};
    gg_fit_result res;
    double loss, acc;
    size_t *conf = calloc((size_t)(spec.sizes[spec.nlayers] * spec.sizes[spec.nlayers]), sizeof *conf);
    bool oom = !p.hist || !conf || (o->html && nn_primary() && !p.report);
    if (oom)
        snprintf(err, sizeof err, "out of memory");
    if (oom || gg_classifier_fit(c, train, val, &cfg, &cb, &res, err) ||
        gg_classifier_evaluate(c, test, &loss, &acc, conf, err)) {
        cli_error("%s", err);
        rc = CLI_FAILED;
    } else {
        if (nn_primary()) {
            nn_print_eval(loss, acc, o->json ? NULL : conf, (size_t)spec.sizes[spec.nlayers]);
            printf("%zu epochs, %.1f s training (%.2f s per epoch)\n", res.epochs, res.train_seconds,
                   res.train_seconds / (double)res.epochs);
        }
        rc = outputs(o, c, &p, test, loss, acc);
        if (rc == CLI_OK && o->json && nn_primary())
            print_json(o, &res, loss, acc, gg_mlp_param_count(gg_classifier_model(c)), &spec, &p);
    }
    free(conf);
    free(p.hist);
    train_report_free(p.report);
    gg_classifier_free(c);
    return rc;
}

/* Whether path's extension (after the last '.' of its last component)
 * is ext, or, when ext is NULL, whether path has no extension. */
static bool has_extension(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (!ext)
        return !dot || dot == base;
    return dot && dot != base && !strcmp(dot, ext);
}

/* An output name whose extension says another format than the one written
 * (--plot x.png) is refused. */
static bool right_extension(const char *option, const char *path, const char *ext, bool bare_ok)
{
    if (!path || has_extension(path, ext) || (bare_ok && has_extension(path, NULL)))
        return true;
    cli_error("--%s %s: this writes %s; name the file %s", option, path,
              !strcmp(ext, ".svg")    ? "an SVG picture"
              : !strcmp(ext, ".html") ? "an HTML page"
                                      : "a safetensors checkpoint",
              ext);
    return false;
}

/* Whether an output file can be created where --option asks (its
 * directory exists and is writable), checked before minutes of training
 * rather than after. Prints the problem when not. */
static bool writable_target(const char *option, const char *path)
{
    if (!path)
        return true;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    int len = slash ? (int)(slash - path) : 1;
    snprintf(dir, sizeof dir, "%.*s", len ? len : 1, slash ? (len ? path : "/") : ".");
    if (access(dir, W_OK) == 0)
        return true;
    cli_error("--%s %s: cannot write into %s: %s", option, path, dir, strerror(errno));
    return false;
}

static int train(int argc, char **argv);

/* Under mpiexec: MPI around the whole command (see nn_dist_begin). */
int cmd_train(int argc, char **argv)
{
    int rc = nn_dist_begin();
    return rc != CLI_OK ? rc : nn_dist_end(train(argc, argv));
}

static int train(int argc, char **argv)
{
    train_opts o = {.data = "fashion-mnist", .opt = "adam", .schedule = "cosine", .seed = 1, .momentum = 0.9,
                    .val = 0.1};
    const nn_opt opts[] = {
        {"data", NN_STR, &o.data, 0, 0, NULL},
        {"model", NN_STR, &o.model, 0, 0, &o.seen_model},
        {"epochs", NN_SIZE, &o.epochs, 1, 100000, &o.seen_epochs},
        {"batch", NN_SIZE, &o.batch, 1, 65536, &o.seen_batch},
        {"opt", NN_STR, &o.opt, 0, 0, NULL},
        {"lr", NN_DOUBLE, &o.lr, 0, 10, &o.seen_lr},
        {"schedule", NN_STR, &o.schedule, 0, 0, NULL},
        {"momentum", NN_DOUBLE, &o.momentum, 0, 0.999999, NULL},
        {"weight-decay", NN_DOUBLE, &o.weight_decay, 0, 1, NULL},
        {"val", NN_DOUBLE, &o.val, 0, 0.9, NULL},
        {"patience", NN_SIZE, &o.patience, 0, 100000, NULL},
        {"seed", NN_SIZE, &o.seed, 0, 4294967295.0, NULL},
        {"threads", NN_SIZE, &o.threads, 1, GG_MAX_THREADS, NULL},
        {"load", NN_STR, &o.load, 0, 0, NULL},
        {"save", NN_STR, &o.save, 0, 0, NULL},
        {"plot", NN_STR, &o.plot, 0, 0, NULL},
        {"boundary", NN_STR, &o.boundary, 0, 0, NULL},
        {"html", NN_STR, &o.html, 0, 0, NULL},
        {"json", NN_FLAG, &o.json, 0, 0, NULL},
        {"grad-norms", NN_FLAG, &o.grad_norms, 0, 0, NULL},
        {NULL, NN_FLAG, NULL, 0, 0, NULL},
    };
    int rc = nn_parse(argc, argv, opts, usage);
    if (rc >= 0)
        return rc;
    if (!right_extension("save", o.save, ".safetensors", true) || !right_extension("plot", o.plot, ".svg", false) ||
        !right_extension("boundary", o.boundary, ".svg", false) || !right_extension("html", o.html, ".html", false) ||
        (nn_primary() && (!writable_target("save", o.save) || !writable_target("plot", o.plot) ||
                       !writable_target("boundary", o.boundary) || !writable_target("html", o.html))))
        return CLI_BAD_INPUT;
    if (o.threads)
        gg_set_num_threads((int)o.threads);
    gg_dataset all = {0}, test = {0}, train = {0}, val = {0};
    char err[GG_ERRLEN];
    if ((rc = nn_load_data(o.data, o.seed, &all, &test)) != CLI_OK)
        return rc;
    if (o.boundary && all.dim != 2) {
        cli_error("--boundary %s: draws 2-D data only, and --data %s has %zu features", o.boundary, o.data, all.dim);
        rc = CLI_BAD_INPUT;
    } else if (test.n == 0) {
        cli_error("--data %s: the test split is empty (too few samples to split)", o.data);
        rc = CLI_BAD_INPUT;
    } else if (gg_dataset_split(&all, 1 - o.val, o.seed + 1, &train, &val, err)) {
        cli_error("%s", err);
        rc = CLI_BAD_INPUT;
    } else if (train.n == 0) {
        cli_error("--val %g leaves no training data", o.val);
        rc = CLI_BAD_INPUT;
    } else if (o.val > 0 && val.n == 0) {
        cli_error("--val %g leaves no validation data of %zu training samples (use --val 0 for none)", o.val,
                  all.n);
        rc = CLI_BAD_INPUT;
    } else {
        rc = run(&o, &train, &val, &test);
    }
    gg_dataset_free(&all), gg_dataset_free(&train), gg_dataset_free(&val), gg_dataset_free(&test);
    return rc;
}
