/* gategrad/dist.h - data-parallel training over MPI.
 *
 * N copies of one program (ranks), started by `mpirun -np N` or `mpiexec`,
 * each hold the whole model and train on their own slice of every batch;
 * after each backward pass the ranks sum their gradients (an all-reduce),
 * so every rank takes the same optimizer step and the parameters stay
 * identical. This is what Horovod and PyTorch's DistributedDataParallel do;
 * gategrad calls MPI for the transport.
 *
 *     gg_dist_init(0, err);                         // MPI only under mpirun
 *     gg_dist_broadcast_params(params, n, err);     // everyone starts equal
 *     gg_dist_grads *r = gg_dist_grads_new(params, n, 1, err);
 *     for (each step) {
 *         load this rank's slice (gg_dist_slice) of the global batch;
 *         gg_forward(g, loss); gg_backward(g, loss);
 *         gg_dist_grads_step(r, NULL, err);        // gradients := their mean
 *         optimizer step; zero the gradients;
 *     }
 *     gg_dist_grads_free(r);
 *     gg_dist_finalize();
 *
 * gg_classifier_fit does all of this by itself (gategrad/nn.h).
 *
 * A library built without MPI (meson -Dmpi=disabled, or no MPI found) has
 * the same functions: they act as one rank of one, so callers never need
 * an #ifdef. Only gg_dist_init then fails, when the launcher says there are
 * several ranks (they would otherwise all train alone).
 *
 * Every collective function (broadcast, reduce, sum, barrier) must be
 * called by all ranks in the same order; a rank that stops calling them
 * leaves the others waiting, so a failing rank calls gg_dist_abort. The
 * functions are called from one thread (MPI_THREAD_FUNNELED): the thread
 * that called gg_dist_init. Errors: 0 on success, -1 with a message in err
 * (GG_ERRLEN bytes, may be NULL). */
#ifndef GATEGRAD_DIST_H
#define GATEGRAD_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "gategrad/base.h"
#include "gategrad/graph.h"

/* Starts MPI when the process was launched by an MPI launcher (Open MPI's
 * OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK, MPICH's PMI_SIZE in the
 * environment) or when force is non-zero, asking for MPI_THREAD_FUNNELED.
 * Not launched and not forced, it does nothing and the process is one rank
 * of one. Uses an MPI the program initialized itself (and then leaves
 * finalizing it to the program). Safe to call again (no-op). Errors: the
 * launcher's variables are malformed, MPI fails to start or gives less
 * than FUNNELED, or several ranks are launched and the library was built
 * without MPI. */
GG_API int gg_dist_init(int force, char *err);

/* Whether this library was built with MPI (1) or acts as one rank (0). */
GG_API int gg_dist_available(void);

/* This process's rank in 0..size-1, the number of ranks, and the number of
 * ranks on this machine (this one included). 0, 1, 1 before gg_dist_init
 * and without MPI. */
GG_API int gg_dist_rank(void);
GG_API int gg_dist_size(void);
GG_API int gg_dist_local_size(void);

/* The default threads per rank: the machine's online CPUs divided by the
 * ranks on it, at least 1 and at most 16 (what gg_num_threads caps at). */
GG_API int gg_dist_threads_per_rank(void);

/* Waits until every rank has called it. */
GG_API int gg_dist_barrier(char *err);

/* Copies rank 0's bytes into every other rank's buf (bytes the same on
 * every rank). */
GG_API int gg_dist_broadcast(void *buf, size_t bytes, char *err);

/* Copies rank 0's values of nodes[0..n) (F32 or F64 leaves of the same
 * shapes on every rank) into the other ranks' nodes, so that models built
 * from different seeds start equal. */
GG_API int gg_dist_broadcast_params(gg_node *const *nodes, size_t n, char *err);

/* In place, values[i] := the sum over ranks of values[i] (metric sums such
 * as a loss total, a count of right answers: counts below 2^53 stay exact).
 * Every rank ends with the same values. */
GG_API int gg_dist_sum(double *values, size_t n, char *err);

/* The slice [*lo, *hi) of a batch of m samples that rank takes out of size
 * ranks: consecutive, as equal as they can be (m * rank / size to
 * m * (rank + 1) / size), so the slices of all ranks tile the batch. */
GG_API void gg_dist_slice(size_t m, int rank, int size, size_t *lo, size_t *hi);

/* The shard of a data set of n samples that rank (of size) trains on in
 * epoch (0-based) with global batch: the epoch's order is the one
 * gg_batcher walks (seeded with seed, reshuffled every epoch), cut into
 * global batches of `batch` (the last one short), and the shard is this
 * rank's gg_dist_slice of each of them, in order. Writes the sample
 * indices into out (room for n) and returns how many (0 after an error:
 * n is 0 or over 2^32-1, batch is 0, rank is not in 0..size-1, or memory). The
 * shards of all ranks of one epoch are disjoint and cover the data. */
GG_API size_t gg_dist_shard(size_t n, size_t batch, uint64_t seed, size_t epoch, int rank, int size,
                            uint32_t *out, char *err);

/* ---- Gradients as one buffer --------------------------------------------
 * A reducer packs the gradients of params into one contiguous buffer, sums
 * it over the ranks in one MPI_Allreduce and unpacks it, in place. With
 * accumulate = k > 1, gg_dist_grads_step communicates only on every k-th
 * call and otherwise leaves the gradients to keep summing locally over the
 * steps' backward passes (PyTorch DDP's no_sync): the caller then steps the
 * optimizer and zeroes the gradients only when it returns 1. */
typedef struct gg_dist_grads gg_dist_grads;

/* A reducer for the gradients of params[0..n) (all F32 or all F64, each
 * carrying a gradient; the array is copied, the nodes are borrowed and must
 * outlive it), accumulate >= 1. NULL with a message on an error. */
GG_API gg_dist_grads *gg_dist_grads_new(gg_node *const *params, size_t n, int accumulate, char *err);
GG_API void gg_dist_grads_free(gg_dist_grads *r);

/* Bytes one all-reduce sends per rank: the gradients and one value. */
GG_API size_t gg_dist_grads_bytes(const gg_dist_grads *r);

/* Every gradient := the sum over ranks of weight_r * gradient_r, weight_r
 * being this rank's weight (for example its rows over the batch's rows, so
 * that the mean loss over a batch split unevenly keeps its meaning). When
 * value is not NULL it travels in the same message: in, this rank's (say
 * its mean loss); out, the sum over ranks of weight_r * value_r, in the
 * gradients' precision. Every rank ends with the same bits. */
GG_API int gg_dist_grads_reduce(gg_dist_grads *r, double weight, double *value, char *err);

/* The averaging step, with accumulation: returns 0 without communicating on
 * the first accumulate - 1 of every accumulate calls, and on the last
 * reduces with weight 1 / (size * accumulate) (the mean over ranks and
 * steps; value as in gg_dist_grads_reduce, the local values summed over the
 * steps) and returns 1. -1 on an error. */
GG_API int gg_dist_grads_step(gg_dist_grads *r, double *value, char *err);

/* Ends the job: with several ranks, MPI_Abort with code, which stops every
 * rank promptly (print the message first); with one rank it returns, so
 * the caller exits as usual. */
GG_API void gg_dist_abort(int code);

/* Shuts MPI down if gg_dist_init started it; afterwards the process is one
 * rank of one. Collective: every rank calls it. */
GG_API void gg_dist_finalize(void);

#endif
