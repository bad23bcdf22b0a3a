/* base/base.h - what every module of the library uses (internal, prefix
 * ggb_): the allocator, the one error formatter, element access for either
 * dtype, and allocation-failure injection.
 *
 * Every heap allocation in the library goes through ggb_malloc and its
 * relatives, so that a fault-injection build (-Dfault_injection=true) can
 * make the Nth allocation fail and prove that each failure is handled. */
#ifndef GGB_BASE_H
#define GGB_BASE_H

#include <stdarg.h>
#include <stddef.h>

#include "gategrad/base.h"

#if defined(__GNUC__)
#define GGB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GGB_PRINTF(f, a)
#endif

/* ---- Allocation ---------------------------------------------------------- */

void *ggb_malloc(size_t size);
void *ggb_calloc(size_t count, size_t size);
void *ggb_realloc(void *p, size_t size);
/* size bytes aligned to align (a power of two, multiple of sizeof(void*)). */
void *ggb_aligned_alloc(size_t align, size_t size);
/* size bytes (a multiple of GGB_HUGE_PAGE) aligned to GGB_HUGE_PAGE, asked to
 * be backed by transparent huge pages where the OS offers them (Linux's
 * madvise, on a fresh mapping); freed with ggb_huge_free(p, size). For big,
 * densely written blocks: one page fault per 2 MiB instead of one per 4 KiB,
 * and none later. */
#define GGB_HUGE_PAGE ((size_t)2 << 20)
void *ggb_huge_alloc(size_t size);
void ggb_huge_free(void *p, size_t size);
void ggb_free(void *p);
char *ggb_strdup(const char *s);
/* The first n bytes of s (fewer if it ends first), NUL-terminated. */
char *ggb_strndup(const char *s, size_t n);

/* *out = a * b; returns 0, or -1 when the product overflows size_t. */
int ggb_mul_size(size_t a, size_t b, size_t *out);

/* ---- Errors -------------------------------------------------------------- */

/* Formats a one-line message into err (GG_ERRLEN bytes; NULL is allowed and
 * ignored), truncating, never overrunning. Control characters (from file
 * names, labels or tensor names) become '?' so the message stays on one
 * line. Returns -1, so that callers can `return ggb_errorf(err, ...)`. */
int ggb_errorf(char *err, const char *fmt, ...) GGB_PRINTF(2, 3);

/* The same from a va_list, after "PREFIX: " when prefix is not NULL: for
 * the module wrappers that add where the problem is (a file and line). */
int ggb_verrorf(char *err, const char *prefix, const char *fmt, va_list ap);

/* ---- Elements of either dtype -------------------------------------------- */

/* Element i of a dtype buffer, as double; stores v into it (rounded for
 * f32); adds v to it. */
static inline double ggb_get(gg_dtype dtype, const void *p, size_t i)
{
    return dtype == GG_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}
static inline void ggb_put(gg_dtype dtype, void *p, size_t i, double v)
{
    if (dtype == GG_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}
static inline void ggb_add(gg_dtype dtype, void *p, size_t i, double v)
{
    if (dtype == GG_F64)
        ((double *)p)[i] += v;
    else
        ((float *)p)[i] += (float)v;
}

/* ---- Allocation-failure injection (-Dfault_injection=true) ---------------
 * Compiled in only with GG_FAULT_INJECTION. Tests arm it to make the Nth
 * allocation from now fail, for every N, and check that each failure comes
 * back as a clean error that leaks nothing. */

/* From now on, allocation number n (1 = the next one) fails, and only it.
 * 0 disarms. Resets the count. */
void ggb_fault_arm(unsigned long n);

/* Allocations attempted since the last ggb_fault_arm. */
unsigned long ggb_fault_count(void);

/* Whether the allocation being attempted now must fail (counts it). */
int ggb_fault_should_fail(void);

#endif
