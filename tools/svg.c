/* svg.c - the pictures of `gategrad train`: loss and accuracy curves, in
 * the colours of the TensorFlow Playground, written to memory, then to
 * their file atomically (temporary file, fsync, rename), so a reader never
 * sees half a picture; and a 2-D classifier's decision regions under its
 * data, sampled here and drawn by the library's gg_train_report_svg. */
#define _GNU_SOURCE /* open_memstream */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_common.h"
/* The io module's atomic writer; the library exports it for its own tools. */

static const char *const palette[] = {"#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NPALETTE (sizeof palette / sizeof *palette)

/* Writes the memstream's text to path atomically and frees it. */
static int commit(const char *path, FILE *mem, char **text, size_t *len, char *err)
{
    gg_atomic_file af;
    int bad = fclose(mem) != 0;
    if (bad)
        snprintf(err, GG_ERRLEN, "%s: out of memory composing the picture", path);
    else if (!(bad = gg_atomic_open(path, &af, err)) &&
             (bad = gg_atomic_write(&af, *text, *len, err) || gg_atomic_commit(&af, err)))
        gg_atomic_abort(&af);
    free(*text);
    return bad ? -1 : 0;
}

/* ---- Curves ------------------------------------------------------------------- */

typedef struct panel {
    double x0, y0, w, h; /* pixels */
    double lo, hi;       /* value range */
    size_t n;            /* epochs */
} panel;

static double px(const panel *p, size_t i) { return p->x0 + p->w * (p->n > 1 ? (double)i / (double)(p->n - 1) : 0.5); }
static double py(const panel *p, double v) { return p->y0 + p->h * (1 - (v - p->lo) / (p->hi - p->lo)); }

static void axes(FILE *f, const panel *p, const char *title)
{
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#999'/>\n", p->x0, p->y0, p->w, p->h);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n", p->x0 + p->w / 2, p->y0 - 8, title);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%.3g</text>\n", p->x0 - 4, p->y0 + 10, p->hi);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%.3g</text>\n", p->x0 - 4, p->y0 + p->h, p->lo);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>epoch 1..%zu</text>\n", p->x0 + p->w / 2,
            p->y0 + p->h + 18, p->n);
}

static void line(FILE *f, const panel *p, const gg_epoch_stats *h, size_t off, const char *colour)
{
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colour);
    for (size_t i = 0; i < p->n; i++) {
        double v = *(const double *)((const char *)&h[i] + off);
        if (isfinite(v))
            fprintf(f, "%.1f,%.1f ", px(p, i), py(p, v));
    }
    fprintf(f, "'/>\n");
}

static void range(const gg_epoch_stats *h, size_t n, size_t off1, size_t off2, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            double v = *(const double *)((const char *)&h[i] + (k ? off2 : off1));
            if (isfinite(v))
                *lo = fmin(*lo, v), *hi = fmax(*hi, v);
        }
    if (!(*hi > *lo))
        *lo = isfinite(*lo) ? *lo - 0.5 : 0, *hi = *lo + 1;
}

int svg_curves(const char *path, const gg_epoch_stats *hist, size_t n, char *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        snprintf(err, GG_ERRLEN, "%s: out of memory", path);
        return -1;
    }
    size_t tl = offsetof(gg_epoch_stats, train_loss), vl = offsetof(gg_epoch_stats, val_loss);
    size_t va = offsetof(gg_epoch_stats, val_accuracy);
    panel loss = {60, 30, 300, 220, 0, 1, n}, acc = {440, 30, 300, 220, 0, 1, n};
    range(hist, n, tl, vl, &loss.lo, &loss.hi);
    range(hist, n, va, va, &acc.lo, &acc.hi);
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='780' height='300' font-family='sans-serif' "
               "font-size='12'>\n<rect width='100%%' height='100%%' fill='white'/>\n");
    axes(f, &loss, "loss: train (orange), validation (blue)");
    line(f, &loss, hist, tl, palette[0]);
    line(f, &loss, hist, vl, palette[1]);
    axes(f, &acc, "validation accuracy");
    line(f, &acc, hist, va, palette[1]);
    fprintf(f, "</svg>\n");
    return commit(path, f, &text, &len, err);
}

/* ---- Decision boundary ------------------------------------------------------------ */

#define GRID 60

int svg_boundary(const char *path, gg_classifier *c, const gg_dataset *d, char *err)
{
    const gg_mlp_spec *spec = gg_mlp_get_spec(gg_classifier_model(c));
    size_t classes = (size_t)spec->sizes[spec->nlayers];
    if (d->dim != 2 || d->n == 0) {
        snprintf(err, GG_ERRLEN, "%s: a decision boundary needs 2-D data (this has %zu features)", path, d->dim);
        return -1;
    }
    gg_train_report r = {.classes = classes, .points = d->x, .labels = d->y, .npoints = d->n};
    float *xy = malloc(GRID * GRID * 2 * sizeof *xy), *probs = malloc(GRID * GRID * classes * sizeof *probs);
    int rc = -1;
    if (!xy || !probs) {
        snprintf(err, GG_ERRLEN, "%s: out of memory", path);
        goto out;
    }
    gg_train_report_view(&r, GRID, xy);
    if (gg_classifier_predict(c, xy, GRID * GRID, probs, err))
        goto out;
    gg_report_epoch last = {.epoch = 1, .probs = probs};
    r.epochs = &last;
    r.nepochs = 1;
    rc = gg_train_report_svg(&r, path, err);
out:
    free(xy);
    free(probs);
    return rc;
}
