/* teach/teach.h - what trace.c, explain.c and dot.c share (internal,
 * prefix ggt_): a growing string, number formatting, node names and tensor
 * summaries. */
#ifndef GGT_TEACH_H
#define GGT_TEACH_H

#include <stdbool.h>

#include "gategrad/teach.h"
#include "core/core.h"

/* A trace shows what a gate gave each of its first this many inputs (the
 * gradients of the rest are in the graph, as always). */
#define GGT_TRACED_INPUTS 16

/* A string that grows as it is written; oom sticks once an allocation fails
 * (the text is then truncated, never overrun). */
typedef struct ggt_sb {
    char *buf;
    size_t len, cap;
    bool oom;
} ggt_sb;

void ggt_sb_printf(ggt_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ggt_sb_clear(ggt_sb *sb);
void ggt_sb_free(ggt_sb *sb);
static inline const char *ggt_sb_str(const ggt_sb *sb) { return sb->buf ? sb->buf : ""; }

/* v with up to 8 significant digits ("%.8g"), -0 as 0. */
void ggt_sb_num(ggt_sb *sb, double v);

/* n's label, or "n<id>". */
void ggt_sb_name(ggt_sb *sb, const gg_graph *g, const gg_node *n);
/* The subject of a trace line: its name, and its id too when the name is a
 * label ("q #3"; an unlabelled node's name "n3" already holds it). */
void ggt_sb_head(ggt_sb *sb, const gg_graph *g, const gg_node *n);

/* n's value (grad false) or gradient (grad true): a scalar as a number, a
 * tensor as its shape and a summary, or every element when opts ask. */
void ggt_sb_values(ggt_sb *sb, const gg_node *n, bool grad, const gg_view_opts *opts);

/* An unlabelled constant leaf: shown by its value, as it has no name. */
bool ggt_plain_constant(const gg_graph *g, const gg_node *n);

/* n's name, or its value for a plain constant. */
void ggt_sb_symbol(ggt_sb *sb, const gg_graph *g, const gg_node *n, const gg_view_opts *opts);

/* "gate(x, y[, param])" for a computed node; with values, "gate(x = -2,
 * y = 5)" (a plain constant shows its value either way). */
void ggt_sb_call(ggt_sb *sb, const gg_graph *g, const gg_node *n, bool values,
                 const gg_view_opts *opts);

/* ---- Writing pages (html.c, report.c) ---- */

/* The Content-Security-Policy of every page: inline script and style run,
 * nothing at all is loaded (no URL, no file beside it). */
#define GGT_CSP_META                                                                              \
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "                 \
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "                     \
    "base-uri 'none'; form-action 'none'\">\n"

/* s as HTML text or attribute value: <, >, &, and both quotes as entities. */
void ggt_html_text(FILE *out, const char *s);
/* s as a JSON string that is safe inside a <script>: <, >, &, /, quotes
 * and control characters as \u escapes; other bytes (UTF-8) as they are. */
void ggt_json_str(FILE *out, const char *s);
/* v as JSON; NaN and the infinities, which JSON lacks, as the strings
 * "NaN", "Infinity", "-Infinity". */
void ggt_json_num(FILE *out, double v);

/* Marks root and its ancestors: a calloc'd array of root->id + 1 flags
 * (free with ggb_free), or NULL when memory runs out. One descending sweep
 * over ids, as inputs always have smaller ids than their consumers. */
uint8_t *ggt_ancestors(const gg_graph *g, const gg_node *root);

/* True when g holds n (a node pointer from this graph). */
bool ggt_teach_owns(const gg_graph *g, const gg_node *n);

#endif
