/* atomic_file.h - internal: replace a file atomically, so that readers (and a
 * crash at any moment) see either the old file or the complete new one.
 *
 * Usage:
 *     gg__atomic_file af;
 *     if (gg__atomic_open(path, &af, err))
 *         return -1;
 *     if (gg__atomic_write(&af, buf, n, err) || ... || gg__atomic_commit(&af, err)) {
 *         gg__atomic_abort(&af);
 *         return -1;
 *     }
 *
 * The data goes to a temporary file "PATH.tmp-XXXXXX" in the same directory
 * (so the final rename cannot cross file systems); commit flushes and fsyncs
 * it, renames it over PATH and fsyncs the directory. Until the rename, PATH is
 * untouched; abort removes the temporary file. */
#ifndef GG_IO_ATOMIC_FILE_H
#define GG_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct gg__atomic_file {
    FILE *fp;   /* the temporary file; fprintf etc. to it are allowed, their
                   errors are caught by commit (through ferror/fflush) */
    char *path; /* the target */
    char *tmp;  /* the temporary file's name, NULL once renamed or removed */
} gg__atomic_file;

/* Creates the temporary file for path. Its permissions are those of the
 * existing path, or 0644 for a new file. On error fills err, leaves nothing
 * behind, and af needs no gg__atomic_abort (calling it is harmless). */
int gg__atomic_open(const char *path, gg__atomic_file *af, char *err);

/* Writes n bytes; on error fills err (the caller then aborts). */
int gg__atomic_write(gg__atomic_file *af, const void *buf, size_t n, char *err);

/* Flushes, fsyncs, renames over the target, fsyncs the directory, and
 * releases af. On an error before the rename the temporary file is removed
 * and the target is untouched; if only the directory fsync fails, the new
 * file is in place but its durability is not guaranteed, and that is
 * reported as an error too. Either way af is released. */
int gg__atomic_commit(gg__atomic_file *af, char *err);

/* Closes and removes the temporary file and releases af. Safe to call on a
 * released or failed-to-open af, and more than once. */
void gg__atomic_abort(gg__atomic_file *af);

/* Test hook, not thread-safe: when > 0 it counts down at each system call of
 * the functions above (create, chmod, fdopen, each write, flush, fsync,
 * close, rename, directory fsync) and the call that brings it to 0 fails as
 * if with EIO. 0 (the default) disables it. */
extern long gg__atomic_fail_at;

#endif
