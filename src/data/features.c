/* features.c - rows to classify from a file whose format its first bytes
 * tell: IDX images (raw or gzip) or CSV (with or without a label column). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "gategrad/data.h"

/* IDX's magic for unsigned bytes is 0 0 8; gzip's is 1f 8b. */
static bool looks_like_idx(const char *path)
{
    unsigned char b[3] = {1, 1, 1};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    size_t n = fread(b, 1, 3, fp);
    fclose(fp);
    return n >= 2 && ((b[0] == 0x1f && b[1] == 0x8b) || (n == 3 && b[0] == 0 && b[1] == 0 && b[2] == 8));
}

static int load_images(const char *path, size_t dim, float **x, size_t *n, char *err)
{
    size_t cols;
    if (gg_idx_load_images(path, x, n, &cols, err))
        return -1;
    if (cols == dim)
        return 0;
    ggb_errorf(err, "%s: %zu pixels per image, but %zu features are wanted", path, cols, dim);
    ggb_free(*x);
    *x = NULL;
    *n = 0;
    return -1;
}

static int load_rows(const char *path, size_t dim, float **x, size_t *n, char *err)
{
    gg_dataset d;
    if (gg_csv_load(path, GG_CSV_NO_LABEL, &d, err))
        return -1;
    size_t cols = d.dim, bytes;
    int rc = -1;
    if (cols != dim && cols != dim + 1)
        ggb_errorf(err, "%s: %zu columns, but %zu features are wanted (%zu columns, or %zu with a label last)",
                   path, cols, dim, dim, dim + 1);
    else if (ggb_mul_size(d.n, dim * sizeof **x, &bytes) || !(*x = ggb_malloc(bytes)))
        ggb_errorf(err, "%s: out of memory for %zu rows", path, d.n);
    else {
        for (size_t i = 0; i < d.n; i++)
            memcpy(*x + i * dim, d.x + i * cols, dim * sizeof **x);
        *n = d.n;
        rc = 0;
    }
    gg_dataset_free(&d);
    return rc;
}

int gg_features_load(const char *path, size_t dim, float **x, size_t *n, char *err)
{
    *x = NULL;
    *n = 0;
    if (dim == 0) {
        ggb_errorf(err, "%s: 0 features wanted", path);
        return -1;
    }
    return looks_like_idx(path) ? load_images(path, dim, x, n, err) : load_rows(path, dim, x, n, err);
}
