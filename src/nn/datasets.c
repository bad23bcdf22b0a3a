/* datasets.c - the data sets known by name (gg_load_named_dataset). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gategrad/nn.h"
#include "nn/nn.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define PLAYGROUND_TRAIN 1000
#define PLAYGROUND_TEST 500

static uint64_t split_seed(uint64_t seed) { return seed ^ 0x5bd1e9955bd1e995u; }

static int playground(const char *name, uint64_t seed, gg_dataset *train, gg_dataset *test, char *err)
{
    gg_dataset all = {0};
    if (gg_playground(name, PLAYGROUND_TRAIN + PLAYGROUND_TEST, 0.0, seed, &all, err))
        return -1;
    double frac = (double)PLAYGROUND_TRAIN / (PLAYGROUND_TRAIN + PLAYGROUND_TEST);
    /* A split seeded like the generator undoes its shuffle (the same
     * permutation, applied inversely): derive another seed. */
    int rc = gg_dataset_split(&all, frac, split_seed(seed), train, test, err);
    gg_dataset_free(&all);
    return rc;
}

static int csv(const char *path, uint64_t seed, gg_dataset *train, gg_dataset *test, char *err)
{
    gg_dataset all = {0};
    if (gg_csv_load(path, -1, &all, err))
        return -1;
    int rc = gg_dataset_split(&all, 0.8, split_seed(seed), train, test, err);
    gg_dataset_free(&all);
    return rc;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int gg_load_named_dataset(const char *name, uint64_t seed, gg_dataset *train, gg_dataset *test, char *err)
{
    *train = (gg_dataset){0};
    *test = (gg_dataset){0};
    if (!strcmp(name, "fashion-mnist")) {
        const char *dir = getenv("GG_FASHION_MNIST_DIR");
        dir = dir && *dir ? dir : FASHION_DIR;
        if (!is_dir(dir)) {
            ggb_errorf(err, "%s: no such directory (install the Debian package dataset-fashion-mnist, "
                       "or set GG_FASHION_MNIST_DIR)", dir);
            return -1;
        }
        return gg_mnist_load(dir, train, test, err);
    }
    static const char *const generated[] = {"xor", "circle", "gauss", "spiral"};
    for (size_t i = 0; i < sizeof generated / sizeof *generated; i++)
        if (!strcmp(name, generated[i]))
            return playground(name, seed, train, test, err);
    if (is_dir(name))
        return gg_mnist_load(name, train, test, err);
    size_t len = strlen(name);
    if (len > 4 && !strcmp(name + len - 4, ".csv"))
        return csv(name, seed, train, test, err);
    ggb_errorf(err, "%s: not a known data set (fashion-mnist, xor, circle, gauss, spiral), "
               "a directory of IDX files or a .csv file", name);
    return -1;
}
