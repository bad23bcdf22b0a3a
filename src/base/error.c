/* error.c - the one formatter of the library's error messages. */
#include <stdio.h>

#include "base/base.h"

int ggb_verrorf(char *err, const char *prefix, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    int n = prefix ? snprintf(err, GG_ERRLEN, "%s: ", prefix) : 0;
    if (n < 0)
        n = 0;
    if (n < GG_ERRLEN)
        vsnprintf(err + n, (size_t)(GG_ERRLEN - n), fmt, ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}

int ggb_errorf(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ggb_verrorf(err, NULL, fmt, ap);
    va_end(ap);
    return -1;
}
