/* launch.c - whether an MPI launcher started this process, from the
 * environment it set: outside input, so every value is checked. */
#include <string.h>

#include "base/base.h"
#include "dist/dist.h"

/* The value of name in env, or NULL (the first occurrence wins). */
static const char *lookup(const char *const *env, const char *name)
{
    size_t len = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, len) && (*env)[len] == '=')
            return *env + len + 1;
    return NULL;
}

/* *out := the decimal number in text (digits only, below 2^31), or -1 when
 * text is NULL. Returns -1 for anything else. */
static int parse_count(const char *text, long *out)
{
    *out = -1;
    if (!text)
        return 0;
    if (!*text)
        return -1;
    long v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (0x7fffffffL - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

typedef struct family {
    const char *launcher, *size, *rank, *local_size;
} family;

static const family families[] = {
    {"Open MPI", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"PMI", "PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"},
    {"PMIx", NULL, "PMIX_RANK", NULL},
};

static int read_family(const char *const *env, const family *f, ggm_launch *out, char *err)
{
    const char *names[3] = {f->size, f->rank, f->local_size};
    long *dst[3] = {&out->size, &out->rank, &out->local_size};
    for (int i = 0; i < 3; i++) {
        const char *text = names[i] ? lookup(env, names[i]) : NULL;
        if (parse_count(text, dst[i]))
            return ggb_errorf(err, "MPI launch: %s='%.40s' is not a count below 2^31", names[i], text);
    }
    if (out->size == 0)
        return ggb_errorf(err, "MPI launch: %s is 0", f->size);
    if (out->size > 0 && out->rank >= out->size)
        return ggb_errorf(err, "MPI launch: rank %ld of %ld ranks", out->rank, out->size);
    if (out->local_size == 0 || (out->size > 0 && out->local_size > out->size))
        return ggb_errorf(err, "MPI launch: %ld ranks on this machine of %ld", out->local_size, out->size);
    return 0;
}

int ggm_parse_launch(const char *const *env, ggm_launch *out, char *err)
{
    *out = (ggm_launch){.size = -1, .rank = -1, .local_size = -1};
    for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
        const family *f = &families[i];
        if (!(f->size && lookup(env, f->size)) && !lookup(env, f->rank))
            continue;
        if (read_family(env, f, out, err)) {
            *out = (ggm_launch){.size = -1, .rank = -1, .local_size = -1};
            return -1;
        }
        out->launched = 1;
        out->launcher = f->launcher;
        return 0;
    }
    return 0;
}
