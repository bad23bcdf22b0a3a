/* errors.c - a graph's error message, and shapes as text for messages. */
#include <stdio.h>

#include "core/core.h"

void *ggc_fail(gg_graph *g, const char *fmt, ...)
{
    if (!g)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    ggb_verrorf(g->error, NULL, fmt, ap);
    va_end(ap);
    g->has_error = true;
    return NULL;
}

const char *gg_error(const gg_graph *g)
{
    return g && g->has_error ? g->error : NULL;
}

void gg_clear_error(gg_graph *g)
{
    if (g) {
        g->has_error = false;
        g->error[0] = '\0';
    }
}

const char *ggc_dims_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t used = 0;
    int w = snprintf(buf, size, "[");
    for (int i = 0; i < rank && w >= 0; i++) {
        used += (size_t)w;
        if (used >= size)
            break;
        w = snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)dims[i]);
    }
    if (w >= 0 && (used += (size_t)w) < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

const char *gg_shape_str(const gg_node *n, char *buf, size_t size)
{
    if (!n) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    return ggc_dims_str(n->rank, ggc_dims(n), buf, size);
}
