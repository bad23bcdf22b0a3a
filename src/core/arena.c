/* arena.c - the graph's bump allocator for tensor buffers. Blocks are
 * 64-byte aligned (one AVX-512 register, one cache line) and freed only with
 * the graph, so buffers never move. */
#include "core/core.h"

typedef struct gg_arena_block {
    struct gg_arena_block *next;
    size_t used, cap;
    unsigned char *base;
} gg_arena_block;

#define GG_ALIGN 64
#define GG_BLOCK_MIN ((size_t)1 << 20)

static gg_arena_block *new_block(size_t cap)
{
    gg_arena_block *b = ggb_malloc(sizeof *b);
    if (!b)
        return NULL;
    b->base = ggb_aligned_alloc(GG_ALIGN, cap);
    if (!b->base) {
        ggb_free(b);
        return NULL;
    }
    b->used = 0;
    b->cap = cap;
    return b;
}

void *ggc_arena_alloc(gg_graph *g, size_t size)
{
    if (size > SIZE_MAX - GG_ALIGN)
        return NULL;
    size = (size + GG_ALIGN - 1) & ~(size_t)(GG_ALIGN - 1);
    gg_arena_block *b = g->arena;
    if (!b || b->cap - b->used < size) {
        /* Big buffers get a block of their own, placed behind the current
         * block so its free tail keeps serving small requests. */
        bool own = size >= GG_BLOCK_MIN / 4;
        gg_arena_block *nb = new_block(own ? size : GG_BLOCK_MIN);
        if (!nb)
            return NULL;
        if (own && b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            g->arena = nb;
        }
        b = nb;
    }
    void *p = b->base + b->used;
    b->used += size;
    return p;
}

void ggc_arena_free_all(gg_graph *g)
{
    for (gg_arena_block *b = g->arena, *next; b; b = next) {
        next = b->next;
        ggb_free(b->base);
        ggb_free(b);
    }
    g->arena = NULL;
}

size_t ggc_arena_bytes(const gg_graph *g)
{
    size_t total = 0;
    for (const gg_arena_block *b = g->arena; b; b = b->next)
        total += sizeof *b + b->cap;
    return total;
}
