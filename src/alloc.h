/* alloc.h - every heap allocation in the library goes through these, so
 * that a fault-injection build (-Dfault_injection=true) can make the Nth
 * allocation fail and prove that each failure is handled. */
#ifndef GG_ALLOC_H
#define GG_ALLOC_H

#include <stddef.h>

void *gg__malloc(size_t size);
void *gg__calloc(size_t count, size_t size);
void *gg__realloc(void *p, size_t size);
/* size bytes aligned to align (a power of two, multiple of sizeof(void*)). */
void *gg__aligned_alloc(size_t align, size_t size);
/* size bytes (a multiple of GG_HUGE_PAGE) aligned to GG_HUGE_PAGE, asked to
 * be backed by transparent huge pages where the OS offers them (Linux's
 * madvise); freed with gg__free. For big, densely written blocks: one page
 * fault per 2 MiB instead of one per 4 KiB. */
#define GG_HUGE_PAGE ((size_t)2 << 20)
void *gg__huge_alloc(size_t size);
void gg__free(void *p);
char *gg__strdup(const char *s);

#endif
