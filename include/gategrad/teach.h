/* gategrad/teach.h - teaching views of a graph: gate-level traces, the
 * chain rule written out path by path, and Graphviz pictures.
 *
 * The lecture's circuit f = (x + y) * z, traced while it is built and run:
 *
 *     gg_graph *g = gg_graph_new();
 *     gg_tracer *t = gg_trace_file(g, stdout, NULL);   // trace from here on
 *     gg_node *x = gg_scalar(g, -2), *y = gg_scalar(g, 5), *z = gg_scalar(g, -4);
 *     gg_set_label(g, x, "x"); ...                      // labels name nodes in traces
 *     gg_node *f = gg_mul(g, gg_add(g, x, y), z);       // prints two forward lines
 *     gg_backward(g, f);                                // prints two backward lines
 *     gg_trace_end(t);                                  // before gg_graph_free
 *     gg_explain(g, f, x, stdout, NULL);                // df/dx, path by path
 *     gg_dot(g, f, stdout, NULL);                       // a picture, for dot -Tsvg
 *
 * A forward line shows one gate evaluation: node, gate, inputs with their
 * values, output. A backward line shows one gate passing the gradient on:
 * the upstream gradient, what the gate does with it in the lecture's words
 * with the numbers (add distributes, mul swaps, max routes, ...), and the
 * gradient each input then holds. When a value used by k > 1 gates has
 * received all k contributions, one more line shows their sum term by term
 * (the copy gate, "gradient adder").
 *
 * Nodes are named by their label (gg_set_label) or, without one, "n<id>".
 * Numbers print with up to 8 significant digits (%.8g); explain prints its
 * factors with 8 decimals (%.8f), as the slides do. Tensors print as shape
 * and a summary (the first elements, min, max, norm) unless full values are
 * asked for.
 *
 * Errors: nothing here exits or aborts. Functions return NULL or non-zero
 * and record a message in the graph, read with gg_error(g). */
#ifndef GATEGRAD_TEACH_H
#define GATEGRAD_TEACH_H

#include <stdint.h>
#include <stdio.h>

#include "gategrad/graph.h"

/* ---- Options shared by traces and pictures --------------------------------- */

typedef struct gg_view_opts {
    int full_values; /* non-zero: print every tensor element, not a summary */
    int max_elems;   /* elements a summary shows; 0 means 4 */
} gg_view_opts;

/* ---- Traces ------------------------------------------------------------------ */

typedef struct gg_tracer gg_tracer;

/* Receives one trace line at a time, without a newline. line is valid only
 * during the call. */
typedef void (*gg_trace_fn)(const char *line, void *ctx);

/* Starts tracing g to out: from now on every gate evaluation (at record time
 * and in gg_forward) and every gate's backward step prints one line.
 * opts may be NULL (summaries of 4 elements). The tracer uses the graph's
 * hook slot, so only one tracer (or other hook) can be attached at a time.
 * Returns the tracer, owned by the caller: end it with gg_trace_end before
 * freeing g. NULL with a message in gg_error(g) when out is NULL, the hook
 * slot is taken, or memory runs out. out is not closed. */
GG_API gg_tracer *gg_trace_file(gg_graph *g, FILE *out, const gg_view_opts *opts);

/* Like gg_trace_file, but every line goes to fn(line, ctx). */
GG_API gg_tracer *gg_trace_callback(gg_graph *g, gg_trace_fn fn, void *ctx, const gg_view_opts *opts);

/* Stops tracing and frees t (NULL is ignored). The graph must still exist. */
GG_API void gg_trace_end(gg_tracer *t);

/* ---- Explain: the chain rule, path by path ----------------------------------- */

typedef struct gg_explain_opts {
    size_t max_paths;   /* paths written out; 0 means 16. The rest are counted */
    size_t max_factors; /* factors shown per path; 0 means 64. The rest are elided */
} gg_explain_opts;

/* Writes d root / d leaf as the slides do: every path from root down to
 * leaf as a product of local derivatives (names, then numbers, then the
 * product), the same product grouped at labelled nodes when the path has
 * any (dE/do1 * do1/dz3 * dz3/dw5), then the sum over all paths. Beyond
 * max_paths the paths are counted, not printed, and the sum still covers
 * every one. Reads current values only: gradients in g are left alone.
 * root and every node on a path must be rank 0 (scalars) made by elementwise
 * gates. Returns 0, or non-zero with a message in gg_error(g) (leaf not an
 * ancestor of root, tensor nodes, NULL arguments, out of memory). */
GG_API int gg_explain(gg_graph *g, gg_node *root, gg_node *leaf, FILE *out,
               const gg_explain_opts *opts);

/* ---- Pictures -------------------------------------------------------------- */

/* Writes the part of g that root depends on (all of g when root is NULL) to
 * out as a Graphviz DOT digraph, in the style of micrograd's draw_dot: one
 * record per value with its name, value and gradient, one ellipse per gate
 * feeding it, edges in data-flow order (left to right), constants greyed.
 * Tensors show their shape and a summary. Render with `dot -Tsvg`.
 * Returns 0, or non-zero with a message in gg_error(g). */
GG_API int gg_dot(gg_graph *g, gg_node *root, FILE *out, const gg_view_opts *opts);

/* ---- A page to step through ------------------------------------------------ */

typedef struct gg_html_opts {
    const char *title; /* the page's title; NULL: "gategrad: <root's name>" */
    const char *lang;  /* the page's own words: "en" (NULL) or "ko" (Korean,
                          the lecture's terms; gate names and traces stay) */
    size_t max_gates;  /* larger graphs are refused; 0 means 500 */
} gg_html_opts;

/* Writes one self-contained HTML page (inline CSS, script and SVG; a
 * Content-Security-Policy that lets it load nothing; no network address)
 * that steps through root's graph gate by gate: step 0 computes nothing,
 * then one step per gate forward, then one per gate backward in reverse
 * topological order (buttons, arrow keys and space, deep links #step=N).
 * The circuit is laid out left to right (layers by longest path from the
 * leaves), each wire with its value above (light green) and what it
 * carries back below (red); values not yet computed say so. The active
 * gate is highlighted, and a card shows its rule sentence and the lines
 * gg_trace prints for that step, with the running sum of a value used by
 * several gates. Tensors show their shape and, up to 64 elements, value
 * and gradient heatmaps (numbers on hover). When every node is a scalar
 * and every gate elementwise, each variable leaf is an input and the page
 * recomputes everything from the gate table's formulas; otherwise it shows
 * the recorded numbers only. Every label reaches the page escaped.
 *
 * gg_html runs the steps itself: gg_zero_grad(g), gg_forward and
 * gg_backward from root, traced; g is left as after gg_backward. It uses
 * the graph's hook slot while it runs. opts may be NULL. Returns 0, or
 * non-zero with a message in gg_error(g): NULL arguments, a graph of more
 * than max_gates gates (the message says how to narrow it), the hook slot
 * taken, a failing forward or backward, out of memory, a write error. */
GG_API int gg_html(gg_graph *g, gg_node *root, FILE *out, const gg_html_opts *opts);

/* ---- A training run's report ------------------------------------------------ */

/* One epoch of a run, as the training loop measured it. The pointers are
 * the caller's and are only read. */
typedef struct gg_report_epoch {
    size_t epoch;                  /* 1-based */
    double train_loss;             /* NaN or Inf are shown as such */
    double val_loss, val_accuracy; /* NaN: no validation */
    double lr;
    const double *grad_norm; /* the report's nlayers weight-gradient norms
                                (fc1 first), or NULL: not measured */
    const float *probs;      /* the decision boundary after this epoch:
                                grid * grid * classes class probabilities,
                                cell (row r, column k) at (r * grid + k) *
                                classes, rows from ymin up, columns from xmin
                                right (as gg_train_report_view lays them
                                out); NULL: no boundary at this epoch */
} gg_report_epoch;

/* What one report shows. Every string may hold any bytes (<, >, &,
 * quotes, "</script>"): the page escapes them. All pointers may be NULL
 * (that part is left out) and stay the caller's. */
typedef struct gg_train_report {
    const char *title;   /* NULL: "gategrad training report" */
    const char *data;    /* the data set's name */
    const char *model;   /* the model's spec ("2-16-16-2:tanh") */
    const char *summary; /* the model summary, as gg_summary prints it */
    const gg_report_epoch *epochs;
    size_t nepochs;
    size_t nlayers;                 /* gradient norms per epoch, <= 64 */
    const char *const *layer_names; /* nlayers names; NULL: fc1, fc2, ... */
    double test_loss, test_accuracy; /* NaN: not evaluated */
    /* 2-D data: the decision boundary over the square [xmin, xmin + span] x
     * [ymin, ymin + span] cut into grid x grid cells, under the points. */
    size_t classes, grid;           /* grid 0: no boundary */
    double xmin, ymin, span;
    const float *points;            /* npoints (x, y) pairs */
    const int32_t *labels;          /* npoints classes, < classes */
    size_t npoints;
} gg_train_report;

/* Sets r's square view to the points' bounding square with a margin, and
 * r->grid to grid, and writes the grid * grid cell centres as (x, y) pairs
 * into xy (2 * grid * grid floats, the caller's), in the order of
 * gg_report_epoch.probs: feed them to gg_classifier_predict. Without points
 * the view is [-1, 1]^2. */
GG_API void gg_train_report_view(gg_train_report *r, size_t grid, float *xy);

/* Writes r as one self-contained HTML page to path, atomically (a reader
 * sees the old file or the whole new one): inline CSS, script and SVG, a
 * Content-Security-Policy that lets it load nothing, no network address, so
 * it opens by double-click. It shows the loss and accuracy curves per epoch,
 * the decision boundary at each epoch that has one (a slider picks the
 * epoch; the last is shown first) under the points, the gradient norm of
 * every layer per epoch on a log scale with a table (vanishing gradients
 * show as norms that shrink towards fc1), and the model summary.
 * Returns 0, or -1 with a message in err (GG_ERRLEN bytes, may be NULL):
 * NULL r or path, inconsistent sizes (probs without classes or grid,
 * labels without points, nlayers over 64), a label out of range, out of
 * memory, the file not writable. */
GG_API int gg_train_report_html(const gg_train_report *r, const char *path, char *err);

/* Writes the decision boundary of r's last epoch that has one, under r's
 * points, as a standalone SVG picture (480 x 480 pixels, one cell per grid
 * unit, the colours of gg_train_report_html) to path, atomically. The
 * other parts of r (curves, norms, summary) are not drawn.
 * Returns 0, or -1 with a message in err (GG_ERRLEN bytes, may be NULL):
 * the errors of gg_train_report_html, and no epoch with probs. */
GG_API int gg_train_report_svg(const gg_train_report *r, const char *path, char *err);

#endif
