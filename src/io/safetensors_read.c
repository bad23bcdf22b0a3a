/* safetensors_read.c - reading tensor data: into checked caller buffers
 * (read, load) or raw (read_raw). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"

/* Copies the bytes of tensor e into dst. */
static int copy_bytes(gg_safetensors *f, const ggi_st_entry *e, void *dst, char *err)
{
    uint64_t n = e->end - e->begin;
    if (n == 0)
        return 0;
    if (f->mem) {
        memcpy(dst, f->mem + f->data_start + e->begin, (size_t)n);
        return 0;
    }
    /* The file may have shrunk since the header was checked. */
    if (fseeko(f->fp, (off_t)(f->data_start + e->begin), SEEK_SET) != 0
        || fread(dst, 1, (size_t)n, f->fp) != n) {
        ggb_errorf(err, "%s: cannot read tensor '%s': %s", f->where, e->name,
                  ferror(f->fp) ? strerror(errno) : "unexpected end of file");
        clearerr(f->fp);
        return -1;
    }
    return 0;
}

/* Checks that entry e is what t describes. */
static int check_match(const gg_safetensors *f, const ggi_st_entry *e,
                       const gg_tensor_ref *t, char *err)
{
    const char *want = ggi_st_dtype_name(t->dtype);
    const int64_t *dims = f->dims + e->dim0;
    if (strcmp(e->dtype, want) != 0) {
        int loadable = strcmp(e->dtype, "F32") == 0 || strcmp(e->dtype, "F64") == 0;
        ggb_errorf(err, "%s: tensor '%s': dtype mismatch: expected %s, found %s%s", f->where,
                  e->name, want, e->dtype,
                  loadable ? "" : " (only F32 and F64 can be loaded)");
        return -1;
    }
    int same = e->rank == (size_t)t->rank;
    for (size_t i = 0; same && i < e->rank; i++)
        same = dims[i] == t->dims[i];
    if (!same) {
        char a[96], b[96];
        ggi_st_format_shape(a, sizeof a, t->dims, (size_t)t->rank);
        ggi_st_format_shape(b, sizeof b, dims, e->rank);
        ggb_errorf(err, "%s: tensor '%s': shape mismatch: expected %s, found %s", f->where,
                  e->name, a, b);
        return -1;
    }
    return 0;
}

/* Reads entry e into t->data (t already validated), converting from
 * little-endian in place. */
static int read_entry(gg_safetensors *f, const ggi_st_entry *e, const gg_tensor_ref *t,
                      char *err)
{
    if (check_match(f, e, t, err) || copy_bytes(f, e, t->data, err))
        return -1;
    size_t size = gg_dtype_size(t->dtype), n = (size_t)(e->end - e->begin) / size;
    unsigned char *p = t->data, tmp[8];
    for (size_t i = 0; i < n; i++, p += size) {
        memcpy(tmp, p, size);
        ggi_le_load(p, tmp, size);
    }
    return 0;
}

/* Validates t and finds its entry. */
static int lookup(const gg_safetensors *f, const gg_tensor_ref *t, size_t *i, char *err)
{
    uint64_t bytes;
    const char *why = ggi_st_ref_bytes(t, &bytes);
    if (why) {
        ggb_errorf(err, "%s: invalid request for tensor '%s': %s", f->where,
                  t->name ? t->name : "(null)", why);
        return -1;
    }
    if (gg_safetensors_find(f, t->name, i) != 0) {
        ggb_errorf(err, "%s: no tensor '%s' in the file", f->where, t->name);
        return -1;
    }
    return 0;
}

int gg_safetensors_read(gg_safetensors *f, const gg_tensor_ref *t, char *err)
{
    size_t i;
    if (lookup(f, t, &i, err))
        return -1;
    return read_entry(f, &f->t[i], t, err);
}

int gg_safetensors_read_raw(gg_safetensors *f, size_t i, void *dst, size_t size,
                            char *err)
{
    if (i >= f->nt) {
        ggb_errorf(err, "%s: no tensor number %zu (the file has %zu)", f->where, i, f->nt);
        return -1;
    }
    const ggi_st_entry *e = &f->t[i];
    if (e->end - e->begin != size) {
        ggb_errorf(err, "%s: tensor '%s' has %llu bytes, not %zu", f->where, e->name,
                  (unsigned long long)(e->end - e->begin), size);
        return -1;
    }
    return copy_bytes(f, e, dst, err);
}

/* Reads every t[k], marking the entries used. */
static int read_all(gg_safetensors *f, gg_tensor_ref *t, size_t n, unsigned char *used,
                    char *err)
{
    for (size_t k = 0; k < n; k++) {
        size_t i;
        if (lookup(f, &t[k], &i, err) || read_entry(f, &f->t[i], &t[k], err))
            return -1;
        used[i] = 1;
    }
    return 0;
}

int gg_safetensors_load(const char *path, gg_tensor_ref *t, size_t n, unsigned flags,
                        char *err)
{
    gg_safetensors *f;
    if (gg_safetensors_open(path, &f, err))
        return -1;
    unsigned char *used = ggb_calloc(f->nt + 1, 1);
    int rc = -1;
    if (!used)
        ggb_errorf(err, "%s: out of memory", path);
    else if (read_all(f, t, n, used, err) == 0)
        rc = 0;
    for (size_t i = 0; rc == 0 && !(flags & GG_SAFETENSORS_ALLOW_EXTRA) && i < f->nt; i++) {
        if (!used[i]) {
            ggb_errorf(err, "%s: tensor '%s' in the file was not asked for", path, f->t[i].name);
            rc = -1;
        }
    }
    ggb_free(used);
    gg_safetensors_close(f);
    return rc;
}
