/* fuzz_file.h - the file loaders read paths, so the data-file fuzz targets
 * hand each input over through one temporary file. */
#ifndef GG_FUZZ_FILE_H
#define GG_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes data to a per-process temporary file; returns its path, or NULL. */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[128];
    snprintf(path, sizeof path, "/tmp/gg-fuzz-%ld%s", (long)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    size_t put = fwrite(data, 1, size, f);
    if (fclose(f) != 0 || put != size)
        return NULL;
    return path;
}

#endif
