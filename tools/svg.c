/* svg.c - the pictures of `gategrad train`: loss and accuracy curves, and a
 * 2-D classifier's decision regions under its data, in the colours of the
 * TensorFlow Playground. Each is written to memory, then to its file
 * atomically (temporary file, fsync, rename), so a reader never sees half a
 * picture. */
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
#define SIZE 480.0

typedef struct view {
    double xmin, ymin, span;
} view;

static view bounds(const gg_dataset *d)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < d->n; i++) {
        x0 = fmin(x0, d->x[2 * i]), x1 = fmax(x1, d->x[2 * i]);
        y0 = fmin(y0, d->x[2 * i + 1]), y1 = fmax(y1, d->x[2 * i + 1]);
    }
    double span = fmax(x1 - x0, y1 - y0) * 1.1 + 1e-6;
    return (view){(x0 + x1 - span) / 2, (y0 + y1 - span) / 2, span};
}

/* Colour class and one of 5 opacity levels for a cell: the more confident,
 * the stronger. */
static int cell_code(const float *p, size_t classes)
{
    size_t best = 0;
    for (size_t j = 1; j < classes; j++)
        if (p[j] > p[best])
            best = j;
    double conf = (p[best] - 1.0 / (double)classes) / (1 - 1.0 / (double)classes);
    int level = isfinite(conf) ? (int)fmax(0, fmin(4, floor(conf * 5))) : 0; /* NaN from a diverged model */
    return (int)(best % NPALETTE) * 5 + level;
}

static void regions(FILE *f, const float *probs, size_t classes)
{
    for (int r = 0; r < GRID; r++)
        for (int c = 0; c < GRID;) {
            int code = cell_code(probs + ((size_t)r * GRID + (size_t)c) * classes, classes), run = 1;
            while (c + run < GRID && cell_code(probs + ((size_t)r * GRID + (size_t)(c + run)) * classes, classes) == code)
                run++;
            fprintf(f, "<rect x='%d' y='%d' width='%d' height='1' fill='%s' fill-opacity='%.2f'/>\n", c,
                    GRID - 1 - r, run, palette[code / 5], 0.1 + 0.12 * (code % 5));
            c += run;
        }
}

static void points(FILE *f, const gg_dataset *d, view v)
{
    for (size_t i = 0; i < d->n; i++) {
        double x = (d->x[2 * i] - v.xmin) / v.span * GRID, y = GRID - (d->x[2 * i + 1] - v.ymin) / v.span * GRID;
        fprintf(f, "<circle cx='%.2f' cy='%.2f' r='.4' fill='%s'/>\n", x, y,
                palette[(size_t)d->y[i] % NPALETTE]);
    }
}

int svg_boundary(const char *path, gg_classifier *c, const gg_dataset *d, char *err)
{
    size_t classes = (size_t)gg_mlp_get_spec(gg_classifier_model(c))->sizes[gg_mlp_get_spec(gg_classifier_model(c))->nlayers];
    if (d->dim != 2 || d->n == 0) {
        snprintf(err, GG_ERRLEN, "%s: a decision boundary needs 2-D data (this has %zu features)", path, d->dim);
        return -1;
    }
    view v = bounds(d);
    float *grid = malloc(GRID * GRID * 2 * sizeof *grid), *probs = malloc(GRID * GRID * classes * sizeof *probs);
    char *text = NULL;
    size_t len = 0;
    FILE *f = grid && probs ? open_memstream(&text, &len) : NULL;
    int rc = -1;
    if (!f) {
        snprintf(err, GG_ERRLEN, "%s: out of memory", path);
        goto out;
    }
    for (int r = 0; r < GRID; r++)
        for (int k = 0; k < GRID; k++) {
            grid[2 * (r * GRID + k)] = (float)(v.xmin + (k + 0.5) * v.span / GRID);
            grid[2 * (r * GRID + k) + 1] = (float)(v.ymin + (r + 0.5) * v.span / GRID);
        }
    if (gg_classifier_predict(c, grid, GRID * GRID, probs, err)) {
        fclose(f);
        free(text);
        goto out;
    }
    /* One unit per grid cell; the viewer scales it to SIZE pixels. */
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' viewBox='0 0 %d %d' "
               "shape-rendering='crispEdges'>\n", SIZE, SIZE, GRID, GRID);
    regions(f, probs, classes);
    fprintf(f, "<g shape-rendering='auto' stroke='white' stroke-width='.1'>\n");
    points(f, d, v);
    fprintf(f, "</g>\n</svg>\n");
    rc = commit(path, f, &text, &len, err);
out:
    free(grid);
    free(probs);
    return rc;
}
