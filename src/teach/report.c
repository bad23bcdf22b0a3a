/* report.c - one self-contained page for a training run: loss and accuracy
 * curves, the decision boundary at several epochs (a slider), every layer's
 * gradient norm per epoch, the model summary.
 *
 * Everything is drawn here, in SVG, so the page shows all of it even where
 * script is off; the script only moves the boundary's slider. Every string
 * from the caller goes out through ggt_html_text or ggt_json_str. */
#include <math.h>
#include <string.h>

#include "gategrad/io.h"
#include "teach/teach.h"

#define MAX_REPORT_LAYERS 64

static const char *const palette[] = {"#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NPALETTE (sizeof palette / sizeof *palette)

static const char css[] =
    "body{font-family:sans-serif;margin:1.5em auto;max-width:60em;padding:0 1em;color:#222}\n"
    "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}\n"
    ".meta b{font-weight:600}svg{max-width:100%;height:auto;background:#fff}\n"
    "svg text{font-size:12px;fill:#333}.scroll{max-height:16em;overflow:auto;border:1px solid #ddd}\n"
    "table{border-collapse:collapse;font-size:.85em}td,th{padding:.15em .6em;text-align:right}\n"
    "th{background:#f4f4f4;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}\n"
    "pre{background:#f7f7f7;padding:.6em;overflow:auto}.note{color:#555;font-size:.9em}\n"
    "#gg-slider{width:20em;vertical-align:middle}\n";

/* Moves the boundary's frames with the slider (and #epoch=E, a deep link to
 * the frame of epoch E); #show=NAME shows one section alone (curves,
 * boundary, norms, model), to project or to picture it. */
static const char script[] =
    "'use strict';\n"
    "(function () {\n"
    "  var data = JSON.parse(document.getElementById('gg-report').textContent);\n"
    "  var only = /show=(\\w+)/.exec(location.hash), parts = document.querySelectorAll('section');\n"
    "  for (var s = 0; only && s < parts.length; s++) parts[s].hidden = parts[s].id !== 'gg-' + only[1];\n"
    "  var slider = document.getElementById('gg-slider');\n"
    "  if (!slider) return;\n"
    "  var frames = document.querySelectorAll('.gg-frame');\n"
    "  var label = document.getElementById('gg-boundary-epoch');\n"
    "  function show(i) {\n"
    "    for (var k = 0; k < frames.length; k++) frames[k].setAttribute('display', k === i ? 'inline' : 'none');\n"
    "    slider.value = String(i);\n"
    "    label.textContent = 'epoch ' + data.frames[i] + ' of ' + data.epochs;\n"
    "  }\n"
    "  function fromHash() {\n"
    "    var m = /epoch=(\\d+)/.exec(location.hash), want = m ? +m[1] : data.frames[data.frames.length - 1];\n"
    "    var best = data.frames.length - 1;\n"
    "    for (var k = 0; k < data.frames.length; k++) if (data.frames[k] === want) best = k;\n"
    "    show(best);\n"
    "  }\n"
    "  slider.addEventListener('input', function () { show(+slider.value); });\n"
    "  window.addEventListener('hashchange', fromHash);\n"
    "  fromHash();\n"
    "})();\n";

/* v with fmt, or NaN / Inf / -Inf as words. */
static void num(FILE *out, const char *fmt, double v)
{
    if (isnan(v))
        fputs("NaN", out);
    else if (isinf(v))
        fputs(v > 0 ? "Inf" : "-Inf", out);
    else
        fprintf(out, fmt, v == 0 ? 0.0 : v);
}

static void layer_name(FILE *out, const gg_train_report *r, size_t i)
{
    if (r->layer_names && r->layer_names[i])
        ggt_html_text(out, r->layer_names[i]);
    else
        fprintf(out, "fc%zu", i + 1);
}

/* ---- Charts --------------------------------------------------------------------- */

typedef struct chart {
    double x0, y0, w, h; /* pixels */
    double lo, hi;       /* value range (log10 of it when log) */
    bool log;
    size_t n; /* epochs */
} chart;

static double cx(const chart *c, size_t i)
{
    return c->x0 + c->w * (c->n > 1 ? (double)i / (double)(c->n - 1) : 0.5);
}

static bool plottable(const chart *c, double v) { return isfinite(v) && (!c->log || v > 0); }

static double cy(const chart *c, double v)
{
    double t = c->log ? log10(v) : v;
    return c->y0 + c->h * (1 - (t - c->lo) / (c->hi - c->lo));
}

/* The range of the plottable values of k series (each n long, stride apart). */
static void fit_range(chart *c, const double *v, size_t k, size_t stride)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; s < k; s++)
        for (size_t i = 0; i < c->n; i++) {
            double x = v[i * stride + s];
            if (plottable(c, x)) {
                double t = c->log ? log10(x) : x;
                lo = fmin(lo, t), hi = fmax(hi, t);
            }
        }
    if (c->log && hi > lo)
        lo = floor(lo), hi = ceil(hi);
    if (!(hi > lo)) { /* one value, or none: a range around it */
        double half = c->log ? 1 : 0.5;
        lo = isfinite(lo) ? lo - half : 0, hi = lo + 2 * half;
    }
    c->lo = lo, c->hi = hi;
}

static void axes(FILE *out, const chart *c, const char *title)
{
    fprintf(out, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#999'/>\n", c->x0,
            c->y0, c->w, c->h);
    fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n", c->x0 + c->w / 2, c->y0 - 8, title);
    if (c->log) {
        for (double t = c->lo; t <= c->hi + 1e-9; t += 1)
            fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end'>1e%+.0f</text>\n", c->x0 - 4,
                    cy(c, pow(10, t)) + 4, t);
    } else {
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end'>%.3g</text>\n", c->x0 - 4, c->y0 + 10, c->hi);
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end'>%.3g</text>\n", c->x0 - 4, c->y0 + c->h, c->lo);
    }
    fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle'>epoch 1..%zu</text>\n", c->x0 + c->w / 2,
            c->y0 + c->h + 18, c->n);
}

/* One series (v[i * stride], i < n) as polylines, broken where a value
 * cannot be drawn (NaN, Inf, or not positive on a log scale). */
static void series(FILE *out, const chart *c, const double *v, size_t stride, const char *colour,
                   const char *name)
{
    bool open = false;
    for (size_t i = 0; i < c->n; i++) {
        double x = v[i * stride];
        if (!plottable(c, x)) {
            if (open)
                fputs("'/>\n", out);
            open = false;
            continue;
        }
        if (!open) {
            fprintf(out, "<polyline class='gg-series' data-name='%s' fill='none' stroke='%s' stroke-width='2' points='",
                    name, colour);
            open = true;
        }
        fprintf(out, "%.1f,%.1f ", cx(c, i), cy(c, x));
    }
    if (open)
        fputs("'/>\n", out);
}

/* ---- Sections -------------------------------------------------------------------- */

static void header(FILE *out, const gg_train_report *r, const char *title)
{
    fputs("<h1>", out);
    ggt_html_text(out, title);
    fputs("</h1>\n<p class=\"meta\">", out);
    if (r->data) {
        fputs("data <b id=\"gg-data\">", out);
        ggt_html_text(out, r->data);
        fputs("</b> &middot; ", out);
    }
    if (r->model) {
        fputs("model <b id=\"gg-model-spec\">", out);
        ggt_html_text(out, r->model);
        fputs("</b> &middot; ", out);
    }
    fprintf(out, "<b id=\"gg-epochs\">%zu</b> epochs &middot; test accuracy <b id=\"gg-test-accuracy\">", r->nepochs);
    num(out, "%.4f", r->test_accuracy);
    fputs("</b> &middot; test loss <b id=\"gg-test-loss\">", out);
    num(out, "%.4f", r->test_loss);
    fputs("</b></p>\n", out);
}

static void curves(FILE *out, const gg_train_report *r, double *v)
{
    size_t n = r->nepochs;
    for (size_t i = 0; i < n; i++) {
        v[3 * i] = r->epochs[i].train_loss;
        v[3 * i + 1] = r->epochs[i].val_loss;
        v[3 * i + 2] = r->epochs[i].val_accuracy;
    }
    chart loss = {60, 30, 300, 220, 0, 1, false, n}, acc = {440, 30, 300, 220, 0, 1, false, n};
    fit_range(&loss, v, 2, 3);
    fit_range(&acc, v + 2, 1, 3);
    fputs("<section id=\"gg-curves\">\n<h2>Loss and accuracy</h2>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 780 300\" width=\"780\" height=\"300\">\n",
          out);
    axes(out, &loss, "loss: train (orange), validation (blue)");
    series(out, &loss, v, 3, palette[0], "train loss");
    series(out, &loss, v + 1, 3, palette[1], "validation loss");
    axes(out, &acc, "validation accuracy");
    series(out, &acc, v + 2, 3, palette[1], "validation accuracy");
    fputs("</svg>\n<div class=\"scroll\"><table id=\"gg-epoch-table\">\n<tr><th>epoch</th><th>train loss</th>"
          "<th>val loss</th><th>val accuracy</th><th>lr</th></tr>\n",
          out);
    for (size_t i = 0; i < n; i++) {
        const gg_report_epoch *e = &r->epochs[i];
        fprintf(out, "<tr><td>%zu</td><td>", e->epoch);
        num(out, "%.4f", e->train_loss);
        fputs("</td><td>", out);
        num(out, "%.4f", e->val_loss);
        fputs("</td><td>", out);
        num(out, "%.4f", e->val_accuracy);
        fputs("</td><td>", out);
        num(out, "%.2g", e->lr);
        fputs("</td></tr>\n", out);
    }
    fputs("</table></div>\n</section>\n", out);
}

/* Colour class and one of 5 opacity levels for a cell: the more confident,
 * the stronger (the colours of the TensorFlow Playground, as `--boundary`). */
static int cell_code(const float *p, size_t classes)
{
    size_t best = 0;
    for (size_t j = 1; j < classes; j++)
        if (p[j] > p[best])
            best = j;
    double conf = (p[best] - 1.0 / (double)classes) / (1 - 1.0 / (double)classes);
    int level = isfinite(conf) ? (int)fmax(0, fmin(4, floor(conf * 5))) : 0;
    return (int)(best % NPALETTE) * 5 + level;
}

static void frame(FILE *out, const gg_train_report *r, const gg_report_epoch *e, bool last)
{
    size_t g = r->grid, k = r->classes;
    fprintf(out, "<g class=\"gg-frame\" data-epoch=\"%zu\" display=\"%s\">\n", e->epoch, last ? "inline" : "none");
    for (size_t row = 0; row < g; row++)
        for (size_t col = 0; col < g;) {
            int code = cell_code(e->probs + (row * g + col) * k, k);
            size_t run = 1;
            while (col + run < g && cell_code(e->probs + (row * g + col + run) * k, k) == code)
                run++;
            fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"1\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n",
                    col, g - 1 - row, run, palette[code / 5], 0.1 + 0.12 * (code % 5));
            col += run;
        }
    fputs("</g>\n", out);
}

/* The index of the last epoch with a decision boundary, or nepochs. */
static size_t last_frame(const gg_train_report *r, size_t *frames)
{
    size_t last = r->nepochs;
    *frames = 0;
    for (size_t i = 0; r->grid && i < r->nepochs; i++)
        if (r->epochs[i].probs)
            ++*frames, last = i;
    return last;
}

/* The decision regions under the points, as one <svg>: a frame per epoch
 * that has a boundary (only the last shown), or the last frame alone. r
 * has at least one (its callers check last_frame first). */
static void boundary_svg(FILE *out, const gg_train_report *r, bool every_frame)
{
    size_t frames, last = last_frame(r, &frames);
    double g = (double)r->grid;
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %zu %zu\" width=\"480\" height=\"480\" "
                 "shape-rendering=\"crispEdges\">\n",
            r->grid, r->grid);
    for (size_t i = every_frame ? 0 : last; i <= last; i++)
        if (r->epochs[i].probs)
            frame(out, r, &r->epochs[i], i == last);
    fprintf(out, "<g shape-rendering=\"auto\" stroke=\"white\" stroke-width=\"%.3g\">\n", g / 600);
    for (size_t i = 0; i < r->npoints; i++) {
        double x = (r->points[2 * i] - r->xmin) / r->span * g, y = g - (r->points[2 * i + 1] - r->ymin) / r->span * g;
        if (isfinite(x) && isfinite(y))
            fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.3g\" fill=\"%s\"/>\n", x, y, g / 150,
                    palette[(size_t)(r->labels ? r->labels[i] : 0) % NPALETTE]);
    }
    fputs("</g>\n</svg>\n", out);
}

static void boundary(FILE *out, const gg_train_report *r)
{
    size_t frames, last = last_frame(r, &frames);
    if (!frames)
        return;
    fprintf(out, "<section id=\"gg-boundary\">\n<h2>Decision boundary</h2>\n<p><input type=\"range\" "
                 "id=\"gg-slider\" min=\"0\" max=\"%zu\" value=\"%zu\" aria-label=\"epoch\"> "
                 "<span id=\"gg-boundary-epoch\">epoch %zu of %zu</span></p>\n",
            frames - 1, frames - 1, r->epochs[last].epoch, r->nepochs);
    boundary_svg(out, r, true);
    fputs("<p class=\"note\">The colour is the predicted class, the stronger the more confident; "
          "the points are the test data.</p>\n</section>\n",
          out);
}

/* fc1's norm over the output layer's, at the first epoch (before the
 * optimizer has adapted its steps to the layers) and at the last. */
static void ratio(FILE *out, const gg_train_report *r)
{
    const gg_report_epoch *first = &r->epochs[0], *last = &r->epochs[r->nepochs - 1];
    size_t L = r->nlayers;
    if (L < 2)
        return;
    fputs("<p id=\"gg-ratio\">The gradient norm of ", out);
    layer_name(out, r, 0);
    fputs(" (next to the input) over that of ", out);
    layer_name(out, r, L - 1);
    fprintf(out, " (the output layer): <b id=\"gg-norm-ratio-first\">");
    num(out, "%.3g", first->grad_norm[0] / first->grad_norm[L - 1]);
    fprintf(out, "</b> at epoch %zu, <b id=\"gg-norm-ratio-last\">", first->epoch);
    num(out, "%.3g", last->grad_norm[0] / last->grad_norm[L - 1]);
    fprintf(out, "</b> at epoch %zu.</p>\n", last->epoch);
}

static void norms(FILE *out, const gg_train_report *r, double *v)
{
    size_t n = r->nepochs, L = r->nlayers;
    for (size_t i = 0; i < n; i++)
        if (!r->epochs[i].grad_norm)
            return;
    if (!L || !n)
        return;
    for (size_t i = 0; i < n; i++)
        memcpy(v + i * L, r->epochs[i].grad_norm, L * sizeof *v);
    chart c = {70, 30, 560, 260, 0, 1, true, n};
    fit_range(&c, v, L, L);
    fputs("<section id=\"gg-norms\">\n<h2>Gradient norm of every layer</h2>\n<p class=\"note\">The L2 norm of the "
          "loss's gradient with respect to each layer's weights, averaged over the epoch's steps, on a log scale. "
          "Vanishing gradients show as norms that shrink towards the input layer.</p>\n",
          out);
    ratio(out, r);
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 780 330\" width=\"780\" height=\"330\">\n");
    axes(out, &c, "weight-gradient norm per epoch (log scale)");
    for (size_t l = 0; l < L; l++) {
        const char *colour = palette[l % NPALETTE];
        series(out, &c, v + l, L, colour, "grad norm");
        fprintf(out, "<rect x='650' y='%zu' width='14' height='4' fill='%s'/><text x='670' y='%zu'>", 36 + 18 * l,
                colour, 42 + 18 * l);
        layer_name(out, r, l);
        fputs("</text>\n", out);
    }
    fputs("</svg>\n<div class=\"scroll\"><table id=\"gg-norm-table\">\n<tr><th>epoch</th>", out);
    for (size_t l = 0; l < L; l++) {
        fputs("<th>", out);
        layer_name(out, r, l);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "<tr><td>%zu</td>", r->epochs[i].epoch);
        for (size_t l = 0; l < L; l++) {
            fputs("<td>", out);
            num(out, "%.3g", r->epochs[i].grad_norm[l]);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</table></div>\n</section>\n", out);
}

static void data_json(FILE *out, const gg_train_report *r, const char *title)
{
    fputs("<script type=\"application/json\" id=\"gg-report\">\n{\"title\":", out);
    ggt_json_str(out, title);
    fputs(",\"data\":", out);
    ggt_json_str(out, r->data ? r->data : "");
    fputs(",\"model\":", out);
    ggt_json_str(out, r->model ? r->model : "");
    fprintf(out, ",\"epochs\":%zu,\"frames\":[", r->nepochs);
    const char *sep = "";
    for (size_t i = 0; i < r->nepochs; i++)
        if (r->epochs[i].probs && r->grid) {
            fprintf(out, "%s%zu", sep, r->epochs[i].epoch);
            sep = ",";
        }
    fputs("],\"test_accuracy\":", out);
    ggt_json_num(out, r->test_accuracy);
    fputs("}\n</script>\n", out);
}

static void page(FILE *out, const gg_train_report *r, double *scratch)
{
    const char *title = r->title ? r->title : "gategrad training report";
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
    fputs(GGT_CSP_META, out);
    fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
    ggt_html_text(out, title);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
    header(out, r, title);
    if (r->nepochs)
        curves(out, r, scratch);
    boundary(out, r);
    norms(out, r, scratch);
    if (r->summary) {
        fputs("<section id=\"gg-model\">\n<h2>Model</h2>\n<pre id=\"gg-summary\">", out);
        ggt_html_text(out, r->summary);
        fputs("</pre>\n</section>\n", out);
    }
    data_json(out, r, title);
    fprintf(out, "<script>\n%s</script>\n</body>\n</html>\n", script);
}

static int check(const gg_train_report *r, const char *path, char *err)
{
    if (!r || !path) {
        ggb_errorf(err, "training report: NULL %s", r ? "path" : "report");
        return -1;
    }
    if (r->nlayers > MAX_REPORT_LAYERS || (r->nepochs && !r->epochs) || (r->npoints && !r->points)) {
        ggb_errorf(err, "%s: a training report needs nlayers <= %d and arrays for its epochs and points", path,
                   MAX_REPORT_LAYERS);
        return -1;
    }
    for (size_t i = 0; i < r->nepochs; i++)
        if (r->epochs[i].probs && (!r->grid || r->classes < 1 || !(r->span > 0))) {
            ggb_errorf(err, "%s: epoch %zu has a decision boundary but the report no grid, classes or view "
                            "(gg_train_report_view sets them)",
                       path, r->epochs[i].epoch);
            return -1;
        }
    for (size_t i = 0; r->labels && i < r->npoints; i++)
        if (r->labels[i] < 0 || (r->classes && (size_t)r->labels[i] >= r->classes)) {
            ggb_errorf(err, "%s: point %zu has label %d, not a class of 0..%zu", path, i, (int)r->labels[i],
                       r->classes ? r->classes - 1 : 0);
            return -1;
        }
    return 0;
}

void gg_train_report_view(gg_train_report *r, size_t grid, float *xy)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < r->npoints; i++) {
        double x = r->points[2 * i], y = r->points[2 * i + 1];
        if (isfinite(x) && isfinite(y))
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
    }
    if (!(x1 >= x0))
        x0 = y0 = -1, x1 = y1 = 1;
    r->span = fmax(x1 - x0, y1 - y0) * 1.1 + 1e-6;
    r->xmin = (x0 + x1 - r->span) / 2;
    r->ymin = (y0 + y1 - r->span) / 2;
    r->grid = grid;
    for (size_t row = 0; xy && row < grid; row++)
        for (size_t col = 0; col < grid; col++) {
            xy[2 * (row * grid + col)] = (float)(r->xmin + ((double)col + 0.5) * r->span / (double)grid);
            xy[2 * (row * grid + col) + 1] = (float)(r->ymin + ((double)row + 0.5) * r->span / (double)grid);
        }
}

int gg_train_report_html(const gg_train_report *r, const char *path, char *err)
{
    if (check(r, path, err))
        return -1;
    size_t need = r->nepochs * (r->nlayers > 3 ? r->nlayers : 3);
    double *scratch = ggb_malloc((need ? need : 1) * sizeof *scratch);
    if (!scratch) {
        ggb_errorf(err, "%s: out of memory", path);
        return -1;
    }
    gg_atomic_file af;
    int rc = gg_atomic_open(path, &af, err);
    if (!rc) {
        page(af.fp, r, scratch);
        rc = gg_atomic_commit(&af, err);
    }
    ggb_free(scratch);
    return rc ? -1 : 0;
}

int gg_train_report_svg(const gg_train_report *r, const char *path, char *err)
{
    size_t frames;
    if (check(r, path, err))
        return -1;
    last_frame(r, &frames);
    if (!frames)
        return ggb_errorf(err, "%s: no epoch of the report has a decision boundary", path);
    gg_atomic_file af;
    if (gg_atomic_open(path, &af, err))
        return -1;
    boundary_svg(af.fp, r, false);
    return gg_atomic_commit(&af, err) ? -1 : 0;
}
