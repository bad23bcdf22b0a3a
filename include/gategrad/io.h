/* gategrad/io.h - checkpoint files in the safetensors format, and files
 * replaced atomically.
 *
 * A safetensors file is: an 8-byte little-endian unsigned header length N;
 * N bytes of UTF-8 JSON mapping each tensor name to
 *     {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
 * (offsets in bytes from the start of the data section) plus an optional
 * "__metadata__" object of string values; then the data section, the raw
 * little-endian tensor bytes. It is the format of the Hugging Face
 * `safetensors` library, so PyTorch and friends read gategrad's checkpoints.
 *
 * Reading is strict, as the reference loader is: the header must be at most
 * GG_SAFETENSORS_MAX_HEADER bytes and fit in the file, be valid JSON of
 * exactly that shape (tensor entries with other keys are rejected), names
 * must be unique, end - begin must equal the size the dtype and shape give,
 * and the offsets must tile the data section exactly (no gaps, no overlaps,
 * no bytes past the last tensor). Any dtype of the format (BOOL, U8, I8, I16,
 * U16, I32, U32, I64, U64, F16, BF16, F32, F64, C64, F8_E4M3, F8_E5M2,
 * F8_E8M0, F4, F6_E2M3, F6_E3M2) can be listed; only F32 and F64 can be
 * loaded into gategrad buffers.
 *
 * Errors: every function that can fail returns 0 on success and nonzero on
 * error, and then writes a one-line message naming the file (or "<memory>")
 * and the problem into err, a buffer of GG_ERRLEN bytes (err may be NULL).
 * Nothing is leaked or left half-done on an error, and the library never
 * exits or aborts. Handles are not shared between threads without locking;
 * different handles are independent. */
#ifndef GATEGRAD_IO_H
#define GATEGRAD_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gategrad/base.h"

/* Largest header accepted (and written), in bytes. The reference allows
 * 100 MB; 16 MiB keeps the parsed header of a hostile file to a few hundred
 * MB of memory at worst, while real checkpoints' headers (one short entry
 * per tensor) stay far below it: 100 000 tensors take about 10 MB. */
#define GG_SAFETENSORS_MAX_HEADER 16777216u

/* A named tensor in caller-owned memory: row-major, contiguous, native
 * floats; dims[0..rank) are the sizes (rank 0 is a scalar of 1 element). */
typedef struct gg_tensor_ref {
    const char *name;
    gg_dtype dtype;
    int rank;
    int64_t dims[GG_MAX_DIMS];
    void *data;
} gg_tensor_ref;

/* Writes the n tensors t[0..n) and the metadata to path, replacing any file
 * there atomically: the data goes to a temporary file in the same directory,
 * which is fsynced and renamed over path (then the directory is fsynced). On
 * any error the temporary file is removed and a previous file at path is left
 * untouched (only a failing directory fsync, after the rename, leaves the new
 * file in place and still reports an error).
 * meta_kv is NULL or a NULL-terminated list "key1", "value1", "key2", ...
 * of UTF-8 strings, stored in "__metadata__". Names must be unique, valid
 * UTF-8 and not "__metadata__"; ranks 0..GG_MAX_DIMS, dims >= 0, data non-NULL
 * unless the tensor is empty. F64 tensors are stored before F32 ones (each in
 * the caller's order) so every tensor is aligned in the file; the header is
 * padded with spaces to a multiple of 8 bytes. The caller keeps ownership of
 * everything passed in. */
GG_API int gg_safetensors_save(const char *path, const gg_tensor_ref *t, size_t n,
                        const char *const *meta_kv, char *err);

/* Flag for gg_safetensors_load: tensors in the file that were not asked for
 * are ignored (by default they are an error, to catch a model whose
 * structure does not match its checkpoint). */
#define GG_SAFETENSORS_ALLOW_EXTRA 1u

/* Reads the tensors t[0..n) of path into the caller's buffers t[i].data
 * (each must hold numel * dtype-size bytes). Each name must be in the file
 * with the same dtype, rank and dims as t[i] (the message names the tensor
 * and gives the expected and found dtype or shape). flags: 0 or
 * GG_SAFETENSORS_ALLOW_EXTRA. On error the buffers may be partly written. */
GG_API int gg_safetensors_load(const char *path, gg_tensor_ref *t, size_t n, unsigned flags,
                        char *err);

/* ---- Introspection: list what a file holds, read tensors one by one. ---- */

typedef struct gg_safetensors gg_safetensors;

/* Opens path and validates its header (the data is read later, on demand).
 * On success *out is a handle to close with gg_safetensors_close. On error
 * *out is NULL. */
GG_API int gg_safetensors_open(const char *path, gg_safetensors **out, char *err);

/* As gg_safetensors_open, for a whole file image buf[0..len) in memory
 * (messages say "<memory>"). buf is not copied: it must stay valid and
 * unchanged until the handle is closed. Meant for fuzzing and for files that
 * are already mapped. */
GG_API int gg_safetensors_parse(const void *buf, size_t len, gg_safetensors **out, char *err);

/* Frees the handle and closes its file; NULL is allowed. */
GG_API void gg_safetensors_close(gg_safetensors *f);

/* One tensor of a file. All pointers point into the handle and stay valid
 * until it is closed. */
typedef struct gg_safetensors_info {
    const char *name;
    const char *dtype;    /* as in the file: "F32", "BF16", ... */
    int loadable;         /* 1 if dtype is F32 or F64 ... */
    gg_dtype gg_type;     /* ... and then this is GG_F32 or GG_F64 */
    size_t rank;          /* may exceed GG_MAX_DIMS (such tensors cannot be loaded) */
    const int64_t *dims;  /* rank sizes */
    uint64_t begin, end;  /* byte range in the data section */
} gg_safetensors_info;

/* Number of tensors in the file. */
GG_API size_t gg_safetensors_count(const gg_safetensors *f);

/* Describes tensor i (0 <= i < count; tensors are sorted by name, bytewise).
 * Returns nonzero, leaving *out alone, when i is out of range. */
GG_API int gg_safetensors_tensor(const gg_safetensors *f, size_t i, gg_safetensors_info *out);

/* Sets *i to the index of the tensor called name; nonzero if there is none. */
GG_API int gg_safetensors_find(const gg_safetensors *f, const char *name, size_t *i);

/* Number of "__metadata__" entries (0 when the file has none). */
GG_API size_t gg_safetensors_meta_count(const gg_safetensors *f);

/* Sets *key and *value to metadata entry i (sorted by key, bytewise); the
 * strings belong to the handle. Nonzero when i is out of range. */
GG_API int gg_safetensors_meta_at(const gg_safetensors *f, size_t i, const char **key,
                           const char **value);

/* The metadata value for key, owned by the handle, or NULL if absent. */
GG_API const char *gg_safetensors_meta(const gg_safetensors *f, const char *key);

/* Reads the tensor called t->name into t->data, which must hold numel *
 * dtype-size bytes, after checking that its dtype, rank and dims are those
 * of t (errors as for gg_safetensors_load). */
GG_API int gg_safetensors_read(gg_safetensors *f, const gg_tensor_ref *t, char *err);

/* Copies the raw little-endian bytes of tensor i (any dtype; end - begin
 * bytes) into dst, which holds size bytes; an error if size is not exactly
 * end - begin. */
GG_API int gg_safetensors_read_raw(gg_safetensors *f, size_t i, void *dst, size_t size,
                            char *err);

/* ---- Replacing a file atomically -----------------------------------------
 * What gg_safetensors_save and every file the command writes use, so that
 * readers (and a crash at any moment) see either the old file or the
 * complete new one:
 *
 *     gg_atomic_file af;
 *     char err[GG_ERRLEN];
 *     if (gg_atomic_open("plot.svg", &af, err))
 *         return -1;                          // nothing to clean up
 *     fprintf(af.fp, "<svg ...>");            // or gg_atomic_write
 *     if (gg_atomic_commit(&af, err))         // af is released either way
 *         return -1;
 *
 * The data goes to a temporary file "PATH.tmp-PID-XXXXXX" in the same
 * directory (so the final rename cannot cross file systems; PID is the
 * writer's process id), locked with flock while it is open; commit flushes
 * and fsyncs it, renames it over PATH and fsyncs the directory. Until the
 * rename, PATH is untouched; abort removes the temporary file. A process
 * killed mid-write leaves its temporary file behind: the next
 * gg_atomic_open of the same PATH removes such files, only those of PATH's
 * own pattern whose PID is no running process and whose lock nobody holds
 * (a live writer's file is never touched). */
typedef struct gg_atomic_file {
    FILE *fp;   /* the temporary file: fwrite, fprintf, ... to it; their
                   errors are caught by gg_atomic_commit (ferror, fflush) */
    char *path; /* private: the target */
    char *tmp;  /* private: the temporary file, NULL once renamed or removed */
} gg_atomic_file;

/* Creates the temporary file for path and fills af. Its permissions are
 * those of the existing path, or 0644 for a new file. On error writes err,
 * leaves nothing behind, and af needs no gg_atomic_abort (calling it is
 * harmless). */
GG_API int gg_atomic_open(const char *path, gg_atomic_file *af, char *err);

/* Writes n bytes of buf; on error writes err (the caller then aborts). */
GG_API int gg_atomic_write(gg_atomic_file *af, const void *buf, size_t n, char *err);

/* Flushes, fsyncs, renames over the target, fsyncs the directory, and
 * releases af. On an error before the rename the temporary file is removed
 * and the target is untouched; if only the directory fsync fails, the new
 * file is in place but its durability is not guaranteed, and that is
 * reported as an error too. Either way af is released. */
GG_API int gg_atomic_commit(gg_atomic_file *af, char *err);

/* Closes and removes the temporary file and releases af. Safe on a released
 * or failed-to-open af, and more than once. */
GG_API void gg_atomic_abort(gg_atomic_file *af);

#endif
