/* io/io.h - what the file modules share (internal, prefix ggi_): the JSON
 * parser and writer of file headers, the safetensors reader's handle, and
 * the test hook of atomic file replacement (gg_atomic_*, public in
 * gategrad/io.h). */
#ifndef GGI_IO_H
#define GGI_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "gategrad/io.h"

/* Test hook, not thread-safe: when > 0 it counts down at each system call of
 * gg_atomic_open, gg_atomic_write and gg_atomic_commit (create, chmod,
 * fdopen, each write, flush, fsync, close, rename, directory fsync) and the
 * call that brings it to 0 fails as if with EIO. 0 (the default) disables
 * it. */
extern long ggi_atomic_fail_at;

/* ==== JSON ================================================================ */
/* A small strict JSON (RFC 8259) parser for file headers, and the helpers
 * their writers use to produce JSON. The parser builds the whole document as an array of nodes in document
 * order: a container's first child directly follows it, and each child links
 * to its next sibling. It accepts exactly RFC 8259 (no comments, trailing
 * commas, leading zeros, raw control characters or invalid UTF-8 in strings,
 * lone surrogates), plus two limits of its own: nesting deeper than
 * max_depth, and \u0000 (strings are handed out NUL-terminated) are errors. */


typedef enum ggi_json_type {
    GGI_JSON_NULL,
    GGI_JSON_FALSE,
    GGI_JSON_TRUE,
    GGI_JSON_NUMBER,
    GGI_JSON_STRING,
    GGI_JSON_ARRAY,
    GGI_JSON_OBJECT
} ggi_json_type;

typedef struct ggi_json_node {
    ggi_json_type type;
    size_t next;     /* index of the next sibling, 0 for none (0 is the root) */
    size_t count;    /* ARRAY, OBJECT: number of children */
    const char *key; /* member name when the parent is an OBJECT, else NULL */
    const char *str; /* STRING: decoded text; NUMBER: its token; else NULL */
} ggi_json_node;

typedef struct ggi_json {
    ggi_json_node *nodes; /* nodes[0] is the root */
    size_t n, cap;
    char *text; /* every key, string and number, NUL-terminated */
} ggi_json;

/* Parses len bytes at s. On success fills j (free with ggi_json_free; the
 * caller may take j->text and set it to NULL to keep the strings) and
 * returns NULL; on error returns a static description, sets *where to the
 * byte offset of the problem and leaves nothing allocated. */
const char *ggi_json_parse(const char *s, size_t len, int max_depth, ggi_json *j,
                           size_t *where);

void ggi_json_free(ggi_json *j);

/* Reads a node as a non-negative integer that fits in max. Returns NULL, or
 * why not: "is not a number", "is negative", "is not an integer",
 * "is too large". */
const char *ggi_json_uint(const ggi_json_node *n, uint64_t max, uint64_t *out);

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is
 * invalid (overlong, surrogate, above U+10FFFF, truncated). */
size_t ggi_utf8_char(const unsigned char *s, size_t n);

/* True when the NUL-terminated s is valid UTF-8. */
int ggi_utf8_valid(const char *s);

/* A growing output buffer. Appending never fails: an allocation failure sets
 * oom and later appends do nothing. */
typedef struct ggi_jbuf {
    char *p;
    size_t n, cap;
    int oom;
} ggi_jbuf;

void ggi_jbuf_put(ggi_jbuf *b, const char *s, size_t n);
void ggi_jbuf_lit(ggi_jbuf *b, const char *s);       /* s as is */
void ggi_jbuf_str(ggi_jbuf *b, const char *s);       /* s as a JSON string */
void ggi_jbuf_uint(ggi_jbuf *b, uint64_t v);
void ggi_jbuf_free(ggi_jbuf *b);

/* ==== Safetensors ========================================================= */



typedef struct ggi_st_entry {
    const char *name;  /* in text */
    const char *dtype; /* static, from the dtype table */
    unsigned bits;     /* per element */
    size_t rank;
    size_t dim0;       /* index of dims[0] in the handle's dims */
    uint64_t begin, end;
} ggi_st_entry;

typedef struct ggi_st_meta {
    const char *key, *value; /* in text */
} ggi_st_meta;

struct gg_safetensors {
    char *where;               /* path, or "<memory>", for messages */
    FILE *fp;                  /* the file, or NULL ... */
    const unsigned char *mem;  /* ... when reading from this image */
    uint64_t data_start;       /* offset of the data section */
    uint64_t data_len;
    char *text;                /* decoded header strings */
    ggi_st_entry *t;           /* sorted by name */
    size_t nt;
    ggi_st_meta *meta;         /* sorted by key */
    size_t nmeta;
    int64_t *dims;
};

/* "F32" or "F64" (NULL for an invalid value). */
const char *ggi_st_dtype_name(gg_dtype dtype);

/* Checks a caller's tensor description and sets *bytes to its data size;
 * returns NULL or why it is invalid. */
const char *ggi_st_ref_bytes(const gg_tensor_ref *t, uint64_t *bytes);

/* Writes dims as "[2, 3]" into buf (cap bytes, truncated with "..."). */
void ggi_st_format_shape(char *buf, size_t cap, const int64_t *dims, size_t rank);

/* Little-endian conversions of one element of size bytes (4 or 8); the
 * shifts make them independent of the host's byte order. */
static inline void ggi_le_store(unsigned char *dst, const void *src, size_t size)
{
    uint64_t v;
    if (size == 4) {
        uint32_t u;
        memcpy(&u, src, 4);
        v = u;
    } else {
        memcpy(&v, src, 8);
    }
    for (size_t i = 0; i < size; i++)
        dst[i] = (unsigned char)(v >> (8 * i));
}

static inline void ggi_le_load(void *dst, const unsigned char *src, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)src[i] << (8 * i);
    if (size == 4) {
        uint32_t u = (uint32_t)v;
        memcpy(dst, &u, 4);
    } else {
        memcpy(dst, &v, 8);
    }
}

#endif
