/* gategrad/base.h - the few definitions every gategrad module shares. */
#ifndef GATEGRAD_BASE_H
#define GATEGRAD_BASE_H

#include <stddef.h>
#include <stdint.h>

/* Marks the library's public functions: the shared library is built with
 * hidden visibility and exports exactly these. */
#if defined(__GNUC__) || defined(__clang__)
#define GG_API __attribute__((visibility("default")))
#else
#define GG_API
#endif

#define GG_VERSION_MAJOR 0
#define GG_VERSION_MINOR 1
#define GG_VERSION_PATCH 0
#define GG_VERSION_STRING "0.1.0"

/* Tensors have at most this many dimensions (row-major, contiguous). */
#define GG_MAX_DIMS 4

/* Size of the message buffers that functions without a graph fill on error
 * (loaders, savers). Messages longer than this are truncated, never overrun. */
#define GG_ERRLEN 256

/* Element type of a tensor. Ops never convert silently between them. */
typedef enum gg_dtype {
    GG_F32 = 0, /* float  (4 bytes) */
    GG_F64 = 1  /* double (8 bytes) */
} gg_dtype;

/* Bytes per element of dtype: 4 or 8 (0 for an invalid value). */
GG_API size_t gg_dtype_size(gg_dtype dtype);

/* "f32" or "f64" ("?" for an invalid value). The string is static. */
GG_API const char *gg_dtype_name(gg_dtype dtype);

#endif
