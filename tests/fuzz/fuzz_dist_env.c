/* fuzz_dist_env.c - libFuzzer target: the MPI launcher's environment as
 * gg_dist_init reads it. The input is a fake environment, one NAME=VALUE
 * per line; whatever parses must be consistent. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    const char **env = malloc((size + 2) * sizeof *env);
    if (!text || !env) {
        free(text), free(env);
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    size_t n = 0;
    env[n++] = text;
    for (size_t i = 0; i < size; i++)
        if (text[i] == '\n') {
            text[i] = '\0';
            env[n++] = text + i + 1;
        }
    env[n] = NULL;
    ggm_launch l;
    char err[GG_ERRLEN];
    if (ggm_parse_launch(env, &l, err) == 0 && l.launched) {
        if (l.size == 0 || (l.size > 0 && l.rank >= l.size) || l.local_size == 0 ||
            (l.size > 0 && l.local_size > l.size) || !l.launcher)
            abort();
    } else if (l.launched) {
        abort();
    }
    free(env);
    free(text);
    return 0;
}
