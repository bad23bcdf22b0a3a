/* fuzz_idx.c - libFuzzer target: the IDX reader, raw and gzip (zlib reads
 * both through one path), images and labels. */
#include "fuzz_file.h"
#include "gategrad/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".idx");
    if (!path)
        return 0;
    char err[GG_ERRLEN];
    float *x = NULL;
    int32_t *y = NULL;
    size_t n = 0, dim = 0;
    if (gg_idx_load_images(path, &x, &n, &dim, err) == 0)
        free(x);
    if (gg_idx_load_labels(path, 10, &y, &n, err) == 0)
        free(y);
    unlink(path);
    return 0;
}
