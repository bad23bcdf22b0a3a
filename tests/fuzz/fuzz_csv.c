/* fuzz_csv.c - libFuzzer target: the CSV reader, label last and first, and no
 * label (gategrad predict --input). */
#include "fuzz_file.h"
#include "gategrad/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".csv");
    if (!path)
        return 0;
    char err[GG_ERRLEN];
    for (int col = -1; col <= 1; col++) {
        gg_dataset d;
        if (gg_csv_load(path, col == 1 ? GG_CSV_NO_LABEL : col, &d, err) == 0)
            gg_dataset_free(&d);
    }
    unlink(path);
    return 0;
}
