/* cmd_predict.c - `gategrad predict`: rebuilds a model from its checkpoint
 * and evaluates it on a data set's test split. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "nn_common.h"

static const char usage[] =
    "usage: gategrad predict --load FILE [--data NAME] [--seed S] [--batch B] [--json]\n"
    "Evaluates a model saved by `gategrad train --save FILE` on the test split of\n"
    "--data (default: the data set named in the checkpoint): loss, accuracy and the\n"
    "confusion matrix. Generated and CSV data sets need train's --seed to give the same split.\n"
    "Examples:\n"
    "  gategrad predict --load fm.safetensors --data fashion-mnist\n"
    "  gategrad predict --load spiral.safetensors --data spiral --json\n";

static void print_json(double loss, double acc, size_t n, const size_t *conf, size_t classes)
{
    printf("{\"test_accuracy\": %.6f, \"test_loss\": %.6f, \"samples\": %zu, \"confusion\": [", acc, loss, n);
    for (size_t i = 0; i < classes; i++) {
        printf("%s[", i ? ", " : "");
        for (size_t j = 0; j < classes; j++)
            printf("%s%zu", j ? ", " : "", conf[i * classes + j]);
        printf("]");
    }
    printf("]}\n");
}

static int evaluate(const char *load, size_t batch, bool json, const gg_dataset *test)
{
    char err[GG_ERRLEN];
    gg_mlp_spec spec;
    if (gg_mlp_read_spec(load, &spec, err)) {
        cli_error("%s", err);
        return CLI_BAD_INPUT;
    }
    size_t classes = (size_t)spec.sizes[spec.nlayers];
    gg_classifier *c = gg_classifier_new(&spec, batch, 0, err);
    size_t *conf = calloc(classes * classes, sizeof *conf);
    double loss, acc;
    int rc = CLI_OK;
    if (!c || !conf || gg_mlp_load(gg_classifier_model(c), load, err) ||
        gg_classifier_evaluate(c, test, &loss, &acc, conf, err)) {
        cli_error("%s", conf ? err : "out of memory");
        rc = CLI_BAD_INPUT;
    } else if (json) {
        print_json(loss, acc, test->n, conf, classes);
    } else {
        printf("%s: %zu test samples\n", load, test->n);
        nn_print_eval(loss, acc, conf, classes);
    }
    free(conf);
    gg_classifier_free(c);
    return rc;
}

/* The "data" entry of the checkpoint's metadata, copied into buf; NULL
 * after printing why there is none. */
static const char *saved_data_name(const char *load, char *buf, size_t size)
{
    gg_safetensors *f;
    char err[GG_ERRLEN];
    if (gg_safetensors_open(load, &f, err)) {
        cli_error("%s", err);
        return NULL;
    }
    const char *v = gg_safetensors_meta(f, "data");
    if (v)
        snprintf(buf, size, "%s", v);
    else
        cli_error("predict: --data is required (%s names no data set)", load);
    gg_safetensors_close(f);
    return v ? buf : NULL;
}

int cmd_predict(int argc, char **argv)
{
    const char *load = NULL, *data = NULL;
    size_t seed = 1, batch = 256;
    bool json = false;
    const nn_opt opts[] = {
        {"load", NN_STR, &load, 0, 0, NULL},
        {"data", NN_STR, &data, 0, 0, NULL},
        {"seed", NN_SIZE, &seed, 0, 4294967295.0, NULL},
        {"batch", NN_SIZE, &batch, 1, 65536, NULL},
        {"json", NN_FLAG, &json, 0, 0, NULL},
        {NULL, NN_FLAG, NULL, 0, 0, NULL},
    };
    int rc = nn_parse(argc, argv, opts, usage);
    if (rc >= 0)
        return rc;
    char name[512];
    if (!load) {
        cli_error("predict: --load FILE is required (a checkpoint from gategrad train --save)");
        return CLI_BAD_INPUT;
    }
    if (!data && !(data = saved_data_name(load, name, sizeof name)))
        return CLI_BAD_INPUT;
    gg_dataset train = {0}, test = {0};
    if ((rc = nn_load_data(data, seed, &train, &test)) == CLI_OK)
        rc = evaluate(load, batch, json, &test);
    gg_dataset_free(&train);
    gg_dataset_free(&test);
    return rc;
}
