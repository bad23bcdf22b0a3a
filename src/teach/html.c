/* html.c - one self-contained page that steps through a graph gate by
 * gate: forward, then backward in reverse topological order.
 *
 * C does the work that must agree with the engine: it runs forward and
 * backward with a tracer attached (so every step's text is exactly what
 * `trace` prints), records after each backward step the gradients the
 * gate's output and inputs then hold and what each wire received, lays
 * the circuit out (layers by longest path from the leaves), and writes it
 * all as JSON in the page. The page's script (html_page.js, embedded at
 * build time) only draws and steps. For editing leaves, the elementwise
 * gates' formulas come from the gate table (ggc_gate.fwd_text,
 * local_text), translated here to JavaScript token by token; a graph with
 * any other gate is shown with its recorded numbers only.
 *
 * Safety: every string goes out as JSON with <, >, &, / and quotes escaped
 * (\u003c ...), inside a script of type application/json; the page builds
 * its DOM with textContent, never from markup. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "teach/html_page.h"
#include "teach/teach.h"

#define DEFAULT_MAX_GATES 500
#define MAX_CELLS 64 /* tensors up to this many elements get heatmaps */
#define MAX_OPERANDS GGT_TRACED_INPUTS

typedef struct hstep {
    uint32_t node;
    bool back;
    size_t line0, nlines; /* into cap.lines */
    size_t rec0, nrec;    /* into cap.recs */
    size_t c0;            /* into cap.contrib, nin(node) of them (capped) */
    int nc;
} hstep;

typedef struct hrec {
    uint32_t node;
    size_t v0, n; /* into cap.pool; n = 0: too big to show */
} hrec;

typedef struct hcontrib {
    double v;
    bool has;
} hcontrib;

typedef struct hcap {
    gg_graph *g;
    ggc_hook_fn inner;
    void *inner_ctx;
    ggt_sb text; /* every line, each ending in '\0' */
    size_t *lines;
    size_t nlines, caplines;
    hstep *steps;
    size_t nsteps, capsteps;
    hrec *recs;
    size_t nrecs, caprecs;
    double *pool;
    size_t npool, cappool;
    hcontrib *contrib;
    size_t ncontrib, capcontrib;
    double before[MAX_OPERANDS];
    bool oom;
} hcap;

/* Room for one more element of *arr (size bytes each); NULL when memory runs out. */
static void *push(hcap *c, void *arrp, size_t *n, size_t *cap, size_t size)
{
    void **arr = arrp;
    if (c->oom)
        return NULL;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        void *p = ggb_realloc(*arr, ncap * size);
        if (!p) {
            c->oom = true;
            return NULL;
        }
        *arr = p;
        *cap = ncap;
    }
    return (char *)*arr + (*n)++ * size;
}

static void collect_line(const char *line, void *ctx)
{
    hcap *c = ctx;
    /* Every line starts "forward" or "backward" but the tracer's own note
     * that it ran out of memory: a page must not show that as a step. */
    if (line[0] == '(') {
        c->oom = true;
        return;
    }
    size_t *at = push(c, &c->lines, &c->nlines, &c->caplines, sizeof *at);
    if (!at)
        return;
    *at = c->text.len;
    ggt_sb_printf(&c->text, "%s%c", line, '\0');
    c->oom |= c->text.oom;
}

/* Snapshots n's gradient (all elements when it is small enough). */
static void record_grad(hcap *c, const gg_node *n)
{
    hrec *r = push(c, &c->recs, &c->nrecs, &c->caprecs, sizeof *r);
    if (!r)
        return;
    size_t numel = ggc_numel(n);
    *r = (hrec){.node = n->id, .v0 = c->npool, .n = numel <= MAX_CELLS ? numel : 0};
    for (size_t k = 0; k < r->n; k++) {
        double *v = push(c, &c->pool, &c->npool, &c->cappool, sizeof *v);
        if (!v)
            return;
        *v = gg_grad_at(n, k);
    }
}

static bool first_use(const gg_node *n, int i)
{
    for (int j = 0; j < i; j++)
        if (ggc_in(n, j) == ggc_in(n, i))
            return false;
    return true;
}

static bool scalar_local(const gg_node *n)
{
    bool ok = n->rank == 0 && ggc_gate_of(n)->local;
    for (int i = 0; ok && i < ggc_nin(n); i++)
        ok = ggc_in(n, i)->rank == 0;
    return ok;
}

static int cap_hook(gg_graph *g, gg_node *n, ggc_hook_phase phase, void *ctx)
{
    hcap *c = ctx;
    int nin = ggc_nin(n) < MAX_OPERANDS ? ggc_nin(n) : MAX_OPERANDS;
    size_t at = c->nsteps;
    if (phase == GGC_HOOK_FORWARD || phase == GGC_HOOK_BACKWARD_END) {
        hstep *s = push(c, &c->steps, &c->nsteps, &c->capsteps, sizeof *s);
        if (s)
            *s = (hstep){.node = n->id, .back = phase == GGC_HOOK_BACKWARD_END,
                         .line0 = c->nlines, .rec0 = c->nrecs, .c0 = c->ncontrib};
    }
    if (phase == GGC_HOOK_BACKWARD_BEGIN)
        for (int i = 0; i < nin; i++)
            c->before[i] = ggc_in(n, i)->rank == 0 ? gg_grad(ggc_in(n, i)) : 0;
    int rc = c->inner(g, n, phase, c->inner_ctx);
    if (c->oom || at == c->nsteps)
        return rc;
    if (phase == GGC_HOOK_BACKWARD_END) {
        record_grad(c, n);
        bool exact = scalar_local(n);
        for (int i = 0; i < nin; i++) {
            const gg_node *x = ggc_in(n, i);
            if (first_use(n, i) && ggc_needs_grad(x))
                record_grad(c, x);
            hcontrib *h = push(c, &c->contrib, &c->ncontrib, &c->capcontrib, sizeof *h);
            if (!h)
                break;
            *h = (hcontrib){0};
            if (!ggc_needs_grad(x))
                continue;
            if (exact)
                *h = (hcontrib){gg_grad(n) * ggc_gate_of(n)->local(n, i, 0), true};
            else if (x->rank == 0 && first_use(n, i))
                *h = (hcontrib){gg_grad(x) - c->before[i], true};
        }
    }
    if (c->oom)
        return rc;
    hstep *s = &c->steps[at];
    s->nlines = c->nlines - s->line0;
    s->nrec = c->nrecs - s->rec0;
    s->nc = (int)(c->ncontrib - s->c0);
    return rc;
}

static void cap_free(hcap *c)
{
    ggt_sb_free(&c->text);
    ggb_free(c->lines);
    ggb_free(c->steps);
    ggb_free(c->recs);
    ggb_free(c->pool);
    ggb_free(c->contrib);
}

/* ---- JSON (the escaping is common.c's) ------------------------------------------ */

static void jvalues(FILE *out, const gg_node *n, bool grad)
{
    if (n->rank == 0) {
        ggt_json_num(out, grad ? gg_grad(n) : gg_value(n));
        return;
    }
    size_t numel = ggc_numel(n);
    if (numel > MAX_CELLS) {
        fputs("null", out);
        return;
    }
    fputc('[', out);
    for (size_t k = 0; k < numel; k++) {
        fputs(k ? "," : "", out);
        ggt_json_num(out, grad ? gg_grad_at(n, k) : gg_value_at(n, k));
    }
    fputc(']', out);
}

/* ---- Gate formulas in JavaScript ----------------------------------------------- */

static const char *const js_names[][2] = {
    {"x", "x"}, {"y", "y"}, {"p", "p"}, {"a", "a"}, {"b", "b"}, {"z", "z"},
    {"exp", "Math.exp"}, {"log", "Math.log"}, {"tanh", "Math.tanh"}, {"sin", "Math.sin"},
    {"cos", "Math.cos"}, {"sqrt", "Math.sqrt"}, {"fabs", "Math.abs"}, {"pow", "Math.pow"},
    {"expm1", "Math.expm1"}, {"log1p", "Math.log1p"}, {"erf", "ggErf"},
    {"SQRT1_2", "Math.SQRT1_2"}, {"INV_SQRT_2PI", "0.39894228040143267794"},
};

/* A C expression of the gate table in JavaScript, token by token; false
 * (nothing usable in sb) when it holds anything not known to mean the same. */
static bool to_js(ggt_sb *sb, const char *c)
{
    for (const char *p = c; *p;) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_') {
            size_t len = 1;
            while ((p[len] >= 'a' && p[len] <= 'z') || (p[len] >= 'A' && p[len] <= 'Z') ||
                   (p[len] >= '0' && p[len] <= '9') || p[len] == '_')
                len++;
            size_t k = 0, nk = sizeof js_names / sizeof js_names[0];
            while (k < nk && !(strlen(js_names[k][0]) == len && !strncmp(js_names[k][0], p, len)))
                k++;
            if (k == nk)
                return false;
            ggt_sb_printf(sb, "%s", js_names[k][1]);
            p += len;
        } else if ((*p >= '0' && *p <= '9') || *p == '.') {
            size_t len = strspn(p, "0123456789.");
            if (p[len] == 'e' || p[len] == 'E' || p[len] == 'f')
                return false;
            ggt_sb_printf(sb, "%.*s", (int)len, p);
            p += len;
        } else if (strchr("+-*/()?:<>=!&| ,", *p)) {
            ggt_sb_printf(sb, "%c", *p);
            p++;
        } else {
            return false;
        }
    }
    return !sb->oom;
}

/* The page's evaluator of gate gate: a line of script, or false. */
static bool gate_js(ggt_sb *sb, const ggc_gate *gate)
{
    if (!gate->fwd_text || !gate->local_text[0] || gate->arity < 1 || gate->arity > 2)
        return false;
    bool unary = gate->arity == 1;
    /* Gate names are identifiers of the table, never a user's text. */
    ggt_sb_printf(sb, "GG_FN['%s'] = {f: function (%s) { return (", gate->name, unary ? "x, p" : "a, b");
    bool ok = to_js(sb, gate->fwd_text);
    ggt_sb_printf(sb, "); }, d: [");
    for (int i = 0; ok && i < gate->arity; i++) {
        if (!gate->local_text[i])
            return false;
        ggt_sb_printf(sb, "%sfunction (%s) { return (", i ? ", " : "", unary ? "x, y, p" : "a, b, z");
        ok = to_js(sb, gate->local_text[i]);
        ggt_sb_printf(sb, "); }");
    }
    ggt_sb_printf(sb, "]};\n");
    return ok && !sb->oom;
}

/* ---- Layout --------------------------------------------------------------------- */

typedef struct hnode {
    const gg_node *n;
    int layer, rows, cols;
    double x, y, w, h, order;
} hnode;

static void cells(const gg_node *n, int *rows, int *cols)
{
    int64_t d[GG_MAX_DIMS];
    int r = gg_shape(n, d);
    *rows = 1;
    *cols = r ? (int)d[r - 1] : 1;
    for (int i = 0; i + 1 < r; i++)
        *rows *= (int)d[i];
}

static int by_order(const void *pa, const void *pb)
{
    const hnode *a = *(hnode *const *)pa, *b = *(hnode *const *)pb;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    if (a->order != b->order)
        return a->order < b->order ? -1 : 1;
    return a->n->id < b->n->id ? -1 : 1;
}

/* Layers by longest path from the leaves, leaves one left of their first
 * consumer; within a layer, gates near their inputs (barycenters). */
static bool layout(hnode *hn, size_t count, const uint32_t *idx)
{
    for (size_t i = 0; i < count; i++) {
        const gg_node *n = hn[i].n;
        hn[i].layer = 0;
        for (int k = 0; k < ggc_nin(n); k++) {
            int l = hn[idx[ggc_in(n, k)->id]].layer + 1;
            hn[i].layer = l > hn[i].layer ? l : hn[i].layer;
        }
    }
    for (size_t i = 0; i < count; i++)
        if (hn[i].n->gate == GGC_GATE_LEAF)
            hn[i].layer = -1;
    for (size_t i = count; i-- > 0;) /* consumers have larger indices */
        for (int k = 0; hn[i].n->gate != GGC_GATE_LEAF && k < ggc_nin(hn[i].n); k++) {
            hnode *in = &hn[idx[ggc_in(hn[i].n, k)->id]];
            if (in->n->gate == GGC_GATE_LEAF && (in->layer < 0 || hn[i].layer - 1 < in->layer))
                in->layer = hn[i].layer - 1;
        }
    for (size_t i = 0; i < count; i++) {
        hn[i].layer = hn[i].layer < 0 ? 0 : hn[i].layer;
        const gg_node *n = hn[i].n;
        bool leaf = n->gate == GGC_GATE_LEAF;
        cells(n, &hn[i].rows, &hn[i].cols);
        if (n->rank && ggc_numel(n) <= MAX_CELLS) {
            hn[i].w = fmax(120, 2 * hn[i].cols * 14 + 36);
            hn[i].h = hn[i].rows * 14 + 44;
        } else if (n->rank) {
            hn[i].w = 170, hn[i].h = 66;
        } else {
            hn[i].w = leaf ? 100 : 56, hn[i].h = leaf ? 44 : 56;
        }
        hn[i].order = (double)i;
    }
    hnode **sorted = ggb_malloc(count * sizeof *sorted);
    if (!sorted)
        return false;
    int layers = 0;
    for (size_t i = 0; i < count; i++)
        layers = hn[i].layer + 1 > layers ? hn[i].layer + 1 : layers;
    /* Rows: id order, then each gate at the mean row of its inputs. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < count; i++)
            sorted[i] = &hn[i];
        qsort(sorted, count, sizeof *sorted, by_order);
        for (size_t i = 0, row = 0; i < count; i++) {
            row = i && sorted[i]->layer != sorted[i - 1]->layer ? 0 : row;
            sorted[i]->order = (double)row++;
        }
        for (size_t i = 0; pass == 0 && i < count; i++) {
            const gg_node *n = hn[i].n;
            if (n->gate == GGC_GATE_LEAF || !ggc_nin(n))
                continue;
            double sum = 0;
            for (int k = 0; k < ggc_nin(n); k++)
                sum += hn[idx[ggc_in(n, k)->id]].order;
            hn[i].order = sum / ggc_nin(n) + 1e-6 * (double)i;
        }
    }
    double x = 30;
    for (int l = 0; l < layers; l++) {
        double w = 0, y = 60;
        for (size_t i = 0; i < count; i++)
            if (sorted[i]->layer == l) {
                sorted[i]->x = x;
                sorted[i]->y = y;
                y += sorted[i]->h + 70;
                w = fmax(w, sorted[i]->w);
            }
        for (size_t i = 0; i < count; i++) /* centre narrower nodes in their column */
            if (sorted[i]->layer == l)
                sorted[i]->x += (w - sorted[i]->w) / 2;
        x += w + 170;
    }
    ggb_free(sorted);
    return true;
}

/* ---- The page ---------------------------------------------------------------------- */

static void write_lines(FILE *out, const char *const *lines)
{
    for (const char *const *l = lines; *l; l++)
        fputs(*l, out);
}

/* korean: the rule sentence in Korean where the gate has one. */
static void write_node(FILE *out, gg_graph *g, const hnode *h, const uint32_t *idx,
                       const char *fn_ok, const gg_view_opts *vo, ggt_sb *sb, bool korean)
{
    const gg_node *n = h->n;
    bool leaf = n->gate == GGC_GATE_LEAF;
    const ggc_gate *gate = ggc_gate_of(n);
    fputs("{\"name\":", out);
    ggt_sb_clear(sb);
    ggt_sb_name(sb, g, n);
    ggt_json_str(out, ggt_sb_str(sb));
    fprintf(out, ",\"id\":%u,\"labelled\":%s", n->id, gg_label(g, n) ? "true" : "false");
    fputs(",\"kind\":", out);
    ggt_json_str(out, leaf ? (ggc_needs_grad(n) ? "var" : "const") : "gate");
    fprintf(out, ",\"ng\":%s", ggc_needs_grad(n) ? "true" : "false");
    if (!leaf) {
        fputs(",\"gate\":", out);
        ggt_json_str(out, gate->name);
        fputs(",\"rule\":", out);
        const char *rule = korean && gate->rule_ko ? gate->rule_ko : gate->rule;
        ggt_json_str(out, rule ? rule : "");
        fprintf(out, ",\"routes\":%s,\"fn\":%s", gate->routes ? "true" : "false",
                fn_ok[n->gate] == 1 ? "true" : "false");
        /* The number the page's formulas call p (pow's exponent, leaky
         * relu's slope); other gates' params are not numbers. */
        double p[4] = {0};
        int np = gate->param == GGC_PARAM_NUMBER ? ggc_params(n, p) : 0;
        fputs(",\"param\":", out);
        ggt_json_num(out, np ? p[0] : 0);
        fputs(",\"in\":[", out);
        for (int k = 0; k < ggc_nin(n); k++)
            fprintf(out, "%s%u", k ? "," : "", idx[ggc_in(n, k)->id]);
        fputs("],\"wires\":[", out);
        for (int k = 0; k < ggc_nin(n); k++) {
            const char *w = gate->ordered && k < GGC_DESCRIBED_INPUTS ? gate->wire[k] : NULL;
            fputs(k ? "," : "", out);
            if (w)
                ggt_json_str(out, w);
            else if (gate->ordered)
                fprintf(out, "\"%c\"", 'a' + (k % 26));
            else
                fputs("null", out);
        }
        fputc(']', out);
    }
    int64_t d[GG_MAX_DIMS];
    int r = gg_shape(n, d);
    fprintf(out, ",\"rank\":%d,\"shape\":[", r);
    for (int i = 0; i < r; i++)
        fprintf(out, "%s%lld", i ? "," : "", (long long)d[i]);
    fprintf(out, "],\"rows\":%d,\"cols\":%d", h->rows, h->cols);
    fputs(",\"value\":", out);
    jvalues(out, n, false);
    if (n->rank) {
        fputs(",\"summary\":", out);
        ggt_sb_clear(sb);
        ggt_sb_values(sb, n, false, vo);
        ggt_json_str(out, ggt_sb_str(sb));
        if (ggc_needs_grad(n)) {
            fputs(",\"gsummary\":", out);
            ggt_sb_clear(sb);
            ggt_sb_values(sb, n, true, vo);
            ggt_json_str(out, ggt_sb_str(sb));
        }
    }
    fprintf(out, ",\"x\":%.1f,\"y\":%.1f,\"w\":%.1f,\"h\":%.1f}", h->x, h->y, h->w, h->h);
}

static void write_steps(FILE *out, const hcap *c, const uint32_t *idx)
{
    fputs("\"steps\":[", out);
    for (size_t s = 0; s < c->nsteps; s++) {
        const hstep *st = &c->steps[s];
        fprintf(out, "%s\n{\"k\":\"%c\",\"n\":%u,\"lines\":[", s ? "," : "", st->back ? 'b' : 'f',
                idx[st->node]);
        for (size_t l = 0; l < st->nlines; l++) {
            fputs(l ? "," : "", out);
            ggt_json_str(out, c->text.buf + c->lines[st->line0 + l]);
        }
        fputs("],\"g\":[", out);
        for (size_t r = 0; r < st->nrec; r++) {
            const hrec *rec = &c->recs[st->rec0 + r];
            fprintf(out, "%s[%u,", r ? "," : "", idx[rec->node]);
            const gg_node *n = gg_node_at(c->g, rec->node);
            if (n->rank == 0) {
                ggt_json_num(out, c->pool[rec->v0]);
            } else if (!rec->n) {
                fputs("null", out);
            } else {
                fputc('[', out);
                for (size_t k = 0; k < rec->n; k++) {
                    fputs(k ? "," : "", out);
                    ggt_json_num(out, c->pool[rec->v0 + k]);
                }
                fputc(']', out);
            }
            fputc(']', out);
        }
        fputs("],\"c\":[", out);
        for (int k = 0; k < st->nc; k++) {
            fputs(k ? "," : "", out);
            if (c->contrib[st->c0 + (size_t)k].has)
                ggt_json_num(out, c->contrib[st->c0 + (size_t)k].v);
            else
                fputs("null", out);
        }
        fputs("]}", out);
    }
    fputs("]", out);
}

static int write_page(FILE *out, gg_graph *g, gg_node *root, const gg_html_opts *o,
                      const hcap *c, hnode *hn, size_t count, const uint32_t *idx)
{
    ggt_sb sb = {0}, fns = {0};
    gg_view_opts vo = {0};
    /* Which gates the page can evaluate: 1 yes, 2 no, 0 not used. */
    char *fn_ok = ggb_calloc(ggc_gate_count + 1, 1);
    if (!fn_ok)
        return -1;
    bool editable = true;
    for (size_t i = 0; i < count; i++) {
        const gg_node *n = hn[i].n;
        if (n->rank)
            editable = false;
        if (n->gate == GGC_GATE_LEAF)
            continue;
        if (n->gate == GGC_GATE_CUSTOM) {
            editable = false;
            continue;
        }
        if (!fn_ok[n->gate]) {
            size_t mark = fns.len;
            ggt_sb_printf(&fns, "%s", "");
            if (gate_js(&fns, ggc_gates[n->gate])) {
                fn_ok[n->gate] = 1;
            } else {
                fn_ok[n->gate] = 2;
                fns.len = mark;
                if (fns.buf)
                    fns.buf[mark] = '\0';
            }
        }
        if (fn_ok[n->gate] != 1)
            editable = false;
    }
    const char *lang = o && o->lang && !strcmp(o->lang, "ko") ? "ko" : "en";
    ggt_sb_name(&sb, g, root);
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n", lang);
    fputs(GGT_CSP_META, out);
    fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
    /* The title is text: written with its <, >, & and quotes as entities. */
    const char *title = o && o->title ? o->title : NULL;
    ggt_sb title_sb = {0};
    if (!title) {
        ggt_sb_printf(&title_sb, "gategrad: %s", ggt_sb_str(&sb));
        title = ggt_sb_str(&title_sb);
    }
    ggt_html_text(out, title);
    fputs("</title>\n<style>\n", out);
    write_lines(out, ggt_html_css);
    fputs("</style>\n</head>\n<body>\n", out);
    write_lines(out, ggt_html_body);
    fputs("<script type=\"application/json\" id=\"gg-data\">\n{\"title\":", out);
    ggt_json_str(out, title);
    fputs(",\"lang\":", out);
    ggt_json_str(out, lang);
    fprintf(out, ",\"editable\":%s,\"root\":%u,\n\"nodes\":[", editable ? "true" : "false",
            idx[root->id]);
    for (size_t i = 0; i < count; i++) {
        fputs(i ? ",\n" : "\n", out);
        write_node(out, g, &hn[i], idx, fn_ok, &vo, &sb, !strcmp(lang, "ko"));
    }
    fputs("],\n", out);
    write_steps(out, c, idx);
    fputs("}\n</script>\n<script>\n'use strict';\nvar GG_FN = {};\n", out);
    fputs(ggt_sb_str(&fns), out);
    fputs("</script>\n<script>\n", out);
    write_lines(out, ggt_html_js);
    fputs("</script>\n</body>\n</html>\n", out);
    bool oom = sb.oom || fns.oom || title_sb.oom;
    ggt_sb_free(&sb);
    ggt_sb_free(&fns);
    ggt_sb_free(&title_sb);
    ggb_free(fn_ok);
    return oom ? -1 : 0;
}

int gg_html(gg_graph *g, gg_node *root, FILE *out, const gg_html_opts *opts)
{
    if (!g)
        return -1;
    if (!root || !ggt_teach_owns(g, root)) {
        ggc_fail(g, "html: the root is NULL or not a node of this graph");
        return -1;
    }
    if (!out) {
        ggc_fail(g, "html: no output (the FILE is NULL)");
        return -1;
    }
    size_t max_gates = opts && opts->max_gates ? opts->max_gates : DEFAULT_MAX_GATES;
    uint8_t *mark = ggt_ancestors(g, root);
    if (!mark) {
        ggc_fail(g, "html: out of memory");
        return -1;
    }
    size_t count = 0, gates = 0;
    for (size_t id = 0; id <= root->id; id++) {
        count += mark[id];
        gates += mark[id] && gg_node_at(g, id)->gate != GGC_GATE_LEAF;
    }
    if (gates > max_gates) {
        ggb_free(mark);
        ggc_fail(g,
                 "html: the graph has %zu gates, more than the %zu a page can show; draw a part "
                 "of it: a node nearer the inputs as the root, a smaller expression, or fewer "
                 "layers",
                 gates, max_gates);
        return -1;
    }
    uint32_t *idx = ggb_malloc((root->id + 1) * sizeof *idx);
    hnode *hn = ggb_calloc(count ? count : 1, sizeof *hn);
    hcap c = {.g = g};
    int rc = -1;
    if (!idx || !hn) {
        ggc_fail(g, "html: out of memory");
        goto done;
    }
    for (size_t id = 0, i = 0; id <= root->id; id++)
        if (mark[id]) {
            idx[id] = (uint32_t)i;
            hn[i++].n = gg_node_at(g, id);
        }
    if (!layout(hn, count, idx)) {
        ggc_fail(g, "html: out of memory");
        goto done;
    }
    gg_tracer *t = gg_trace_callback(g, collect_line, &c, NULL);
    if (!t) /* the message says why (the hook slot is taken) */
        goto done;
    c.inner = g->hook;
    c.inner_ctx = g->hook_ctx;
    ggc_set_hook(g, cap_hook, &c);
    gg_zero_grad(g);
    int run = gg_forward(g, root);
    if (!run && ggc_needs_grad(root))
        run = gg_backward(g, root);
    ggc_set_hook(g, c.inner, c.inner_ctx);
    gg_trace_end(t);
    if (run)
        goto done; /* gg_error says what went wrong */
    if (c.oom || write_page(out, g, root, opts, &c, hn, count, idx)) {
        ggc_fail(g, "html: out of memory");
        goto done;
    }
    if (fflush(out) || ferror(out)) {
        ggc_fail(g, "html: writing the page failed");
        goto done;
    }
    rc = 0;
done:
    cap_free(&c);
    ggb_free(idx);
    ggb_free(hn);
    ggb_free(mark);
    return rc;
}
