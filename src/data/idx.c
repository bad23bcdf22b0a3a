/* idx.c - IDX (MNIST format) readers, raw or gzip-compressed.
 *
 * Every size in an IDX header is untrusted. A raw file's header is checked
 * against the file's real size before anything is allocated; a gzip file's
 * size says nothing about its content, so its payload is read in chunks into
 * a buffer that grows only as data actually arrives. gzip is inflated here
 * (zlib's inflate, not its gz* file functions) so that zlib's own
 * allocations go through ggb_malloc and fault injection reaches them. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"

#define IDX_UBYTE 0x08
#define CHUNK ((size_t)1 << 16)
/* First allocation for a gzip payload, in elements; doubled as data comes. */
#define GZ_FIRST_ELEMS ((size_t)1 << 20)

/* The file's bytes, inflated when it is gzip (members one after another, as
 * gzip reads them; anything after the last member that is not one is
 * ignored, as gzip does). */
typedef struct idx_src {
    int fd;
    bool gzip;
    bool at_end;       /* raw: end of file; gzip: the last member ended */
    bool input_ended;  /* gzip: the file has no more compressed bytes */
    z_stream z;
    bool z_ready;      /* inflateInit2 succeeded */
    unsigned char *in; /* gzip: compressed input, CHUNK bytes */
    const char *why;   /* zlib's word on corrupt data */
} idx_src;

typedef enum { SRC_OK, SRC_TRUNCATED, SRC_CORRUPT, SRC_NO_MEMORY, SRC_IO } src_status;

typedef struct idx_file {
    const char *path;
    unsigned min_dims, max_dims; /* what the caller accepts */
    idx_src src;
    off_t file_size;
    unsigned ndims;
    uint32_t dims[255];
    size_t count; /* payload bytes = product of dims */
} idx_file;

/* Converts len payload bytes to 4-byte elements at dst. */
typedef void (*idx_convert)(const uint8_t *src, size_t len, void *dst);

static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t bytes;
    return ggb_mul_size(items, size, &bytes) ? Z_NULL : ggb_malloc(bytes);
}

static void zlib_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    ggb_free(p);
}

static bool is_gzip(int fd)
{
    unsigned char b[2];
    return pread(fd, b, 2, 0) == 2 && b[0] == 0x1f && b[1] == 0x8b;
}

/* Starts reading fd: raw, or gzip with an inflate stream. */
static src_status src_open(idx_src *s, int fd)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->gzip = is_gzip(fd);
    if (!s->gzip)
        return SRC_OK;
    s->z.zalloc = zlib_alloc;
    s->z.zfree = zlib_free;
    if (!(s->in = ggb_malloc(CHUNK)))
        return SRC_NO_MEMORY;
    int rc = inflateInit2(&s->z, 15 + 16); /* a gzip wrapper, the largest window */
    if (rc != Z_OK)
        return rc == Z_MEM_ERROR ? SRC_NO_MEMORY : SRC_CORRUPT;
    s->z_ready = true;
    return SRC_OK;
}

/* Closes fd and frees the inflate stream; false if close failed. */
static bool src_close(idx_src *s)
{
    if (s->z_ready)
        inflateEnd(&s->z);
    ggb_free(s->in);
    s->in = NULL;
    s->z_ready = false;
    return close(s->fd) == 0;
}

static size_t read_fd(int fd, void *buf, size_t len, bool *failed)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *failed = r < 0;
            break;
        }
        got += (size_t)r;
    }
    return got;
}

/* Tops up the compressed input to at least want bytes where the file has
 * them (want <= CHUNK). */
static src_status fill_input(idx_src *s, size_t want)
{
    if (s->input_ended || s->z.avail_in >= want)
        return SRC_OK;
    memmove(s->in, s->z.next_in ? s->z.next_in : s->in, s->z.avail_in);
    s->z.next_in = s->in;
    bool failed = false;
    size_t got = read_fd(s->fd, s->in + s->z.avail_in, CHUNK - s->z.avail_in, &failed);
    if (failed)
        return SRC_IO;
    s->input_ended = got < CHUNK - s->z.avail_in;
    s->z.avail_in += (uInt)got;
    return SRC_OK;
}

/* After a member's end: another member follows (gzip magic), or the data
 * ends here. */
static src_status next_member(idx_src *s)
{
    src_status st = fill_input(s, 2);
    if (st != SRC_OK)
        return st;
    if (s->z.avail_in >= 2 && s->z.next_in[0] == 0x1f && s->z.next_in[1] == 0x8b)
        return inflateReset(&s->z) == Z_OK ? SRC_OK : SRC_CORRUPT;
    s->at_end = true;
    return SRC_OK;
}

/* Inflates up to len bytes into buf; *got says how many came. */
static src_status inflate_some(idx_src *s, unsigned char *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len && !s->at_end) {
        src_status st = fill_input(s, 1);
        if (st != SRC_OK)
            return st;
        if (s->z.avail_in == 0)
            return SRC_TRUNCATED; /* the file ends inside a member */
        s->z.next_out = buf + *got;
        s->z.avail_out = (uInt)(len - *got);
        int rc = inflate(&s->z, Z_NO_FLUSH);
        *got = len - s->z.avail_out;
        if (rc == Z_STREAM_END)
            st = next_member(s);
        else if (rc == Z_MEM_ERROR)
            st = SRC_NO_MEMORY;
        else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            s->why = s->z.msg ? s->z.msg : "inflate failed";
            st = SRC_CORRUPT;
        }
        if (st != SRC_OK)
            return st;
    }
    return SRC_OK;
}

/* Reads up to len bytes (len <= CHUNK); fewer only at the end of the data. */
static src_status src_read(idx_src *s, void *buf, size_t len, size_t *got)
{
    if (s->gzip)
        return inflate_some(s, buf, len, got);
    bool failed = false;
    *got = read_fd(s->fd, buf, len, &failed);
    return failed ? SRC_IO : SRC_OK;
}

static int report(const idx_file *f, src_status st, const char *what, char *err)
{
    switch (st) {
    case SRC_NO_MEMORY:
        return ggb_errorf(err, "%s: out of memory inflating the %s", f->path, what);
    case SRC_IO:
        return ggb_errorf(err, "%s: cannot read the %s: %s", f->path, what, strerror(errno));
    case SRC_CORRUPT:
        return ggb_errorf(err, "%s: corrupt data in the %s (%s)", f->path, what, f->src.why);
    default:
        return ggb_errorf(err, "%s: truncated: file ends inside the %s", f->path, what);
    }
}

/* Reads exactly len bytes; on a short read reports why, naming `what`. */
static int read_exact(idx_file *f, void *buf, size_t len, const char *what,
                      char *err)
{
    size_t got;
    src_status st = src_read(&f->src, buf, len, &got);
    if (st == SRC_OK && got == len)
        return 0;
    return report(f, st == SRC_OK ? SRC_TRUNCATED : st, what, err);
}

/* Multiplies the dimensions into f->count, rejecting 0 and overflow. */
static int header_count(idx_file *f, char *err)
{
    size_t count = 1;
    for (unsigned i = 0; i < f->ndims; i++) {
        if (f->dims[i] == 0)
            return ggb_errorf(err, "%s: dimension %u is 0", f->path, i);
        if (ggb_mul_size(count, f->dims[i], &count))
            return ggb_errorf(err, "%s: dimensions overflow size_t", f->path);
    }
    f->count = count;
    return 0;
}

/* Checks the claimed payload size against what the file can hold. */
static int check_payload_size(idx_file *f, char *err)
{
    if (f->src.gzip) {
        if (f->count > GG_IDX_GZ_MAX_BYTES)
            return ggb_errorf(err, "%s: header claims %zu payload bytes, over "
                                "the %zu-byte limit for gzip files",
                                f->path, f->count, GG_IDX_GZ_MAX_BYTES);
        return 0;
    }
    uintmax_t avail = (uintmax_t)f->file_size - (4u + 4u * f->ndims);
    if ((uintmax_t)f->count > avail)
        return ggb_errorf(err, "%s: truncated: header claims %zu payload "
                            "bytes, file holds %ju", f->path, f->count, avail);
    if ((uintmax_t)f->count < avail)
        return ggb_errorf(err, "%s: trailing garbage: %ju bytes after the "
                            "payload", f->path, avail - f->count);
    return 0;
}

static int read_header(idx_file *f, char *err)
{
    uint8_t magic[4], raw[4 * 255];
    if (read_exact(f, magic, 4, "header", err))
        return -1;
    if (magic[0] != 0 || magic[1] != 0)
        return ggb_errorf(err, "%s: bad magic number %02x %02x %02x %02x "
                            "(not an IDX file)", f->path, magic[0], magic[1],
                            magic[2], magic[3]);
    if (magic[2] != IDX_UBYTE)
        return ggb_errorf(err, "%s: unsupported IDX type 0x%02x (only 0x08, "
                            "unsigned byte, is read)", f->path, magic[2]);
    f->ndims = magic[3];
    if (f->ndims < f->min_dims || f->ndims > f->max_dims)
        return ggb_errorf(err, "%s: %u dimensions, expected %s", f->path,
                            f->ndims, f->min_dims == f->max_dims
                                          ? "1 (a label file)"
                                          : "2 or more (an image file)");
    if (read_exact(f, raw, 4u * f->ndims, "header", err))
        return -1;
    for (unsigned i = 0; i < f->ndims; i++)
        f->dims[i] = (uint32_t)raw[4 * i] << 24 | (uint32_t)raw[4 * i + 1] << 16
                     | (uint32_t)raw[4 * i + 2] << 8 | raw[4 * i + 3];
    if (header_count(f, err))
        return -1;
    return check_payload_size(f, err);
}

/* Opens path (raw or gzip) and reads and validates its header. */
static int idx_open(idx_file *f, const char *path, unsigned min_dims,
                    unsigned max_dims, char *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->min_dims = min_dims;
    f->max_dims = max_dims;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ggb_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ggb_errorf(err, "%s: not a regular file", path);
    }
    f->file_size = st.st_size;
    src_status opened = src_open(&f->src, fd);
    if (opened != SRC_OK) {
        src_close(&f->src);
        return ggb_errorf(err, "%s: out of memory opening the file", path);
    }
    if (read_header(f, err)) {
        src_close(&f->src);
        return -1;
    }
    return 0;
}

/* Grows *buf (esize-byte elements) to hold at least `need`, at most `max`. */
static int grow(void **buf, size_t *cap, size_t need, size_t max, size_t esize)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : GZ_FIRST_ELEMS;
    while (cap2 < need)
        cap2 = cap2 > max / 2 ? max : cap2 * 2;
    if (cap2 > max)
        cap2 = max;
    void *p = ggb_realloc(*buf, cap2 * esize);
    if (!p)
        return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

/* Reads the payload, converting it to f->count esize-byte elements, then
 * checks that nothing follows it (the extra read also makes zlib verify the
 * gzip CRC, which it does only on reaching the stream's end). */
static int read_payload(idx_file *f, idx_convert convert, size_t esize, void **out,
                        char *err)
{
    uint8_t chunk[CHUNK];
    size_t cap = 0, done = 0;
    void *buf = NULL;
    if (!f->src.gzip)
        cap = f->count; /* raw: the size check already vouched for it */
    if (cap && !(buf = ggb_malloc(cap * esize)))
        return ggb_errorf(err, "%s: out of memory for %zu values", f->path, cap);
    while (done < f->count) {
        size_t len = f->count - done < CHUNK ? f->count - done : CHUNK;
        if (read_exact(f, chunk, len, "payload", err))
            goto fail;
        if (grow(&buf, &cap, done + len, f->count, esize)) {
            ggb_errorf(err, "%s: out of memory for %zu values", f->path, f->count);
            goto fail;
        }
        convert(chunk, len, (char *)buf + done * esize);
        done += len;
    }
    size_t extra;
    src_status st = src_read(&f->src, chunk, 1, &extra);
    if (st != SRC_OK || extra) {
        if (st == SRC_OK)
            ggb_errorf(err, "%s: trailing garbage after the payload", f->path);
        else
            report(f, st, "gzip trailer", err);
        goto fail;
    }
    *out = buf;
    return 0;
fail:
    ggb_free(buf);
    return -1;
}

/* Opens path, whose dimension count must be in [min_dims, max_dims], and
 * reads its payload. */
static int idx_read(const char *path, unsigned min_dims, unsigned max_dims,
                    idx_convert convert, size_t esize, idx_file *f, void **out, char *err)
{
    *out = NULL;
    if (!path)
        return ggb_errorf(err, "(null): no path given");
    if (idx_open(f, path, min_dims, max_dims, err))
        return -1;
    int rc = read_payload(f, convert, esize, out, err);
    if (!src_close(&f->src) && rc == 0) {
        ggb_free(*out);
        *out = NULL;
        rc = ggb_errorf(err, "%s: error closing the file", path);
    }
    return rc;
}

static void bytes_to_unit_floats(const uint8_t *src, size_t len, void *dst)
{
    float *x = dst;
    for (size_t i = 0; i < len; i++)
        x[i] = (float)src[i] / 255.0f;
}

static void copy_bytes(const uint8_t *src, size_t len, void *dst)
{
    memcpy(dst, src, len);
}

static void bytes_to_int32(const uint8_t *src, size_t len, void *dst)
{
    int32_t *y = dst;
    for (size_t i = 0; i < len; i++)
        y[i] = src[i];
}

int gg_idx_load_images(const char *path, float **x, size_t *n, size_t *dim,
                       char *err)
{
    *x = NULL;
    *n = *dim = 0;
    idx_file f;
    void *buf;
    if (idx_read(path, 2, 255, bytes_to_unit_floats, sizeof(float), &f, &buf, err))
        return -1;
    *x = buf;
    *n = f.dims[0];
    *dim = f.count / f.dims[0];
    return 0;
}

/* Like gg_idx_load_images, keeping the pixel bytes as they are. */
static int load_image_bytes(const char *path, uint8_t **xb, size_t *n, size_t *dim, char *err)
{
    *xb = NULL;
    *n = *dim = 0;
    idx_file f;
    void *buf;
    if (idx_read(path, 2, 255, copy_bytes, 1, &f, &buf, err))
        return -1;
    *xb = buf;
    *n = f.dims[0];
    *dim = f.count / f.dims[0];
    return 0;
}

int gg_idx_load_labels(const char *path, size_t classes, int32_t **y,
                       size_t *n, char *err)
{
    *y = NULL;
    *n = 0;
    if (classes < 1 || classes > GG_DATA_MAX_CLASSES)
        return ggb_errorf(err, "%s: class count %zu is not in [1, %d]",
                            path ? path : "(null)", classes, GG_DATA_MAX_CLASSES);
    idx_file f;
    void *buf;
    if (idx_read(path, 1, 1, bytes_to_int32, sizeof(int32_t), &f, &buf, err))
        return -1;
    int32_t *labels = buf;
    for (size_t i = 0; i < f.count; i++) {
        if ((size_t)labels[i] >= classes) {
            ggb_errorf(err, "%s: label %d of sample %zu is out of range "
                         "[0, %zu)", path, (int)labels[i], i, classes);
            ggb_free(labels);
            return -1;
        }
    }
    *y = labels;
    *n = f.count;
    return 0;
}

int gg_idx_load_pair(const char *images_path, const char *labels_path,
                     size_t classes, gg_dataset *out, char *err)
{
    memset(out, 0, sizeof *out);
    gg_dataset d = {0};
    size_t nlabels;
    if (load_image_bytes(images_path, &d.xb, &d.n, &d.dim, err))
        return -1;
    if (gg_idx_load_labels(labels_path, classes, &d.y, &nlabels, err)) {
        gg_dataset_free(&d);
        return -1;
    }
    if (nlabels != d.n) {
        ggb_errorf(err, "%s: %zu labels but %zu images in %s", labels_path,
                     nlabels, d.n, images_path);
        gg_dataset_free(&d);
        return -1;
    }
    d.classes = classes;
    *out = d;
    return 0;
}

/* Returns a malloc'ed "dir/name" or "dir/name.gz", whichever is a file
 * (the uncompressed one first), or NULL with err set. */
static char *find_mnist_file(const char *dir, const char *name, char *err)
{
    size_t len = strlen(dir) + strlen(name) + 5;
    char *path = ggb_malloc(len);
    if (!path) {
        ggb_errorf(err, "%s: out of memory", dir);
        return NULL;
    }
    struct stat st;
    for (int gz = 0; gz < 2; gz++) {
        snprintf(path, len, "%s/%s%s", dir, name, gz ? ".gz" : "");
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return path;
    }
    ggb_free(path);
    ggb_errorf(err, "%s: neither %s nor %s.gz found", dir, name, name);
    return NULL;
}

/* Loads one half of MNIST ("train" or "t10k") from dir into out. */
static int mnist_half(const char *dir, const char *prefix, gg_dataset *out,
                      char *err)
{
    char images[32], labels[32];
    snprintf(images, sizeof images, "%s-images-idx3-ubyte", prefix);
    snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte", prefix);
    char *ipath = find_mnist_file(dir, images, err);
    char *lpath = ipath ? find_mnist_file(dir, labels, err) : NULL;
    int rc = -1;
    if (lpath)
        rc = gg_idx_load_pair(ipath, lpath, 10, out, err);
    ggb_free(ipath);
    ggb_free(lpath);
    return rc;
}

int gg_mnist_load(const char *dir, gg_dataset *train, gg_dataset *test,
                  char *err)
{
    gg_dataset tr = {0}, te = {0};
    if (train)
        memset(train, 0, sizeof *train);
    if (test)
        memset(test, 0, sizeof *test);
    if (!dir)
        return ggb_errorf(err, "gg_mnist_load: no directory given");
    if ((train && mnist_half(dir, "train", &tr, err))
        || (test && mnist_half(dir, "t10k", &te, err)))
        goto fail;
    if (train && test && tr.dim != te.dim) {
        ggb_errorf(err, "%s: train images have %zu pixels, test images %zu",
                     dir, tr.dim, te.dim);
        goto fail;
    }
    if (train)
        *train = tr;
    if (test)
        *test = te;
    return 0;
fail:
    gg_dataset_free(&tr);
    gg_dataset_free(&te);
    return -1;
}
