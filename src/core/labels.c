/* labels.c - optional node labels ("w1", "fc1.weight"), found either way
 * through two uthash tables: by name, and by node id. */
#include <string.h>
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#undef uthash_malloc
#undef uthash_free
#define uthash_malloc(sz) ggb_malloc(sz)
#define uthash_free(ptr, sz) ggb_free(ptr)
/* uthash reports a failed allocation through this hook instead of exiting. */

#include "core/core.h"

struct ggc_label_entry {
    char *name;
    gg_node *node;
    UT_hash_handle by_name, by_node;
};

static ggc_label_entry *find_by_node(const gg_graph *g, const gg_node *n)
{
    ggc_label_entry *e = NULL;
    uint32_t id = n->id;
    HASH_FIND(by_node, g->labels_by_node, &id, sizeof id, e);
    return e;
}

const char *gg_label(const gg_graph *g, const gg_node *n)
{
    if (!g || !n || !(n->flags & GGC_LABELED))
        return NULL;
    ggc_label_entry *e = find_by_node(g, n);
    return e ? e->name : NULL;
}

gg_node *gg_find(const gg_graph *g, const char *label)
{
    if (!g || !label)
        return NULL;
    ggc_label_entry *e = NULL;
    HASH_FIND(by_name, g->labels_by_name, label, strlen(label), e);
    return e ? e->node : NULL;
}

static void remove_entry(gg_graph *g, ggc_label_entry *e)
{
    HASH_DELETE(by_name, g->labels_by_name, e);
    HASH_DELETE(by_node, g->labels_by_node, e);
    e->node->flags &= (uint8_t)~GGC_LABELED;
    ggb_free(e->name);
    ggb_free(e);
}

/* Adds e to both tables, undoing the first if the second runs out of memory. */
static bool insert_entry(gg_graph *g, ggc_label_entry *e)
{
    int oom = 0;
#undef uthash_nonfatal_oom
#define uthash_nonfatal_oom(obj) (oom = 1)
    HASH_ADD_KEYPTR(by_name, g->labels_by_name, e->name, strlen(e->name), e);
    if (oom)
        return false;
    HASH_ADD(by_node, g->labels_by_node, node->id, sizeof(uint32_t), e);
    if (oom) {
        HASH_DELETE(by_name, g->labels_by_name, e);
        return false;
    }
    return true;
}

int gg_set_label(gg_graph *g, gg_node *n, const char *label)
{
    if (!g)
        return -1;
    if (!n || !label || !*label) {
        ggc_fail(g, "set_label: %s", !n ? "node is NULL" : "label is empty");
        return -1;
    }
    if (!ggc_owns(g, n)) {
        ggc_fail(g, "set_label: node %u belongs to another graph", n->id);
        return -1;
    }
    gg_node *holder = gg_find(g, label);
    if (holder == n)
        return 0;
    if (holder) {
        ggc_fail(g, "set_label: label '%s' already names node %u", label, holder->id);
        return -1;
    }
    ggc_label_entry *e = ggb_calloc(1, sizeof *e);
    char *name = ggb_strdup(label);
    if (!e || !name) {
        ggb_free(e);
        ggb_free(name);
        ggc_fail(g, "set_label: out of memory");
        return -1;
    }
    e->name = name;
    e->node = n;
    ggc_label_entry *old = (n->flags & GGC_LABELED) ? find_by_node(g, n) : NULL;
    if (!insert_entry(g, e)) {
        ggb_free(name);
        ggb_free(e);
        ggc_fail(g, "set_label: out of memory");
        return -1;
    }
    if (old)
        remove_entry(g, old);
    n->flags |= GGC_LABELED;
    return 0;
}

void ggc_free_labels(gg_graph *g)
{
    ggc_label_entry *e, *tmp;
    HASH_ITER(by_name, g->labels_by_name, e, tmp)
    {
        HASH_DELETE(by_name, g->labels_by_name, e);
        HASH_DELETE(by_node, g->labels_by_node, e);
        ggb_free(e->name);
        ggb_free(e);
    }
}

void ggc_drop_labels_from(gg_graph *g, size_t first)
{
    ggc_label_entry *e, *tmp;
    HASH_ITER(by_name, g->labels_by_name, e, tmp)
    {
        if (e->node->id >= first)
            remove_entry(g, e);
    }
}
