/* common.c - formatting shared by the teaching views: a growing string,
 * numbers, node names, operands and tensor summaries. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "teach/teach.h"

void ggt_sb_printf(ggt_sb *sb, const char *fmt, ...)
{
    if (sb->oom)
        return;
    for (;;) {
        size_t room = sb->cap - sb->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->oom = true;
            return;
        }
        if ((size_t)n < room) {
            sb->len += (size_t)n;
            return;
        }
        size_t cap = sb->cap ? sb->cap : 128;
        while (cap <= sb->len + (size_t)n)
            cap *= 2;
        char *p = ggb_realloc(sb->buf, cap);
        if (!p) {
            sb->oom = true;
            return;
        }
        sb->buf = p;
        sb->cap = cap;
    }
}

void ggt_sb_clear(ggt_sb *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void ggt_sb_free(ggt_sb *sb)
{
    ggb_free(sb->buf);
    *sb = (ggt_sb){0};
}

void ggt_sb_num(ggt_sb *sb, double v)
{
    ggt_sb_printf(sb, "%.8g", v == 0 ? 0.0 : v);
}

void ggt_sb_name(ggt_sb *sb, const gg_graph *g, const gg_node *n)
{
    const char *label = gg_label(g, n);
    if (label) {
        ggt_sb_printf(sb, "%s", label);
        return;
    }
    /* "n3", unless a user's label is "n3": then "#3", which no name of the
     * expression language can be. */
    char generated[16];
    snprintf(generated, sizeof generated, "n%u", n->id);
    const gg_node *holder = gg_find(g, generated);
    ggt_sb_printf(sb, holder && holder != n ? "#%u" : "n%u", n->id);
}

void ggt_sb_head(ggt_sb *sb, const gg_graph *g, const gg_node *n)
{
    ggt_sb_name(sb, g, n);
    if (gg_label(g, n))
        ggt_sb_printf(sb, " #%u", n->id);
}

static double elem(const gg_node *n, bool grad, size_t k)
{
    return grad ? gg_grad_at(n, k) : gg_value_at(n, k);
}

static void list_elems(ggt_sb *sb, const gg_node *n, bool grad, size_t count)
{
    ggt_sb_printf(sb, "{");
    for (size_t k = 0; k < count; k++) {
        ggt_sb_printf(sb, k ? ", " : "");
        ggt_sb_num(sb, elem(n, grad, k));
    }
}

void ggt_sb_values(ggt_sb *sb, const gg_node *n, bool grad, const gg_view_opts *opts)
{
    if (n->rank == 0) {
        ggt_sb_num(sb, elem(n, grad, 0));
        return;
    }
    char shape[96];
    ggt_sb_printf(sb, "%s ", gg_shape_str(n, shape, sizeof shape));
    size_t numel = ggc_numel(n);
    size_t show = opts && opts->max_elems > 0 ? (size_t)opts->max_elems : 4;
    if ((opts && opts->full_values) || numel <= show) {
        list_elems(sb, n, grad, numel);
        ggt_sb_printf(sb, "}");
        return;
    }
    /* A summary: the first elements, then what a student checks a tensor by. */
    double lo = INFINITY, hi = -INFINITY, sq = 0;
    for (size_t k = 0; k < numel; k++) {
        double v = elem(n, grad, k);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sq += v * v;
    }
    list_elems(sb, n, grad, show);
    ggt_sb_printf(sb, ", ... %zu more} min ", numel - show);
    ggt_sb_num(sb, lo);
    ggt_sb_printf(sb, " max ");
    ggt_sb_num(sb, hi);
    ggt_sb_printf(sb, " norm ");
    ggt_sb_num(sb, sqrt(sq));
}

bool ggt_plain_constant(const gg_graph *g, const gg_node *n)
{
    return n->gate == GGC_GATE_LEAF && !ggc_needs_grad(n) && !gg_label(g, n);
}

void ggt_sb_symbol(ggt_sb *sb, const gg_graph *g, const gg_node *n, const gg_view_opts *opts)
{
    if (ggt_plain_constant(g, n))
        ggt_sb_values(sb, n, false, opts);
    else
        ggt_sb_name(sb, g, n);
}

void ggt_sb_call(ggt_sb *sb, const gg_graph *g, const gg_node *n, bool values,
                 const gg_view_opts *opts)
{
    const ggc_gate *gate = ggc_gate_of(n);
    ggt_sb_printf(sb, "%s(", gate->name);
    for (int i = 0; i < ggc_nin(n); i++) {
        const gg_node *in = ggc_in(n, i);
        ggt_sb_printf(sb, i ? ", " : "");
        ggt_sb_symbol(sb, g, in, opts);
        if (values && !ggt_plain_constant(g, in)) {
            ggt_sb_printf(sb, " = ");
            ggt_sb_values(sb, in, false, opts);
        }
    }
    if (gate->param == GGC_PARAM_NUMBER) {
        double p[4];
        for (int i = 0, np = ggc_params(n, p); i < np; i++) {
            ggt_sb_printf(sb, ", ");
            ggt_sb_num(sb, p[i]);
        }
    }
    ggt_sb_printf(sb, ")");
}

bool ggt_teach_owns(const gg_graph *g, const gg_node *n)
{
    return g && n && gg_node_at(g, n->id) == n;
}

uint8_t *ggt_ancestors(const gg_graph *g, const gg_node *root)
{
    uint8_t *mark = ggb_calloc(root->id + 1, 1);
    if (!mark)
        return NULL;
    mark[root->id] = 1;
    for (size_t id = root->id + 1; id-- > 0;) {
        const gg_node *n = gg_node_at(g, id);
        for (int i = 0; mark[id] && i < ggc_nin(n); i++)
            mark[ggc_in(n, i)->id] = 1;
    }
    return mark;
}

void ggt_html_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

void ggt_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || strchr("<>&/\"'\\", *p) || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void ggt_json_num(FILE *out, double v)
{
    if (isnan(v))
        fputs("\"NaN\"", out);
    else if (isinf(v))
        fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
    else
        fprintf(out, "%.17g", v == 0 ? 0.0 : v);
}
