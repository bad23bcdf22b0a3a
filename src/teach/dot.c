/* dot.c - a graph as a Graphviz picture, in the style of micrograd's
 * draw_dot: a record per value (name | value | gradient) and an ellipse per
 * gate, data flowing left to right. */
#include "teach/teach.h"

/* Writes s into a record label, escaping what records treat as syntax. */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '{' || *s == '}' || *s == '|' || *s == '<' || *s == '>' || *s == '"' ||
            *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* One record field: the text built in sb, escaped. */
static void field(FILE *out, ggt_sb *sb, const char *sep)
{
    fputs(sep, out);
    put_escaped(out, ggt_sb_str(sb));
    ggt_sb_clear(sb);
}

static void value_node(FILE *out, ggt_sb *sb, const gg_graph *g, const gg_node *n,
                       const gg_view_opts *opts)
{
    bool constant = !ggc_needs_grad(n);
    fprintf(out, "  v%u [shape=record%s, label=\"{ ", n->id,
            constant ? ", style=filled, fillcolor=\"#eeeeee\"" : "");
    ggt_sb_clear(sb);
    ggt_sb_symbol(sb, g, n, opts);
    field(out, sb, "");
    if (ggt_plain_constant(g, n)) {
        ggt_sb_printf(sb, "constant");
    } else {
        ggt_sb_printf(sb, constant ? "constant " : "value ");
        ggt_sb_values(sb, n, false, opts);
    }
    field(out, sb, " | ");
    if (!constant) {
        ggt_sb_printf(sb, "grad ");
        ggt_sb_values(sb, n, true, opts);
        field(out, sb, " | ");
    }
    fprintf(out, " }\"];\n");
}

static void gate_node(FILE *out, ggt_sb *sb, const gg_node *n)
{
    ggt_sb_clear(sb);
    const ggc_gate *gate = ggc_gate_of(n);
    ggt_sb_printf(sb, "%s", gate->name);
    if (gate->param == GGC_PARAM_NUMBER) {
        double p[4];
        for (int i = 0, np = ggc_params(n, p); i < np; i++) {
            ggt_sb_printf(sb, " ");
            ggt_sb_num(sb, p[i]);
        }
    }
    fprintf(out, "  g%u [shape=ellipse, style=filled, fillcolor=\"#cfe2ff\", label=\"", n->id);
    put_escaped(out, ggt_sb_str(sb));
    fprintf(out, "\"];\n  g%u -> v%u;\n", n->id, n->id);
    for (int i = 0; i < ggc_nin(n); i++) {
        fprintf(out, "  v%u -> g%u", ggc_in(n, i)->id, n->id);
        if (gate->ordered && i < GGC_DESCRIBED_INPUTS && gate->wire[i])
            fprintf(out, " [label=\"%s\"]", gate->wire[i]);
        else if (gate->ordered && i < 26)
            fprintf(out, " [label=\"%c\"]", 'a' + i);
        else if (gate->ordered) /* past z: the input's position, from 1 */
            fprintf(out, " [label=\"%d\"]", i + 1);
        fprintf(out, ";\n");
    }
}

int gg_dot(gg_graph *g, gg_node *root, FILE *out, const gg_view_opts *opts)
{
    if (!g)
        return -1;
    if (!out || (root && !ggt_teach_owns(g, root))) {
        ggc_fail(g, "dot: the output is NULL or the root is not a node of this graph");
        return -1;
    }
    size_t count = root ? root->id + 1 : gg_node_count(g);
    uint8_t *mark = root ? ggt_ancestors(g, root) : NULL;
    if (root && !mark) {
        ggc_fail(g, "dot: out of memory");
        return -1;
    }
    ggt_sb sb = {0};
    fprintf(out, "digraph gategrad {\n  rankdir=LR;\n"
                 "  node [fontname=\"Helvetica\", fontsize=11];\n");
    for (size_t id = 0; id < count; id++) {
        const gg_node *n = gg_node_at(g, id);
        if (mark && !mark[id])
            continue;
        value_node(out, &sb, g, n, opts);
        if (n->gate != GGC_GATE_LEAF)
            gate_node(out, &sb, n);
    }
    ggb_free(mark);
    fprintf(out, "}\n");
    bool oom = sb.oom;
    ggt_sb_free(&sb);
    if (oom) {
        ggc_fail(g, "dot: out of memory formatting a label");
        return -1;
    }
    return ferror(out) ? (ggc_fail(g, "dot: write error"), -1) : 0;
}
