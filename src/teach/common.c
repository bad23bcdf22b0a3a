/* common.c - formatting shared by the teaching views: a growing string,
 * numbers, node names, operands and tensor summaries. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "teach_internal.h"

void gg__sb_printf(gg_sb *sb, const char *fmt, ...)
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
        char *p = gg__realloc(sb->buf, cap);
        if (!p) {
            sb->oom = true;
            return;
        }
        sb->buf = p;
        sb->cap = cap;
    }
}

void gg__sb_clear(gg_sb *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void gg__sb_free(gg_sb *sb)
{
    gg__free(sb->buf);
    *sb = (gg_sb){0};
}

void gg__sb_num(gg_sb *sb, double v)
{
    gg__sb_printf(sb, "%.8g", v == 0 ? 0.0 : v);
}

void gg__sb_name(gg_sb *sb, const gg_graph *g, const gg_node *n)
{
    const char *label = gg_label(g, n);
    if (label)
        gg__sb_printf(sb, "%s", label);
    else
        gg__sb_printf(sb, "n%u", n->id);
}

void gg__sb_head(gg_sb *sb, const gg_graph *g, const gg_node *n)
{
    gg__sb_name(sb, g, n);
    if (gg_label(g, n))
        gg__sb_printf(sb, " #%u", n->id);
}

static double elem(const gg_node *n, bool grad, size_t k)
{
    return grad ? gg_grad_at(n, k) : gg_value_at(n, k);
}

static void list_elems(gg_sb *sb, const gg_node *n, bool grad, size_t count)
{
    gg__sb_printf(sb, "{");
    for (size_t k = 0; k < count; k++) {
        gg__sb_printf(sb, k ? ", " : "");
        gg__sb_num(sb, elem(n, grad, k));
    }
}

void gg__sb_values(gg_sb *sb, const gg_node *n, bool grad, const gg_view_opts *opts)
{
    if (n->rank == 0) {
        gg__sb_num(sb, elem(n, grad, 0));
        return;
    }
    char shape[96];
    gg__sb_printf(sb, "%s ", gg_shape_str(n, shape, sizeof shape));
    size_t numel = gg__numel(n);
    size_t show = opts && opts->max_elems > 0 ? (size_t)opts->max_elems : 4;
    if ((opts && opts->full_values) || numel <= show) {
        list_elems(sb, n, grad, numel);
        gg__sb_printf(sb, "}");
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
    gg__sb_printf(sb, ", ... %zu more} min ", numel - show);
    gg__sb_num(sb, lo);
    gg__sb_printf(sb, " max ");
    gg__sb_num(sb, hi);
    gg__sb_printf(sb, " norm ");
    gg__sb_num(sb, sqrt(sq));
}

bool gg__plain_constant(const gg_graph *g, const gg_node *n)
{
    return n->gate == GG_GATE_leaf && !gg__needs_grad(n) && !gg_label(g, n);
}

void gg__sb_symbol(gg_sb *sb, const gg_graph *g, const gg_node *n, const gg_view_opts *opts)
{
    if (gg__plain_constant(g, n))
        gg__sb_values(sb, n, false, opts);
    else
        gg__sb_name(sb, g, n);
}

void gg__sb_call(gg_sb *sb, const gg_graph *g, const gg_node *n, bool values,
                 const gg_view_opts *opts)
{
    const gg_gate *gate = gg__gates[n->gate];
    gg__sb_printf(sb, "%s(", gate->name);
    for (int i = 0; i < gate->arity; i++) {
        const gg_node *in = n->in[i];
        gg__sb_printf(sb, i ? ", " : "");
        gg__sb_symbol(sb, g, in, opts);
        if (values && !gg__plain_constant(g, in)) {
            gg__sb_printf(sb, " = ");
            gg__sb_values(sb, in, false, opts);
        }
    }
    if (n->gate == GG_GATE_pow || n->gate == GG_GATE_leaky_relu || n->gate == GG_GATE_elu) {
        gg__sb_printf(sb, ", ");
        gg__sb_num(sb, n->param.f);
    }
    gg__sb_printf(sb, ")");
}

bool gg__teach_owns(const gg_graph *g, const gg_node *n)
{
    return g && n && gg_node_at(g, n->id) == n;
}

uint8_t *gg__ancestors(const gg_graph *g, const gg_node *root)
{
    uint8_t *mark = gg__calloc(root->id + 1, 1);
    if (!mark)
        return NULL;
    mark[root->id] = 1;
    for (size_t id = root->id + 1; id-- > 0;) {
        const gg_node *n = gg_node_at(g, id);
        for (int i = 0; mark[id] && i < gg__gates[n->gate]->arity; i++)
            mark[n->in[i]->id] = 1;
    }
    return mark;
}
