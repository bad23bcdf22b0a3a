/* safetensors_internal.h - internal: what the safetensors reader, loader and
 * writer share. */
#ifndef GG_IO_SAFETENSORS_INTERNAL_H
#define GG_IO_SAFETENSORS_INTERNAL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gategrad/io.h"

typedef struct gg__st_entry {
    const char *name;  /* in text */
    const char *dtype; /* static, from the dtype table */
    unsigned bits;     /* per element */
    size_t rank;
    size_t dim0;       /* index of dims[0] in the handle's dims */
    uint64_t begin, end;
} gg__st_entry;

typedef struct gg__st_meta {
    const char *key, *value; /* in text */
} gg__st_meta;

struct gg_safetensors {
    char *where;               /* path, or "<memory>", for messages */
    FILE *fp;                  /* the file, or NULL ... */
    const unsigned char *mem;  /* ... when reading from this image */
    uint64_t data_start;       /* offset of the data section */
    uint64_t data_len;
    char *text;                /* decoded header strings */
    gg__st_entry *t;           /* sorted by name */
    size_t nt;
    gg__st_meta *meta;         /* sorted by key */
    size_t nmeta;
    int64_t *dims;
};

/* "F32" or "F64" (NULL for an invalid value). */
const char *gg__st_dtype_name(gg_dtype dtype);

/* Checks a caller's tensor description and sets *bytes to its data size;
 * returns NULL or why it is invalid. */
const char *gg__st_ref_bytes(const gg_tensor_ref *t, uint64_t *bytes);

/* Writes dims as "[2, 3]" into buf (cap bytes, truncated with "..."). */
void gg__st_format_shape(char *buf, size_t cap, const int64_t *dims, size_t rank);

/* Little-endian conversions of one element of size bytes (4 or 8); the
 * shifts make them independent of the host's byte order. */
static inline void gg__le_store(unsigned char *dst, const void *src, size_t size)
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

static inline void gg__le_load(void *dst, const unsigned char *src, size_t size)
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
