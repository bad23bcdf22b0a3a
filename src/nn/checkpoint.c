/* checkpoint.c - an MLP's parameters in a safetensors file, with its spec in
 * the metadata so that the model can be rebuilt from the file alone. */
#include <string.h>

#include "gategrad/io.h"
#include "gategrad/nn.h"
#include "nn/nn.h"

#define SPEC_KEY "gategrad.spec"
#define MAX_META 32

static void describe(const gg_mlp *m, gg_tensor_ref *t)
{
    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    gg_graph *g = gg_mlp_graph(m);
    for (size_t i = 0; i < n; i++) {
        t[i] = (gg_tensor_ref){.name = gg_label(g, p[i]), .dtype = gg_node_dtype(p[i]), .data = gg_data(p[i])};
        t[i].rank = gg_shape(p[i], t[i].dims);
    }
}

int gg_mlp_save(const gg_mlp *m, const char *path, const char *const *meta_kv, char *err)
{
    gg_tensor_ref t[2 * GG_MLP_MAX_LAYERS];
    const char *meta[2 * MAX_META + 3];
    char spec[512];
    size_t n, k = 0;
    gg_mlp_params(m, &n);
    describe(m, t);
    meta[k++] = SPEC_KEY;
    meta[k++] = gg_mlp_spec_format(gg_mlp_get_spec(m), spec, sizeof spec);
    for (size_t i = 0; meta_kv && meta_kv[i]; i += 2) {
        if (k >= 2 * MAX_META + 2 || !meta_kv[i + 1]) {
            ggb_errorf(err, "%s: metadata must be at most %d complete key/value pairs", path, MAX_META);
            return -1;
        }
        meta[k++] = meta_kv[i];
        meta[k++] = meta_kv[i + 1];
    }
    meta[k] = NULL;
    return gg_safetensors_save(path, t, n, meta, err);
}

int gg_mlp_load(gg_mlp *m, const char *path, char *err)
{
    gg_tensor_ref t[2 * GG_MLP_MAX_LAYERS];
    size_t n;
    gg_mlp_params(m, &n);
    describe(m, t);
    return gg_safetensors_load(path, t, n, 0, err);
}

int gg_mlp_read_spec(const char *path, gg_mlp_spec *spec, char *err)
{
    gg_safetensors *f;
    if (gg_safetensors_open(path, &f, err))
        return -1;
    const char *text = gg_safetensors_meta(f, SPEC_KEY);
    int rc = -1;
    if (!text)
        ggb_errorf(err, "%s: no \"" SPEC_KEY "\" in the metadata: not a gategrad model checkpoint", path);
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
