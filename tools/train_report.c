/* train_report.c - what `gategrad train --html` collects while training
 * runs (the decision boundary at a few epochs, 2-D data only) and hands to
 * the library's page writer, gg_train_report_html. */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_report.h"

#define GRID 48
#define FRAMES 8 /* boundaries besides the first epoch's, spread evenly to the last */

struct train_report {
    gg_train_report r;
    size_t epochs, every, classes;
    float *xy;     /* the grid's cell centres; NULL: no boundary */
    float **probs; /* per epoch (0-based); NULL where not sampled */
    char err[GG_ERRLEN];
    bool failed;
};

train_report *train_report_new(size_t epochs, const gg_dataset *test, size_t classes)
{
    train_report *t = calloc(1, sizeof *t);
    if (!t || !(t->probs = calloc(epochs, sizeof *t->probs))) {
        free(t);
        return NULL;
    }
    t->epochs = epochs;
    t->classes = classes;
    t->every = (epochs + FRAMES - 1) / FRAMES;
    if (test->dim == 2 && test->x) {
        t->r.points = test->x;
        t->r.labels = test->y;
        t->r.npoints = test->n;
        t->r.classes = classes;
        if (!(t->xy = malloc(2 * GRID * GRID * sizeof *t->xy))) {
            train_report_free(t);
            return NULL;
        }
        gg_train_report_view(&t->r, GRID, t->xy);
    }
    return t;
}

/* The model's class probabilities over the grid, kept for epoch e. */
static void sample(train_report *t, gg_classifier *c, size_t e)
{
    if (t->failed || t->probs[e - 1])
        return;
    float *p = malloc(GRID * GRID * t->classes * sizeof *p);
    if (!p) {
        snprintf(t->err, sizeof t->err, "out of memory sampling the decision boundary");
        t->failed = true;
    } else if (gg_classifier_predict(c, t->xy, GRID * GRID, p, t->err)) {
        free(p);
        t->failed = true;
    } else {
        t->probs[e - 1] = p;
    }
}

void train_report_epoch(train_report *t, gg_classifier *c, size_t e)
{
    if (t->xy && e >= 1 && e <= t->epochs && (e == 1 || e % t->every == 0 || e == t->epochs))
        sample(t, c, e);
}

static char *summary_text(gg_classifier *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    int bad = gg_summary(gg_classifier_model(c), f);
    if (fclose(f) || bad) {
        free(text);
        return NULL;
    }
    return text;
}

int train_report_write(train_report *t, const char *path, const train_report_run *run, char *err)
{
    if (t->failed) {
        snprintf(err, GG_ERRLEN, "%.40s: %.200s", path, t->err);
        return -1;
    }
    size_t n = run->n;
    if (n && t->xy)
        sample(t, run->c, run->hist[n - 1].epoch); /* the weights the run ends with */
    gg_report_epoch *ep = calloc(n ? n : 1, sizeof *ep);
    char *summary = summary_text(run->c), spec[256];
    int rc = -1;
    if (!ep || !summary || t->failed) {
        snprintf(err, GG_ERRLEN, "%.40s: %.200s", path, t->failed ? t->err : "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const gg_epoch_stats *s = &run->hist[i];
        ep[i] = (gg_report_epoch){s->epoch, s->train_loss, s->val_loss, s->val_accuracy, s->lr, s->grad_norm,
                                  s->epoch <= t->epochs ? t->probs[s->epoch - 1] : NULL};
    }
    t->r.data = run->data;
    t->r.model = gg_mlp_spec_format(gg_mlp_get_spec(gg_classifier_model(run->c)), spec, sizeof spec);
    t->r.summary = summary;
    t->r.epochs = ep;
    t->r.nepochs = n;
    t->r.nlayers = (size_t)gg_mlp_get_spec(gg_classifier_model(run->c))->nlayers;
    t->r.test_loss = run->test_loss;
    t->r.test_accuracy = run->test_accuracy;
    rc = gg_train_report_html(&t->r, path, err);
out:
    free(ep);
    free(summary);
    return rc;
}

void train_report_free(train_report *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->probs && i < t->epochs; i++)
        free(t->probs[i]);
    free(t->probs);
    free(t->xy);
    free(t);
}
