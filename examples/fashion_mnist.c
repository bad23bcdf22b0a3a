/* fashion_mnist.c - an MLP classifier for Fashion-MNIST (70,000 28x28
 * pictures of clothes in 10 classes), built as a graph and trained with Adam.
 *
 *     ./build/examples/fashion_mnist [EPOCHS]
 *
 * The data come from the Debian package dataset-fashion-mnist (or the
 * directory in $GG_FASHION_MNIST_DIR). `gategrad train --data fashion-mnist`
 * does the same with every knob exposed; this file shows the API. */
#include <gategrad.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void print_epoch(void *ctx, const gg_epoch_stats *s)
{
    (void)ctx;
    printf("epoch %2zu  train loss %.4f  val loss %.4f  val acc %.4f  %.1fs\n", s->epoch, s->train_loss,
           s->val_loss, s->val_accuracy, s->seconds);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char err[GG_ERRLEN];
    gg_dataset all = {0}, test = {0}, train = {0}, val = {0};
    if (gg_load_named_dataset("fashion-mnist", 1, &all, &test, err) ||
        gg_dataset_split(&all, 0.9, 1, &train, &val, err)) {
        fprintf(stderr, "fashion_mnist: %s\n", err);
        return 1;
    }
    gg_dataset_free(&all);

    /* 784 pixels -> 256 -> 128 -> 10 class scores, ReLU between. */
    gg_mlp_spec spec;
    gg_mlp_spec_parse("784-256-128-10:relu:dropout=0.2", &spec, err);
    gg_classifier *c = gg_classifier_new(&spec, 128, 1, err);
    if (!c) {
        fprintf(stderr, "fashion_mnist: %s\n", err);
        return 1;
    }
    gg_summary(gg_classifier_model(c), stdout);

    gg_fit_config cfg = {
        .epochs = argc > 1 ? (size_t)atoi(argv[1]) : 15,
        .opt = gg_opt_defaults(GG_OPT_ADAM),
        .schedule = {.kind = GG_SCHED_COSINE, .min_factor = 0.01},
        .seed = 1,
    };
    gg_fit_callbacks cb = {.epoch = print_epoch};
    gg_fit_result res;
    double loss, acc;
    if (gg_classifier_fit(c, &train, &val, &cfg, &cb, &res, err) ||
        gg_classifier_evaluate(c, &test, &loss, &acc, NULL, err)) {
        fprintf(stderr, "fashion_mnist: %s\n", err);
        return 1;
    }
    printf("test loss %.4f  test accuracy %.4f  (%zu epochs, %.1f s training)\n", loss, acc, res.epochs,
           res.train_seconds);
    gg_classifier_free(c);
    gg_dataset_free(&train);
    gg_dataset_free(&val);
    gg_dataset_free(&test);
    return 0;
}
