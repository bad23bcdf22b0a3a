/* bench.h - the measurements of gategrad-bench, each beside a reference
 * taken in the same run. The benchmark links the library's internal
 * archive (as the tests do), so it can time the kernels themselves. */
#ifndef GG_BENCH_H
#define GG_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "gategrad/nn.h"

typedef struct bench_scalar_shape {
    double engine_s, tape_s;          /* best of the repetitions, record + backward */
    size_t engine_bytes, tape_bytes;  /* memory each side held for the graph */
    double max_grad_diff;             /* relative, over the leaves' gradients, worst repetition */
    double live_share;                /* nodes the backward gave a non-zero gradient */
} bench_scalar_shape;

typedef struct bench_scalar_result {
    size_t nodes;
    bench_scalar_shape local; /* operands recent, among 64 leaves, or the running sum */
    bench_scalar_shape far;   /* a quarter of them drawn from every earlier node */
    /* The engine's rebuild loop (truncate, record, backward) after each
     * shape's first step: steps, heap allocations (-1: not countable) and
     * minor page faults in all. */
    int rebuild_steps;
    long rebuild_allocs, rebuild_faults;
} bench_scalar_result;

/* Builds and back-propagates an n-node random scalar graph (add, mul, max,
 * copy, sigmoid) of each shape with the engine (one graph, truncated and
 * rebuilt) and with a reference tape (arrays reused), reps >= 2 times
 * each, interleaved. 0 on success. */
int bench_scalar(size_t n, int reps, bench_scalar_result *res);

typedef struct bench_moons_result {
    int points, steps;
    size_t nodes;              /* of the recorded graph */
    double engine_s, ref_s;    /* fastest seconds per training step, over the repetitions */
    double engine_loss, ref_loss; /* the last step's loss */
    int engine_right, ref_right;  /* points classified right at the last step */
    long allocs;               /* heap allocations in the engine's steps after each
                                  training's first, all repetitions; -1: not countable */
} bench_moons_result;

/* micrograd's moons demo (examples/moons.c): trains the 2-16-16-1 scalar
 * MLP for its 100 steps, graph recorded once, reps times, interleaved with
 * the same training over C arrays. 0 on success. */
int bench_moons(int reps, bench_moons_result *res);

typedef struct bench_train_result {
    const char *data;        /* "fashion-mnist", or "synthetic" of its shape */
    const char *model;       /* the MLP spec */
    size_t batch, samples, steps; /* steps per epoch */
    int threads;
    double epoch_s;          /* fastest seconds per training epoch */
    double gemm_s;           /* fastest seconds of the same epoch's matrix products alone */
    double torch_s;          /* PyTorch's fastest epoch, interleaved; NAN without it */
    double torch_loss;       /* PyTorch's mean training loss in its last epoch */
    double allocs_per_step;  /* heap allocations per step after an epoch's first, worst
                                epoch; -1 where they cannot be counted (sanitizers) */
    double allocs_last_epoch; /* the same in the last epoch alone */
    double first_loss, last_loss; /* mean training loss of the first and last epoch */
    size_t peak_rss_bytes;   /* of the process after training (before other benchmarks) */
    size_t data_bytes;       /* of that, the data sets' arrays (training and test) */
} bench_train_result;

struct gg_dataset;
struct bench_torch;

/* One layer's input X [batch,in], weight W [in,out], output Z [batch,out]
 * and their gradients, as the matmul gate sees them. */
typedef struct bench_layer_bufs {
    size_t in, out;
    float *x, *w, *z, *dx, *dw, *dz;
} bench_layer_bufs;

/* An MLP's matrix products alone (products.c), in buffers of its shapes. */
typedef struct bench_products {
    int nlayers;
    size_t batch;
    bench_layer_bufs l[GG_MLP_MAX_LAYERS];
    float *block;
} bench_products;

/* Sets up the products of model (an MLP spec) at batch rows. 0, or -1 for
 * a spec that does not parse or out of memory. */
int bench_products_init(bench_products *p, const char *model, size_t batch);
void bench_products_free(bench_products *p);

/* Seconds for steps training steps' products: forward, then the weight
 * gradients and the input gradients of all layers but the first. */
double bench_products_train(bench_products *p, size_t steps);

/* Seconds for the forward products of samples rows, in batches. */
double bench_products_infer(bench_products *p, size_t samples);

/* Fashion-MNIST's training and test halves, or synthetic data of their
 * shape when it is absent or quick != 0 (1024 and 512 samples); *name says
 * which. 0, or -1 when memory ran out. */
int bench_load_data(int quick, struct gg_dataset *train, struct gg_dataset *test, const char **name);

/* Trains the classifier on train for reps epochs (quick != 0: one thread),
 * each followed by the epoch's matrix products alone and, when torch is not
 * NULL, preceded by PyTorch's epoch. 0 on success; -1 with a message in err
 * (GG_ERRLEN bytes). */
int bench_train(int quick, int reps, const struct gg_dataset *train, struct bench_torch *torch,
                bench_train_result *res, char *err);

/* One model of the growth table: our fastest pass over steps batches of
 * the training set and PyTorch's, interleaved. */
typedef struct bench_scale_row {
    const char *model;
    size_t batch, steps;
    double flops_per_step;   /* 2 x multiply-adds of the step's products */
    double ours_s, torch_s;  /* fastest seconds for steps steps; torch NAN without it */
    double products_s;       /* fastest seconds of the same steps' matrix products alone */
} bench_scale_row;

/* 784-1024-1024-10 and 784-4096-4096-10 (relu, Adam) at batch 256, 3
 * interleaved repetitions (quick: the first model alone, two steps once,
 * no PyTorch; the second row has steps 0). 0, or -1 with a message in err. */
int bench_scale(int quick, const struct gg_dataset *train, struct bench_torch *torch, bench_scale_row rows[2],
                char *err);

typedef struct bench_predict_result {
    size_t samples, batch;
    double ours_s, torch_s;  /* fastest seconds over all samples; torch NAN without it */
    double products_s;       /* fastest seconds of the forward's matrix products alone */
    double flops;            /* multiply-adds x 2 of those products over all samples */
    double prob_sum_error;   /* |sum of every probability - samples| / samples */
} bench_predict_result;

/* gg_classifier_predict (784-256-128-10, batch 256, as gategrad predict)
 * over the test images beside PyTorch's eval mode, 7 interleaved
 * repetitions (quick: one, no PyTorch). 0, or -1 with a message in err. */
int bench_predict(int quick, const struct gg_dataset *test, struct bench_torch *torch,
                  bench_predict_result *res, char *err);

/* Heap allocations (malloc, calloc, realloc, aligned) this process made so
 * far, or -1 when they cannot be counted (bench_alloc.c says how). */
long bench_alloc_count(void);

/* gategrad-bench --dist ARGS (argv after --dist), under mpiexec -np N:
 * data-parallel steps per per-rank batch, beside one rank alone; prints the
 * table and returns the exit code. */
int bench_dist(int argc, char **argv);

/* Monotonic clock, seconds. */
double bench_now(void);

/* The f32 FMA rate, GFLOP/s, of nthreads threads running at once at the
 * width of the GEMM kernel path chosen (AVX-512, AVX2, or one lane): the
 * peak the GEMM table compares against. Best of seven rounds. */
double bench_fma_peak(int nthreads);

/* Times f32 GEMM on the MLP shapes (forward and both backward products of
 * 784-256-128-10 at batch 128) and on 1024^3, with the current thread count
 * (gg_num_threads) and kernel path, and prints one line per shape to out:
 * GFLOP/s, the fraction of the CPU's measured FMA peak and, when OpenBLAS's
 * libopenblas.so.0 can be loaded at run time, OpenBLAS's GFLOP/s with the
 * same thread count and our ratio to it. json != 0 prints one JSON object
 * instead of a table. quick != 0 times few repetitions (a couple of seconds
 * in all) and skips 1024^3. Every shape's result is first checked against
 * a double-precision reference. Returns 0, 1 if a result was wrong, or -1
 * if memory ran out. Timings are reported, never judged. It may setenv
 * OPENBLAS_CORETYPE (see gemm.c), so call it while no other thread reads
 * the environment. */
int bench_gemm(FILE *out, int quick, int json);

typedef struct bench_hvp_result {
    size_t nodes_loss, nodes_hvp; /* nodes of the loss's graph, and with the H.v graph */
    double gradient_s;            /* fastest forward + zero_grad + backward of the loss */
    double hvp_s;                 /* fastest gg_forward of the recorded H.v (all parameters) */
    double checksum;              /* sum of every H.v element, finite when it ran */
} bench_hvp_result;

/* A Hessian-vector product of the MLP's loss (784-256-128-10, relu, batch
 * 128, f32) with respect to all parameters, recorded with gg_hvp and re-run,
 * beside one first-order gradient of the same loss (bench/hvp.c). 0 on
 * success, -1 if recording failed. */
int bench_hvp(int quick, bench_hvp_result *res);

/* PyTorch as a reference in the same run (torch_ref.c): bench/pytorch_epoch.py
 * --serve, started by /usr/bin/python3 with Debian's OpenMP OpenBLAS
 * (LD_LIBRARY_PATH), OPENBLAS_CORETYPE=SkylakeX where the CPU has AVX-512,
 * denormals flushed and the given thread count. */
typedef struct bench_torch {
    int pid;              /* the child, or -1 */
    FILE *to, *from;
    char version[32];     /* torch.__version__ */
    char missing[128];    /* why it could not start, when it did not */
} bench_torch;

/* Starts the child. 0, or -1 with the reason in t->missing (python3, torch
 * or the OpenMP OpenBLAS missing). */
int bench_torch_start(bench_torch *t, int threads);

/* Times steps training steps of the relu MLP spec (e.g. "784-256-128-10:relu")
 * at batch, Adam lr 1e-3 (steps 0: one whole shuffled epoch of the
 * Fashion-MNIST training set). 0, or -1 when the child is gone. */
int bench_torch_train(bench_torch *t, const char *spec, size_t batch, size_t steps, double *seconds,
                      double *loss);

/* Times eval-mode softmax predictions over the 10,000 test images at batch
 * (784-256-128-10). 0, or -1. */
int bench_torch_predict(bench_torch *t, size_t batch, double *seconds);

/* Ends the child (if any); t may be started again. */
void bench_torch_stop(bench_torch *t);

/* Sleeps 0.2 s: OpenBLAS's and OpenMP's idle threads keep spinning for about
 * 0.1 s after their last call, which would slow whatever ran next. */
void bench_settle(void);

#endif
