/* alloc.c - counts heap allocations for gategrad-bench.
 *
 * glibc >= 2.34 has no malloc hooks, so this file defines malloc and its
 * relatives in the gategrad-bench executable: the dynamic linker then binds every
 * call in the process (the library, libc itself, OpenBLAS) to these, which
 * count and forward to glibc's own entry points. free needs no wrapper.
 * Under AddressSanitizer or ThreadSanitizer the sanitizer owns malloc, so
 * nothing is defined and the count reads as unavailable. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "bench.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define GG_NO_MALLOC_COUNT 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define GG_NO_MALLOC_COUNT 1
#endif

#ifdef GG_NO_MALLOC_COUNT

long bench_alloc_count(void) { return -1; }

#else

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);

static atomic_long allocations;

static void counted(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

long bench_alloc_count(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }

void *malloc(size_t size)
{
    counted();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    counted();
    return __libc_calloc(count, size);
}

void *realloc(void *p, size_t size)
{
    counted();
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    counted();
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    counted();
    void *p = __libc_memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

#endif
