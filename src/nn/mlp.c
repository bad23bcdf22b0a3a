/* mlp.c - multi-layer perceptrons built from gates: specs, construction,
 * initialization, dropout masks and the Keras-like summary. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "gategrad/nn.h"
#include "gategrad/rng.h"
#include "nn/nn.h"

struct gg_mlp {
    gg_graph *g;
    gg_mlp_spec spec;
    gg_node *out;
    gg_node *params[GGN_MAX_PARAMS]; /* fc1.weight, fc1.bias, ... */
    size_t nparams;
    gg_node *masks[GG_MLP_MAX_LAYERS]; /* one per hidden layer when dropout > 0 */
    size_t nmasks;
    gg_node *buffers[2 * GG_MLP_MAX_LAYERS]; /* bnI.running_mean, bnI.running_var, ... */
    size_t nbuffers;
    gg_node *rows, *mode; /* batch normalization's "bn.rows" and "bn.mode", or NULL */
    gg_rng mask_rng;
    int training;
};

/* ---- Specs -------------------------------------------------------------- */

static const char *const act_names[] = {"linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "step",
                                        "prelu"};
static const char *const init_names[] = {"auto", "xavier", "he"};
#define COUNT(a) (sizeof(a) / sizeof *(a))

const char *gg_activation_name(gg_activation act)
{
    return (unsigned)act < COUNT(act_names) ? act_names[act] : "?";
}

static int lookup(const char *const *names, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && !strncmp(names[i], s, len))
            return (int)i;
    return -1;
}

static int parse_sizes(const char *s, size_t len, gg_mlp_spec *spec, char *err)
{
    const char *p = s, *end = s + len;
    int count = 0;
    while (p < end) {
        char *stop;
        errno = 0;
        long long v = strtoll(p, &stop, 10);
        if (stop == p || (stop < end && *stop != '-') || errno || v < 1 || v > (1LL << 24)) {
            ggb_errorf(err, "model spec: '%.*s': widths must be whole numbers in 1..16777216 joined by '-'",
                       (int)len, s);
            return -1;
        }
        if (count > GG_MLP_MAX_LAYERS) {
            ggb_errorf(err, "model spec: '%.*s': more than %d layers", (int)len, s, GG_MLP_MAX_LAYERS);
            return -1;
        }
        spec->sizes[count++] = v;
        p = stop < end ? stop + 1 : stop;
    }
    if (count < 2) {
        ggb_errorf(err, "model spec: '%.*s': needs at least an input and an output width (e.g. 2-1)",
                   (int)len, s);
        return -1;
    }
    spec->nlayers = count - 1;
    return 0;
}

static int parse_option(const char *s, size_t len, gg_mlp_spec *spec, char *err)
{
    int k;
    if ((k = lookup(act_names, COUNT(act_names), s, len)) >= 0) {
        spec->hidden = (gg_activation)k;
        return 0;
    }
    if (len == 6 && !strncmp(s, "nobias", 6)) {
        spec->bias = 0;
        return 0;
    }
    if (len == 2 && !strncmp(s, "bn", 2)) {
        spec->batchnorm = 1;
        return 0;
    }
    if (len > 7 && !strncmp(s, "maxout=", 7)) {
        char *stop;
        long k = strtol(s + 7, &stop, 10);
        if (stop == s + len && k >= 2 && k <= 64) {
            spec->maxout = (int)k;
            return 0;
        }
    }
    if (len > 4 && !strncmp(s, "out=", 4) && (k = lookup(act_names, COUNT(act_names), s + 4, len - 4)) >= 0) {
        spec->output = (gg_activation)k;
        return 0;
    }
    if (len > 5 && !strncmp(s, "init=", 5) && (k = lookup(init_names, COUNT(init_names), s + 5, len - 5)) >= 0) {
        spec->init = (gg_init)k;
        return 0;
    }
    if (len > 8 && !strncmp(s, "dropout=", 8)) {
        char *stop;
        double p = strtod(s + 8, &stop);
        if (stop == s + len && p >= 0 && p < 1) {
            spec->dropout = p;
            return 0;
        }
    }
    ggb_errorf(err, "model spec: unknown or bad option '%.*s' (expected an activation: linear, relu, "
               "sigmoid, tanh, leaky_relu, elu, step, prelu; out=ACT, dropout=P in [0,1), nobias, "
               "init=xavier|he|auto, bn, maxout=K in 2..64)",
               (int)len, s);
    return -1;
}

int gg_mlp_spec_parse(const char *text, gg_mlp_spec *spec, char *err)
{
    gg_mlp_spec s = {.hidden = GG_ACT_RELU, .output = GG_ACT_LINEAR, .bias = 1, .init = GG_INIT_AUTO};
    if (!text || !spec) {
        ggb_errorf(err, "model spec: NULL argument");
        return -1;
    }
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    if (parse_sizes(text, len, &s, err))
        return -1;
    while (colon) {
        const char *opt = colon + 1;
        colon = strchr(opt, ':');
        len = colon ? (size_t)(colon - opt) : strlen(opt);
        if (parse_option(opt, len, &s, err))
            return -1;
    }
    *spec = s;
    return 0;
}

const char *gg_mlp_spec_format(const gg_mlp_spec *spec, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = 0;
#define APPEND(...) (k += (size_t)snprintf(buf + (k < size ? k : size), k < size ? size - k : 0, __VA_ARGS__))
    for (int i = 0; i <= spec->nlayers; i++)
        APPEND("%s%lld", i ? "-" : "", (long long)spec->sizes[i]);
    APPEND(":%s", gg_activation_name(spec->hidden));
    if (spec->output != GG_ACT_LINEAR)
        APPEND(":out=%s", gg_activation_name(spec->output));
    if (spec->dropout > 0)
        APPEND(":dropout=%.15g", spec->dropout);
    if (!spec->bias)
        APPEND(":nobias");
    if (spec->init != GG_INIT_AUTO)
        APPEND(":init=%s", init_names[spec->init]);
    if (spec->batchnorm)
        APPEND(":bn");
    if (spec->maxout)
        APPEND(":maxout=%d", spec->maxout);
#undef APPEND
    return buf;
}

static int check_spec(const gg_mlp_spec *s, char *err)
{
    bool ok = s->nlayers >= 1 && s->nlayers <= GG_MLP_MAX_LAYERS && s->dropout >= 0 && s->dropout < 1 &&
              (unsigned)s->hidden < COUNT(act_names) && (unsigned)s->output < COUNT(act_names) &&
              (unsigned)s->init < COUNT(init_names) && s->output != GG_ACT_PRELU &&
              (s->maxout == 0 || (s->maxout >= 2 && s->maxout <= 64));
    for (int i = 0; ok && i <= s->nlayers; i++)
        ok = s->sizes[i] >= 1;
    if (!ok)
        ggb_errorf(err, "mlp: invalid spec (layers 1..%d, widths >= 1, dropout in [0,1), known activations, "
                   "prelu for hidden layers only, maxout 0 or 2..64)",
                   GG_MLP_MAX_LAYERS);
    return ok ? 0 : -1;
}

/* ---- Construction ------------------------------------------------------------ */

static gg_node *activate(gg_graph *g, gg_node *h, gg_activation act)
{
    switch (act) {
    case GG_ACT_RELU: return gg_relu(g, h);
    case GG_ACT_SIGMOID: return gg_sigmoid(g, h);
    case GG_ACT_TANH: return gg_tanh(g, h);
    case GG_ACT_LEAKY_RELU: return gg_leaky_relu(g, h, 0.01);
    case GG_ACT_ELU: return gg_elu(g, h, 1.0);
    case GG_ACT_STEP: return gg_step(g, h);
    case GG_ACT_PRELU: /* built by add_layer, which owns the slopes */
    case GG_ACT_LINEAR: break;
    }
    return h;
}

static double init_bound(const gg_mlp_spec *s, int64_t fan_in, int64_t fan_out)
{
    gg_init kind = s->init;
    if (kind == GG_INIT_AUTO)
        kind = (s->hidden == GG_ACT_RELU || s->hidden == GG_ACT_LEAKY_RELU || s->hidden == GG_ACT_ELU)
                   ? GG_INIT_HE : GG_INIT_XAVIER;
    return kind == GG_INIT_HE ? sqrt(6.0 / (double)fan_in) : sqrt(6.0 / (double)(fan_in + fan_out));
}

static void fill(gg_node *n, gg_rng *rng, double bound)
{
    void *p = gg_data(n);
    for (size_t i = 0, cnt = gg_numel(n); i < cnt; i++) {
        double v = rng ? bound * (2 * gg_rng_uniform(rng) - 1) : bound;
        if (gg_node_dtype(n) == GG_F64)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
}

/* A labelled leaf "PREFIXi.what" (fc, bn, prelu): a variable parameter, or
 * a constant. */
static gg_node *leaf_named(gg_mlp *m, gg_dtype dt, int rank, const int64_t *dims, const char *prefix,
                           int layer, const char *what, bool variable)
{
    char name[48];
    snprintf(name, sizeof name, "%s%d.%s", prefix, layer, what);
    gg_node *n = variable ? gg_tensor(m->g, dt, rank, dims, NULL) : gg_input(m->g, dt, rank, dims, NULL);
    if (n && gg_set_label(m->g, n, name))
        return NULL;
    return n;
}

static gg_node *named_leaf(gg_mlp *m, gg_dtype dt, int rank, const int64_t *dims, int layer,
                           const char *what, bool variable)
{
    return leaf_named(m, dt, rank, dims, "fc", layer, what, variable);
}

/* Batch normalization of h [batch, width] (layer i's bnI.*). */
static gg_node *add_bn(gg_mlp *m, gg_node *h, int i, int64_t batch, int64_t width)
{
    gg_dtype dt = gg_node_dtype(h);
    if (!m->rows) {
        m->rows = gg_input(m->g, dt, 1, &batch, NULL);
        m->mode = gg_input(m->g, dt, 1, (int64_t[]){1}, NULL);
        if (!m->rows || !m->mode || gg_set_label(m->g, m->rows, "bn.rows") ||
            gg_set_label(m->g, m->mode, "bn.mode"))
            return NULL;
        fill(m->rows, NULL, 1.0);
        fill(m->mode, NULL, 0.0);
    }
    gg_node *gamma = leaf_named(m, dt, 1, &width, "bn", i, "weight", true);
    gg_node *beta = leaf_named(m, dt, 1, &width, "bn", i, "bias", true);
    gg_node *rm = leaf_named(m, dt, 1, &width, "bn", i, "running_mean", false);
    gg_node *rv = leaf_named(m, dt, 1, &width, "bn", i, "running_var", false);
    if (!gamma || !beta || !rm || !rv)
        return NULL;
    fill(gamma, NULL, 1.0), fill(beta, NULL, 0.0), fill(rm, NULL, 0.0), fill(rv, NULL, 1.0);
    m->params[m->nparams++] = gamma;
    m->params[m->nparams++] = beta;
    m->buffers[m->nbuffers++] = rm;
    m->buffers[m->nbuffers++] = rv;
    return gg_batch_norm(m->g, h, gamma, beta, rm, rv, m->rows, m->mode, 1e-5, 0.1);
}

/* PReLU over h [batch, width]: p + a (h - p) with p = relu(h), so
 * max(0, h) + a min(0, h); slopes preluI.weight [width] from 0.25. */
static gg_node *add_prelu(gg_mlp *m, gg_node *h, int i, int64_t width)
{
    gg_node *a = leaf_named(m, gg_node_dtype(h), 1, &width, "prelu", i, "weight", true);
    if (!a)
        return NULL;
    fill(a, NULL, 0.25);
    m->params[m->nparams++] = a;
    gg_node *p = gg_relu(m->g, h);
    return gg_add(m->g, p, gg_mul(m->g, a, gg_sub(m->g, h, p)));
}

static gg_node *add_layer(gg_mlp *m, gg_node *h, int i, int64_t batch, gg_rng *rng)
{
    const gg_mlp_spec *s = &m->spec;
    gg_dtype dt = gg_node_dtype(h);
    bool last = i == s->nlayers;
    int k = !last && s->maxout ? s->maxout : 1;
    int64_t in = s->sizes[i - 1], out = s->sizes[i], pieces = k * out;
    gg_node *w = named_leaf(m, dt, 2, (int64_t[]){in, pieces}, i, "weight", true);
    if (!w)
        return NULL;
    fill(w, rng, init_bound(s, in, out));
    m->params[m->nparams++] = w;
    h = gg_matmul(m->g, h, w);
    if (s->bias) {
        gg_node *b = named_leaf(m, dt, 1, &pieces, i, "bias", true);
        if (!b)
            return NULL;
        m->params[m->nparams++] = b;
        h = gg_add(m->g, h, b);
    }
    if (!last && s->batchnorm && h)
        h = add_bn(m, h, i, batch, pieces);
    if (k > 1) /* unit j: the max of columns j * k .. j * k + k - 1 */
        h = gg_max_axis(m->g, gg_reshape(m->g, h, 3, (int64_t[]){batch, out, k}), -1, 0);
    else if (!last && s->hidden == GG_ACT_PRELU && h)
        h = add_prelu(m, h, i, out);
    else
        h = activate(m->g, h, last ? s->output : s->hidden);
    if (!last && s->dropout > 0 && h) {
        gg_node *mask = named_leaf(m, dt, 2, (int64_t[]){batch, out}, i, "dropout", false);
        if (!mask)
            return NULL;
        fill(mask, NULL, 1.0);
        m->masks[m->nmasks++] = mask;
        h = gg_mul(m->g, h, mask);
    }
    return h;
}

gg_mlp *gg_mlp_new(gg_graph *g, gg_node *x, const gg_mlp_spec *spec, uint64_t seed, char *err)
{
    if (!g || !x || !spec) {
        ggb_errorf(err, "mlp: NULL %s", !g ? "graph" : !x ? "input" : "spec");
        return NULL;
    }
    if (check_spec(spec, err))
        return NULL;
    int64_t dims[GG_MAX_DIMS];
    char buf[64];
    if (gg_shape(x, dims) != 2 || dims[1] != spec->sizes[0]) {
        ggb_errorf(err, "mlp: input has shape %s, expected [batch,%lld]", gg_shape_str(x, buf, sizeof buf),
                   (long long)spec->sizes[0]);
        return NULL;
    }
    gg_mlp *m = ggb_calloc(1, sizeof *m);
    if (!m) {
        ggb_errorf(err, "mlp: out of memory");
        return NULL;
    }
    m->g = g;
    m->spec = *spec;
    gg_rng rng;
    gg_rng_seed(&rng, seed);
    gg_rng_seed(&m->mask_rng, seed ^ 0x9e3779b97f4a7c15u);
    gg_node *h = x;
    for (int i = 1; h && i <= spec->nlayers; i++)
        h = add_layer(m, h, i, dims[0], &rng);
    if (!h) {
        ggb_errorf(err, "mlp: %s", gg_error(g) ? gg_error(g) : "building the graph failed");
        ggb_free(m);
        return NULL;
    }
    m->out = h;
    return m;
}

void gg_mlp_free(gg_mlp *m) { ggb_free(m); }
gg_node *gg_mlp_output(const gg_mlp *m) { return m->out; }
gg_graph *gg_mlp_graph(const gg_mlp *m) { return m->g; }
const gg_mlp_spec *gg_mlp_get_spec(const gg_mlp *m) { return &m->spec; }

gg_node *const *gg_mlp_params(const gg_mlp *m, size_t *n)
{
    *n = m->nparams;
    return m->params;
}

size_t gg_mlp_param_count(const gg_mlp *m)
{
    size_t total = 0;
    for (size_t i = 0; i < m->nparams; i++)
        total += gg_numel(m->params[i]);
    return total;
}

gg_node *gg_mlp_rows(const gg_mlp *m) { return m->rows; }

gg_node *const *gg_mlp_buffers(const gg_mlp *m, size_t *n)
{
    *n = m->nbuffers;
    return m->buffers;
}

void gg_mlp_set_training(gg_mlp *m, int training)
{
    m->training = training;
    if (m->mode)
        fill(m->mode, NULL, training ? 1.0 : 0.0);
    if (!training)
        for (size_t i = 0; i < m->nmasks; i++)
            fill(m->masks[i], NULL, 1.0);
}

/* Fills mask with 1/keep (kept, probability keep) or 0, element by
 * element. Each decision compares 16 random bits with keep * 2^16, so one
 * 64-bit draw makes four (keep is rounded to a multiple of 2^-16); the
 * value is looked up, not branched to (a fifth of the branches would be
 * mispredicted). */
static void draw_mask(gg_node *mask, gg_rng *rng, double keep)
{
    uint64_t threshold = (uint64_t)(keep * 65536.0 + 0.5);
    const double value[2] = {0.0, 1 / keep};
    bool f64 = gg_node_dtype(mask) == GG_F64;
    void *p = gg_data(mask);
    for (size_t k = 0, cnt = gg_numel(mask); k < cnt; k += 4) {
        uint64_t bits = gg_rng_u64(rng);
        for (size_t j = k; j < k + 4 && j < cnt; j++, bits >>= 16) {
            double v = value[(bits & 0xffff) < threshold];
            if (f64)
                ((double *)p)[j] = v;
            else
                ((float *)p)[j] = (float)v;
        }
    }
}

void gg_mlp_resample(gg_mlp *m)
{
    if (!m->training)
        return;
    for (size_t i = 0; i < m->nmasks; i++)
        draw_mask(m->masks[i], &m->mask_rng, 1 - m->spec.dropout);
}

/* ---- Summary ------------------------------------------------------------------- */

/* n with thousands separators, as Keras prints totals. */
static const char *grouped(size_t n, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%zu", n);
    size_t k = 0;
    for (int i = 0; i < len && k + 2 < size; i++) {
        if (i && (len - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = 0;
    return buf;
}

static int summary_row(FILE *out, const char *name, const char *type, int64_t width, size_t params)
{
    char layer[64], shape[40];
    snprintf(layer, sizeof layer, "%s (%s)", name, type);
    snprintf(shape, sizeof shape, "(None, %lld)", (long long)width);
    return fprintf(out, " %-27s %-25s %zu\n", layer, shape, params) < 0;
}

int gg_summary(const gg_mlp *m, FILE *out)
{
    static const char rule[] = "_________________________________________________________________";
    static const char dbl[] = "=================================================================";
    char spec[256], n1[32];
    int bad = fprintf(out, "Model: \"%s\"\n%s\n %-27s %-25s %s\n%s\n",
                      gg_mlp_spec_format(&m->spec, spec, sizeof spec), rule, "Layer (type)",
                      "Output Shape", "Param #", dbl) < 0;
    size_t frozen = 0;
    for (int i = 1; i <= m->spec.nlayers; i++) {
        bool last = i == m->spec.nlayers;
        int64_t in = m->spec.sizes[i - 1], w = m->spec.sizes[i], k = !last && m->spec.maxout ? m->spec.maxout : 1;
        char name[32];
        snprintf(name, sizeof name, "fc%d", i);
        bad |= summary_row(out, name, "Dense", k * w, (size_t)(in * k * w + (m->spec.bias ? k * w : 0)));
        if (!last && m->spec.batchnorm) {
            snprintf(name, sizeof name, "bn%d", i);
            bad |= summary_row(out, name, "BatchNormalization", k * w, (size_t)(4 * k * w));
            frozen += (size_t)(2 * k * w);
        }
        if (k > 1) {
            snprintf(name, sizeof name, "fc%d.maxout", i);
            bad |= summary_row(out, name, "Maxout", w, 0);
        } else if (!last && m->spec.hidden == GG_ACT_PRELU) {
            snprintf(name, sizeof name, "prelu%d", i);
            bad |= summary_row(out, name, "PReLU", w, (size_t)w);
        }
        if (!last && m->spec.dropout > 0) {
            snprintf(name, sizeof name, "fc%d.dropout", i);
            bad |= summary_row(out, name, "Dropout", w, 0);
        }
    }
    size_t trainable = gg_mlp_param_count(m);
    char n2[32], n3[32];
    grouped(trainable + frozen, n1, sizeof n1);
    grouped(trainable, n2, sizeof n2);
    grouped(frozen, n3, sizeof n3);
    bad |= fprintf(out, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n", dbl,
                   n1, n2, n3, rule) < 0;
    return bad ? -1 : 0;
}
