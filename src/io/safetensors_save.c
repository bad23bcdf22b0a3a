/* safetensors_save.c - writing a safetensors file atomically. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"

/* Elements are converted to little-endian through a buffer this big. */
#define CHUNK 8192

typedef struct save_item {
    const gg_tensor_ref *t;
    uint64_t bytes;
    size_t pos; /* in the caller's array, to keep its order among equals */
} save_item;

static int cmp_item_name(const void *a, const void *b)
{
    return strcmp(((const save_item *)a)->t->name, ((const save_item *)b)->t->name);
}

/* Wider elements first, so that every tensor is aligned to its size in the
 * file (the data section starts at a multiple of 8); caller order otherwise. */
static int cmp_item_layout(const void *a, const void *b)
{
    const save_item *x = a, *y = b;
    size_t sx = gg_dtype_size(x->t->dtype), sy = gg_dtype_size(y->t->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static int check_tensors(const char *path, save_item *items, size_t n, char *err)
{
    for (size_t i = 0; i < n; i++) {
        const gg_tensor_ref *t = items[i].t;
        const char *why = ggi_st_ref_bytes(t, &items[i].bytes);
        if (!why && !ggi_utf8_valid(t->name))
            why = "name is not valid UTF-8";
        if (!why && strcmp(t->name, "__metadata__") == 0)
            why = "the name is reserved";
        if (why) {
            ggb_errorf(err, "%s: cannot save tensor %zu ('%s'): %s", path, i,
                      t->name ? t->name : "(null)", why);
            return -1;
        }
    }
    qsort(items, n, sizeof *items, cmp_item_name);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(items[i - 1].t->name, items[i].t->name) == 0) {
            ggb_errorf(err, "%s: duplicate tensor name '%s'", path, items[i].t->name);
            return -1;
        }
    }
    qsort(items, n, sizeof *items, cmp_item_layout);
    return 0;
}

static int check_meta(const char *path, const char *const *kv, char *err)
{
    for (size_t i = 0; kv && kv[i]; i += 2) {
        const char *why = !kv[i + 1]                 ? "has no value"
                        : !ggi_utf8_valid(kv[i])     ? "is not valid UTF-8"
                        : !ggi_utf8_valid(kv[i + 1]) ? "has a value that is not valid UTF-8"
                                                     : NULL;
        for (size_t k = 0; !why && k < i; k += 2)
            if (strcmp(kv[k], kv[i]) == 0)
                why = "is given twice";
        if (why) {
            ggb_errorf(err, "%s: metadata key '%s' %s", path, kv[i], why);
            return -1;
        }
    }
    return 0;
}

static void put_meta(ggi_jbuf *b, const char *const *kv)
{
    ggi_jbuf_lit(b, "\"__metadata__\":{");
    for (size_t i = 0; kv[i]; i += 2) {
        if (i)
            ggi_jbuf_lit(b, ",");
        ggi_jbuf_str(b, kv[i]);
        ggi_jbuf_lit(b, ":");
        ggi_jbuf_str(b, kv[i + 1]);
    }
    ggi_jbuf_lit(b, "}");
}

static void put_tensor(ggi_jbuf *b, const save_item *it, uint64_t begin)
{
    ggi_jbuf_str(b, it->t->name);
    ggi_jbuf_lit(b, ":{\"dtype\":");
    ggi_jbuf_str(b, ggi_st_dtype_name(it->t->dtype));
    ggi_jbuf_lit(b, ",\"shape\":[");
    for (int d = 0; d < it->t->rank; d++) {
        if (d)
            ggi_jbuf_lit(b, ",");
        ggi_jbuf_uint(b, (uint64_t)it->t->dims[d]);
    }
    ggi_jbuf_lit(b, "],\"data_offsets\":[");
    ggi_jbuf_uint(b, begin);
    ggi_jbuf_lit(b, ",");
    ggi_jbuf_uint(b, begin + it->bytes);
    ggi_jbuf_lit(b, "]}");
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static void build_header(ggi_jbuf *b, const save_item *items, size_t n,
                         const char *const *kv)
{
    uint64_t at = 0;
    ggi_jbuf_lit(b, "{");
    if (kv && kv[0]) {
        put_meta(b, kv);
        if (n)
            ggi_jbuf_lit(b, ",");
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            ggi_jbuf_lit(b, ",");
        put_tensor(b, &items[i], at);
        at += items[i].bytes;
    }
    ggi_jbuf_lit(b, "}");
    while (b->n % 8 != 0)
        ggi_jbuf_lit(b, " ");
}

static int write_data(gg_atomic_file *af, const gg_tensor_ref *t, uint64_t bytes,
                      char *err)
{
    unsigned char buf[CHUNK];
    const unsigned char *src = t->data;
    size_t size = gg_dtype_size(t->dtype);
    while (bytes > 0) {
        size_t n = bytes < CHUNK ? (size_t)bytes : CHUNK;
        for (size_t i = 0; i < n; i += size)
            ggi_le_store(buf + i, src + i, size);
        if (gg_atomic_write(af, buf, n, err))
            return -1;
        src += n;
        bytes -= n;
    }
    return 0;
}

static int write_file(const char *path, const ggi_jbuf *h, const save_item *items,
                      size_t n, char *err)
{
    gg_atomic_file af;
    unsigned char len[8];
    uint64_t hlen = h->n;
    ggi_le_store(len, &hlen, 8);
    if (gg_atomic_open(path, &af, err))
        return -1;
    int rc = gg_atomic_write(&af, len, 8, err) || gg_atomic_write(&af, h->p, h->n, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = write_data(&af, items[i].t, items[i].bytes, err);
    if (rc || gg_atomic_commit(&af, err)) {
        gg_atomic_abort(&af);
        return -1;
    }
    return 0;
}

int gg_safetensors_save(const char *path, const gg_tensor_ref *t, size_t n,
                        const char *const *meta_kv, char *err)
{
    ggi_jbuf h = {0};
    save_item *items = ggb_malloc((n + 1) * sizeof *items);
    int rc = -1;
    if (!items) {
        ggb_errorf(err, "%s: out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = (save_item){.t = &t[i], .pos = i};
    if (check_tensors(path, items, n, err) == 0 && check_meta(path, meta_kv, err) == 0) {
        build_header(&h, items, n, meta_kv);
        if (h.oom || h.n > GG_SAFETENSORS_MAX_HEADER)
            ggb_errorf(err, "%s: %s", path, h.oom ? "out of memory" : "header too large");
        else
            rc = write_file(path, &h, items, n, err);
    }
    ggi_jbuf_free(&h);
    ggb_free(items);
    return rc;
}
