/* ioerr.c - formats the error messages of the file functions. */
#include <stdarg.h>
#include <stdio.h>

#include "gategrad/base.h"
#include "io/ioerr.h"

void gg__ioerr(char *err, const char *where, const char *fmt, ...)
{
    if (!err)
        return;
    int n = snprintf(err, GG_ERRLEN, "%s: ", where ? where : "?");
    if (n >= 0 && n < GG_ERRLEN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, (size_t)(GG_ERRLEN - n), fmt, ap);
        va_end(ap);
    }
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}
