/* gradient.c - gradients recorded as graphs (gategrad/higher.h): the reverse
 * sweep that records, gg_hvp and the dense Hessian on top of it, and
 * gg_gradgradcheck.
 *
 * The sweep walks root's ancestors in reverse topological order (the
 * cached order, copied: recording does not disturb it, but a gg_forward of
 * another root would), an explicit array and no recursion. Each node's
 * gradient is a node: the seed for the root, and for every other node the
 * gg_add of the contributions its consumers' recording backwards
 * (ggc_gate.grad) gave it. Only nodes on a path from a variable asked for
 * to the root are visited, so a gate elsewhere (a custom gate without a
 * recording backward, say) costs nothing and does not fail the call. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "gategrad/higher.h"

#define NO_POS UINT32_MAX

static bool same_shape(const gg_node *a, const gg_node *b)
{
    return a->rank == b->rank &&
           (!a->rank || !memcmp(ggc_dims(a), ggc_dims(b), (size_t)a->rank * sizeof(int64_t)));
}

/* A constant of zeros of like's shape and dtype. */
static gg_node *zeros_like(gg_graph *g, const gg_node *like)
{
    return gg_input(g, (gg_dtype)like->dtype, like->rank, ggc_dims(like), NULL);
}

static gg_node *ones_like(gg_graph *g, const gg_node *like)
{
    if (!like->rank)
        return gg_constant(g, (gg_dtype)like->dtype, 1.0);
    gg_node *r = zeros_like(g, like);
    for (size_t k = 0; r && k < ggc_numel(r); k++)
        ggb_put(r->dtype, ggc_val(r), k, 1.0);
    return r;
}

static bool check_node(gg_graph *g, const char *what, const gg_node *n, size_t i)
{
    if (!n) {
        ggc_fail(g, "gradient: %s[%zu] is NULL", what, i);
        return false;
    }
    if (!ggc_owns(g, n)) {
        ggc_fail(g, "gradient: %s[%zu] is a node of another graph", what, i);
        return false;
    }
    return true;
}

typedef struct sweep {
    gg_node **order;
    size_t len;
    uint32_t *pos; /* by node id (up to root's): where the node is in order */
    gg_node **acc; /* by position: the node's gradient so far, or NULL */
    bool *reach;   /* by position: on a path from a variable asked for */
    bool *want;    /* scratch: the inputs a builder is asked for */
    gg_node **din; /* scratch: what it gives them */
} sweep;

static void sweep_free(sweep *s)
{
    ggb_free(s->order);
    ggb_free(s->pos);
    ggb_free(s->acc);
    ggb_free(s->reach);
    ggb_free(s->want);
    ggb_free(s->din);
}

static size_t pos_of(const sweep *s, const gg_node *root, const gg_node *n)
{
    if (n->id > root->id || s->pos[n->id] == NO_POS)
        return SIZE_MAX;
    return s->pos[n->id];
}

/* One gate's recording backward: its contributions added into acc. */
static int record_node(gg_graph *g, sweep *s, const gg_node *root, size_t k)
{
    gg_node *n = s->order[k];
    int nin = ggc_nin(n);
    bool any = false;
    for (int i = 0; i < nin; i++) {
        gg_node *x = ggc_in(n, i);
        size_t p = pos_of(s, root, x);
        s->want[i] = ggc_needs_grad(x) && p != SIZE_MAX && s->reach[p];
        s->din[i] = NULL;
        any |= s->want[i];
    }
    if (!any)
        return 0;
    const ggc_gate *gate = ggc_gate_of(n);
    const char *label = gg_label(g, n);
    if (!gate->grad) {
        ggc_fail(g, "gradient: gate '%s' (node %u%s%s%s) cannot record its backward: give its "
                 "gg_gate_def a gradient callback", gate->name, n->id, label ? " '" : "",
                 label ? label : "", label ? "'" : "");
        return -1;
    }
    if (!gate->grad(g, n, s->acc[k], s->want, s->din)) {
        if (!g->has_error)
            ggc_fail(g, "gradient: the recording backward of '%s' (node %u) failed", gate->name, n->id);
        return -1;
    }
    for (int i = 0; i < nin; i++) {
        gg_node *x = ggc_in(n, i), *d = s->din[i];
        if (!s->want[i] || !d)
            continue;
        if (!same_shape(d, x) || d->dtype != x->dtype) {
            char sd[64], sx[64];
            ggc_fail(g, "gradient: the recording backward of '%s' (node %u) gave input %d a "
                     "gradient %s %s for %s %s", gate->name, n->id, i, gg_shape_str(d, sd, sizeof sd),
                     gg_dtype_name((gg_dtype)d->dtype), gg_shape_str(x, sx, sizeof sx),
                     gg_dtype_name((gg_dtype)x->dtype));
            return -1;
        }
        size_t p = pos_of(s, root, x);
        s->acc[p] = s->acc[p] ? gg_add(g, s->acc[p], d) : d;
        if (!s->acc[p])
            return -1;
    }
    return 0;
}

static int run_sweep(gg_graph *g, gg_node *root, gg_node *seed, size_t n, gg_node *const *wrt,
                     gg_node **out)
{
    sweep s = {0};
    gg_node **o = ggc_order(g, root, &s.len);
    if (!o)
        return -1;
    size_t ids = (size_t)root->id + 1;
    int maxin = 2;
    s.order = ggb_malloc(s.len * sizeof *s.order);
    s.pos = ggb_malloc(ids * sizeof *s.pos);
    s.acc = ggb_calloc(s.len, sizeof *s.acc);
    s.reach = ggb_calloc(s.len, sizeof *s.reach);
    if (!s.order || !s.pos || !s.acc || !s.reach) {
        sweep_free(&s);
        return ggc_fail(g, "gradient: out of memory"), -1;
    }
    memcpy(s.order, o, s.len * sizeof *s.order);
    memset(s.pos, 0xff, ids * sizeof *s.pos);
    for (size_t k = 0; k < s.len; k++) {
        s.pos[s.order[k]->id] = (uint32_t)k;
        if (ggc_nin(s.order[k]) > maxin)
            maxin = ggc_nin(s.order[k]);
    }
    s.want = ggb_malloc((size_t)maxin * sizeof *s.want);
    s.din = ggb_malloc((size_t)maxin * sizeof *s.din);
    if (!s.want || !s.din) {
        sweep_free(&s);
        return ggc_fail(g, "gradient: out of memory"), -1;
    }
    /* Which nodes lie on a path from a variable asked for: ascending ids. */
    for (size_t i = 0; i < n; i++) {
        size_t p = pos_of(&s, root, wrt[i]);
        if (p != SIZE_MAX)
            s.reach[p] = true;
    }
    for (size_t k = s.len; k-- > 0;) {
        gg_node *x = s.order[k];
        if (s.reach[k] || !ggc_needs_grad(x))
            continue;
        for (int i = 0, nin = ggc_nin(x); i < nin && !s.reach[k]; i++) {
            size_t p = pos_of(&s, root, ggc_in(x, i));
            s.reach[k] = p != SIZE_MAX && s.reach[p];
        }
    }
    s.acc[0] = seed;
    int rc = 0;
    for (size_t k = 0; k < s.len && rc == 0; k++)
        if (s.acc[k] && s.reach[k] && s.order[k]->gate != GGC_GATE_LEAF && ggc_needs_grad(s.order[k]))
            rc = record_node(g, &s, root, k);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t p = pos_of(&s, root, wrt[i]);
        out[i] = p != SIZE_MAX && s.acc[p] ? s.acc[p] : zeros_like(g, wrt[i]);
        if (!out[i])
            rc = -1;
    }
    if (rc)
        for (size_t i = 0; i < n; i++)
            out[i] = NULL;
    sweep_free(&s);
    return rc;
}

int gg_gradient_seed(gg_graph *g, gg_node *root, gg_node *seed, size_t n, gg_node *const *wrt,
                     gg_node **out)
{
    if (!g)
        return -1;
    if (!out || (n && !wrt))
        return ggc_fail(g, "gradient: wrt and out must not be NULL"), -1;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (!root || !ggc_owns(g, root))
        return ggc_fail(g, "gradient: root is %s", root ? "a node of another graph" : "NULL"), -1;
    if (!seed || !ggc_owns(g, seed))
        return ggc_fail(g, "gradient: seed is %s", seed ? "a node of another graph" : "NULL"), -1;
    if (!same_shape(seed, root) || seed->dtype != root->dtype) {
        char sr[64], ss[64];
        return ggc_fail(g, "gradient: seed %s %s does not match root %s %s",
                        gg_shape_str(seed, ss, sizeof ss), gg_dtype_name((gg_dtype)seed->dtype),
                        gg_shape_str(root, sr, sizeof sr), gg_dtype_name((gg_dtype)root->dtype)),
               -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!check_node(g, "wrt", wrt[i], i))
            return -1;
        if (!ggc_needs_grad(wrt[i]))
            return ggc_fail(g, "gradient: wrt[%zu] (node %u) carries no gradient (a constant, or "
                            "computed from constants only)", i, wrt[i]->id), -1;
    }
    return run_sweep(g, root, seed, n, wrt, out);
}

int gg_gradient(gg_graph *g, gg_node *root, size_t n, gg_node *const *wrt, gg_node **out)
{
    if (!g)
        return -1;
    if (!root || !ggc_owns(g, root)) {
        for (size_t i = 0; out && i < n; i++)
            out[i] = NULL;
        return ggc_fail(g, "gradient: root is %s", root ? "a node of another graph" : "NULL"), -1;
    }
    if (ggc_numel(root) != 1) {
        char sr[64];
        for (size_t i = 0; out && i < n; i++)
            out[i] = NULL;
        return ggc_fail(g, "gradient: root %s holds %zu elements, not one (gg_gradient_seed takes "
                        "a seed)", gg_shape_str(root, sr, sizeof sr), ggc_numel(root)), -1;
    }
    gg_node *seed = ones_like(g, root);
    return seed ? gg_gradient_seed(g, root, seed, n, wrt, out) : -1;
}

/* sum_i <a[i], b[i]> as one node of dtype dt. */
static gg_node *inner_sum(gg_graph *g, size_t n, gg_node *const *a, gg_node *const *b, gg_dtype dt)
{
    gg_node *s = NULL;
    for (size_t i = 0; i < n; i++) {
        gg_node *t = gg_sum(g, gg_mul(g, a[i], b[i]));
        if (t && t->dtype != dt)
            t = gg_cast(g, t, dt);
        s = s ? gg_add(g, s, t) : t;
        if (!s)
            return NULL;
    }
    return s;
}

int gg_hvp(gg_graph *g, gg_node *root, size_t n, gg_node *const *wrt, gg_node *const *v,
           gg_node **out)
{
    if (!g)
        return -1;
    if (!out || (n && (!wrt || !v)))
        return ggc_fail(g, "hvp: wrt, v and out must not be NULL"), -1;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (!check_node(g, "v", v[i], i) || !check_node(g, "wrt", wrt[i], i))
            return -1;
        if (!same_shape(v[i], wrt[i]) || v[i]->dtype != wrt[i]->dtype) {
            char sv[64], sw[64];
            return ggc_fail(g, "hvp: v[%zu] %s %s does not match wrt[%zu] %s %s", i,
                            gg_shape_str(v[i], sv, sizeof sv), gg_dtype_name((gg_dtype)v[i]->dtype), i,
                            gg_shape_str(wrt[i], sw, sizeof sw), gg_dtype_name((gg_dtype)wrt[i]->dtype)),
                   -1;
        }
    }
    if (n == 0)
        return 0;
    gg_node **gr = ggb_malloc(n * sizeof *gr);
    if (!gr)
        return ggc_fail(g, "hvp: out of memory"), -1;
    int rc = gg_gradient(g, root, n, wrt, gr);
    gg_node *s = rc ? NULL : inner_sum(g, n, gr, v, (gg_dtype)root->dtype);
    if (!rc && !s)
        rc = -1;
    if (!rc)
        rc = gg_gradient(g, s, n, wrt, out);
    ggb_free(gr);
    return rc;
}

int gg_hessian(gg_graph *g, gg_node *root, size_t n, gg_node *const *wrt, double *H, size_t hn)
{
    if (!g)
        return -1;
    if (!H || (n && !wrt))
        return ggc_fail(g, "hessian: wrt and H must not be NULL"), -1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!check_node(g, "wrt", wrt[i], i))
            return -1;
        total += ggc_numel(wrt[i]);
    }
    if (total != hn)
        return ggc_fail(g, "hessian: the variables hold %zu elements in all, not %zu", total, hn), -1;
    gg_node **v = ggb_calloc(2 * n + 1, sizeof *v);
    if (!v)
        return ggc_fail(g, "hessian: out of memory"), -1;
    gg_node **out = v + n;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(v[i] = zeros_like(g, wrt[i])))
            rc = -1;
    if (rc == 0)
        rc = gg_hvp(g, root, n, wrt, v, out);
    for (size_t c = 0, ci = 0, ck = 0; rc == 0 && c < total; c++) {
        ggb_put(v[ci]->dtype, ggc_val(v[ci]), ck, 1.0);
        for (size_t i = 0, r = 0; i < n && rc == 0; i++) {
            if (gg_forward(g, out[i])) {
                rc = -1;
                break;
            }
            for (size_t k = 0; k < ggc_numel(out[i]); k++, r++)
                H[r * total + c] = ggb_get(out[i]->dtype, ggc_val(out[i]), k);
        }
        ggb_put(v[ci]->dtype, ggc_val(v[ci]), ck, 0.0);
        if (++ck == ggc_numel(v[ci]))
            ci++, ck = 0;
    }
    ggb_free(v);
    return rc;
}

/* ---- gg_gradgradcheck ---------------------------------------------------- */


/* Central differences of f for every element of every leaf against the
 * values of grads[] (read before any perturbation). */
static int check_against(gg_graph *g, gg_node *f, size_t nl, gg_node *const *leaves,
                         gg_node *const *grads, double eps, double tol, gg_gradcheck_result *r)
{
    for (size_t l = 0; l < nl; l++) {
        gg_node *x = leaves[l];
        size_t cnt = ggc_numel(x);
        double *an = ggb_malloc(cnt * sizeof *an);
        if (!an)
            return ggc_fail(g, "gradgradcheck: out of memory"), -1;
        for (size_t i = 0; i < cnt; i++)
            an[i] = ggb_get(grads[l]->dtype, ggc_val(grads[l]), i);
        for (size_t i = 0; i < cnt; i++) {
            double x0 = ggb_get(x->dtype, ggc_val(x), i), plus, minus;
            ggb_put(x->dtype, ggc_val(x), i, x0 + eps);
            int e = gg_forward(g, f);
            plus = gg_value(f);
            ggb_put(x->dtype, ggc_val(x), i, x0 - eps);
            e |= gg_forward(g, f);
            minus = gg_value(f);
            ggb_put(x->dtype, ggc_val(x), i, x0);
            if (e) {
                ggb_free(an);
                return -1;
            }
            ggc_gradcheck_tally(r, x, i, an[i], (plus - minus) / (2 * eps), tol);
        }
        ggb_free(an);
    }
    return 0;
}

int gg_gradgradcheck(gg_graph *g, gg_node *root, gg_node *const *leaves, size_t nleaves,
                     double eps, double tol, gg_gradcheck_result *res)
{
    gg_gradcheck_result r = {0};
    if (!g)
        return -1;
    if (!root || !ggc_owns(g, root))
        return ggc_fail(g, "gradgradcheck: root is %s", root ? "a node of another graph" : "NULL"), -1;
    if (!(eps > 0) || !(tol > 0))
        return ggc_fail(g, "gradgradcheck: eps (%g) and tol (%g) must be positive", eps, tol), -1;
    for (size_t i = 0; leaves && i < nleaves; i++)
        if (!leaves[i] || !ggc_owns(g, leaves[i]) || leaves[i]->gate != GGC_GATE_LEAF ||
            !ggc_needs_grad(leaves[i]))
            return ggc_fail(g, "gradgradcheck: leaves[%zu] is not a variable leaf of this graph", i), -1;
    if (gg_forward(g, root))
        return -1;
    gg_node **all = NULL;
    if (!leaves) {
        size_t len;
        gg_node **order = ggc_order(g, root, &len);
        if (!order || !(all = ggb_malloc((len + 1) * sizeof *all)))
            return order ? (ggc_fail(g, "gradgradcheck: out of memory"), -1) : -1;
        nleaves = 0;
        for (size_t i = 0; i < len; i++)
            if (order[i]->gate == GGC_GATE_LEAF && ggc_needs_grad(order[i]))
                all[nleaves++] = order[i];
        leaves = all;
    }
    gg_node **buf = ggb_calloc(3 * nleaves + 1, sizeof *buf);
    if (!buf) {
        ggb_free(all);
        return ggc_fail(g, "gradgradcheck: out of memory"), -1;
    }
    gg_node **gr = buf, **w = buf + nleaves, **h = buf + 2 * nleaves;
    int rc = gg_gradient(g, root, nleaves, leaves, gr);
    /* Fixed weights in [0.5, 1.5] of alternating sign, so that no
     * second-derivative entry cancels another by symmetry. */
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (size_t l = 0; l < nleaves && rc == 0; l++) {
        if (!(w[l] = zeros_like(g, leaves[l]))) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < ggc_numel(w[l]); i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            double u = 0.5 + (double)(state >> 11) / 9007199254740992.0;
            ggb_put(w[l]->dtype, ggc_val(w[l]), i, (i + l) % 2 ? -u : u);
        }
    }
    gg_node *s = rc ? NULL : inner_sum(g, nleaves, gr, w, GG_F64);
    if (rc == 0 && !s)
        rc = -1;
    if (rc == 0)
        rc = gg_gradient(g, s, nleaves, leaves, h);
    if (rc == 0)
        rc = check_against(g, root, nleaves, leaves, gr, eps, tol, &r);
    if (rc == 0)
        rc = check_against(g, s, nleaves, leaves, h, eps, tol, &r);
    if (rc == 0 && (gg_forward(g, s) || gg_forward(g, root)))
        rc = -1;
    for (size_t l = 0; rc == 0 && l < nleaves; l++)
        if (gg_forward(g, h[l]))
            rc = -1;
    ggb_free(buf);
    ggb_free(all);
    if (res)
        *res = r;
    return rc ? -1 : (r.failures ? 1 : 0);
}
