/* cmd_predict.c - `gategrad predict`: rebuilds a model from its checkpoint
 * and evaluates it on the test split it was trained with, or classifies the
 * rows of a file it has never seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn_common.h"

static const char usage[] =
    "usage: gategrad predict --load FILE [options]\n"
    "Evaluates a model saved by `gategrad train --save FILE` on the test split it was\n"
    "trained with (loss, accuracy, confusion matrix), or classifies new rows (--input).\n"
    "  --load FILE      the checkpoint (required): gategrad's, or a safetensors file PyTorch\n"
    "                   wrote with the same names (fc1.weight [out, in], fc1.bias, ...;\n"
    "                   then --model is required)\n"
    "  --model SPEC     the model's spec (default: the one in the checkpoint)\n"
    "  --data NAME      the data set (default: the one in the checkpoint)\n"
    "  --seed S         the split's seed (default: train's --seed, kept in the checkpoint;\n"
    "                   else 1)\n"
    "  --input DATA     classify DATA instead: a CSV in train's format (features, then the\n"
    "                   label, which is ignored) or the features alone (the column count\n"
    "                   tells), or an IDX image file (raw or gzip; pixels / 255; default: none)\n"
    "  --output OUT.csv where --input's predictions go (default: standard output): a header\n"
    "                   class,p0,p1,... then per row the class and every probability\n"
    "  --batch B        rows per forward pass (default 256)\n"
    "  --json           one JSON line: test_accuracy, test_loss, samples, training_split,\n"
    "                   confusion (default: off)\n"
    "Examples:\n"
    "  gategrad predict --load fm.safetensors\n"
    "  gategrad predict --load spiral.safetensors --json\n"
    "  gategrad predict --load fm.safetensors --input t10k-images-idx3-ubyte.gz --output p.csv\n"
    "  gategrad predict --load torch.safetensors --model 784-256-10:relu --data fashion-mnist\n";

typedef struct predict_opts {
    const char *load, *model, *data, *input, *output;
    size_t seed, batch;
    bool json, seen_seed;
} predict_opts;

static void print_json(double loss, double acc, size_t n, const size_t *conf, size_t classes, bool same)
{
    printf("{\"test_accuracy\": %.6f, \"test_loss\": %.6f, \"samples\": %zu, \"training_split\": %s, "
           "\"confusion\": [", acc, loss, n, same ? "true" : "false");
    for (size_t i = 0; i < classes; i++) {
        printf("%s[", i ? ", " : "");
        for (size_t j = 0; j < classes; j++)
            printf("%s%zu", j ? ", " : "", conf[i * classes + j]);
        printf("]");
    }
    printf("]}\n");
}

/* The model of --load (and --model), its weights loaded; NULL after
 * printing why. */
static gg_classifier *load_model(const predict_opts *o, gg_mlp_spec *spec)
{
    char err[GG_ERRLEN];
    if (o->model ? gg_mlp_spec_parse(o->model, spec, err) : gg_mlp_read_spec(o->load, spec, err)) {
        cli_error("%s", err);
        return NULL;
    }
    gg_classifier *c = gg_classifier_new(spec, o->batch, 0, err);
    if (!c || gg_mlp_load(gg_classifier_model(c), o->load, err)) {
        cli_error("%s", err);
        gg_classifier_free(c);
        return NULL;
    }
    return c;
}

static int evaluate(const predict_opts *o, const gg_dataset *test, bool same)
{
    char err[GG_ERRLEN];
    gg_mlp_spec spec;
    gg_classifier *c = load_model(o, &spec);
    if (!c)
        return CLI_BAD_INPUT;
    size_t classes = (size_t)spec.sizes[spec.nlayers];
    size_t *conf = calloc(classes * classes, sizeof *conf);
    double loss, acc;
    int rc = CLI_OK;
    if (test->dim != (size_t)spec.sizes[0]) {
        cli_error("predict: the model takes %lld features, --data %s has %zu", (long long)spec.sizes[0], o->data,
                  test->dim);
        rc = CLI_BAD_INPUT;
    } else if (test->n == 0) {
        cli_error("predict: --data %s has an empty test split", o->data);
        rc = CLI_BAD_INPUT;
    } else if (!conf) {
        cli_error("out of memory");
        rc = CLI_FAILED;
    } else if ((rc = nn_dist_agree(CLI_OK)) != CLI_OK) { /* another rank's set-up failed */
    } else if (gg_classifier_evaluate(c, test, &loss, &acc, conf, err)) { /* each rank its slice */
        cli_error("%s", err);
        rc = CLI_BAD_INPUT;
    } else if (!nn_primary()) { /* rank 0 prints the ranks' sums */
    } else if (o->json) {
        print_json(loss, acc, test->n, conf, classes, same);
    } else {
        printf("%s: %zu test samples of %s (seed %zu)\n", o->load, test->n, o->data, o->seed);
        nn_print_eval(loss, acc, conf, classes);
    }
    free(conf);
    gg_classifier_free(c);
    return rc;
}

/* What the checkpoint says about its training data; entries it lacks stay
 * NULL. */
typedef struct saved_split {
    char data[512], seed[32];
    bool has_data, has_seed;
} saved_split;

static int read_saved(const char *load, saved_split *s)
{
    gg_safetensors *f;
    char err[GG_ERRLEN];
    if (gg_safetensors_open(load, &f, err)) {
        cli_error("%s", err);
        return -1;
    }
    const char *v;
    if ((s->has_data = (v = gg_safetensors_meta(f, "data")) != NULL))
        snprintf(s->data, sizeof s->data, "%s", v);
    if ((s->has_seed = (v = gg_safetensors_meta(f, "seed")) != NULL))
        snprintf(s->seed, sizeof s->seed, "%s", v);
    gg_safetensors_close(f);
    return 0;
}

/* The rows of --input as n * dim floats (dim = the model's features). */
static int read_input(const char *path, size_t dim, float **x, size_t *n)
{
    char err[GG_ERRLEN];
    if (gg_features_load(path, dim, x, n, err) == 0)
        return CLI_OK;
    cli_error("--input %s", err);
    return CLI_BAD_INPUT;
}

static int classify(const predict_opts *o)
{
    gg_mlp_spec spec;
    gg_classifier *c = load_model(o, &spec);
    if (!c)
        return CLI_BAD_INPUT;
    size_t dim = (size_t)spec.sizes[0], classes = (size_t)spec.sizes[spec.nlayers], n = 0;
    float *x = NULL, *probs = NULL;
    char err[GG_ERRLEN];
    int rc = read_input(o->input, dim, &x, &n);
    if (rc == CLI_OK && !(probs = malloc(n * classes * sizeof *probs))) {
        cli_error("out of memory");
        rc = CLI_FAILED;
    }
    if (rc == CLI_OK && gg_classifier_predict(c, x, n, probs, err)) {
        cli_error("%s", err);
        rc = CLI_FAILED;
    }
    if (rc == CLI_OK && (o->output ? gg_predictions_save(o->output, probs, n, classes, err)
                                   : gg_predictions_write(stdout, probs, n, classes, err))) {
        cli_error("--output %s", err);
        rc = CLI_FAILED;
    }
    free(x);
    free(probs);
    gg_classifier_free(c);
    return rc;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

static int predict(int argc, char **argv)
{
    predict_opts o = {.seed = 1, .batch = 256};
    const nn_opt opts[] = {
        {"load", NN_STR, &o.load, 0, 0, NULL},
        {"model", NN_STR, &o.model, 0, 0, NULL},
        {"data", NN_STR, &o.data, 0, 0, NULL},
        {"seed", NN_SIZE, &o.seed, 0, 4294967295.0, &o.seen_seed},
        {"input", NN_STR, &o.input, 0, 0, NULL},
        {"output", NN_STR, &o.output, 0, 0, NULL},
        {"batch", NN_SIZE, &o.batch, 1, 65536, NULL},
        {"json", NN_FLAG, &o.json, 0, 0, NULL},
        {NULL, NN_FLAG, NULL, 0, 0, NULL},
    };
    int rc = nn_parse(argc, argv, opts, usage);
    if (rc >= 0)
        return rc;
    if (!o.load) {
        cli_error("predict: --load FILE is required (a checkpoint from gategrad train --save)");
        return CLI_BAD_INPUT;
    }
    if (o.output && !o.input) {
        cli_error("predict: --output needs --input (the rows to classify)");
        return CLI_BAD_INPUT;
    }
    if (o.output && !ends_with(o.output, ".csv")) {
        cli_error("--output %s: predictions are written as CSV; name the file .csv", o.output);
        return CLI_BAD_INPUT;
    }
    if (o.input && gg_dist_size() > 1) {
        cli_error("predict --input classifies in one process: run it without mpiexec");
        return CLI_BAD_INPUT;
    }
    if (o.input)
        return classify(&o);
    saved_split s = {0};
    if (read_saved(o.load, &s))
        return CLI_BAD_INPUT;
    bool same = true;
    if (!o.data && !s.has_data) {
        cli_error("predict: --data is required (%s names no data set)", o.load);
        return CLI_BAD_INPUT;
    }
    if (!o.data)
        o.data = s.data;
    else if (s.has_data && strcmp(o.data, s.data)) {
        same = false;
        if (!o.json && nn_primary())
            printf("note: --data %s is not the data set the model was trained on (%s)\n", o.data, s.data);
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%zu", o.seed);
    if (!o.seen_seed && s.has_seed) {
        char *end;
        o.seed = (size_t)strtoull(s.seed, &end, 10);
    } else if (o.seen_seed && s.has_seed && strcmp(seed, s.seed)) {
        same = false;
        if (!o.json && nn_primary())
            printf("note: --seed %zu is not train's --seed %s: this test split differs from the one train "
                   "reported (for generated and CSV data)\n", o.seed, s.seed);
    }
    gg_dataset train = {0}, test = {0};
    if ((rc = nn_load_data(o.data, o.seed, &train, &test)) == CLI_OK)
        rc = evaluate(&o, &test, same);
    gg_dataset_free(&train);
    gg_dataset_free(&test);
    return rc;
}

/* Under mpiexec the ranks split the test split's evaluation, and rank 0
 * prints (see nn_dist_begin). */
int cmd_predict(int argc, char **argv)
{
    int rc = nn_dist_begin();
    return rc != CLI_OK ? rc : nn_dist_end(predict(argc, argv));
}
