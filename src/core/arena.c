/* arena.c - the graph's allocator for tensor buffers, descriptors and
 * node extras. Everything is 64-byte aligned (one AVX-512 register, one
 * cache line) and stays where it is for the life of the nodes that use it:
 * buffers never move. Small requests are carved in order from 1 MiB
 * blocks; a big one gets a block of its own. Truncating the graph rewinds
 * the carving to where the first dropped node began and puts the dropped
 * nodes' big blocks in a pool, so a graph rebuilt the same way reuses the
 * same memory. */
#include "core/core.h"

typedef struct ggc_arena_block {
    struct ggc_arena_block *next;
    size_t used, cap;
    unsigned char *base;
} ggc_arena_block;

#define GG_ALIGN 64
#define GG_BLOCK_MIN ((size_t)1 << 20)
#define GG_BIG (GG_BLOCK_MIN / 4)

static ggc_arena_block *new_block(size_t cap)
{
    ggc_arena_block *b = ggb_malloc(sizeof *b);
    if (!b)
        return NULL;
    b->base = ggb_aligned_alloc(GG_ALIGN, cap);
    if (!b->base) {
        ggb_free(b);
        return NULL;
    }
    b->next = NULL;
    b->used = 0;
    b->cap = cap;
    return b;
}

/* A big buffer: the pool's smallest block that fits, else a new one. */
static void *alloc_big(ggc_arena *a, size_t size)
{
    ggc_arena_block **best = NULL;
    for (ggc_arena_block **p = &a->pool; *p; p = &(*p)->next)
        if ((*p)->cap >= size && (!best || (*p)->cap < (*best)->cap))
            best = p;
    ggc_arena_block *b;
    if (best) {
        b = *best;
        *best = b->next;
    } else if (!(b = new_block(size))) {
        return NULL;
    }
    b->used = size;
    b->next = a->big;
    a->big = b;
    return b->base;
}

void *ggc_arena_alloc(gg_graph *g, size_t size)
{
    if (size > SIZE_MAX - GG_ALIGN)
        return NULL;
    size = (size + GG_ALIGN - 1) & ~(size_t)(GG_ALIGN - 1);
    ggc_arena *a = &g->arena;
    if (size >= GG_BIG)
        return alloc_big(a, size);
    ggc_arena_block *b = a->cur;
    if (!b || b->cap - b->used < size) {
        /* The blocks after the current one are empty (rewound): use the
         * next, or put a new one there. */
        if (b && b->next) {
            b = b->next;
        } else {
            ggc_arena_block *nb = new_block(GG_BLOCK_MIN);
            if (!nb)
                return NULL;
            if (b)
                b->next = nb;
            else
                a->first = nb;
            b = nb;
        }
        a->cur = b;
    }
    void *p = b->base + b->used;
    b->used += size;
    return p;
}

/* Moves the big block whose buffer is p, if any, from use to the pool. */
static void release_big(ggc_arena *a, const void *p)
{
    for (ggc_arena_block **q = &a->big; *q; q = &(*q)->next)
        if ((*q)->base == p) {
            ggc_arena_block *b = *q;
            *q = b->next;
            b->used = 0;
            b->next = a->pool;
            a->pool = b;
            return;
        }
}

void ggc_arena_rewind(gg_graph *g, const void *mark)
{
    ggc_arena *a = &g->arena;
    ggc_arena_block *b = a->first;
    const unsigned char *m = mark;
    while (b && !(m >= b->base && m < b->base + b->cap))
        b = b->next;
    if (!b)
        return;
    b->used = (size_t)(m - b->base);
    a->cur = b;
    for (ggc_arena_block *after = b->next; after; after = after->next)
        after->used = 0;
}

void ggc_arena_release(gg_graph *g, const void *buffer)
{
    if (buffer)
        release_big(&g->arena, buffer);
}

static void free_list(ggc_arena_block *b)
{
    for (ggc_arena_block *next; b; b = next) {
        next = b->next;
        ggb_free(b->base);
        ggb_free(b);
    }
}

void ggc_arena_free_all(gg_graph *g)
{
    free_list(g->arena.first);
    free_list(g->arena.big);
    free_list(g->arena.pool);
    g->arena = (ggc_arena){0};
}

static size_t list_bytes(const ggc_arena_block *b)
{
    size_t total = 0;
    for (; b; b = b->next)
        total += sizeof *b + b->cap;
    return total;
}

size_t ggc_arena_bytes(const gg_graph *g)
{
    return list_bytes(g->arena.first) + list_bytes(g->arena.big) + list_bytes(g->arena.pool);
}
