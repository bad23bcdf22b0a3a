/* vanishing.c - vanishing gradients, visible: the same deep stack (six
 * hidden layers of 16) learns the TensorFlow Playground's spiral once with
 * sigmoid units and once with ReLU. Printed per epoch: the L2 norm of the
 * loss's gradient with respect to each layer's weights (mean over the
 * epoch's steps). A sigmoid's derivative is at most 1/4, so the gradient
 * shrinks by a factor of 4 or more per layer on its way down: the first
 * layers barely learn. ReLU passes 1 where a unit is active. Run
 * `gategrad train --data spiral --model 2-16-16-16-16-16-16-2:sigmoid
 * --grad-norms` for the same numbers from the command. */
#include <gategrad.h>
#include <stdio.h>

#define EPOCHS 60

static void on_epoch(void *ctx, const gg_epoch_stats *s)
{
    const int *layers = ctx;
    if (s->epoch != 1 && s->epoch % 20)
        return;
    printf("  epoch %2zu  loss %.3f  |dL/dW|:", s->epoch, s->train_loss);
    for (int i = 0; i < *layers; i++)
        printf(" %8.2e", s->grad_norm[i]);
    printf("\n");
}

static int run(const char *text, const gg_dataset *train, const gg_dataset *test)
{
    char err[GG_ERRLEN];
    gg_mlp_spec spec;
    gg_classifier *c = NULL;
    if (gg_mlp_spec_parse(text, &spec, err) || !(c = gg_classifier_new(&spec, 32, 1, err))) {
        fprintf(stderr, "vanishing: %s\n", err);
        return 1;
    }
    gg_fit_config cfg = {.epochs = EPOCHS, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = 1, .grad_norms = 1,
                         .schedule = {.kind = GG_SCHED_CONSTANT}};
    cfg.opt.lr = 0.003;
    gg_fit_callbacks cb = {.epoch = on_epoch, .ctx = &spec.nlayers};
    double acc;
    printf("%s (layers fc1 .. fc%d, input first)\n", text, spec.nlayers);
    int rc = gg_classifier_fit(c, train, NULL, &cfg, &cb, NULL, err) ||
             gg_classifier_evaluate(c, test, NULL, &acc, NULL, err);
    if (rc)
        fprintf(stderr, "vanishing: %s\n", err);
    else
        printf("  test accuracy %.3f\n", acc);
    gg_classifier_free(c);
    return rc;
}

int main(void)
{
    char err[GG_ERRLEN];
    gg_dataset train = {0}, test = {0};
    if (gg_load_named_dataset("spiral", 1, &train, &test, err)) {
        fprintf(stderr, "vanishing: %s\n", err);
        return 1;
    }
    int rc = run("2-16-16-16-16-16-16-2:sigmoid", &train, &test) || run("2-16-16-16-16-16-16-2:relu", &train, &test);
    gg_dataset_free(&train);
    gg_dataset_free(&test);
    return rc;
}
