/* checkpoint.c - an MLP's parameters in a safetensors file, with its spec in
 * the metadata so that the model can be rebuilt from the file alone.
 *
 * Layout 2 (written since the key "gategrad.layout" exists): every linear
 * weight as torch.nn.Linear keeps it, [out, in], so a PyTorch state_dict
 * loads the file as it is. The graph computes x . W with W [in, out]: the
 * weights are transposed here, on the way out and in, and nowhere else.
 * Layout 1 (files without the key but with "gategrad.spec"): W [in, out] as
 * the graph holds it. A file with neither key is a foreign one (PyTorch's):
 * layout 2. */
#include <stdbool.h>
#include <string.h>

#include "gategrad/io.h"
#include "gategrad/nn.h"
#include "nn/nn.h"

#define SPEC_KEY "gategrad.spec"
#define LAYOUT_KEY "gategrad.layout"
#define LAYOUT "2"
#define MAX_META 32

/* Whether parameter p is a linear layer's weight (stored transposed). */
static bool is_linear_weight(gg_graph *g, gg_node *p)
{
    int64_t d[GG_MAX_DIMS];
    const char *name = gg_label(g, p);
    size_t len = strlen(name);
    return gg_shape(p, d) == 2 && !strncmp(name, "fc", 2) && len > 7 && !strcmp(name + len - 7, ".weight");
}

static void transpose(gg_dtype dt, const void *src, void *dst, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            if (dt == GG_F64)
                ((double *)dst)[j * rows + i] = ((const double *)src)[i * cols + j];
            else
                ((float *)dst)[j * rows + i] = ((const float *)src)[i * cols + j];
        }
}

/* The parameters, then the running statistics: what a checkpoint holds. */
static gg_node *const *all_tensors(const gg_mlp *m, gg_node **list, size_t *n)
{
    size_t np, nb;
    gg_node *const *p = gg_mlp_params(m, &np), *const *b = gg_mlp_buffers(m, &nb);
    memcpy(list, p, np * sizeof *p);
    memcpy(list + np, b, nb * sizeof *b);
    *n = np + nb;
    return list;
}

/* t[i] for every parameter and running statistic; with torch_layout, linear weights get a
 * [out, in] buffer of their own in tmp[i] (freed by release). */
static int describe(const gg_mlp *m, gg_tensor_ref *t, void **tmp, bool torch_layout, char *err)
{
    gg_node *all[GGN_MAX_PARAMS];
    size_t n;
    gg_node *const *p = all_tensors(m, all, &n);
    gg_graph *g = gg_mlp_graph(m);
    for (size_t i = 0; i < n; i++)
        tmp[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        t[i] = (gg_tensor_ref){.name = gg_label(g, p[i]), .dtype = gg_node_dtype(p[i]), .data = gg_data(p[i])};
        t[i].rank = gg_shape(p[i], t[i].dims);
        if (torch_layout && is_linear_weight(g, p[i])) {
            int64_t in = t[i].dims[0];
            t[i].dims[0] = t[i].dims[1];
            t[i].dims[1] = in;
            tmp[i] = t[i].data = ggb_malloc(gg_numel(p[i]) * (t[i].dtype == GG_F64 ? 8 : 4));
            if (!tmp[i]) {
                ggb_errorf(err, "checkpoint: out of memory");
                return -1;
            }
        }
    }
    return 0;
}

static void release(void **tmp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ggb_free(tmp[i]);
}

int gg_mlp_save(const gg_mlp *m, const char *path, const char *const *meta_kv, char *err)
{
    gg_tensor_ref t[GGN_MAX_PARAMS];
    void *tmp[GGN_MAX_PARAMS];
    gg_node *all[GGN_MAX_PARAMS];
    const char *meta[2 * MAX_META + 5];
    char spec[512];
    size_t n, k = 0;
    gg_node *const *p = all_tensors(m, all, &n);
    meta[k++] = SPEC_KEY;
    meta[k++] = gg_mlp_spec_format(gg_mlp_get_spec(m), spec, sizeof spec);
    meta[k++] = LAYOUT_KEY;
    meta[k++] = LAYOUT;
    for (size_t i = 0; meta_kv && meta_kv[i]; i += 2) {
        if (k >= 2 * MAX_META + 4 || !meta_kv[i + 1]) {
            ggb_errorf(err, "%s: metadata must be at most %d complete key/value pairs", path, MAX_META);
            return -1;
        }
        meta[k++] = meta_kv[i];
        meta[k++] = meta_kv[i + 1];
    }
    meta[k] = NULL;
    int rc = describe(m, t, tmp, true, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (tmp[i])
            transpose(t[i].dtype, gg_data(p[i]), tmp[i], t[i].dims[1], t[i].dims[0]);
    if (rc == 0)
        rc = gg_safetensors_save(path, t, n, meta, err);
    release(tmp, n);
    return rc;
}

/* The layout of path's weights: 1 or 2 (see the top of the file). */
static int file_layout(const char *path, int *layout, char *err)
{
    gg_safetensors *f;
    if (gg_safetensors_open(path, &f, err))
        return -1;
    const char *v = gg_safetensors_meta(f, LAYOUT_KEY);
    int rc = 0;
    if (v && !strcmp(v, LAYOUT))
        *layout = 2;
    else if (v) {
        ggb_errorf(err, "%s: checkpoint layout \"%s\" is newer than this gategrad reads (" LAYOUT ")", path, v);
        rc = -1;
    } else
        *layout = gg_safetensors_meta(f, SPEC_KEY) ? 1 : 2;
    gg_safetensors_close(f);
    return rc;
}

/* Whether every tensor of path that t[0..n) does not name is a
 * "*.num_batches_tracked" counter (torch.nn.BatchNorm1d's, which gategrad
 * neither keeps nor needs): those are skipped, anything else is an error. */
static bool only_counters_extra(const char *path, const gg_tensor_ref *t, size_t n)
{
    static const char tail[] = ".num_batches_tracked";
    gg_safetensors *f;
    if (gg_safetensors_open(path, &f, NULL))
        return false;
    bool ok = true;
    for (size_t i = 0, nt = gg_safetensors_count(f); ok && i < nt; i++) {
        gg_safetensors_info info;
        gg_safetensors_tensor(f, i, &info);
        bool ours = false;
        for (size_t k = 0; !ours && k < n; k++)
            ours = !strcmp(t[k].name, info.name);
        size_t len = strlen(info.name);
        ok = ours || (len > sizeof tail - 1 && !strcmp(info.name + len - (sizeof tail - 1), tail));
    }
    gg_safetensors_close(f);
    return ok;
}

int gg_mlp_load(gg_mlp *m, const char *path, char *err)
{
    gg_tensor_ref t[GGN_MAX_PARAMS];
    void *tmp[GGN_MAX_PARAMS];
    gg_node *all[GGN_MAX_PARAMS];
    size_t n;
    int layout;
    gg_node *const *p = all_tensors(m, all, &n);
    if (file_layout(path, &layout, err))
        return -1;
    int rc = describe(m, t, tmp, layout == 2, err);
    if (rc == 0)
        rc = gg_safetensors_load(path, t, n, only_counters_extra(path, t, n) ? GG_SAFETENSORS_ALLOW_EXTRA : 0,
                                 err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (tmp[i])
            transpose(t[i].dtype, tmp[i], gg_data(p[i]), t[i].dims[0], t[i].dims[1]);
    release(tmp, n);
    return rc;
}

int gg_mlp_read_spec(const char *path, gg_mlp_spec *spec, char *err)
{
    gg_safetensors *f;
    if (gg_safetensors_open(path, &f, err))
        return -1;
    const char *text = gg_safetensors_meta(f, SPEC_KEY);
    int rc = -1;
    if (!text)
        ggb_errorf(err, "%s: no \"" SPEC_KEY "\" in the metadata: not a gategrad model checkpoint "
                   "(give the model's spec)", path);
    else if (gg_mlp_spec_parse(text, spec, err) == 0)
        rc = 0;
    else if (err) {
        char inner[GG_ERRLEN];
        memcpy(inner, err, GG_ERRLEN);
        ggb_errorf(err, "%s: %s", path, inner);
    }
    gg_safetensors_close(f);
    return rc;
}
