/* dist.c - ranks, broadcasts and all-reduces over MPI; built without MPI
 * (GG_HAVE_MPI undefined) the same functions act as one rank of one. */
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef GG_HAVE_MPI
#include <mpi.h>
#endif

#include "base/base.h"
#include "dist/dist.h"
#include "gategrad/rng.h"

extern char **environ;

static struct {
    int started; /* gg_dist_init found or started MPI */
    int owned;   /* it started MPI, so gg_dist_finalize ends it */
    int rank, size, local_size;
} world = {0, 0, 0, 1, 1};

/* One MPI call moves at most this many elements (its counts are int). */
#define CHUNK ((size_t)1 << 30)

int gg_dist_available(void)
{
#ifdef GG_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int gg_dist_rank(void) { return world.rank; }
int gg_dist_size(void) { return world.size; }
int gg_dist_local_size(void) { return world.local_size; }

int gg_dist_threads_per_rank(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long per = (cpus < 1 ? 1 : cpus) / world.local_size;
    return per < 1 ? 1 : per > 16 ? 16 : (int)per;
}

void gg_dist_slice(size_t m, int rank, int size, size_t *lo, size_t *hi)
{
    *lo = m * (size_t)rank / (size_t)size;
    *hi = m * (size_t)(rank + 1) / (size_t)size;
}

size_t gg_dist_shard(size_t n, size_t batch, uint64_t seed, size_t epoch, int rank, int size, uint32_t *out,
                     char *err)
{
    if (n == 0 || n > UINT32_MAX || batch == 0 || size < 1 || rank < 0 || rank >= size || !out) {
        ggb_errorf(err, "gg_dist_shard: need 1..2^32-1 samples, a batch, rank in 0..size-1 and an output");
        return 0;
    }
    /* The batcher's order: shuffled once at the start, again every epoch. */
    for (size_t i = 0; i < n; i++)
        out[i] = (uint32_t)i;
    gg_rng rng;
    gg_rng_seed(&rng, seed);
    for (size_t e = 0; e <= epoch; e++)
        gg_rng_shuffle(&rng, out, n);
    /* Each slice moves down to the end of the previous one, never past the
     * place it is read from. */
    size_t kept = 0;
    for (size_t start = 0; start < n; start += batch) {
        size_t m = n - start < batch ? n - start : batch, lo, hi;
        gg_dist_slice(m, rank, size, &lo, &hi);
        memmove(out + kept, out + start + lo, (hi - lo) * sizeof *out);
        kept += hi - lo;
    }
    return kept;
}

/* ---- The collectives ------------------------------------------------------ */

#ifdef GG_HAVE_MPI

static int mpi_failed(char *err, const char *what, int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        len = 0;
    text[len] = '\0';
    return ggb_errorf(err, "%s: MPI error: %s", what, len ? text : "unknown");
}

static int start_mpi(int *owned, char *err)
{
    int already = 0, provided = 0, rc;
    MPI_Initialized(&already);
    if (already) {
        MPI_Query_thread(&provided);
        *owned = 0;
    } else {
        if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
            return mpi_failed(err, "gg_dist_init", rc);
        *owned = 1;
    }
    if (provided < MPI_THREAD_FUNNELED) {
        if (*owned)
            MPI_Finalize();
        return ggb_errorf(err, "gg_dist_init: MPI gives a lower thread level than MPI_THREAD_FUNNELED");
    }
    /* Errors come back as codes, to become messages. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return 0;
}

static int count_local(int *local, char *err)
{
    MPI_Comm node;
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS)
        return mpi_failed(err, "gg_dist_init", rc);
    MPI_Comm_size(node, local);
    MPI_Comm_free(&node);
    return 0;
}

int gg_dist_init(int force, char *err)
{
    if (world.started)
        return 0;
    ggm_launch launch;
    if (ggm_parse_launch((const char *const *)environ, &launch, err))
        return -1;
    int already = 0;
    MPI_Initialized(&already);
    if (!already && !force && !launch.launched)
        return 0;
    int owned = 0, rank = 0, size = 1, local = 1;
    if (start_mpi(&owned, err))
        return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (count_local(&local, err)) {
        if (owned)
            MPI_Finalize();
        return -1;
    }
    world.started = 1, world.owned = owned;
    world.rank = rank, world.size = size, world.local_size = local;
    return 0;
}

int gg_dist_barrier(char *err)
{
    int rc = world.size > 1 ? MPI_Barrier(MPI_COMM_WORLD) : MPI_SUCCESS;
    return rc == MPI_SUCCESS ? 0 : mpi_failed(err, "gg_dist_barrier", rc);
}

int gg_dist_broadcast(void *buf, size_t bytes, char *err)
{
    for (size_t off = 0; world.size > 1 && off < bytes; off += CHUNK) {
        size_t len = bytes - off < CHUNK ? bytes - off : CHUNK;
        int rc = MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_failed(err, "gg_dist_broadcast", rc);
    }
    return 0;
}

/* In place, buf[0..n) := its sum over ranks, in dtype's precision. */
static int sum_in_place(void *buf, size_t n, gg_dtype dtype, const char *what, char *err)
{
    size_t esize = dtype == GG_F32 ? sizeof(float) : sizeof(double);
    MPI_Datatype type = dtype == GG_F32 ? MPI_FLOAT : MPI_DOUBLE;
    for (size_t off = 0; world.size > 1 && off < n; off += CHUNK) {
        size_t len = n - off < CHUNK ? n - off : CHUNK;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esize, (int)len, type, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_failed(err, what, rc);
    }
    return 0;
}

int ggm_barrier_idle(char *err)
{
    if (world.size == 1)
        return 0;
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req), done = 0;
    while (rc == MPI_SUCCESS && !done && (rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE)) == MPI_SUCCESS && !done)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return rc == MPI_SUCCESS ? 0 : mpi_failed(err, "barrier", rc);
}

double ggm_pingpong(size_t bytes, int reps, char *err)
{
    if (world.size < 2 || reps < 1 || bytes > INT_MAX)
        return 0;
    char *buf = ggb_calloc(bytes ? bytes : 1, 1);
    double *t = ggb_malloc((size_t)reps * sizeof *t), result = 0;
    int rc = buf && t ? MPI_SUCCESS : MPI_ERR_NO_MEM;
    for (int i = 0; i < reps && rc == MPI_SUCCESS && world.rank < 2; i++) {
        double t0 = MPI_Wtime();
        if (world.rank == 0 && (rc = MPI_Send(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD)) == MPI_SUCCESS)
            rc = MPI_Recv(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (world.rank == 1 && (rc = MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD,
                                              MPI_STATUS_IGNORE)) == MPI_SUCCESS)
            rc = MPI_Send(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        t[i] = (MPI_Wtime() - t0) / 2;
    }
    if (rc == MPI_SUCCESS && world.rank < 2) {
        result = t[0];
        for (int i = 1; i < reps; i++)
            result = t[i] < result ? t[i] : result;
    }
    ggb_free(buf), ggb_free(t);
    if (rc != MPI_SUCCESS)
        mpi_failed(err, "ping-pong", rc);
    if (ggm_barrier_idle(err) || gg_dist_broadcast(&result, sizeof result, err))
        return 0;
    return result;
}

void gg_dist_abort(int code)
{
    if (world.size > 1)
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

void gg_dist_finalize(void)
{
    int done = 0;
    if (world.owned && (MPI_Finalized(&done), !done))
        MPI_Finalize();
    world.started = world.owned = world.rank = 0;
    world.size = world.local_size = 1;
}

#else /* one rank of one */

int gg_dist_init(int force, char *err)
{
    (void)force;
    ggm_launch launch;
    if (ggm_parse_launch((const char *const *)environ, &launch, err))
        return -1;
    if (launch.size > 1)
        return ggb_errorf(err, "gg_dist_init: started by %s as one of %ld ranks, but this gategrad was built "
                          "without MPI (meson setup -Dmpi=enabled)", launch.launcher, launch.size);
    return 0;
}

int gg_dist_barrier(char *err)
{
    (void)err;
    return 0;
}

int gg_dist_broadcast(void *buf, size_t bytes, char *err)
{
    (void)buf, (void)bytes, (void)err;
    return 0;
}

static int sum_in_place(void *buf, size_t n, gg_dtype dtype, const char *what, char *err)
{
    (void)buf, (void)n, (void)dtype, (void)what, (void)err;
    return 0;
}

int ggm_barrier_idle(char *err)
{
    (void)err;
    return 0;
}

double ggm_pingpong(size_t bytes, int reps, char *err)
{
    (void)bytes, (void)reps, (void)err;
    return 0;
}

void gg_dist_abort(int code) { (void)code; }
void gg_dist_finalize(void) {}

#endif

int gg_dist_sum(double *values, size_t n, char *err)
{
    return sum_in_place(values, n, GG_F64, "gg_dist_sum", err);
}

int gg_dist_broadcast_params(gg_node *const *nodes, size_t n, char *err)
{
    for (size_t i = 0; i < n; i++) {
        gg_dtype dtype = gg_node_dtype(nodes[i]);
        if (dtype != GG_F32 && dtype != GG_F64)
            return ggb_errorf(err, "gg_dist_broadcast_params: node %zu is neither F32 nor F64", i);
        size_t esize = dtype == GG_F32 ? sizeof(float) : sizeof(double);
        if (gg_dist_broadcast(gg_data(nodes[i]), gg_numel(nodes[i]) * esize, err))
            return -1;
    }
    return 0;
}

/* ---- Gradients as one buffer ------------------------------------------------ */

struct gg_dist_grads {
    gg_node **params;
    size_t n, count; /* parameters, and their gradient elements */
    gg_dtype dtype;
    int accumulate, calls;
    double value;    /* the local values of the steps since the last reduce */
    void *buf;       /* count gradients and one value */
};

gg_dist_grads *gg_dist_grads_new(gg_node *const *params, size_t n, int accumulate, char *err)
{
    if (!params || n == 0 || accumulate < 1) {
        ggb_errorf(err, "gg_dist_grads_new: need parameters and accumulate >= 1");
        return NULL;
    }
    gg_dtype dtype = gg_node_dtype(params[0]);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (gg_node_dtype(params[i]) != dtype || (dtype != GG_F32 && dtype != GG_F64) ||
            !gg_grad_data(params[i])) {
            ggb_errorf(err, "gg_dist_grads_new: parameter %zu has no gradient or another dtype than the "
                       "first (all F32 or all F64)", i);
            return NULL;
        }
        count += gg_numel(params[i]);
    }
    size_t esize = dtype == GG_F32 ? sizeof(float) : sizeof(double);
    gg_dist_grads *r = ggb_calloc(1, sizeof *r);
    if (!r || !(r->params = ggb_malloc(n * sizeof *r->params)) || !(r->buf = ggb_malloc((count + 1) * esize))) {
        gg_dist_grads_free(r);
        ggb_errorf(err, "gg_dist_grads_new: out of memory for %zu gradients", count);
        return NULL;
    }
    memcpy(r->params, params, n * sizeof *params);
    r->n = n, r->count = count, r->dtype = dtype, r->accumulate = accumulate;
    return r;
}

void gg_dist_grads_free(gg_dist_grads *r)
{
    if (!r)
        return;
    ggb_free(r->params);
    ggb_free(r->buf);
    ggb_free(r);
}

size_t gg_dist_grads_bytes(const gg_dist_grads *r)
{
    return (r->count + 1) * (r->dtype == GG_F32 ? sizeof(float) : sizeof(double));
}

/* Gradients times weight into the buffer (out) or the buffer back into the
 * gradients. */
static void pack(gg_dist_grads *r, double weight, int out)
{
    size_t at = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t k = gg_numel(r->params[i]);
        void *g = gg_grad_data(r->params[i]);
        if (r->dtype == GG_F32) {
            float *b = (float *)r->buf + at, *gf = g, w = (float)weight;
            if (!out)
                memcpy(gf, b, k * sizeof *b);
            else
                for (size_t j = 0; j < k; j++)
                    b[j] = gf[j] * w;
        } else {
            double *b = (double *)r->buf + at, *gd = g;
            if (!out)
                memcpy(gd, b, k * sizeof *b);
            else
                for (size_t j = 0; j < k; j++)
                    b[j] = gd[j] * weight;
        }
        at += k;
    }
}

int gg_dist_grads_reduce(gg_dist_grads *r, double weight, double *value, char *err)
{
    if (world.size == 1 && weight == 1)
        return 0;
    pack(r, weight, 1);
    double v = value ? *value * weight : 0;
    if (r->dtype == GG_F32)
        ((float *)r->buf)[r->count] = (float)v;
    else
        ((double *)r->buf)[r->count] = v;
    if (sum_in_place(r->buf, r->count + 1, r->dtype, "gg_dist_grads_reduce", err))
        return -1;
    pack(r, 1, 0);
    if (value)
        *value = r->dtype == GG_F32 ? ((float *)r->buf)[r->count] : ((double *)r->buf)[r->count];
    return 0;
}

int gg_dist_grads_step(gg_dist_grads *r, double *value, char *err)
{
    r->value += value ? *value : 0;
    if (++r->calls < r->accumulate)
        return 0;
    double v = r->value;
    r->calls = 0, r->value = 0;
    if (gg_dist_grads_reduce(r, 1.0 / ((double)world.size * r->accumulate), &v, err))
        return -1;
    if (value)
        *value = v;
    return 1;
}
