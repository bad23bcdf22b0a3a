/* kernels/threads.h - the worker pool behind the parallel kernels
 * (internal; the public knobs are in gategrad/threads.h).
 *
 * Design: gg_num_threads() - 1 worker threads, created on first use and
 * kept asleep on a condition variable between jobs (after a short spin, so
 * back-to-back products skip the wake-up). One caller at a time owns the
 * pool (a mutex taken with trylock); a concurrent caller does not wait but
 * runs its job on its own thread with nthreads = 1. Tasks must therefore
 * partition their work by the nthreads they are handed, and must give the
 * same results whatever it is. */
#ifndef GG_KERNELS_THREADS_H
#define GG_KERNELS_THREADS_H

/* A parallel job: called once for each tid in [0, nthreads), concurrently,
 * tid 0 on the calling thread. */
typedef void (*gg__task_fn)(void *arg, int tid, int nthreads);

/* Runs fn(arg, tid, n) for tid in [0, n) and returns n once all are done,
 * where n = min(want, threads available): 1 if want <= 1, the pool is busy
 * with another caller's job, or it has no workers. The workers run with the
 * caller's floating-point mode (FTZ/DAZ, rounding). Never fails. */
int gg__parallel_run(gg__task_fn fn, void *arg, int want);

/* Stops and joins the worker threads and frees the pool. Registered with
 * atexit when the pool is first created, so leak checkers see nothing at
 * exit; the pool restarts if used again. Must not be called from a task. */
void gg__threads_shutdown(void);

#endif
