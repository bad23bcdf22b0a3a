/* ioerr.h - internal: the one-line error messages of the file functions. */
#ifndef GG_IO_IOERR_H
#define GG_IO_IOERR_H

/* Writes "WHERE: message" into err (GG_ERRLEN bytes; NULL is allowed and
 * ignored), truncating, never overrunning. Control characters (from file
 * names or tensor names) become '?' so the message stays on one line. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void gg__ioerr(char *err, const char *where, const char *fmt, ...);

#endif
