/* custom.c - users' own gates (gg_custom): the table's "custom" entry runs
 * them through trampolines, and each definition gets an entry of its own,
 * kept by its graph, that the teaching views read like any other. */
#include <stddef.h>
#include <string.h>

#include "gates/gates.h"

/* One definition as a graph keeps it, in one block the graph frees (its
 * owned list): a node's aux->gate points at the entry inside. */
typedef struct custom_gate {
    ggc_owned owned;
    ggc_gate entry;
    gg_gate_def def; /* the user's, with name and rule pointing at the copies */
    char text[];     /* name and rule */
} custom_gate;

static const custom_gate *custom_of(const gg_node *n)
{
    return (const custom_gate *)(const void *)((const char *)n->param.aux->gate -
                                               offsetof(custom_gate, entry));
}

/* The inputs side by side, as the user's callbacks take them. */
static int gather_inputs(const gg_node *n, gg_node **in)
{
    int k = ggc_nin(n);
    for (int i = 0; i < k; i++)
        in[i] = ggc_in(n, i);
    return k;
}

static bool custom_shape(gg_graph *g, const gg_node *n, ggc_shape *out)
{
    const custom_gate *c = custom_of(n);
    gg_node *in[GG_CUSTOM_MAX_INPUTS];
    gather_inputs(n, in);
    if (!c->def.shape) {
        out->rank = in[0]->rank;
        gg_shape(in[0], out->dims);
        return true;
    }
    char err[GG_ERRLEN] = "";
    int rank = -1;
    int64_t dims[GG_MAX_DIMS] = {0};
    if (c->def.shape(c->def.user, (const gg_node *const *)in, &rank, dims, err)) {
        ggc_fail(g, "%s: %s", c->entry.name, err[0] ? err : "its shape function refused the inputs");
        return false;
    }
    if (rank < 0 || rank > GG_MAX_DIMS) {
        ggc_fail(g, "%s: its shape function gave rank %d (expected 0..%d)", c->entry.name, rank, GG_MAX_DIMS);
        return false;
    }
    out->rank = rank;
    memcpy(out->dims, dims, sizeof dims);
    return true;
}

static void custom_forward(gg_node *n)
{
    const custom_gate *c = custom_of(n);
    gg_node *in[GG_CUSTOM_MAX_INPUTS];
    gather_inputs(n, in);
    c->def.forward(c->def.user, (const gg_node *const *)in, n);
}

static void custom_backward(gg_node *n)
{
    const custom_gate *c = custom_of(n);
    gg_node *in[GG_CUSTOM_MAX_INPUTS];
    gather_inputs(n, in);
    c->def.backward(c->def.user, in, n);
}

static double custom_local(const gg_node *n, int i, size_t k)
{
    const custom_gate *c = custom_of(n);
    gg_node *in[GG_CUSTOM_MAX_INPUTS];
    gather_inputs(n, in);
    return c->def.local(c->def.user, (const gg_node *const *)in, n, i, k);
}

/* The recording backward: the user's gradient callback, when given (the
 * entry has none otherwise, and gg_gradient names the gate). */
static bool custom_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    const custom_gate *c = custom_of(n);
    gg_node *in[GG_CUSTOM_MAX_INPUTS] = {0};
    int k = gather_inputs(n, in);
    if (c->def.gradient(c->def.user, g, in, n, up, din)) {
        if (!g->has_error)
            ggc_fail(g, "%s: its gradient callback failed", c->entry.name);
        return false;
    }
    for (int i = 0; i < k; i++)
        if (din[i] && (!ggc_owns(g, din[i]) || din[i]->dtype != in[i]->dtype ||
                       din[i]->rank != in[i]->rank ||
                       (in[i]->rank && memcmp(ggc_dims(din[i]), ggc_dims(in[i]),
                                              (size_t)in[i]->rank * sizeof(int64_t))))) {
            ggc_fail(g, "%s: its gradient callback gave din[%d] of another shape, dtype or "
                     "graph than in[%d]", c->entry.name, i, i);
            return false;
        }
    return true;
}

/* The table's entry: what the drivers run for every user's gate. */
const ggc_gate ggg_gate_custom = {
    .name = "custom",
    .arity = GGC_VARIADIC,
    .ordered = true,
    .rule = "a user's gate: its own backward passes the gradient on",
    .shape = custom_shape,
    .forward = custom_forward,
    .backward = custom_backward,
    .local = custom_local,
    .grad = custom_grad,
};

static bool same_def(const gg_gate_def *a, const gg_gate_def *b)
{
    return a->shape == b->shape && a->forward == b->forward && a->backward == b->backward &&
           a->local == b->local && a->gradient == b->gradient && a->user == b->user && a->arity == b->arity &&
           !strcmp(a->name, b->name) && !strcmp(a->rule, b->rule);
}

/* The graph's record of def, made on first use; NULL with the error set. */
static const custom_gate *entry_for(gg_graph *g, const gg_gate_def *def)
{
    for (ggc_owned *o = g->owned; o; o = o->next) {
        const custom_gate *c = (const custom_gate *)(const void *)o;
        if (o->kind == GGC_OWNED_GATE && same_def(&c->def, def))
            return c;
    }
    size_t nlen = strlen(def->name) + 1, rlen = strlen(def->rule) + 1;
    custom_gate *c = ggb_calloc(1, sizeof *c + nlen + rlen);
    if (!c)
        return ggc_fail(g, "%s: out of memory for the gate's definition", def->name);
    memcpy(c->text, def->name, nlen);
    memcpy(c->text + nlen, def->rule, rlen);
    c->def = *def;
    c->def.name = c->text;
    c->def.rule = c->text + nlen;
    c->entry = ggg_gate_custom;
    c->entry.name = c->def.name;
    c->entry.rule = c->def.rule;
    c->entry.arity = def->arity;
    c->entry.ordered = def->arity > 1;
    c->entry.local = def->local ? custom_local : NULL;
    c->entry.grad = def->gradient ? custom_grad : NULL;
    c->owned = (ggc_owned){.next = g->owned, .kind = GGC_OWNED_GATE};
    g->owned = &c->owned;
    return c;
}

gg_node *gg_custom(gg_graph *g, const gg_gate_def *def, gg_node *const *in)
{
    if (!g)
        return NULL;
    if (!def || !def->name || !def->rule || !def->forward || !def->backward)
        return ggc_fail(g, "custom gate: the definition needs a name, a rule, forward and backward");
    if (def->arity < 1 || def->arity > GG_CUSTOM_MAX_INPUTS)
        return ggc_fail(g, "%s: arity %d is out of range 1..%d", def->name, def->arity, GG_CUSTOM_MAX_INPUTS);
    if (!in)
        return NULL;
    const custom_gate *c = entry_for(g, def);
    return c ? ggc_record_custom(g, GG_GATE_custom, &c->entry, def->arity, in) : NULL;
}
