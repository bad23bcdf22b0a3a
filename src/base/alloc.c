/* alloc.c - the library's allocator entry points; see base.h. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "base/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef GG_FAULT_INJECTION
#define GG_FAIL_NOW() ggb_fault_should_fail()
#else
#define GG_FAIL_NOW() 0
#endif

void *ggb_malloc(size_t size)
{
    return GG_FAIL_NOW() ? NULL : malloc(size ? size : 1);
}

void *ggb_calloc(size_t count, size_t size)
{
    return GG_FAIL_NOW() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *ggb_realloc(void *p, size_t size)
{
    return GG_FAIL_NOW() ? NULL : realloc(p, size ? size : 1);
}

void *ggb_aligned_alloc(size_t align, size_t size)
{
    void *p = NULL;
    if (GG_FAIL_NOW() || posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return p;
}

#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
/* A mapping of its own, advised before anything touches it. A block from
 * the heap may be memory the process used before, already mapped in small
 * pages: the kernel then collapses those in the background, and whoever
 * touches them meanwhile takes a page fault, long after the allocation. */
void *ggb_huge_alloc(size_t size)
{
    size_t span = size + GGB_HUGE_PAGE;
    char *m = GG_FAIL_NOW() ? MAP_FAILED
                            : mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)m + GGB_HUGE_PAGE - 1) & ~(uintptr_t)(GGB_HUGE_PAGE - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (m + span > p + size)
        munmap(p + size, (size_t)(m + span - (p + size)));
    madvise(p, size, MADV_HUGEPAGE); /* advice only: failure changes nothing */
    return p;
}

void ggb_huge_free(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}
#else
void *ggb_huge_alloc(size_t size) { return ggb_aligned_alloc(GGB_HUGE_PAGE, size); }
void ggb_huge_free(void *p, size_t size)
{
    (void)size;
    ggb_free(p);
}
#endif

void ggb_free(void *p) { free(p); }

char *ggb_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ggb_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *ggb_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = ggb_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

int ggb_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}
