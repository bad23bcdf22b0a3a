/* fuzz_features.c - libFuzzer target: the rows `gategrad predict --input`
 * reads (gg_features_load: IDX raw or gzip, or CSV with or without a label
 * column, told apart by the first bytes), for 1, 2 and 4 features. */
#include "fuzz_file.h"
#include "gategrad/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".in");
    if (!path)
        return 0;
    char err[GG_ERRLEN];
    for (size_t dim = 1; dim <= 4; dim *= 2) {
        float *x = NULL;
        size_t n = 0;
        if (gg_features_load(path, dim, &x, &n, err) == 0)
            free(x);
        else if (x || n)
            abort(); /* an error leaves no rows behind */
    }
    unlink(path);
    return 0;
}
