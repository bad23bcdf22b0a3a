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
void gg__free(void *p);
char *gg__strdup(const char *s);

#endif
