/* gategrad/nn.h - multi-layer perceptrons as graphs: layers, losses,
 * optimizers, training, checkpoints.
 *
 * Everything here sits on top of the graph engine (gategrad/graph.h) and
 * uses its public operations: a linear layer is a matmul gate plus a
 * broadcast add gate, an activation is a gate, an MLP is a graph built once
 * over a batch-shaped input leaf and re-run for every mini-batch (gg_set_data,
 * gg_forward, gg_backward, an optimizer step) without allocating.
 *
 *     gg_mlp_spec spec;
 *     gg_mlp_spec_parse("784-256-128-10:relu", &spec, err);
 *     gg_graph *g = gg_graph_new();
 *     gg_node *x = gg_input(g, GG_F32, 2, (int64_t[]){128, 784}, NULL);
 *     gg_node *y = gg_input(g, GG_F32, 1, (int64_t[]){128}, NULL);
 *     gg_mlp *m = gg_mlp_new(g, x, &spec, 42, err);       // fc1.weight, fc1.bias, ...
 *     gg_node *loss = gg_softmax_cross_entropy(g, gg_mlp_output(m), y);
 *     // per batch: gg_set_data(g, x, ...), gg_set_data(g, y, ...),
 *     //            gg_forward(g, loss), gg_optimizer_zero_grad(opt),
 *     //            gg_backward(g, loss), gg_optimizer_step(opt)
 *
 * gg_classifier wraps exactly that loop for labelled data sets (gg_dataset,
 * gategrad/data.h) with evaluation, early stopping and checkpoints.
 *
 * Errors: nothing here exits, aborts or prints unless asked to (gg_summary).
 * Functions that make nodes return NULL and leave the message in gg_error(g);
 * the others return NULL or non-zero and write a one-line message into err,
 * a caller buffer of GG_ERRLEN bytes (err may be NULL).
 *
 * Randomness: initial weights, dropout masks and batch order all come from
 * gg_rng (gategrad/rng.h) seeded by the caller, and only its integer and
 * uniform outputs are used, so the same seed gives the same numbers on every
 * machine; the matrix products are bit-identical for any thread count
 * (gategrad/threads.h), so a training run repeats exactly. */
#ifndef GATEGRAD_NN_H
#define GATEGRAD_NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gategrad/base.h"
#include "gategrad/data.h"
#include "gategrad/graph.h"

/* ---- Losses -------------------------------------------------------------
 * Each returns a rank-0 node (the mean over the batch unless said otherwise)
 * of the inputs' dtype, or NULL with a message in gg_error(g). The fused
 * losses gg_softmax_cross_entropy and gg_bce_with_logits are gates, in
 * gategrad/graph.h. */

/* Mean squared error, mean of (pred - target)^2 (targets broadcast), and the
 * lecture's half sum of squares, E = 1/2 * sum of (target - pred)^2, both
 * composed of sub, mul, sum/mean gates. */
GG_API gg_node *gg_mse_loss(gg_graph *g, gg_node *pred, gg_node *target);
GG_API gg_node *gg_half_sse_loss(gg_graph *g, gg_node *pred, gg_node *target);

/* Fraction of the first m rows of logits [rows, C] (row-major, f32) whose
 * largest entry (first on ties) is at the label's index. 0 when m is 0. */
GG_API double gg_accuracy_f32(const float *logits, const int32_t *labels, size_t m, size_t classes);

/* ---- Models: multi-layer perceptrons ------------------------------------ */

#define GG_MLP_MAX_LAYERS 16

typedef enum gg_activation {
    GG_ACT_LINEAR,     /* identity: no gate */
    GG_ACT_RELU,
    GG_ACT_SIGMOID,
    GG_ACT_TANH,
    GG_ACT_LEAKY_RELU, /* slope 0.01 */
    GG_ACT_ELU,        /* alpha 1 */
    GG_ACT_STEP,       /* perceptrons; not trainable */
    GG_ACT_PRELU,      /* hidden layers only: max(0, x) + a min(0, x), one learned a per
                          unit (preluI.weight, from 0.25: torch.nn.PReLU(width)) */
} gg_activation;

/* Initial weights, drawn uniformly so that they are the same on every
 * machine (biases start at 0):
 *   Xavier/Glorot: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
 *   He:            U(-a, a), a = sqrt(6 / fan_in)
 * AUTO picks He for relu, leaky_relu and elu hidden layers, else Xavier. */
typedef enum gg_init { GG_INIT_AUTO, GG_INIT_XAVIER, GG_INIT_HE } gg_init;

/* The shape of an MLP. Layer i (1-based, "fci") maps sizes[i-1] features to
 * sizes[i]; hidden layers use `hidden`, the last one `output`. */
typedef struct gg_mlp_spec {
    int nlayers;                          /* weight layers, 1..GG_MLP_MAX_LAYERS */
    int64_t sizes[GG_MLP_MAX_LAYERS + 1]; /* nlayers + 1 widths, each >= 1 */
    gg_activation hidden;                 /* default relu */
    gg_activation output;                 /* default linear (logits) */
    double dropout;                       /* after each hidden activation, in [0, 1) */
    int bias;                             /* 1 (default): every layer has a bias */
    gg_init init;
    int batchnorm; /* 1: batch normalization after each hidden linear layer,
                      before its activation (bnI.weight, .bias, .running_mean,
                      .running_var: torch.nn.BatchNorm1d, eps 1e-5, momentum 0.1) */
    int maxout;    /* K >= 2: each hidden unit is the max of K linear pieces (in
                      place of the hidden activation): fcI.weight holds K * width
                      rows, piece k of unit j in row j * K + k, as
                      fc(x).view(batch, width, K).max(-1) in PyTorch; 0: none */
} gg_mlp_spec;

/* Parses a spec string: widths joined by '-', then ':'-separated options:
 *     784-256-128-10:relu             hidden relu, linear output
 *     2-2-2:sigmoid:out=sigmoid:nobias
 *     784-512-10:relu:dropout=0.2:init=he
 *     784-256-10:relu:bn   784-256-10:prelu   784-256-10:maxout=3
 * Options: an activation name (linear, relu, sigmoid, tanh, leaky_relu, elu,
 * step, prelu) for the hidden layers, out=ACTIVATION (not prelu), dropout=P,
 * nobias, init=xavier|he|auto, bn, maxout=K (2..64). Fills *spec; on error writes a message naming the
 * offending part. */
GG_API int gg_mlp_spec_parse(const char *text, gg_mlp_spec *spec, char *err);

/* Writes the canonical spec string (gg_mlp_spec_parse reads it back to the
 * same spec) into buf and returns buf. */
GG_API const char *gg_mlp_spec_format(const gg_mlp_spec *spec, char *buf, size_t size);

/* Name of an activation ("relu"); "?" for an unknown value. */
GG_API const char *gg_activation_name(gg_activation act);

typedef struct gg_mlp gg_mlp;

/* Builds the MLP in g over the input x, a [B, sizes[0]] node (normally a
 * constant gg_input leaf refilled per batch): for each layer
 *     fcI.weight [in, out], fcI.bias [out]  (variable leaves, labelled)
 *     h = act(h . weight + bias)            (matmul, broadcast add, act gates)
 *     h = h * mask                          (dropout, when enabled)
 * and in hidden layers, with :bn, batch_norm(h . weight + bias) (bnI.weight
 * from 1, bnI.bias from 0: variables; bnI.running_mean from 0, .running_var
 * from 1: constants) before the activation; with :prelu the activation is
 * p + a (h - p), p = relu(h), a = preluI.weight [out] from 0.25; with
 * :maxout=K, fcI.weight is [in, K * out] and unit j is the max of columns
 * j K .. j K + K - 1 (reshape to [B, out, K], max_axis) in place of act.
 * Parameters are initialized from seed (see gg_init) in layer order,
 * weights row-major; gg_find(g, "fc1.weight") finds them by name. Dropout
 * masks are constant leaves "fcI.dropout" of h's shape that the model fills
 * (gg_mlp_set_training, gg_mlp_resample). The model is created in eval mode.
 * Returns a handle (free with gg_mlp_free; g keeps owning the nodes and must
 * outlive it), or NULL with a message in err (bad spec, x's shape, graph
 * errors, memory). */
GG_API gg_mlp *gg_mlp_new(gg_graph *g, gg_node *x, const gg_mlp_spec *spec, uint64_t seed,
                   char *err);

/* Frees the handle, not the graph or its nodes. NULL is ignored. */
GG_API void gg_mlp_free(gg_mlp *m);

/* The output node [B, sizes[nlayers]], the graph, and the spec. */
GG_API gg_node *gg_mlp_output(const gg_mlp *m);
GG_API gg_graph *gg_mlp_graph(const gg_mlp *m);
GG_API const gg_mlp_spec *gg_mlp_get_spec(const gg_mlp *m);

/* The parameter leaves in order (fc1.weight, fc1.bias, fc2.weight, ...);
 * *n receives their count. Owned by m. */
GG_API gg_node *const *gg_mlp_params(const gg_mlp *m, size_t *n);

/* Total number of trainable numbers (weights and biases). */
GG_API size_t gg_mlp_param_count(const gg_mlp *m);

/* Train mode draws a fresh dropout mask at every gg_mlp_resample (each kept
 * unit scaled by 1 / (1 - p), "inverted dropout"; the keep probability
 * 1 - p is rounded to a multiple of 2^-16); eval mode sets every mask
 * to 1, so the network is deterministic. Neither allocates. */
GG_API void gg_mlp_set_training(gg_mlp *m, int training);
GG_API void gg_mlp_resample(gg_mlp *m);

/* Models with batch normalization (:bn): the constant leaf "bn.rows"
 * [batch], one value per input row; rows whose value is < 0 (write the
 * labels, -1 for padding) take no part in the batch statistics. All rows
 * count until it is written (the classifier writes its labels there).
 * Training mode (gg_mlp_set_training) normalizes with the batch statistics
 * and updates the running ones at every forward; eval mode uses the running
 * ones. The running statistics are constant leaves "bnI.running_mean" and
 * "bnI.running_var" (gg_mlp_buffers), saved in checkpoints. NULL without
 * batch normalization. */
GG_API gg_node *gg_mlp_rows(const gg_mlp *m);

/* The model's non-trainable state (the running statistics), in layer order,
 * *n of them (0 without batch normalization). */
GG_API gg_node *const *gg_mlp_buffers(const gg_mlp *m, size_t *n);

/* Prints a Keras-like table to out: one row per layer (name, type, output
 * shape, parameter count), then the totals. Returns 0, or -1 on an output
 * error. Example for 6-9-4:linear:
 *     Layer (type)          Output Shape       Param #
 *     fc1 (Dense)           (None, 9)          63
 *     fc2 (Dense)           (None, 4)          40
 *     Total params: 103 ... */
GG_API int gg_summary(const gg_mlp *m, FILE *out);

/* ---- Checkpoints (safetensors, gategrad/io.h) ----------------------------
 * A checkpoint holds every parameter under its label in the model's dtype,
 * laid out as PyTorch's torch.nn modules keep them, so that
 * module.load_state_dict(safetensors.torch.load_file(path)) takes it as it
 * is: fcI.weight [out, in] (torch.nn.Linear; the graph multiplies x . W by
 * the transpose, W [in, out], and the transposition happens at save and load
 * only), fcI.bias [out]. Its "__metadata__" holds "gategrad.spec" (the
 * canonical spec string), "gategrad.layout" ("2": this layout) and the
 * caller's pairs. Files written before the layout key existed (fcI.weight
 * [in, out], no "gategrad.layout") still load; a file with neither key (one
 * PyTorch wrote) is read in layout 2. */

/* Saves m's parameters atomically to path (an existing file is replaced only
 * once the new one is complete). meta_kv: NULL or a NULL-terminated list of
 * extra "key", "value" strings. */
GG_API int gg_mlp_save(const gg_mlp *m, const char *path, const char *const *meta_kv, char *err);

/* Loads parameters from path into m. Every parameter must be in the file
 * with the same dtype and shape, and the file must hold nothing else but
 * PyTorch's "bnI.num_batches_tracked" counters (skipped); the message names
 * the tensor and the mismatch. On error m's values may be
 * partly overwritten. */
GG_API int gg_mlp_load(gg_mlp *m, const char *path, char *err);

/* Reads the spec stored in a checkpoint's metadata (an error for a file
 * without one, such as PyTorch's: the caller then needs the spec). */
GG_API int gg_mlp_read_spec(const char *path, gg_mlp_spec *spec, char *err);

/* ---- Optimizers ------------------------------------------------------------
 * For each parameter w with gradient g (after g += weight_decay * w, L2):
 *   sgd:      w -= lr * g
 *   momentum: v = momentum * v + g;            w -= lr * v
 *   nesterov: v = momentum * v + g;            w -= lr * (g + momentum * v)
 *   adagrad:  s += g^2;                        w -= lr * g / (sqrt(s) + eps)
 *   rmsprop:  s = rho * s + (1 - rho) * g^2;   w -= lr * g / (sqrt(s) + eps)
 *   adam:     m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
 *             w -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * State is allocated once and kept in the parameter's dtype, and the
 * arithmetic is done in that dtype (f32 parameters: f32 state, vectorized
 * loops); large steps are split over the kernel threads, each element
 * updated the same way whatever the split. */

typedef enum gg_opt_kind {
    GG_OPT_SGD, GG_OPT_MOMENTUM, GG_OPT_NESTEROV, GG_OPT_ADAGRAD, GG_OPT_RMSPROP, GG_OPT_ADAM
} gg_opt_kind;

typedef struct gg_opt_config {
    gg_opt_kind kind;
    double lr;
    double momentum;     /* momentum, nesterov */
    double rho;          /* rmsprop */
    double beta1, beta2; /* adam */
    double eps;          /* adagrad, rmsprop, adam */
    double weight_decay; /* L2 added to every gradient */
} gg_opt_config;

/* Usual settings for kind: lr 0.01 (adam 0.001), momentum 0.9, rho 0.9,
 * betas 0.9 / 0.999, eps 1e-8 (adagrad 1e-10), no weight decay. */
GG_API gg_opt_config gg_opt_defaults(gg_opt_kind kind);

/* "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam" and back.
 * gg_opt_parse returns non-zero for an unknown name. */
GG_API const char *gg_opt_name(gg_opt_kind kind);
GG_API int gg_opt_parse(const char *name, gg_opt_kind *kind);

typedef struct gg_optimizer gg_optimizer;

/* An optimizer over the variable leaves params[0..n) (borrowed; they must
 * outlive it). NULL with a message on a bad config or parameter, or no
 * memory. */
GG_API gg_optimizer *gg_optimizer_new(const gg_opt_config *cfg, gg_node *const *params, size_t n,
                               char *err);

/* One update of every parameter from its current gradient (one that
 * gg_zero_grad_lazy left counts as zero). */
GG_API void gg_optimizer_step(gg_optimizer *o);

/* Zeroes the parameters' gradients (cheaper than gg_zero_grad on the graph). */
GG_API void gg_optimizer_zero_grad(gg_optimizer *o);

/* Sets / reads the learning rate used by the next steps (schedules). */
GG_API void gg_optimizer_set_lr(gg_optimizer *o, double lr);
GG_API double gg_optimizer_lr(const gg_optimizer *o);

/* Frees o and its state. NULL is ignored. */
GG_API void gg_optimizer_free(gg_optimizer *o);

/* ---- Learning-rate schedules ---------------------------------------------- */

typedef enum gg_sched_kind { GG_SCHED_CONSTANT, GG_SCHED_STEP, GG_SCHED_COSINE } gg_sched_kind;

typedef struct gg_schedule {
    gg_sched_kind kind;
    size_t step_size; /* STEP: multiply by gamma every step_size units of t */
    double gamma;
    double min_factor; /* COSINE: the final lr is base_lr * min_factor */
} gg_schedule;

/* The learning rate at t of total (any unit: steps or epochs):
 *   constant: base
 *   step:     base * gamma^floor(t / step_size)
 *   cosine:   base * (f + (1 - f) * (1 + cos(pi * t / total)) / 2), f = min_factor */
GG_API double gg_schedule_lr(const gg_schedule *s, double base_lr, size_t t, size_t total);

/* ---- Classifiers: an MLP trained on a gg_dataset -------------------------
 * The graph is built once in f32 over a [batch, dim] input leaf and a [batch]
 * label leaf, with softmax cross-entropy on the MLP's output. Training walks
 * the data in shuffled mini-batches; the last short batch of an epoch is
 * padded with ignored rows (label -1), so every sample counts once per epoch
 * and the gradient is the mean over real rows. Evaluation walks the data in
 * order in chunks of batch, padded the same way. After the first step no
 * step allocates. */

typedef struct gg_classifier gg_classifier;

/* A new classifier for spec (its first width is the data's dim, its last
 * the number of classes), batch >= 1, weights from seed. */
GG_API gg_classifier *gg_classifier_new(const gg_mlp_spec *spec, size_t batch, uint64_t seed,
                                 char *err);
GG_API void gg_classifier_free(gg_classifier *c);
GG_API gg_mlp *gg_classifier_model(const gg_classifier *c);

/* Mean loss and accuracy on d (either output may be NULL). When confusion is
 * not NULL it receives classes * classes counts, [true][predicted]. Under
 * several ranks (gg_dist_init) it is collective: every rank passes the same
 * d, evaluates its gg_dist_slice of it and receives the totals of all. */
GG_API int gg_classifier_evaluate(gg_classifier *c, const gg_dataset *d, double *loss, double *accuracy,
                           size_t *confusion, char *err);

/* Class probabilities (softmax of the outputs) of n samples x[n * dim] into
 * probs[n * classes]. */
GG_API int gg_classifier_predict(gg_classifier *c, const float *x, size_t n, float *probs, char *err);

/* Writes predictions as CSV to out: a header "class,p0,p1,...", then per
 * row the most probable class (the first of ties) and every probability
 * (%.9g) of probs[n * classes]. Errors: classes 0, a write error (the
 * message names "<stream>"). */
GG_API int gg_predictions_write(FILE *out, const float *probs, size_t n, size_t classes, char *err);

/* The same CSV into path, replaced atomically (gg_atomic_open in
 * gategrad/io.h): on any error the file at path is left as it was. */
GG_API int gg_predictions_save(const char *path, const float *probs, size_t n, size_t classes, char *err);

typedef struct gg_fit_config {
    size_t epochs;
    gg_opt_config opt;
    gg_schedule schedule; /* evaluated per step over epochs * steps per epoch */
    size_t patience;      /* early stopping: stop after this many epochs without a
                             lower validation loss and restore the best weights;
                             0 = off */
    uint64_t seed;        /* batch order (dropout masks follow the model's seed) */
    int grad_norms;       /* 1: gg_epoch_stats.grad_norm is measured (a little
                             slower; the training itself is unchanged) */
} gg_fit_config;

typedef struct gg_epoch_stats {
    size_t epoch;      /* 1-based */
    double train_loss; /* mean over the epoch's batches */
    double val_loss, val_accuracy; /* NaN without validation data */
    double lr;         /* at the end of the epoch */
    double seconds;    /* training time of the epoch (validation excluded) */
    /* With gg_fit_config.grad_norms: per layer i (0-based, fc(i+1).weight),
     * the L2 norm of the loss's gradient with respect to its weights,
     * averaged over the epoch's steps; 0 otherwise. Vanishing gradients
     * show as norms that shrink towards the input layer. */
    double grad_norm[GG_MLP_MAX_LAYERS];
} gg_epoch_stats;

typedef struct gg_fit_callbacks {
    /* After every batch: samples done in this epoch out of total. May be NULL. */
    void (*batch)(void *ctx, size_t done, size_t total);
    /* After every epoch. May be NULL. */
    void (*epoch)(void *ctx, const gg_epoch_stats *s);
    void *ctx;
} gg_fit_callbacks;

typedef struct gg_fit_result {
    size_t epochs;        /* epochs run */
    size_t best_epoch;    /* lowest validation loss (0 without validation) */
    double train_seconds; /* sum of the epochs' training time */
} gg_fit_result;

/* Trains c on train, validating on val (NULL or empty: no validation, no
 * early stopping). cb and res may be NULL. While it runs, the calling
 * thread flushes denormal floats to zero (FTZ/DAZ, where the CPU has them;
 * callbacks see that mode); its own mode is restored on return.
 *
 * Data-parallel under several ranks (gategrad/dist.h, after gg_dist_init;
 * collective, every rank passes the same data and config): c's batch is
 * each rank's share and the global batch is batch * gg_dist_size(). Every
 * rank first takes rank 0's weights and cfg->seed; each walks the epoch's
 * order in global batches and runs its gg_dist_slice of each (a last short
 * batch is split the same way), and the gradients are summed weighted by
 * rows, so the ranks compute what one process computes at the global batch
 * up to the order of float sums, and hold bit-identical weights after every
 * step. Batch normalization's statistics and dropout's masks are each
 * rank's own (no synchronized batch norm), so models with them train
 * equivalently, not equally. Validation is evaluated as gg_classifier_evaluate
 * does it under several ranks; the callbacks run on every rank, with the
 * global figures (done counts all ranks' samples). */
GG_API int gg_classifier_fit(gg_classifier *c, const gg_dataset *train, const gg_dataset *val,
                      const gg_fit_config *cfg, const gg_fit_callbacks *cb, gg_fit_result *res,
                      char *err);

/* ---- Data sets by name -------------------------------------------------------
 * Loads the data set name means into train and test:
 *   "fashion-mnist"  the IDX files in $GG_FASHION_MNIST_DIR, else
 *                    /usr/share/datasets/fashion-mnist (Debian package
 *                    dataset-fashion-mnist); its own train/test split
 *   "xor", "circle", "gauss", "spiral"  1000 TensorFlow Playground points
 *                    for training and 500 for testing, generated from seed
 *   a directory      MNIST-format IDX files (gg_mnist_load)
 *   FILE.csv         gg_csv_load (label in the last column), shuffled with
 *                    seed and split 80% / 20%
 * On error both are left empty and err holds the loader's message. */
GG_API int gg_load_named_dataset(const char *name, uint64_t seed, gg_dataset *train, gg_dataset *test,
                          char *err);

#endif
