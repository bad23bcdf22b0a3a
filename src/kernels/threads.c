/* kernels/threads.c - a small pthread pool: sleeping workers, one owner at a
 * time, spin-then-block hand-offs. See kernels/threads.h for the design. */
#include "kernels/kernels.h"

#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "gategrad/threads.h"

#define DEFAULT_CAP 16
/* How long a worker (or the owner waiting for the workers) polls before it
 * sleeps: long enough to bridge the gaps of a training step (the batch
 * gather and the single-threaded gates between two products; waking a
 * sleeping worker costs tens of microseconds in a VM), short enough not to
 * hold a core for long. Polling yields the core to anything else runnable. */
#define SPIN_NS 1000000L

typedef struct gg_pool {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers: a new generation (or stop) was posted */
    pthread_cond_t done; /* owner: remaining reached 0 */
    pthread_t *tids;
    int nworkers;
    int sized_for; /* workers asked for at start (more than nworkers if the
                      OS refused some); -1 while stopped */
    /* The job; written by the owner before it bumps gen, read-only after. */
    ggk_task_fn fn;
    void *arg;
    int ntasks;
    unsigned fpmode;
    atomic_uint gen;
    atomic_int remaining; /* workers yet to finish the current generation */
    atomic_int stop;
} gg_pool;

static gg_pool pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .sized_for = -1,
};
/* Held by whoever owns the pool: a running job, a resize, a shutdown. */
static pthread_mutex_t owner_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int num_threads; /* 0 until first read or set */
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Between polls: yield the core, so that a thread we wait for can run on
 * it when the machine has fewer free cores than threads (returns at once
 * when nothing else is runnable). */
static void cpu_relax(void)
{
    sched_yield();
}

/* Waits until gen differs from seen or stop is set; returns the new gen. */
static unsigned wait_new_gen(unsigned seen)
{
    long deadline = now_ns() + SPIN_NS;
    for (int i = 0;; i++) {
        unsigned g = atomic_load_explicit(&pool.gen, memory_order_acquire);
        if (g != seen || atomic_load(&pool.stop))
            return g;
        if ((i & 7) == 7 && now_ns() > deadline)
            break;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.mu);
    unsigned g;
    while ((g = atomic_load(&pool.gen)) == seen && !atomic_load(&pool.stop))
        pthread_cond_wait(&pool.wake, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    return g;
}

static void *worker_main(void *p)
{
    int id = (int)(intptr_t)p;
    unsigned seen = 0;
    for (;;) {
        seen = wait_new_gen(seen);
        if (atomic_load(&pool.stop))
            break;
        if (id < pool.ntasks) {
            ggk_fp_mode_set(pool.fpmode);
            pool.fn(pool.arg, id, pool.ntasks);
        }
        if (atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_broadcast(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

/* Owner side: waits for every worker to finish the current generation. */
static void wait_done(void)
{
    long deadline = now_ns() + SPIN_NS;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&pool.remaining, memory_order_acquire) == 0)
            return;
        if ((i & 7) == 7 && now_ns() > deadline)
            break;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.remaining) != 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

/* Joins the workers; caller holds owner_mu. */
static void pool_stop_locked(void)
{
    pool.sized_for = -1;
    if (pool.nworkers == 0)
        return;
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.stop, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++)
        pthread_join(pool.tids[i], NULL);
    ggb_free(pool.tids);
    pool.tids = NULL;
    pool.nworkers = 0;
    atomic_store(&pool.stop, 0);
    atomic_store(&pool.gen, 0);
}

/* A forked child has none of the workers: forget them (and any lock state
 * copied from the parent) so that its first job starts a fresh pool. */
static void reset_in_child(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&owner_mu, NULL);
    ggb_free(pool.tids);
    pool.tids = NULL;
    pool.nworkers = 0;
    pool.sized_for = -1;
    atomic_store(&pool.stop, 0);
    atomic_store(&pool.gen, 0);
}

static void register_atexit(void)
{
    atexit(ggk_threads_shutdown);
    pthread_atfork(NULL, NULL, reset_in_child);
}

/* Starts n workers (fewer if the OS refuses); caller holds owner_mu. Workers
 * block all signals so that the application's handlers run on its threads. */
static void pool_start_locked(int n)
{
    pool.sized_for = n;
    if (n <= 0)
        return;
    pthread_once(&atexit_once, register_atexit);
    pool.tids = ggb_malloc((size_t)n * sizeof *pool.tids);
    if (!pool.tids)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = 0;
    while (started < n &&
           pthread_create(&pool.tids[started], NULL, worker_main,
                          (void *)(intptr_t)(started + 1)) == 0)
        started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pool.nworkers = started;
    if (started == 0) {
        ggb_free(pool.tids);
        pool.tids = NULL;
    }
}

void ggk_threads_shutdown(void)
{
    pthread_mutex_lock(&owner_mu);
    pool_stop_locked();
    pthread_mutex_unlock(&owner_mu);
}

static int default_threads(void)
{
    const char *env = getenv("GG_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= GG_MAX_THREADS)
            return (int)v;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > DEFAULT_CAP ? DEFAULT_CAP : (int)cpus;
}

int gg_num_threads(void)
{
    int n = atomic_load(&num_threads);
    if (n == 0) {
        int expected = 0;
        atomic_compare_exchange_strong(&num_threads, &expected, default_threads());
        n = atomic_load(&num_threads);
    }
    return n;
}

int gg_set_num_threads(int n)
{
    if (n < 1 || n > GG_MAX_THREADS)
        return -1;
    pthread_mutex_lock(&owner_mu);
    atomic_store(&num_threads, n);
    /* The pool is resized lazily by the next job. */
    pthread_mutex_unlock(&owner_mu);
    return 0;
}

/* Posts the job to the workers, runs task 0, waits for the rest. */
static void run_job(ggk_task_fn fn, void *arg, int n)
{
    pool.fn = fn;
    pool.arg = arg;
    pool.ntasks = n;
    pool.fpmode = ggk_fp_mode_get();
    atomic_store(&pool.remaining, pool.nworkers);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    fn(arg, 0, n);
    wait_done();
}

int ggk_parallel_run(ggk_task_fn fn, void *arg, int want)
{
    int total = gg_num_threads();
    if (want > total)
        want = total;
    if (want <= 1 || pthread_mutex_trylock(&owner_mu) != 0) {
        fn(arg, 0, 1);
        return 1;
    }
    if (pool.sized_for != total - 1) {
        pool_stop_locked();
        pool_start_locked(total - 1);
    }
    int n = want < pool.nworkers + 1 ? want : pool.nworkers + 1;
    if (n <= 1)
        fn(arg, 0, 1);
    else
        run_job(fn, arg, n);
    pthread_mutex_unlock(&owner_mu);
    return n;
}
