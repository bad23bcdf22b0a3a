/* gategrad/threads.h - how many threads gategrad's kernels may use.
 *
 * The matrix products (every matmul, forward and backward) split large
 * problems across a small pool of worker threads, the calling thread taking
 * a share too. Small products run on the calling thread alone. Results do
 * not depend on the thread count: each output element is computed by the
 * same sequence of operations whichever thread computes it, so a run is
 * bit-identical to itself and to runs with other thread counts.
 *
 * Several user threads may call gategrad at once (for example training two
 * graphs side by side): one of them uses the pool at a time and the others
 * run their products on their own thread meanwhile. */
#ifndef GATEGRAD_THREADS_H
#define GATEGRAD_THREADS_H

#include "gategrad/base.h"

/* Largest value gg_set_num_threads accepts. */
#define GG_MAX_THREADS 256

/* Sets the number of threads the kernels may use, n counting the calling
 * thread (1 = no worker threads). Takes effect for products started after
 * it returns; waits for a product using the pool to finish first. Returns 0,
 * or -1 (nothing changed) if n < 1 or n > GG_MAX_THREADS. If the operating
 * system refuses to start worker threads later, products run with the
 * threads it did start (at least the calling one); nothing fails. */
GG_API int gg_set_num_threads(int n);

/* The number of threads the kernels may use. Until gg_set_num_threads is
 * called this is the value of the environment variable GG_NUM_THREADS if it
 * holds an integer in [1, GG_MAX_THREADS], else the number of online CPUs
 * capped at 16 (more rarely pays for the matrix sizes of small networks). */
GG_API int gg_num_threads(void);

#endif
