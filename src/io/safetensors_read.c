/* safetensors_read.c - reading tensor data: into checked caller buffers
 * (read, load) or raw (read_raw). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "io/ioerr.h"
#include "io/safetensors_internal.h"

/* Copies the bytes of tensor e into dst. */
static int copy_bytes(gg_safetensors *f, const gg__st_entry *e, void *dst, char *err)
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
        gg__ioerr(err, f->where, "cannot read tensor '%s': %s", e->name,
                  ferror(f->fp) ? strerror(errno) : "unexpected end of file");
        clearerr(f->fp);
        return -1;
    }
    return 0;
}

/* Checks that entry e is what t describes. */
static int check_match(const gg_safetensors *f, const gg__st_entry *e,
                       const gg_tensor_ref *t, char *err)
{
    const char *want = gg__st_dtype_name(t->dtype);
    const int64_t *dims = f->dims + e->dim0;
    if (strcmp(e->dtype, want) != 0) {
        int loadable = strcmp(e->dtype, "F32") == 0 || strcmp(e->dtype, "F64") == 0;
        gg__ioerr(err, f->where, "tensor '%s': dtype mismatch: expected %s, found %s%s",
                  e->name, want, e->dtype,
                  loadable ? "" : " (only F32 and F64 can be loaded)");
        return -1;
    }
    int same = e->rank == (size_t)t->rank;
    for (size_t i = 0; same && i < e->rank; i++)
        same = dims[i] == t->dims[i];
    if (!same) {
        char a[96], b[96];
        gg__st_format_shape(a, sizeof a, t->dims, (size_t)t->rank);
        gg__st_format_shape(b, sizeof b, dims, e->rank);
        gg__ioerr(err, f->where, "tensor '%s': shape mismatch: expected %s, found %s",
                  e->name, a, b);
        return -1;
    }
    return 0;
}

/* Reads entry e into t->data (t already validated), converting from
 * little-endian in place. */
static int read_entry(gg_safetensors *f, const gg__st_entry *e, const gg_tensor_ref *t,
                      char *err)
{
    if (check_match(f, e, t, err) || copy_bytes(f, e, t->data, err))
        return -1;
    size_t size = gg_dtype_size(t->dtype), n = (size_t)(e->end - e->begin) / size;
    unsigned char *p = t->data, tmp[8];
    for (size_t i = 0; i < n; i++, p += size) {
        memcpy(tmp, p, size);
        gg__le_load(p, tmp, size);
    }
    return 0;
}

/* Validates t and finds its entry. */
static int lookup(const gg_safetensors *f, const gg_tensor_ref *t, size_t *i, char *err)
{
    uint64_t bytes;
    const char *why = gg__st_ref_bytes(t, &bytes);
    if (why) {
        gg__ioerr(err, f->where, "invalid request for tensor '%s': %s",
                  t->name ? t->name : "(null)", why);
        return -1;
    }
    if (gg_safetensors_find(f, t->name, i) != 0) {
        gg__ioerr(err, f->where, "no tensor '%s' in the file", t->name);
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
        gg__ioerr(err, f->where, "no tensor number %zu (the file has %zu)", i, f->nt);
        return -1;
    }
    const gg__st_entry *e = &f->t[i];
    if (e->end - e->begin != size) {
        gg__ioerr(err, f->where, "tensor '%s' has %llu bytes, not %zu", e->name,
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
    unsigned char *used = gg__calloc(f->nt + 1, 1);
    int rc = -1;
    if (!used)
        gg__ioerr(err, path, "out of memory");
    else if (read_all(f, t, n, used, err) == 0)
        rc = 0;
    for (size_t i = 0; rc == 0 && !(flags & GG_SAFETENSORS_ALLOW_EXTRA) && i < f->nt; i++) {
        if (!used[i]) {
            gg__ioerr(err, path, "tensor '%s' in the file was not asked for", f->t[i].name);
            rc = -1;
        }
    }
    gg__free(used);
    gg_safetensors_close(f);
    return rc;
}
