/* fuzz_safetensors.c - libFuzzer target: the safetensors header parser and
 * every accessor over what it accepts, reading each tensor's bytes. */
#include <stdlib.h>

#include "gategrad/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[GG_ERRLEN];
    gg_safetensors *f = NULL;
    if (gg_safetensors_parse(data, size, &f, err) != 0)
        return 0;
    size_t count = gg_safetensors_count(f);
    for (size_t i = 0; i < count; i++) {
        gg_safetensors_info info;
        if (gg_safetensors_tensor(f, i, &info) != 0)
            continue;
        size_t found;
        gg_safetensors_find(f, info.name, &found);
        static unsigned char buf[1 << 16];
        size_t extent = (size_t)(info.end - info.begin);
        if (extent <= sizeof buf)
            gg_safetensors_read_raw(f, i, buf, extent, err);
        if (info.loadable && info.rank <= GG_MAX_DIMS && extent <= sizeof buf) {
            gg_tensor_ref t = {.name = info.name, .dtype = info.gg_type, .rank = (int)info.rank, .data = buf};
            for (size_t d = 0; d < info.rank; d++)
                t.dims[d] = info.dims[d];
            gg_safetensors_read(f, &t, err);
        }
    }
    for (size_t i = 0; i < gg_safetensors_meta_count(f); i++) {
        const char *k, *v;
        if (gg_safetensors_meta_at(f, i, &k, &v) == 0)
            gg_safetensors_meta(f, k);
    }
    gg_safetensors_close(f);
    return 0;
}
