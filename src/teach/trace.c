/* trace.c - gate-level traces through the graph's hook: one line per gate
 * evaluated, one per gate's backward step in the lecture's words, and the
 * sum a value used several times receives (the copy gate, gradient adder).
 *
 * How much a gate gave each input is measured, not recomputed: the input's
 * gradient is read before (BACKWARD_BEGIN) and after (BACKWARD_END). */
#include <string.h>

#include "teach/teach.h"

struct gg_tracer {
    gg_graph *g;
    gg_trace_fn fn;
    void *ctx;
    gg_view_opts opts;
    ggt_sb line;
    /* The backward pass in progress, set up at its first gate. */
    size_t gates_left; /* gates still to run backward; 0 between passes */
    size_t nids;       /* length of the per-node-id arrays below */
    uint32_t *uses;    /* gates of this pass that pass gradient into the node */
    uint32_t *seen;    /* how many of them have done so */
    size_t *first;     /* where the node's contributions start in terms */
    double *terms;     /* each contribution (first element) ... */
    uint32_t *from;    /* ... and the gate that made it */
    double before[GGT_TRACED_INPUTS]; /* the gate's inputs' gradients at BACKWARD_BEGIN */
};

static void emit(gg_tracer *t)
{
    t->fn(t->line.oom ? "(trace: out of memory formatting this line)" : ggt_sb_str(&t->line),
          t->ctx);
    ggt_sb_clear(&t->line);
    t->line.oom = false;
}

/* The inputs a gate passes gradient to, each counted once (x * x has one),
 * at most GGT_TRACED_INPUTS of them. */
static int grad_inputs(const gg_node *n, const gg_node **in)
{
    int k = 0;
    for (int i = 0; i < ggc_nin(n) && k < GGT_TRACED_INPUTS; i++) {
        const gg_node *x = ggc_in(n, i);
        bool again = false;
        for (int j = 0; j < k && !again; j++)
            again = in[j] == x;
        if (ggc_needs_grad(x) && !again)
            in[k++] = x;
    }
    return k;
}

/* How many inputs past the traced in[0..k) receive gradient too (counted by
 * position): a trace says they are there without listing them. */
static int untraced_inputs(const gg_node *n, const gg_node *const *in, int k)
{
    int more = 0;
    for (int i = 0; k == GGT_TRACED_INPUTS && i < ggc_nin(n); i++) {
        const gg_node *x = ggc_in(n, i);
        bool traced = false;
        for (int j = 0; j < k && !traced; j++)
            traced = in[j] == x;
        more += ggc_needs_grad(x) && !traced;
    }
    return more;
}

static void forward_line(gg_tracer *t, const gg_node *n)
{
    ggt_sb *sb = &t->line;
    ggt_sb_printf(sb, "forward  ");
    ggt_sb_head(sb, t->g, n);
    ggt_sb_printf(sb, " = ");
    ggt_sb_call(sb, t->g, n, true, &t->opts);
    ggt_sb_printf(sb, " = ");
    ggt_sb_values(sb, n, false, &t->opts);
    emit(t);
}

/* ---- Setting up a backward pass ---------------------------------------------- */

static void *grow(void *p, size_t count, size_t size)
{
    return count ? ggb_realloc(p, count * size) : p;
}

static bool alloc_ids(gg_tracer *t, size_t nids)
{
    uint32_t *u = grow(t->uses, nids, sizeof *u);
    if (u)
        t->uses = u;
    uint32_t *s = grow(t->seen, nids, sizeof *s);
    if (s)
        t->seen = s;
    size_t *f = grow(t->first, nids + 1, sizeof *f);
    if (f)
        t->first = f;
    return u && s && f;
}

/* Counts, for every node of the pass from root, the gates that will pass
 * gradient into it, and makes room for one term per such edge. */
static bool begin_pass(gg_tracer *t, const gg_node *root)
{
    size_t nids = root->id + 1;
    uint8_t *mark = ggt_ancestors(t->g, root);
    if (!mark || !alloc_ids(t, nids)) {
        ggb_free(mark);
        return false;
    }
    memset(t->uses, 0, nids * sizeof *t->uses);
    memset(t->seen, 0, nids * sizeof *t->seen);
    t->gates_left = 0;
    for (size_t id = 0; id < nids; id++) {
        const gg_node *n = gg_node_at(t->g, id), *in[GGT_TRACED_INPUTS];
        if (!mark[id] || n->gate == GGC_GATE_LEAF || !ggc_needs_grad(n))
            continue;
        t->gates_left++;
        for (int k = grad_inputs(n, in); k-- > 0;)
            t->uses[in[k]->id]++;
    }
    ggb_free(mark);
    size_t edges = 0;
    for (size_t id = 0; id < nids; id++) {
        t->first[id] = edges;
        edges += t->uses[id];
    }
    double *terms = grow(t->terms, edges, sizeof *terms);
    if (terms)
        t->terms = terms;
    uint32_t *from = grow(t->from, edges, sizeof *from);
    if (from)
        t->from = from;
    t->nids = nids;
    return terms && from;
}

/* ---- One gate's backward step ------------------------------------------------ */

static void num(ggt_sb *sb, double v) { ggt_sb_num(sb, v); }

/* One {field} of a gate's formula (see ggc_gate.formula), spec[0..len):
 * a symbol or a value of the gate's inputs, output or param. */
static void formula_field(gg_tracer *t, const gg_node *n, int i, const char *spec, size_t len)
{
    ggt_sb *sb = &t->line;
    bool paren = len > 0 && spec[len - 1] == '(';
    if (paren)
        len--;
    bool value = len == 2 && spec[1] == '=';
    int which = spec[0] == 'a' ? 0 : spec[0] == 'b' ? 1 : 1 - i; /* {a}, {b}, {o} */
    double v;
    if (len == 1 && (spec[0] == 'X' || spec[0] == 'Y')) {
        ggt_sb_symbol(sb, t->g, spec[0] == 'X' ? ggc_in(n, i) : n, &t->opts);
        return;
    }
    if (len == 1 && spec[0] == 'x')
        v = gg_value(ggc_in(n, i));
    else if (len == 1 && spec[0] == 'y')
        v = gg_value(n);
    else if (len == 1 && spec[0] == 'p')
        v = n->param.f;
    else if (len == 2 && spec[0] == 'p' && spec[1] == '1')
        v = n->param.f - 1;
    else if (len == 1 && spec[0] == 'd')
        v = ggc_gate_of(n)->local(n, i, 0);
    else if (len == 1 || value) {
        if (!value) {
            ggt_sb_symbol(sb, t->g, ggc_in(n, which), &t->opts);
            return;
        }
        v = gg_value(ggc_in(n, which));
    } else {
        ggt_sb_printf(sb, "{%.*s}", (int)len, spec); /* a typo in a table entry shows as is */
        return;
    }
    ggt_sb_printf(sb, paren && v < 0 ? "(" : "");
    num(sb, v);
    ggt_sb_printf(sb, paren && v < 0 ? ")" : "");
}

/* Whether formula f goes on to numbers: " = " in its text outside braces. */
static bool shows_numbers(const char *f)
{
    for (const char *p = f; *p; p++) {
        if (*p == '{' && strchr(p, '}'))
            p = strchr(p, '}');
        else if (p[0] == ' ' && p[1] == '=' && p[2] == ' ')
            return true;
    }
    return false;
}

/* "how = numbers" for the gradient input i receives: the gate's formula
 * with the current values. Returns false when the text already ends in the
 * result. */
static bool formula(gg_tracer *t, const gg_node *n, int i, double up)
{
    ggt_sb *sb = &t->line;
    const ggc_gate *gate = ggc_gate_of(n);
    double local = gate->local(n, i, 0);
    const char *f = i < GGC_DESCRIBED_INPUTS ? gate->formula[i] : NULL;
    if (f && f[0] == '0') {
        ggt_sb_printf(sb, "%s", f);
        return false;
    }
    if (gate->routes && local == 0) {
        ggt_sb_printf(sb, "0 (routed to the other input)");
        return false;
    }
    if (!f) {
        ggt_sb_printf(sb, "local * upstream = ");
        num(sb, local);
    } else {
        for (const char *p = f; *p;) {
            const char *close = *p == '{' ? strchr(p, '}') : NULL;
            if (close) {
                formula_field(t, n, i, p + 1, (size_t)(close - p - 1));
                p = close + 1;
                continue;
            }
            size_t run = strcspn(p + 1, "{") + 1;
            ggt_sb_printf(sb, "%.*s", (int)run, p);
            p += run;
        }
        if (!shows_numbers(f))
            return true;
    }
    ggt_sb_printf(sb, " * ");
    num(sb, up);
    return true;
}

/* Scalars through a gate with a local derivative: every number shown. */
static void scalar_step(gg_tracer *t, const gg_node *n)
{
    ggt_sb *sb = &t->line;
    double up = gg_grad(n);
    const char *sep = "";
    for (int i = 0; i < ggc_nin(n); i++) {
        const gg_node *in = ggc_in(n, i);
        if (!ggc_needs_grad(in))
            continue;
        ggt_sb_printf(sb, "%sd", sep);
        ggt_sb_name(sb, t->g, in);
        ggt_sb_printf(sb, " = ");
        if (formula(t, n, i, up)) {
            ggt_sb_printf(sb, " = ");
            num(sb, up * ggc_gate_of(n)->local(n, i, 0));
        }
        sep = ", ";
    }
}

static bool all_scalar(const gg_node *n)
{
    bool ok = n->rank == 0 && ggc_gate_of(n)->local;
    for (int i = 0; ok && i < ggc_nin(n); i++)
        ok = ggc_in(n, i)->rank == 0;
    return ok;
}

static void backward_line(gg_tracer *t, const gg_node *n)
{
    ggt_sb *sb = &t->line;
    const ggc_gate *gate = ggc_gate_of(n);
    ggt_sb_printf(sb, "backward ");
    ggt_sb_head(sb, t->g, n);
    ggt_sb_printf(sb, " = ");
    ggt_sb_call(sb, t->g, n, false, &t->opts);
    ggt_sb_printf(sb, ": upstream ");
    ggt_sb_values(sb, n, true, &t->opts);
    ggt_sb_printf(sb, "; %s gate, %s", gate->name, gate->rule);
    if (all_scalar(n)) {
        ggt_sb_printf(sb, ": ");
        scalar_step(t, n);
    }
    const gg_node *in[GGT_TRACED_INPUTS];
    int k = grad_inputs(n, in);
    for (int i = 0; i < k; i++) {
        ggt_sb_printf(sb, i ? ", " : "; now ");
        ggt_sb_name(sb, t->g, in[i]);
        ggt_sb_printf(sb, ".grad = ");
        ggt_sb_values(sb, in[i], true, &t->opts);
    }
    int more = untraced_inputs(n, in, k);
    if (more)
        ggt_sb_printf(sb, "; and %d more inputs' gradients (not shown)", more);
    emit(t);
}

/* ---- Fan-out: a value used k times adds up k gradients ------------------------- */

static void fanout_line(gg_tracer *t, const gg_node *in)
{
    ggt_sb *sb = &t->line;
    uint32_t k = t->uses[in->id];
    ggt_sb_printf(sb, "backward ");
    ggt_sb_head(sb, t->g, in);
    ggt_sb_printf(sb, " is used by %u gates: copy gate, gradient adder: d", (unsigned)k);
    ggt_sb_name(sb, t->g, in);
    ggt_sb_printf(sb, " = ");
    if (in->rank) {
        ggt_sb_printf(sb, "the sum of %u contributions = ", (unsigned)k);
        ggt_sb_values(sb, in, true, &t->opts);
        emit(t);
        return;
    }
    double sum = 0;
    for (uint32_t j = 0; j < k; j++) {
        size_t at = t->first[in->id] + j;
        ggt_sb_printf(sb, j ? " + " : "");
        num(sb, t->terms[at]);
        ggt_sb_printf(sb, " (from ");
        ggt_sb_name(sb, t->g, gg_node_at(t->g, t->from[at]));
        ggt_sb_printf(sb, ")");
        sum += t->terms[at];
    }
    ggt_sb_printf(sb, " = ");
    num(sb, sum);
    emit(t);
}

/* Records what the gate gave each input, and shows the sum of every input
 * that has now received all of its contributions. */
static void record_terms(gg_tracer *t, const gg_node *n)
{
    const gg_node *in[GGT_TRACED_INPUTS];
    int k = grad_inputs(n, in);
    for (int i = 0; i < k; i++) {
        size_t at = t->first[in[i]->id] + t->seen[in[i]->id]++;
        t->terms[at] = gg_grad(in[i]) - t->before[i];
        t->from[at] = n->id;
    }
    for (int i = 0; i < k; i++)
        if (t->uses[in[i]->id] > 1 && t->seen[in[i]->id] == t->uses[in[i]->id])
            fanout_line(t, in[i]);
}

static int hook(gg_graph *g, gg_node *n, ggc_hook_phase phase, void *ctx)
{
    gg_tracer *t = ctx;
    const gg_node *in[GGT_TRACED_INPUTS];
    switch (phase) {
    case GGC_HOOK_FORWARD:
        forward_line(t, n);
        return 0;
    case GGC_HOOK_BACKWARD_BEGIN:
        if (t->gates_left == 0 && !begin_pass(t, n)) { /* the root runs first */
            ggc_fail(g, "trace: out of memory setting up the backward trace");
            return -1;
        }
        for (int k = grad_inputs(n, in); k-- > 0;)
            t->before[k] = gg_grad(in[k]);
        return 0;
    case GGC_HOOK_BACKWARD_END:
        backward_line(t, n);
        record_terms(t, n);
        t->gates_left--;
        return 0;
    }
    return 0;
}

/* ---- Attaching and detaching ---------------------------------------------------- */

gg_tracer *gg_trace_callback(gg_graph *g, gg_trace_fn fn, void *ctx, const gg_view_opts *opts)
{
    if (!g)
        return NULL;
    if (!fn)
        return ggc_fail(g, "trace: no output (the FILE or callback is NULL)");
    if (g->hook)
        return ggc_fail(g, "trace: the graph's hook is already in use (end the other tracer first)");
    gg_tracer *t = ggb_calloc(1, sizeof *t);
    if (!t)
        return ggc_fail(g, "trace: out of memory");
    *t = (gg_tracer){.g = g, .fn = fn, .ctx = ctx};
    if (opts)
        t->opts = *opts;
    ggc_set_hook(g, hook, t);
    return t;
}

static void to_file(const char *line, void *ctx)
{
    fputs(line, ctx);
    fputc('\n', ctx);
}

gg_tracer *gg_trace_file(gg_graph *g, FILE *out, const gg_view_opts *opts)
{
    if (g && !out)
        return ggc_fail(g, "trace: no output (the FILE or callback is NULL)");
    return gg_trace_callback(g, to_file, out, opts);
}

void gg_trace_end(gg_tracer *t)
{
    if (!t)
        return;
    if (t->g->hook_ctx == t)
        ggc_set_hook(t->g, NULL, NULL);
    ggt_sb_free(&t->line);
    ggb_free(t->uses);
    ggb_free(t->seen);
    ggb_free(t->first);
    ggb_free(t->terms);
    ggb_free(t->from);
    ggb_free(t);
}
