/* classifier.c - an MLP with softmax cross-entropy, trained on a gg_dataset.
 * The graph is built once; a training step is set_data, forward, backward,
 * optimizer step (which zeroes the gradients for the next), none of which
 * allocates. Under several ranks (gategrad/dist.h) each rank runs its slice
 * of every global batch and the gradients are summed between backward and
 * the step. */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "gategrad/dist.h"
#include "gategrad/io.h"
#include "gategrad/nn.h"
#include "kernels/kernels.h"
#include "nn/nn.h"

struct gg_classifier {
    gg_graph *g;
    gg_mlp *mlp;
    gg_node *x;      /* [batch, dim] f32 input leaf */
    gg_node *y;      /* [batch] labels as f32, -1 for padding rows */
    gg_node *loss;   /* softmax cross-entropy of the MLP's output */
    gg_node *probs;  /* softmax of the output, for predictions */
    size_t batch, dim, classes;
    int32_t *labels; /* batch labels as the batcher writes them */
};

gg_classifier *gg_classifier_new(const gg_mlp_spec *spec, size_t batch, uint64_t seed, char *err)
{
    if (!spec || batch < 1 || batch > (1u << 24) || spec->nlayers < 1) {
        ggb_errorf(err, "classifier: need a spec and a batch size in 1..16777216");
        return NULL;
    }
    gg_classifier *c = ggb_calloc(1, sizeof *c);
    if (!c || !(c->g = gg_graph_new()) || !(c->labels = ggb_malloc(batch * sizeof *c->labels))) {
        gg_classifier_free(c);
        ggb_errorf(err, "classifier: out of memory");
        return NULL;
    }
    c->batch = batch;
    c->dim = (size_t)spec->sizes[0];
    c->classes = (size_t)spec->sizes[spec->nlayers];
    c->x = gg_input(c->g, GG_F32, 2, (int64_t[]){(int64_t)batch, (int64_t)c->dim}, NULL);
    c->y = gg_input(c->g, GG_F32, 1, (int64_t[]){(int64_t)batch}, NULL);
    c->mlp = c->x && c->y ? gg_mlp_new(c->g, c->x, spec, seed, err) : NULL;
    if (c->mlp) {
        c->loss = gg_softmax_cross_entropy(c->g, gg_mlp_output(c->mlp), c->y);
        c->probs = gg_softmax(c->g, gg_mlp_output(c->mlp));
        if (!c->loss || !c->probs)
            ggb_errorf(err, "classifier: %s", gg_error(c->g));
    } else if (!c->x || !c->y) {
        ggb_errorf(err, "classifier: %s", gg_error(c->g));
    }
    if (!c->loss || !c->probs) {
        gg_classifier_free(c);
        return NULL;
    }
    return c;
}

void gg_classifier_free(gg_classifier *c)
{
    if (!c)
        return;
    if (c->mlp)
        gg_mlp_free(c->mlp);
    gg_graph_free(c->g);
    ggb_free(c->labels);
    ggb_free(c);
}

gg_mlp *gg_classifier_model(const gg_classifier *c) { return c->mlp; }

/* Writes c->labels (first m real, the rest -1) into the label leaf. */
static void set_labels(gg_classifier *c, size_t m)
{
    float *y = gg_data(c->y);
    for (size_t i = 0; i < c->batch; i++)
        y[i] = i < m ? (float)c->labels[i] : -1.0f;
    gg_node *rows = gg_mlp_rows(c->mlp); /* batch normalization skips the padding */
    if (rows)
        memcpy(gg_data(rows), y, c->batch * sizeof *y);
}

/* Loads samples [start, start + m) of d (and its labels, if any) into the
 * leaves, m at most the batch and not past end. */
static size_t load_chunk(gg_classifier *c, const gg_dataset *d, size_t start, size_t end)
{
    size_t m = end - start < c->batch ? end - start : c->batch;
    float *x = gg_data(c->x);
    for (size_t i = 0; i < m; i++) {
        gg_dataset_row(d, start + i, x + i * c->dim);
        c->labels[i] = d->y ? d->y[start + i] : 0;
    }
    set_labels(c, m);
    return m;
}

static int check_data(const gg_classifier *c, const gg_dataset *d, char *err)
{
    if (d->dim != c->dim || d->classes > c->classes) {
        ggb_errorf(err, "classifier: data has %zu features and %zu classes, the model expects %zu and %zu",
                   d->dim, d->classes, c->dim, c->classes);
        return -1;
    }
    return 0;
}

static int run(gg_classifier *c, gg_node *root, char *err)
{
    if (gg_forward(c->g, root) == 0)
        return 0;
    ggb_errorf(err, "classifier: %s", gg_error(c->g));
    return -1;
}

/* Under several ranks: the totals of all ranks' parts, on every rank. */
static int sum_over_ranks(const gg_classifier *c, double *total, size_t *right, size_t *confusion, char *err)
{
    size_t cells = confusion ? c->classes * c->classes : 0;
    double *sums = ggb_malloc((cells + 2) * sizeof *sums);
    if (!sums)
        return ggb_errorf(err, "classifier: out of memory for the confusion matrix");
    sums[0] = *total, sums[1] = (double)*right;
    for (size_t i = 0; i < cells; i++)
        sums[2 + i] = (double)confusion[i];
    int rc = gg_dist_sum(sums, cells + 2, err);
    *total = sums[0], *right = (size_t)sums[1];
    for (size_t i = 0; i < cells; i++)
        confusion[i] = (size_t)sums[2 + i];
    ggb_free(sums);
    return rc;
}

int gg_classifier_evaluate(gg_classifier *c, const gg_dataset *d, double *loss, double *accuracy,
                           size_t *confusion, char *err)
{
    if (check_data(c, d, err))
        return -1;
    gg_mlp_set_training(c->mlp, 0);
    if (confusion)
        memset(confusion, 0, c->classes * c->classes * sizeof *confusion);
    double total = 0;
    size_t right = 0, lo, hi;
    gg_dist_slice(d->n, gg_dist_rank(), gg_dist_size(), &lo, &hi);
    const float *out = gg_data(gg_mlp_output(c->mlp));
    for (size_t start = lo; start < hi; start += c->batch) {
        size_t m = load_chunk(c, d, start, hi);
        if (run(c, c->loss, err))
            return -1;
        total += gg_value(c->loss) * (double)m;
        for (size_t i = 0; i < m; i++) {
            size_t guess = ggn_argmax_f32(out + i * c->classes, c->classes);
            right += guess == (size_t)c->labels[i];
            if (confusion)
                confusion[(size_t)c->labels[i] * c->classes + guess]++;
        }
    }
    if (gg_dist_size() > 1 && sum_over_ranks(c, &total, &right, confusion, err))
        return -1;
    if (loss)
        *loss = d->n ? total / (double)d->n : NAN;
    if (accuracy)
        *accuracy = d->n ? (double)right / (double)d->n : NAN;
    return 0;
}

/* Makes the input leaf read a whole batch of x's rows in place, or (the
 * last, partial batch) copies them; returns the rows. */
static size_t lend_chunk(gg_classifier *c, const float *x, size_t start, size_t n)
{
    if (n - start < c->batch || gg_borrow_data(c->g, c->x, x + start * c->dim)) {
        gg_borrow_data(c->g, c->x, NULL);
        const gg_dataset rows = {.n = n, .dim = c->dim, .x = (float *)x}; /* a view, not owned */
        return load_chunk(c, &rows, start, n);
    }
    memset(c->labels, 0, c->batch * sizeof *c->labels);
    set_labels(c, c->batch);
    return c->batch;
}

int gg_classifier_predict(gg_classifier *c, const float *x, size_t n, float *probs, char *err)
{
    gg_mlp_set_training(c->mlp, 0);
    int rc = 0;
    for (size_t start = 0; start < n && !rc; start += c->batch) {
        size_t m = lend_chunk(c, x, start, n);
        rc = run(c, c->probs, err);
        if (!rc)
            memcpy(probs + start * c->classes, gg_data(c->probs), m * c->classes * sizeof *probs);
    }
    gg_borrow_data(c->g, c->x, NULL); /* training writes batches into the leaf */
    return rc ? -1 : 0;
}

/* ---- Training -------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct fit_state {
    gg_classifier *c;
    const gg_fit_config *cfg;
    const gg_fit_callbacks *cb;
    gg_optimizer *opt;
    gg_batcher batcher;         /* over global batches */
    gg_dist_grads *reducer;     /* with several ranks, else NULL */
    int rank, size;
    size_t step, total_steps;
    float *best; /* the parameters at the best validation loss, or NULL */
    double norms[GG_MLP_MAX_LAYERS]; /* this epoch's sums of weight-gradient norms */
} fit_state;

/* Adds each layer's weight-gradient norm into s->norms. */
static void add_grad_norms(fit_state *s)
{
    size_t n, layer = 0;
    gg_node *const *p = gg_mlp_params(s->c->mlp, &n);
    gg_graph *g = gg_mlp_graph(s->c->mlp);
    for (size_t i = 0; i < n && layer < GG_MLP_MAX_LAYERS; i++) {
        const char *name = gg_label(g, p[i]);
        size_t len = strlen(name);
        if (strncmp(name, "fc", 2) || len < 7 || strcmp(name + len - 7, ".weight"))
            continue;
        const float *gr = gg_grad_data(p[i]);
        double ss = 0;
        for (size_t k = 0, cnt = gg_numel(p[i]); k < cnt; k++)
            ss += (double)gr[k] * gr[k];
        s->norms[layer++] += sqrt(ss);
    }
}

/* The next global batch of the epoch: returns its size m (0 at the end of
 * the epoch) and loads this rank's slice of it, *mine rows. */
static size_t next_batch(fit_state *s, size_t *mine)
{
    gg_classifier *c = s->c;
    if (s->size == 1)
        return *mine = gg_batcher_next(&s->batcher, gg_data(c->x), c->labels);
    size_t m = gg_batcher_next(&s->batcher, NULL, NULL), lo, hi; /* only moves on */
    gg_dist_slice(m, s->rank, s->size, &lo, &hi);
    const gg_dataset *d = s->batcher.data;
    const uint32_t *order = s->batcher.perm + s->batcher.pos - m;
    float *x = gg_data(c->x);
    for (size_t i = lo; i < hi; i++) {
        gg_dataset_row(d, order[i], x + (i - lo) * c->dim);
        c->labels[i - lo] = d->y[order[i]];
    }
    *mine = hi - lo;
    return m;
}

/* One step on this rank's mine rows of a global batch of m. *loss: the
 * batch's mean loss (over all ranks' rows). */
static int train_step(fit_state *s, size_t m, size_t mine, double *loss, char *err)
{
    gg_classifier *c = s->c;
    set_labels(c, mine);
    gg_mlp_resample(c->mlp);
    gg_optimizer_set_lr(s->opt, gg_schedule_lr(&s->cfg->schedule, s->cfg->opt.lr, s->step++, s->total_steps));
    *loss = 0; /* a rank without rows adds zero gradients */
    if (mine > 0) {
        if (run(c, c->loss, err))
            return -1;
        if (gg_backward(c->g, c->loss)) {
            ggb_errorf(err, "classifier: %s", gg_error(c->g));
            return -1;
        }
        *loss = gg_value(c->loss);
    }
    /* Weighted by rows, the ranks' mean losses sum to the batch's mean. */
    if (s->reducer && gg_dist_grads_reduce(s->reducer, (double)mine / (double)m, loss, err))
        return -1;
    if (s->cfg->grad_norms)
        add_grad_norms(s);
    ggn_optimizer_step_zero(s->opt, c->g); /* leaves the gradients zero for the next step */
    return 0;
}

static int train_epoch(fit_state *s, gg_epoch_stats *st, char *err)
{
    gg_classifier *c = s->c;
    size_t m, mine, done = 0, n = s->batcher.data->n;
    double total = 0, t0 = now();
    size_t steps = 0;
    memset(s->norms, 0, sizeof s->norms);
    gg_mlp_set_training(c->mlp, 1);
    while ((m = next_batch(s, &mine)) > 0) {
        double loss;
        steps++;
        if (train_step(s, m, mine, &loss, err))
            return -1;
        if (!isfinite(loss)) {
            ggb_errorf(err, "training diverged: the loss is %g at epoch %zu (try a smaller learning rate)", loss, st->epoch);
            return -1;
        }
        total += loss * (double)m;
        done += m;
        if (s->cb && s->cb->batch)
            s->cb->batch(s->cb->ctx, done, n);
    }
    for (size_t i = 0; i < GG_MLP_MAX_LAYERS; i++)
        st->grad_norm[i] = steps ? s->norms[i] / (double)steps : 0;
    st->train_loss = total / (double)n;
    st->seconds = now() - t0;
    st->lr = gg_optimizer_lr(s->opt);
    return 0;
}

/* Copies the parameters and the running statistics into buf (save) or
 * back out of it. */
static void snapshot(gg_mlp *m, float *buf, bool save)
{
    for (int list = 0; list < 2; list++) {
        size_t n;
        gg_node *const *p = list ? gg_mlp_buffers(m, &n) : gg_mlp_params(m, &n);
        for (size_t i = 0; i < n; i++) {
            size_t bytes = gg_numel(p[i]) * sizeof(float);
            if (save)
                memcpy(buf, gg_data(p[i]), bytes);
            else
                memcpy(gg_data(p[i]), buf, bytes);
            buf += gg_numel(p[i]);
        }
    }
}

static size_t state_count(const gg_mlp *m)
{
    size_t n, total = gg_mlp_param_count(m);
    gg_node *const *b = gg_mlp_buffers(m, &n);
    for (size_t i = 0; i < n; i++)
        total += gg_numel(b[i]);
    return total;
}

static int fit_loop(fit_state *s, const gg_dataset *val, gg_fit_result *res, char *err)
{
    double best_loss = INFINITY;
    size_t since_best = 0;
    bool has_val = val && val->n > 0;
    for (size_t e = 1; e <= s->cfg->epochs; e++) {
        gg_epoch_stats st = {.epoch = e, .val_loss = NAN, .val_accuracy = NAN};
        if (train_epoch(s, &st, err))
            return -1;
        res->epochs = e;
        res->train_seconds += st.seconds;
        if (has_val && gg_classifier_evaluate(s->c, val, &st.val_loss, &st.val_accuracy, NULL, err))
            return -1;
        if (s->cb && s->cb->epoch)
            s->cb->epoch(s->cb->ctx, &st);
        if (!has_val)
            continue;
        if (st.val_loss < best_loss) {
            best_loss = st.val_loss;
            res->best_epoch = e;
            since_best = 0;
            if (s->best)
                snapshot(s->c->mlp, s->best, true);
        } else if (s->best && ++since_best >= s->cfg->patience) {
            break;
        }
    }
    if (s->best && res->best_epoch)
        snapshot(s->c->mlp, s->best, false);
    return 0;
}

/* Every rank takes rank 0's parameters, running statistics and batch-order
 * seed. */
static int start_equal(gg_classifier *c, uint64_t *seed, char *err)
{
    size_t np, nb;
    gg_node *const *p = gg_mlp_params(c->mlp, &np), *const *b = gg_mlp_buffers(c->mlp, &nb);
    return gg_dist_broadcast(seed, sizeof *seed, err) || gg_dist_broadcast_params(p, np, err) ||
                   gg_dist_broadcast_params(b, nb, err)
               ? -1
               : 0;
}

int gg_classifier_fit(gg_classifier *c, const gg_dataset *train, const gg_dataset *val,
                      const gg_fit_config *cfg, const gg_fit_callbacks *cb, gg_fit_result *res, char *err)
{
    return ggn_classifier_fit_ranks(c, train, val, cfg, cb, res, gg_dist_rank(), gg_dist_size(), err);
}

int ggn_classifier_fit_ranks(gg_classifier *c, const gg_dataset *train, const gg_dataset *val,
                             const gg_fit_config *cfg, const gg_fit_callbacks *cb, gg_fit_result *res, int rank,
                             int size, char *err)
{
    gg_fit_result local = {0};
    res = res ? res : &local;
    *res = (gg_fit_result){0};
    if (!c || !train || !cfg) {
        ggb_errorf(err, "fit: NULL argument");
        return -1;
    }
    if (check_data(c, train, err) || (val && val->n && check_data(c, val, err)))
        return -1;
    size_t nparams;
    gg_node *const *params = gg_mlp_params(c->mlp, &nparams);
    fit_state s = {.c = c, .cfg = cfg, .cb = cb, .rank = rank, .size = size};
    size_t global = c->batch * (size_t)s.size;
    s.total_steps = cfg->epochs * ((train->n + global - 1) / global);
    uint64_t seed = cfg->seed;
    if (s.size > 1 && (start_equal(c, &seed, err) || !(s.reducer = gg_dist_grads_new(params, nparams, 1, err))))
        return -1;
    int rc = -1;
    if (!(s.opt = gg_optimizer_new(&cfg->opt, params, nparams, err)))
        goto out;
    gg_optimizer_zero_grad(s.opt);
    if (gg_batcher_init(&s.batcher, train, global, 1, seed, err))
        goto out;
    if (cfg->patience && val && val->n &&
        !(s.best = ggb_malloc(state_count(c->mlp) * sizeof *s.best))) {
        ggb_errorf(err, "fit: out of memory for the best weights");
        goto out;
    }
    /* Adam's moments of units that stopped receiving gradient decay into
     * denormals, which cost ~100x per operation: flush them for the run. */
    unsigned fp_mode = ggk_fp_mode_get();
    ggk_set_flush_denormals(1);
    rc = fit_loop(&s, val, res, err);
    ggk_fp_mode_set(fp_mode);
out:
    ggb_free(s.best);
    gg_batcher_free(&s.batcher);
    gg_optimizer_free(s.opt);
    gg_dist_grads_free(s.reducer);
    return rc;
}

static size_t most_probable(const float *p, size_t classes)
{
    size_t best = 0;
    for (size_t j = 1; j < classes; j++)
        if (p[j] > p[best])
            best = j;
    return best;
}

/* The CSV of gg_predictions_write; returns whether every write succeeded. */
static bool print_predictions(FILE *out, const float *probs, size_t n, size_t classes)
{
    bool ok = fputs("class", out) >= 0;
    for (size_t j = 0; j < classes; j++)
        ok &= fprintf(out, ",p%zu", j) > 0;
    ok &= fputc('\n', out) != EOF;
    for (size_t i = 0; i < n && ok; i++) {
        const float *p = probs + i * classes;
        ok &= fprintf(out, "%zu", most_probable(p, classes)) > 0;
        for (size_t j = 0; j < classes; j++)
            ok &= fprintf(out, ",%.9g", (double)p[j]) > 0;
        ok &= fputc('\n', out) != EOF;
    }
    return ok && !ferror(out);
}

int gg_predictions_write(FILE *out, const float *probs, size_t n, size_t classes, char *err)
{
    if (classes == 0) {
        ggb_errorf(err, "<stream>: predictions of 0 classes");
        return -1;
    }
    if (!print_predictions(out, probs, n, classes)) {
        ggb_errorf(err, "<stream>: writing the predictions failed");
        return -1;
    }
    return 0;
}

int gg_predictions_save(const char *path, const float *probs, size_t n, size_t classes, char *err)
{
    if (classes == 0) {
        ggb_errorf(err, "%s: predictions of 0 classes", path);
        return -1;
    }
    gg_atomic_file af;
    if (gg_atomic_open(path, &af, err))
        return -1;
    print_predictions(af.fp, probs, n, classes); /* its errors stay in af.fp for commit */
    return gg_atomic_commit(&af, err);
}
