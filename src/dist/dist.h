/* dist/dist.h - data-parallel training over MPI (internal, prefix ggm_):
 * reading the launcher's environment, which decides whether MPI starts. */
#ifndef GGM_DIST_H
#define GGM_DIST_H

#include <stddef.h>

#include "gategrad/dist.h"

/* What an MPI launcher told this process through its environment. */
typedef struct ggm_launch {
    int launched;              /* a launcher's variable was found */
    const char *launcher;      /* "Open MPI", "PMIx", "PMI" or NULL */
    long size, rank, local_size; /* -1 where the launcher did not say */
} ggm_launch;

/* Reads env (NULL-terminated "NAME=VALUE" strings, as environ; entries
 * without '=' are skipped) into *out: Open MPI's OMPI_COMM_WORLD_SIZE,
 * _RANK and _LOCAL_SIZE, else MPICH's PMI_SIZE, PMI_RANK and
 * MPI_LOCALNRANKS, else PMIx's PMIX_RANK. A value must be a decimal number
 * without sign or spaces, below 2^31; size >= 1, rank < size and
 * 1 <= local size <= size where they are known. Returns 0, or -1 with a
 * message naming the variable (then *out says not launched). */
int ggm_parse_launch(const char *const *env, ggm_launch *out, char *err);

/* A barrier whose waiting ranks sleep (1 ms naps) instead of spinning, so
 * that one rank can time a reference alone on the machine's cores. */
int ggm_barrier_idle(char *err);

/* The one-way time of a bytes-long message between ranks 0 and 1: the
 * fastest of reps round trips, halved (the other ranks idle meanwhile; on
 * a loaded machine the others wait for the scheduler); 0 with fewer than 2
 * ranks. Collective. */
double ggm_pingpong(size_t bytes, int reps, char *err);

#endif
