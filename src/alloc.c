/* alloc.c - the library's allocator entry points; see alloc.h. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef GG_FAULT_INJECTION
#include "fault.h"
#define GG_FAIL_NOW() gg__fault_should_fail()
#else
#define GG_FAIL_NOW() 0
#endif

void *gg__malloc(size_t size)
{
    return GG_FAIL_NOW() ? NULL : malloc(size ? size : 1);
}

void *gg__calloc(size_t count, size_t size)
{
    return GG_FAIL_NOW() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *gg__realloc(void *p, size_t size)
{
    return GG_FAIL_NOW() ? NULL : realloc(p, size ? size : 1);
}

void *gg__aligned_alloc(size_t align, size_t size)
{
    void *p = NULL;
    if (GG_FAIL_NOW() || posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return p;
}

void *gg__huge_alloc(size_t size)
{
    void *p = gg__aligned_alloc(GG_HUGE_PAGE, size);
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, size, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
    return p;
}

void gg__free(void *p) { free(p); }

char *gg__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gg__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
