/* safetensors.c - validating a safetensors header into a handle, and the
 * handle's accessors. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "io/io.h"

/* The header is three levels deep; anything deeper is not a valid header, and
 * the limit bounds the parser's recursion. */
#define HEADER_MAX_DEPTH 8

static const struct {
    const char *name;
    unsigned bits;
} dtypes[] = {
    {"BOOL", 8},     {"U8", 8},       {"I8", 8},       {"F8_E5M2", 8},
    {"F8_E4M3", 8},  {"F8_E8M0", 8},  {"I16", 16},     {"U16", 16},
    {"F16", 16},     {"BF16", 16},    {"I32", 32},     {"U32", 32},
    {"F32", 32},     {"F64", 64},     {"I64", 64},     {"U64", 64},
    {"C64", 64},     {"F4", 4},       {"F6_E2M3", 6},  {"F6_E3M2", 6},
};

const char *ggi_st_dtype_name(gg_dtype dtype)
{
    switch (dtype) {
    case GG_F32: return "F32";
    case GG_F64: return "F64";
    }
    return NULL;
}

const char *ggi_st_ref_bytes(const gg_tensor_ref *t, uint64_t *bytes)
{
    if (!t->name)
        return "NULL name";
    if (!ggi_st_dtype_name(t->dtype))
        return "invalid dtype";
    if (t->rank < 0 || t->rank > GG_MAX_DIMS)
        return "rank out of range";
    uint64_t n = gg_dtype_size(t->dtype);
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return "negative dimension";
        if (t->dims[i] > 0 && n > SIZE_MAX / (uint64_t)t->dims[i])
            return "too many elements";
        n *= (uint64_t)t->dims[i];
    }
    if (n > 0 && !t->data)
        return "NULL data";
    *bytes = n;
    return NULL;
}

void ggi_st_format_shape(char *buf, size_t cap, const int64_t *dims, size_t rank)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "",
                              (long long)dims[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    else if (cap > 4)
        memcpy(buf + cap - 4, "...", 4);
}

/* Reports a problem, about tensor name when it is not NULL; returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int bad(const gg_safetensors *f, char *err, const char *name, const char *fmt, ...)
{
    char where[GG_ERRLEN];
    if (name)
        snprintf(where, sizeof where, "%s: tensor '%s'", f->where, name);
    else
        snprintf(where, sizeof where, "%s", f->where);
    va_list ap;
    va_start(ap, fmt);
    ggb_verrorf(err, where, fmt, ap);
    va_end(ap);
    return -1;
}

/* Fills dims (starting at f->dims[e->dim0]) from the shape array node, and
 * sets *bytes to the tensor's size. */
static int read_shape(gg_safetensors *f, const ggi_json *j, size_t node, ggi_st_entry *e,
                      uint64_t *bytes, char *err)
{
    const ggi_json_node *shape = &j->nodes[node];
    if (shape->type != GGI_JSON_ARRAY)
        return bad(f, err, e->name, "\"shape\" is not an array");
    uint64_t numel = 1;
    size_t k = 0;
    for (size_t c = node + 1; k < shape->count; c = j->nodes[c].next, k++) {
        uint64_t d;
        const char *why = ggi_json_uint(&j->nodes[c], INT64_MAX, &d);
        if (why)
            return bad(f, err, e->name, "shape[%zu] %s", k, why);
        f->dims[e->dim0 + k] = (int64_t)d;
        if (d > 0 && numel > UINT64_MAX / d)
            return bad(f, err, e->name, "shape overflows (too many elements)");
        numel *= d;
    }
    e->rank = shape->count;
    if (numel > UINT64_MAX / e->bits)
        return bad(f, err, e->name, "shape overflows (too many bytes)");
    if (numel * e->bits % 8 != 0)
        return bad(f, err, e->name, "%s elements do not fill whole bytes", e->dtype);
    *bytes = numel * e->bits / 8;
    return 0;
}

static int read_offsets(gg_safetensors *f, const ggi_json *j, size_t node,
                        ggi_st_entry *e, char *err)
{
    const ggi_json_node *off = &j->nodes[node];
    if (off->type != GGI_JSON_ARRAY || off->count != 2)
        return bad(f, err, e->name, "\"data_offsets\" is not an array of 2 integers");
    uint64_t v[2];
    for (size_t k = 0, c = node + 1; k < 2; k++, c = j->nodes[c].next) {
        const char *why = ggi_json_uint(&j->nodes[c], UINT64_MAX, &v[k]);
        if (why)
            return bad(f, err, e->name, "data_offsets[%zu] %s", k, why);
    }
    if (v[1] < v[0])
        return bad(f, err, e->name, "data_offsets end before begin");
    e->begin = v[0];
    e->end = v[1];
    return 0;
}

static int read_dtype(gg_safetensors *f, const ggi_json_node *n, ggi_st_entry *e,
                      char *err)
{
    if (n->type != GGI_JSON_STRING)
        return bad(f, err, e->name, "\"dtype\" is not a string");
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        if (strcmp(n->str, dtypes[i].name) == 0) {
            e->dtype = dtypes[i].name;
            e->bits = dtypes[i].bits;
            return 0;
        }
    }
    return bad(f, err, e->name, "unknown dtype \"%s\"", n->str);
}

/* Finds the three members of a tensor entry (each exactly once, no others). */
static int entry_members(gg_safetensors *f, const ggi_json *j, size_t node,
                         const char *name, size_t found[3], char *err)
{
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    if (j->nodes[node].type != GGI_JSON_OBJECT)
        return bad(f, err, name, "not a JSON object");
    found[0] = found[1] = found[2] = 0;
    size_t c = node + 1;
    for (size_t m = 0; m < j->nodes[node].count; m++, c = j->nodes[c].next) {
        size_t k = 0;
        while (k < 3 && strcmp(j->nodes[c].key, keys[k]) != 0)
            k++;
        if (k == 3)
            return bad(f, err, name, "unknown key \"%s\"", j->nodes[c].key);
        if (found[k])
            return bad(f, err, name, "duplicate key \"%s\"", keys[k]);
        found[k] = c;
    }
    for (size_t k = 0; k < 3; k++)
        if (!found[k])
            return bad(f, err, name, "missing \"%s\"", keys[k]);
    return 0;
}

static int read_entry(gg_safetensors *f, const ggi_json *j, size_t node,
                      ggi_st_entry *e, size_t *ndims, char *err)
{
    size_t m[3];
    uint64_t bytes = 0;
    char shape[64];
    e->name = j->nodes[node].key;
    e->dim0 = *ndims;
    if (entry_members(f, j, node, e->name, m, err) || read_dtype(f, &j->nodes[m[0]], e, err)
        || read_shape(f, j, m[1], e, &bytes, err) || read_offsets(f, j, m[2], e, err))
        return -1;
    *ndims += e->rank;
    if (e->end - e->begin != bytes) {
        ggi_st_format_shape(shape, sizeof shape, f->dims + e->dim0, e->rank);
        return bad(f, err, e->name, "data_offsets span %llu bytes, but %s %s needs %llu",
                   (unsigned long long)(e->end - e->begin), e->dtype, shape,
                   (unsigned long long)bytes);
    }
    return 0;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const ggi_st_meta *)a)->key, ((const ggi_st_meta *)b)->key);
}

static int read_metadata(gg_safetensors *f, const ggi_json *j, size_t node, char *err)
{
    const ggi_json_node *obj = &j->nodes[node];
    if (f->meta)
        return bad(f, err, NULL, "duplicate \"__metadata__\"");
    if (obj->type != GGI_JSON_OBJECT)
        return bad(f, err, NULL, "\"__metadata__\" is not an object");
    f->meta = ggb_calloc(obj->count + 1, sizeof *f->meta);
    if (!f->meta)
        return bad(f, err, NULL, "out of memory");
    size_t c = node + 1;
    for (size_t k = 0; k < obj->count; k++, c = j->nodes[c].next) {
        if (j->nodes[c].type != GGI_JSON_STRING)
            return bad(f, err, NULL, "\"__metadata__\" value of '%s' is not a string",
                       j->nodes[c].key);
        f->meta[k] = (ggi_st_meta){j->nodes[c].key, j->nodes[c].str};
    }
    f->nmeta = obj->count;
    qsort(f->meta, f->nmeta, sizeof *f->meta, cmp_meta);
    for (size_t k = 1; k < f->nmeta; k++)
        if (strcmp(f->meta[k - 1].key, f->meta[k].key) == 0)
            return bad(f, err, NULL, "duplicate metadata key '%s'", f->meta[k].key);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const ggi_st_entry *)a)->name, ((const ggi_st_entry *)b)->name);
}

static int cmp_offsets(const void *a, const void *b)
{
    const ggi_st_entry *x = *(const ggi_st_entry *const *)a;
    const ggi_st_entry *y = *(const ggi_st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The tensors, in file order, must tile the data section exactly. */
static int check_tiling(gg_safetensors *f, const ggi_st_entry **order, char *err)
{
    for (size_t i = 0; i < f->nt; i++)
        order[i] = &f->t[i];
    qsort(order, f->nt, sizeof *order, cmp_offsets);
    uint64_t at = 0;
    for (size_t i = 0; i < f->nt; i++) {
        if (order[i]->begin > at)
            return bad(f, err, NULL, "gap in the data section: bytes %llu..%llu before "
                       "tensor '%s' belong to no tensor", (unsigned long long)at,
                       (unsigned long long)order[i]->begin, order[i]->name);
        if (order[i]->begin < at)
            return bad(f, err, NULL, "tensors '%s' and '%s' overlap in the data section",
                       order[i - 1]->name, order[i]->name);
        at = order[i]->end;
    }
    if (at > f->data_len)
        return bad(f, err, NULL, "tensor data ends at byte %llu, past the end of the "
                   "data section (%llu bytes)", (unsigned long long)at,
                   (unsigned long long)f->data_len);
    if (at < f->data_len)
        return bad(f, err, NULL, "data section has %llu trailing bytes that belong to "
                   "no tensor", (unsigned long long)(f->data_len - at));
    return 0;
}

static int check_names_and_tiling(gg_safetensors *f, char *err)
{
    qsort(f->t, f->nt, sizeof *f->t, cmp_name);
    for (size_t i = 1; i < f->nt; i++)
        if (strcmp(f->t[i - 1].name, f->t[i].name) == 0)
            return bad(f, err, NULL, "duplicate tensor name '%s'", f->t[i].name);
    const ggi_st_entry **order = ggb_malloc((f->nt + 1) * sizeof *order);
    if (!order)
        return bad(f, err, NULL, "out of memory");
    int rc = check_tiling(f, order, err);
    ggb_free(order);
    return rc;
}

static int build_index(gg_safetensors *f, const ggi_json *j, char *err)
{
    const ggi_json_node *root = &j->nodes[0];
    if (root->type != GGI_JSON_OBJECT)
        return bad(f, err, NULL, "header is not a JSON object");
    /* No tensor has more dims than the header has nodes. */
    f->t = ggb_calloc(root->count + 1, sizeof *f->t);
    f->dims = ggb_malloc(j->n * sizeof *f->dims);
    if (!f->t || !f->dims)
        return bad(f, err, NULL, "out of memory");
    size_t ndims = 0, c = 1;
    for (size_t k = 0; k < root->count; k++, c = j->nodes[c].next) {
        if (strcmp(j->nodes[c].key, "__metadata__") == 0) {
            if (read_metadata(f, j, c, err))
                return -1;
        } else if (read_entry(f, j, c, &f->t[f->nt++], &ndims, err)) {
            return -1;
        }
    }
    return check_names_and_tiling(f, err);
}

/* Parses and checks the header text; data_start and data_len must be set. */
static int read_header(gg_safetensors *f, const char *text, size_t len, char *err)
{
    ggi_json j;
    size_t at;
    const char *why = ggi_json_parse(text, len, HEADER_MAX_DEPTH, &j, &at);
    if (why)
        return bad(f, err, NULL, "bad JSON in header at byte %zu: %s", at, why);
    int rc = build_index(f, &j, err);
    f->text = j.text;
    j.text = NULL;
    ggi_json_free(&j);
    return rc;
}

/* Checks the 8-byte header length against the size of the whole file. */
static int header_length(gg_safetensors *f, const unsigned char *le, uint64_t size,
                         uint64_t *len, char *err)
{
    ggi_le_load(len, le, 8);
    if (*len > GG_SAFETENSORS_MAX_HEADER)
        return bad(f, err, NULL, "header length %llu exceeds the limit of %u bytes",
                   (unsigned long long)*len, GG_SAFETENSORS_MAX_HEADER);
    if (*len > size - 8)
        return bad(f, err, NULL, "header length %llu runs past the end of the file "
                   "(%llu bytes)", (unsigned long long)*len, (unsigned long long)size);
    f->data_start = 8 + *len;
    f->data_len = size - f->data_start;
    return 0;
}

static gg_safetensors *new_handle(const char *where)
{
    gg_safetensors *f = ggb_calloc(1, sizeof *f);
    if (f && !(f->where = ggb_strdup(where))) {
        ggb_free(f);
        f = NULL;
    }
    return f;
}

/* Creates *out for where, or fails (out of memory) with *out NULL. */
static int start(const char *where, gg_safetensors **out, char *err)
{
    *out = new_handle(where);
    if (!*out)
        ggb_errorf(err, "%s: out of memory", where);
    return *out ? 0 : -1;
}

static int fail_handle(gg_safetensors **out)
{
    gg_safetensors_close(*out);
    *out = NULL;
    return -1;
}

int gg_safetensors_parse(const void *buf, size_t len, gg_safetensors **out, char *err)
{
    uint64_t n;
    if (start("<memory>", out, err))
        return -1;
    gg_safetensors *f = *out;
    f->mem = buf;
    if ((len < 8 && bad(f, err, NULL, "file too short for a header (%zu bytes)", len))
        || header_length(f, f->mem, len, &n, err)
        || read_header(f, (const char *)f->mem + 8, (size_t)n, err))
        return fail_handle(out);
    return 0;
}

/* Reads the file's header into a new buffer *text of *len bytes. */
static int load_header_text(gg_safetensors *f, char **text, uint64_t *len, char *err)
{
    struct stat st;
    unsigned char le[8];
    if (fstat(fileno(f->fp), &st) != 0 || !S_ISREG(st.st_mode))
        return bad(f, err, NULL, "not a regular file");
    if (st.st_size < 8 || fread(le, 1, 8, f->fp) != 8)
        return bad(f, err, NULL, "file too short for a header (%lld bytes)",
                   (long long)st.st_size);
    if (header_length(f, le, (uint64_t)st.st_size, len, err))
        return -1;
    *text = ggb_malloc(*len + 1);
    if (!*text)
        return bad(f, err, NULL, "out of memory");
    if (fread(*text, 1, (size_t)*len, f->fp) != *len)
        return bad(f, err, NULL, "cannot read the header: %s",
                   ferror(f->fp) ? strerror(errno) : "unexpected end of file");
    return 0;
}

int gg_safetensors_open(const char *path, gg_safetensors **out, char *err)
{
    char *text = NULL;
    uint64_t len = 0;
    if (start(path, out, err))
        return -1;
    gg_safetensors *f = *out;
    f->fp = fopen(path, "rb");
    int rc = f->fp ? load_header_text(f, &text, &len, err)
                   : bad(f, err, NULL, "cannot open: %s", strerror(errno));
    if (rc == 0)
        rc = read_header(f, text, (size_t)len, err);
    ggb_free(text);
    return rc ? fail_handle(out) : 0;
}

void gg_safetensors_close(gg_safetensors *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    ggb_free(f->where);
    ggb_free(f->text);
    ggb_free(f->t);
    ggb_free(f->meta);
    ggb_free(f->dims);
    ggb_free(f);
}

size_t gg_safetensors_count(const gg_safetensors *f)
{
    return f->nt;
}

int gg_safetensors_tensor(const gg_safetensors *f, size_t i, gg_safetensors_info *out)
{
    if (i >= f->nt)
        return -1;
    const ggi_st_entry *e = &f->t[i];
    *out = (gg_safetensors_info){.name = e->name, .dtype = e->dtype, .rank = e->rank,
                                 .dims = f->dims + e->dim0, .begin = e->begin,
                                 .end = e->end};
    for (gg_dtype d = GG_F32; d <= GG_F64; d++)
        if (strcmp(e->dtype, ggi_st_dtype_name(d)) == 0) {
            out->loadable = 1;
            out->gg_type = d;
        }
    return 0;
}

int gg_safetensors_find(const gg_safetensors *f, const char *name, size_t *i)
{
    ggi_st_entry key = {.name = name};
    const ggi_st_entry *e = bsearch(&key, f->t, f->nt, sizeof *f->t, cmp_name);
    if (!e)
        return -1;
    *i = (size_t)(e - f->t);
    return 0;
}

size_t gg_safetensors_meta_count(const gg_safetensors *f)
{
    return f->nmeta;
}

int gg_safetensors_meta_at(const gg_safetensors *f, size_t i, const char **key,
                           const char **value)
{
    if (i >= f->nmeta)
        return -1;
    *key = f->meta[i].key;
    *value = f->meta[i].value;
    return 0;
}

const char *gg_safetensors_meta(const gg_safetensors *f, const char *key)
{
    ggi_st_meta k = {.key = key};
    const ggi_st_meta *m = f->nmeta
        ? bsearch(&k, f->meta, f->nmeta, sizeof *f->meta, cmp_meta) : NULL;
    return m ? m->value : NULL;
}
