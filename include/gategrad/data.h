/* gategrad/data.h - data sets for training: IDX (MNIST) and CSV readers,
 * TensorFlow Playground generators, shuffled splits and mini-batches.
 *
 * Conventions shared by every function here:
 * - Functions returning int return 0 on success and nonzero on error.
 * - On error they write a one-line message naming the file (or the function)
 *   and the problem into err, a caller buffer of GG_ERRLEN bytes (longer
 *   messages are truncated, never overrun); err may be NULL.
 * - On error nothing is leaked and every output is left empty: a
 *   gg_dataset is zeroed, pointers are NULL, counts are 0.
 * - Nothing here exits, aborts or prints.
 * - Every random choice comes from gg_rng seeded by the caller, so the same
 *   seed gives the same data, split and batch order on every machine. */
#ifndef GATEGRAD_DATA_H
#define GATEGRAD_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "gategrad/base.h"
#include "gategrad/rng.h"

/* Labels are in [0, GG_DATA_MAX_CLASSES): a larger label in a file is
 * rejected as corrupt rather than turned into a huge one-hot width. */
#define GG_DATA_MAX_CLASSES 65536

/* A gzip-compressed IDX file may decompress to at most this many payload
 * bytes (its size cannot be checked before reading; raw files are checked
 * against their size instead and have no such limit). */
#define GG_IDX_GZ_MAX_BYTES ((size_t)1 << 30)

/* A labelled data set, samples stored row-major. The struct owns x and y;
 * release them with gg_dataset_free. A zeroed struct is a valid empty set. */
typedef struct gg_dataset {
    size_t n;       /* samples */
    size_t dim;     /* features per sample */
    size_t classes; /* every label is in [0, classes) */
    /* The features, in one of two forms (the other pointer is NULL):
     * x:  n * dim floats, sample i at x + i * dim (CSV, playground sets);
     * xb: n * dim bytes, feature = xb[k] / 255.0f (IDX images: a quarter of
     *     the memory, so Fashion-MNIST's training set takes 45 MiB, not 180).
     * Read a sample as floats either way with gg_dataset_row. Owned. */
    float *x;
    uint8_t *xb;
    int32_t *y;     /* n labels; owned */
} gg_dataset;

/* Frees d's arrays and zeroes *d. NULL-safe; safe on a zeroed struct and
 * safe to call twice. */
GG_API void gg_dataset_free(gg_dataset *d);

/* Writes sample i's dim features into out as floats (i < d->n). */
GG_API void gg_dataset_row(const gg_dataset *d, size_t i, float *out);

/* ---- IDX files (the MNIST format) ----------------------------------------
 * An IDX file is a 4-byte magic (0, 0, type, ndims), ndims big-endian 32-bit
 * dimensions, then the payload. Only type 0x08 (unsigned byte) is read.
 * Files may be raw or gzip-compressed (detected from their content, not their
 * name). A file is rejected, with a message naming it and the problem, when
 * its magic or type is wrong, a dimension is 0, the dimensions overflow
 * size_t, the payload is shorter or longer than the dimensions say (raw files
 * are checked against their size before anything is allocated; gzip files
 * are read incrementally, so memory only grows with data actually present,
 * and are capped at GG_IDX_GZ_MAX_BYTES), or the gzip stream is corrupt. */

/* Reads an IDX image file with at least 2 dimensions: *n = first dimension,
 * *dim = product of the others. *x receives n * dim floats, byte / 255, so
 * in [0, 1]; the caller frees it with free(). */
GG_API int gg_idx_load_images(const char *path, float **x, size_t *n, size_t *dim,
                       char *err);

/* Reads an IDX label file (exactly 1 dimension). Every label must be below
 * classes (1 <= classes <= GG_DATA_MAX_CLASSES), else the message names the
 * sample index and value. *y receives n labels; the caller frees it. */
GG_API int gg_idx_load_labels(const char *path, size_t classes, int32_t **y,
                       size_t *n, char *err);

/* Reads an image file and its label file into out (out->classes = classes).
 * The two counts must agree. */
GG_API int gg_idx_load_pair(const char *images_path, const char *labels_path,
                     size_t classes, gg_dataset *out, char *err);

/* Reads MNIST or a drop-in replacement (Fashion-MNIST, KMNIST) from dir,
 * which holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally with a
 * .gz suffix (the uncompressed one is preferred when both exist). Pixels are
 * scaled to [0, 1], labels must be in [0, 10), classes = 10, and train and
 * test must have the same image size. Either output may be NULL to skip that
 * half. On error both outputs are left zeroed. */
GG_API int gg_mnist_load(const char *dir, gg_dataset *train, gg_dataset *test,
                  char *err);

/* ---- CSV -----------------------------------------------------------------
 * Reads a comma-separated file of numbers: every column but label_column is
 * a float feature, label_column (0-based; -1 = the last column) holds class
 * indices written as non-negative integers (3 and 3.0 are both accepted).
 * The first line is taken as a header and skipped when one of its fields is
 * text that is not a number. Spaces and tabs around fields, CRLF line ends, a UTF-8 byte
 * order mark and empty lines at the end are accepted; quoting is not.
 * out->classes = largest label + 1. Errors name the file, line and column
 * (both counted from 1):
 * ragged rows, empty or non-numeric fields, NaN or infinite values (or ones
 * outside float's range), bad labels, an empty file, a file with no data
 * rows, a label column out of range, fewer than 2 columns. */
GG_API int gg_csv_load(const char *path, int label_column, gg_dataset *out,
                char *err);

/* label_column for gg_csv_load: no label column, every column is a feature
 * (one column is enough); every label is 0 and out->classes is 1. */
#define GG_CSV_NO_LABEL (-0x7fffffff - 1)

/* ---- Rows to classify ----------------------------------------------------
 * Reads n rows of dim features from path, whose first bytes tell its format:
 * an IDX image file (raw, magic 0 0 8, or gzip, 1f 8b), each image of dim
 * pixels scaled to [0, 1] as gg_idx_load_images does; otherwise a CSV read
 * as gg_csv_load with GG_CSV_NO_LABEL, of dim columns (the features alone)
 * or dim + 1 (the features, then a label, which is ignored). *x receives
 * n * dim floats, row-major; the caller frees it with free(). Errors: those
 * of the two readers, dim 0, an image size or column count that does not
 * fit dim, out of memory; then *x is NULL and *n 0. */
GG_API int gg_features_load(const char *path, size_t dim, float **x, size_t *n, char *err);

/* ---- TensorFlow Playground data sets --------------------------------------
 * Fills out with n points in 2-D (dim = 2, classes = 2), in random order,
 * following playground.tensorflow.org's dataset.ts (its label -1 is class 0):
 *   "circle": class 1 uniform in the disc of radius 2.5, class 0 in the ring
 *             of radii 3.5..5; noise perturbs the point used for labelling.
 *   "xor":    uniform in [-5, 5]^2 pushed 0.3 away from the axes, class 1
 *             where x*y >= 0; noise perturbs the point used for labelling.
 *   "gauss":  two Gaussian blobs at (2, 2) (class 1) and (-2, -2) (class 0),
 *             variance 0.5 + 7 * noise.
 *   "spiral": two interleaved spirals of 1.75 turns out to radius 5, each
 *             coordinate offset by uniform [-noise, noise].
 * noise is in [0, 1] (the playground's slider spans 0 .. 0.5). circle,
 * gauss and spiral draw half the points (the odd one out: class 1) from each
 * class's distribution; with noise, circle labels near the boundary flip, and
 * xor's classes are balanced only on average, as in the playground.
 * The result depends only on (name, n, noise, seed). An unknown name is an
 * error that lists the valid names; n must be >= 2. */
GG_API int gg_playground(const char *name, size_t n, double noise, uint64_t seed,
                  gg_dataset *out, char *err);

/* ---- Splits, batches, one-hot ---------------------------------------------- */

/* Shuffles src's samples with seed and copies the first
 * round(fraction * n) of them into a and the rest into b (both get src's dim
 * and classes; src is unchanged). fraction must be in [0, 1]; a side that
 * gets no samples is a valid empty set (n = 0, x = y = NULL). src->n must fit
 * in uint32_t. */
GG_API int gg_dataset_split(const gg_dataset *src, double fraction, uint64_t seed,
                     gg_dataset *a, gg_dataset *b, char *err);

/* Walks a data set in mini-batches, in a fresh random order every epoch
 * (or in storage order when shuffle is 0). Copies samples into buffers the
 * caller allocates once; nothing is allocated per batch. */
typedef struct gg_batcher {
    const gg_dataset *data; /* borrowed: must outlive the batcher, unchanged */
    size_t batch;           /* samples per batch */
    size_t pos;             /* next position in perm */
    size_t epoch;           /* completed epochs */
    int shuffle;
    gg_rng rng;
    uint32_t *perm; /* data->n sample indices, owned */
} gg_batcher;

/* Prepares b over data (data->n >= 1 and fits in uint32_t, batch >= 1) and
 * shuffles the first epoch's order. Release with gg_batcher_free. */
GG_API int gg_batcher_init(gg_batcher *b, const gg_dataset *data, size_t batch,
                    int shuffle, uint64_t seed, char *err);

/* Copies the next batch into x_out (batch * dim floats) and y_out (batch
 * labels); either may be NULL to skip it. Returns the number of samples
 * copied: batch, or fewer for the last batch of an epoch (it is returned
 * short, not dropped). When the epoch is exhausted it returns 0, increments
 * b->epoch and reshuffles, so the next call starts the next epoch:
 *     while ((m = gg_batcher_next(&b, x, y)) > 0) { ...one epoch... }
 * A batch of 32768 values or more is copied by all gg_num_threads()
 * threads (the same bytes as one thread would write). */
GG_API size_t gg_batcher_next(gg_batcher *b, float *x_out, int32_t *y_out);

/* Frees b's permutation and zeroes *b. NULL-safe, safe twice. */
GG_API void gg_batcher_free(gg_batcher *b);

/* Writes m one-hot rows of width classes into out (m * classes floats).
 * A label outside [0, classes) is an error naming its index; out is then
 * all zeros. */
GG_API int gg_one_hot(const int32_t *y, size_t m, size_t classes, float *out,
               char *err);

#endif
