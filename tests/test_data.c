/* test_data.c - IDX and CSV readers (valid and corrupt files), Playground
 * generators, splits, batches, one-hot. Fixture files are written to a
 * fresh temporary directory and removed afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "gategrad/data.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char tmpdir[512];
static char *created[128]; /* files and directories to remove, in order */
static size_t ncreated;

/* Returns tmpdir/name (static storage, one per created path). */
static const char *fixture_path(const char *name)
{
    assert_true(ncreated < sizeof created / sizeof created[0]);
    size_t len = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(len);
    assert_non_null(p);
    snprintf(p, len, "%s/%s", tmpdir, name);
    created[ncreated++] = p;
    return p;
}

static void write_raw_at(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static const char *write_raw(const char *name, const void *data, size_t len)
{
    const char *path = fixture_path(name);
    write_raw_at(path, data, len);
    return path;
}

static const char *write_gz(const char *name, const void *data, size_t len)
{
    const char *path = fixture_path(name);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
    return path;
}

static const char *make_dir(const char *name)
{
    const char *path = fixture_path(name);
    assert_int_equal(mkdir(path, 0700), 0);
    return path;
}

/* Reads a whole small file into buf; returns its length. */
static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, cap, f);
    assert_true(len < cap);
    fclose(f);
    return len;
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/gg_data_XXXXXX", base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    while (ncreated > 0) {
        char *p = created[--ncreated];
        remove(p);
        free(p);
    }
    return rmdir(tmpdir);
}

/* Builds an IDX file image in buf: ubyte type unless type != 0. */
static size_t idx_image(uint8_t *buf, uint8_t type, unsigned ndims,
                        const uint32_t *dims, const uint8_t *payload,
                        size_t len)
{
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = type ? type : 0x08;
    buf[k++] = (uint8_t)ndims;
    for (unsigned i = 0; i < ndims; i++)
        for (int s = 24; s >= 0; s -= 8)
            buf[k++] = (uint8_t)(dims[i] >> s);
    memcpy(buf + k, payload, len);
    return k + len;
}

/* Asserts a failed call: nonzero rc, message naming `who` and `problem`. */
static void expect_error(int rc, const char *err, const char *who,
                         const char *problem)
{
    assert_int_not_equal(rc, 0);
    if (!strstr(err, who) || !strstr(err, problem))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err, who, problem);
}

static const uint8_t pixels[12] = {0, 255, 51, 102, 1, 2, 3, 4, 200, 100, 50, 25};
static const uint32_t img_dims[3] = {3, 2, 2};
static const uint8_t labels3[3] = {7, 0, 9};
static const uint32_t lab_dims[1] = {3};

static const char *write_images(const char *name, int gz)
{
    uint8_t buf[64];
    size_t len = idx_image(buf, 0, 3, img_dims, pixels, sizeof pixels);
    return gz ? write_gz(name, buf, len) : write_raw(name, buf, len);
}

static const char *write_labels(const char *name, int gz)
{
    uint8_t buf[64];
    size_t len = idx_image(buf, 0, 1, lab_dims, labels3, sizeof labels3);
    return gz ? write_gz(name, buf, len) : write_raw(name, buf, len);
}

static void check_fixture_set(const gg_dataset *d)
{
    assert_int_equal(d->n, 3);
    assert_int_equal(d->dim, 4);
    assert_int_equal(d->classes, 10);
    assert_null(d->x); /* images keep their bytes */
    assert_memory_equal(d->xb, pixels, 12);
    float row[4];
    for (size_t i = 0; i < 3; i++) {
        gg_dataset_row(d, i, row);
        for (size_t j = 0; j < 4; j++)
            assert_true(row[j] == (float)pixels[i * 4 + j] / 255.0f);
        assert_int_equal(d->y[i], labels3[i]);
    }
}

static void idx_raw_and_gzip_values(void **state)
{
    (void)state;
    char err[GG_ERRLEN] = "";
    for (int gz = 0; gz < 2; gz++) {
        const char *ip = write_images(gz ? "vi.gz" : "vi", gz);
        const char *lp = write_labels(gz ? "vl.gz" : "vl", gz);
        gg_dataset d;
        assert_int_equal(gg_idx_load_pair(ip, lp, 10, &d, err), 0);
        check_fixture_set(&d);
        float row[4];
        gg_dataset_row(&d, 0, row);
        assert_true(row[1] == 1.0f && row[0] == 0.0f);
        gg_dataset_free(&d);
        assert_null(d.xb);
        assert_int_equal(d.n, 0);
    }
}

/* One corrupt IDX label or image file and the problem it must report. */
struct idx_case {
    const char *name;
    uint8_t type;
    unsigned ndims;
    uint32_t dims[3];
    size_t payload, extra; /* payload bytes written, garbage after it */
    int images, gz;
    const char *problem;
};

static void idx_corrupt_headers(void **state)
{
    (void)state;
    const uint32_t big = 0xFFFFFFFFu;
    const struct idx_case cases[] = {
        {"type", 0x0D, 1, {3}, 12, 0, 0, 0, "unsupported IDX type 0x0d"},
        {"short", 0, 1, {3}, 2, 0, 0, 0, "truncated: header claims 3"},
        {"long", 0, 1, {3}, 3, 5, 0, 0, "trailing garbage: 5 bytes"},
        {"zero", 0, 3, {3, 0, 2}, 0, 0, 1, 0, "dimension 1 is 0"},
        {"ovf", 0, 3, {big, big, big}, 4, 0, 1, 0, "overflow"},
        {"ovf.gz", 0, 3, {big, big, big}, 4, 0, 1, 1, "overflow"},
        {"4gib", 0, 1, {big}, 3, 0, 0, 0, "claims 4294967295 payload bytes"},
        {"4gib.gz", 0, 1, {big}, 3, 0, 0, 1, "over the 1073741824-byte limit"},
        /* within the gzip limit but absent: fails without a 2-GiB buffer */
        {"512m.gz", 0, 1, {1u << 29}, 3, 0, 0, 1, "truncated"},
        {"gzlong.gz", 0, 1, {3}, 3, 1, 0, 1, "trailing garbage"},
        {"ndims", 0, 3, {1, 1, 3}, 3, 0, 0, 0, "3 dimensions, expected 1"},
        {"ndims1", 0, 1, {3}, 3, 0, 1, 0, "1 dimensions, expected 2"},
    };
    uint8_t payload[64] = {0}, buf[128];
    char err[GG_ERRLEN];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct idx_case *k = &cases[c];
        size_t len = idx_image(buf, k->type, k->ndims, k->dims, payload,
                               k->payload + k->extra);
        const char *path = k->gz ? write_gz(k->name, buf, len)
                                 : write_raw(k->name, buf, len);
        float *x = (float *)1;
        int32_t *y = (int32_t *)1;
        size_t n = 1, dim = 1;
        int rc = k->images ? gg_idx_load_images(path, &x, &n, &dim, err)
                           : gg_idx_load_labels(path, 10, &y, &n, err);
        expect_error(rc, err, path, k->problem);
        assert_int_equal(n, 0);
        assert_true(k->images ? x == NULL : y == NULL);
    }
}

static void idx_bad_magic_empty_missing(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    int32_t *y;
    size_t n;
    const uint8_t bad[8] = {1, 0, 8, 1, 0, 0, 0, 0};
    const char *p = write_raw("magic", bad, sizeof bad);
    expect_error(gg_idx_load_labels(p, 10, &y, &n, err), err, p, "bad magic");
    p = write_raw("empty", "", 0);
    expect_error(gg_idx_load_labels(p, 10, &y, &n, err), err, p,
                 "truncated: file ends inside the header");
    p = fixture_path("absent");
    expect_error(gg_idx_load_labels(p, 10, &y, &n, err), err, p, "cannot open");
    expect_error(gg_idx_load_labels(tmpdir, 10, &y, &n, err), err, tmpdir,
                 "not a regular file");
    /* a NULL err is allowed */
    assert_int_not_equal(gg_idx_load_labels(p, 10, &y, &n, NULL), 0);
}

static void idx_gzip_truncated_and_crc(void **state)
{
    (void)state;
    uint8_t buf[4096], gz[4096];
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 % 10);
    const uint32_t dims[1] = {1000};
    size_t len = idx_image(buf, 0, 1, dims, payload, sizeof payload);
    size_t gzlen = slurp(write_gz("good.gz", buf, len), gz, sizeof gz);
    char err[GG_ERRLEN];
    int32_t *y;
    size_t n;
    const char *cut = write_raw("cut.gz", gz, gzlen - 12);
    expect_error(gg_idx_load_labels(cut, 10, &y, &n, err), err, cut, "truncated");
    gz[gzlen - 6] ^= 0x40; /* the CRC-32 in the gzip trailer */
    const char *crc = write_raw("crc.gz", gz, gzlen);
    expect_error(gg_idx_load_labels(crc, 10, &y, &n, err), err, crc, "corrupt");
    assert_null(y);
}

/* Every proper prefix of a raw or gzip label file fails as truncated or
 * corrupt; every single-byte flip of the gzip file fails cleanly or (in the
 * gzip header's free fields) still yields in-range labels. */
static void idx_prefixes_and_flips(void **state)
{
    (void)state;
    uint8_t buf[256], gz[512], payload[100];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i % 10);
    const uint32_t dims[1] = {100};
    size_t len = idx_image(buf, 0, 1, dims, payload, sizeof payload);
    size_t gzlen = slurp(write_gz("full.gz", buf, len), gz, sizeof gz);
    const char *raw = fixture_path("prefix");
    const char *gzp = fixture_path("prefix.gz");
    char err[GG_ERRLEN];
    int32_t *y;
    size_t n;
    for (size_t cut = 0; cut < len; cut++) {
        write_raw_at(raw, buf, cut);
        expect_error(gg_idx_load_labels(raw, 10, &y, &n, err), err, raw,
                     "truncated");
    }
    for (size_t cut = 0; cut < gzlen; cut++) {
        write_raw_at(gzp, gz, cut);
        assert_int_not_equal(gg_idx_load_labels(gzp, 10, &y, &n, err), 0);
        assert_non_null(strstr(err, gzp));
    }
    for (size_t at = 0; at < gzlen; at++) {
        gz[at] ^= 0x10;
        write_raw_at(gzp, gz, gzlen);
        gz[at] ^= 0x10;
        err[0] = '\0';
        if (gg_idx_load_labels(gzp, 10, &y, &n, err) != 0) {
            assert_non_null(strstr(err, gzp));
            continue;
        }
        assert_int_equal(n, 100);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(y[i], payload[i]);
        free(y);
    }
}

static void idx_label_range_and_count(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    uint8_t buf[64];
    const uint8_t bad[3] = {1, 10, 2};
    size_t len = idx_image(buf, 0, 1, lab_dims, bad, sizeof bad);
    const char *lp = write_raw("range", buf, len);
    int32_t *y;
    size_t n;
    expect_error(gg_idx_load_labels(lp, 10, &y, &n, err), err, lp,
                 "label 10 of sample 1 is out of range [0, 10)");
    assert_int_equal(gg_idx_load_labels(lp, 11, &y, &n, err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(y[1], 10);
    free(y);

    const uint32_t two[1] = {2};
    len = idx_image(buf, 0, 1, two, labels3, 2);
    lp = write_raw("two", buf, len);
    const char *ip = write_images("three", 0);
    gg_dataset d;
    expect_error(gg_idx_load_pair(ip, lp, 10, &d, err), err, lp,
                 "2 labels but 3 images");
    assert_null(d.x);
    assert_int_equal(d.n, 0);
}

static void mnist_directory(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    const char *dir = make_dir("mnist");
    write_images("mnist/train-images-idx3-ubyte", 0);
    write_labels("mnist/train-labels-idx1-ubyte.gz", 1);
    write_images("mnist/t10k-images-idx3-ubyte.gz", 1);
    gg_dataset tr, te;
    expect_error(gg_mnist_load(dir, &tr, &te, err), err, dir,
                 "neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz");
    assert_null(tr.x);
    assert_null(te.x);
    write_labels("mnist/t10k-labels-idx1-ubyte", 0);
    assert_int_equal(gg_mnist_load(dir, &tr, &te, err), 0);
    check_fixture_set(&tr);
    check_fixture_set(&te);
    gg_dataset_free(&tr);
    gg_dataset_free(&te);
    assert_int_equal(gg_mnist_load(dir, NULL, &te, err), 0);
    check_fixture_set(&te);
    gg_dataset_free(&te);
}

static void fashion_mnist(void **state)
{
    (void)state;
    struct stat st;
    if (stat(FASHION_DIR, &st) != 0) {
        print_message("%s absent (tools/setup.sh --ci or --demo installs it)\n",
                      FASHION_DIR);
        skip();
    }
    char err[GG_ERRLEN] = "";
    gg_dataset tr, te;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = gg_mnist_load(FASHION_DIR, &tr, &te, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc)
        fail_msg("%s", err);
    print_message("Fashion-MNIST loaded in %.3f s\n",
                  (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    assert_int_equal(tr.n, 60000);
    assert_int_equal(te.n, 10000);
    assert_int_equal(tr.dim, 784);
    assert_int_equal(te.dim, 784);
    assert_int_equal(tr.classes, 10);
    size_t hist_tr[10] = {0}, hist_te[10] = {0};
    for (size_t i = 0; i < tr.n; i++)
        hist_tr[tr.y[i]]++;
    for (size_t i = 0; i < te.n; i++)
        hist_te[te.y[i]]++;
    for (int c = 0; c < 10; c++) {
        assert_int_equal(hist_tr[c], 6000);
        assert_int_equal(hist_te[c], 1000);
    }
    float lo = 1, hi = 0, row[784];
    for (size_t i = 0; i < tr.n * tr.dim; i++) {
        if (i % 784 == 0)
            gg_dataset_row(&tr, i / 784, row);
        lo = row[i % 784] < lo ? row[i % 784] : lo;
        hi = row[i % 784] > hi ? row[i % 784] : hi;
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    gg_dataset_free(&tr);
    gg_dataset_free(&te);
}

static void csv_valid_files(void **state)
{
    (void)state;
    char err[GG_ERRLEN] = "";
    const char *text = "\xEF\xBB\xBF" "a, b ,label\r\n 1.5 , -2,0\r\n3,\t4e1, 2\r\n\r\n\n";
    const char *p = write_raw("ok.csv", text, strlen(text));
    gg_dataset d;
    assert_int_equal(gg_csv_load(p, -1, &d, err), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.dim, 2);
    assert_int_equal(d.classes, 3);
    const float want[4] = {1.5f, -2.0f, 3.0f, 40.0f};
    for (int i = 0; i < 4; i++)
        assert_true(d.x[i] == want[i]);
    assert_int_equal(d.y[0], 0);
    assert_int_equal(d.y[1], 2);
    gg_dataset_free(&d);

    text = "4,0.25,1\n1.0,-1,0"; /* no header, label first, no final newline */
    p = write_raw("first.csv", text, strlen(text));
    assert_int_equal(gg_csv_load(p, 0, &d, err), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.classes, 5);
    assert_int_equal(d.y[0], 4);
    assert_int_equal(d.y[1], 1);
    assert_true(d.x[0] == 0.25f && d.x[1] == 1.0f && d.x[2] == -1.0f && d.x[3] == 0.0f);
    gg_dataset_free(&d);

    /* No label column: every column a feature (2.5 would be a bad label). */
    text = "a,b,c\n4,0.25,2.5\n1.0,-1,0\n";
    p = write_raw("nolabel.csv", text, strlen(text));
    assert_int_equal(gg_csv_load(p, GG_CSV_NO_LABEL, &d, err), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.dim, 3);
    assert_int_equal(d.classes, 1);
    assert_true(d.x[0] == 4 && d.x[1] == 0.25f && d.x[2] == 2.5f && d.x[3] == 1 && d.x[5] == 0);
    assert_true(d.y[0] == 0 && d.y[1] == 0);
    gg_dataset_free(&d);
    text = "7\n-8\n"; /* one column is enough */
    p = write_raw("one.csv", text, strlen(text));
    assert_int_equal(gg_csv_load(p, GG_CSV_NO_LABEL, &d, err), 0);
    assert_true(d.n == 2 && d.dim == 1 && d.x[1] == -8);
    gg_dataset_free(&d);
    assert_int_not_equal(gg_csv_load(p, -1, &d, err), 0);
    assert_non_null(strstr(err, "need a label and at least one feature"));
}

static void csv_corrupt_files(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int label;
        const char *problem;
    } cases[] = {
        {"1,2,0\n1,0\n", -1, ":2: 2 fields, expected 3"},
        {"1,2,0\n1,2,0,4\n", -1, ":2: 4 fields, expected 3"},
        {"x,y,c\n1,x,0\n", -1, ":2: column 2: non-numeric field \"x\""},
        {"1,nan,0\n", -1, ":1: column 2: NaN field"},
        {"1,2,0\n-inf,2,0\n", -1, ":2: column 1: field \"-inf\" is infinite"},
        {"1,1e39,0\n", -1, "column 2: field \"1e39\" is infinite or out of float range"},
        {"1,,0\n", -1, ":1: column 2: empty field"},
        {"1,2,-1\n", -1, "column 3: label \"-1\" is not an integer"},
        {"1,2,1.5\n", -1, "column 3: label \"1.5\" is not an integer"},
        {"1,2,0\n1,2,cat\n", -1, ":2: column 3: label \"cat\""},
        {"1,2,70000\n", -1, "label \"70000\" is not an integer in [0, 65536)"},
        {"", -1, "empty file"},
        {"\n \n", -1, "empty file"},
        {"a,b,c\n", -1, "no data rows"},
        {"1,2,0\n", 3, "label column 3 out of range (3 columns"},
        {"1,2,0\n", -2, "label column -2 out of range"},
        {"1\n2\n", -1, ":1: 1 column"},
        {"1,0\n\n2,1\n", -1, ":2: empty line before more data"},
        {"1,0\n2,\0\n", -1, ":2: NUL byte"},
    };
    char err[GG_ERRLEN], name[32];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(name, sizeof name, "bad%zu.csv", c);
        size_t len = strlen(cases[c].text);
        if (strstr(cases[c].problem, "NUL"))
            len = 8;
        const char *p = write_raw(name, cases[c].text, len);
        gg_dataset d;
        expect_error(gg_csv_load(p, cases[c].label, &d, err), err, p,
                     cases[c].problem);
        assert_null(d.x);
        assert_null(d.y);
        assert_int_equal(d.n, 0);
    }
    gg_dataset d;
    const char *p = fixture_path("none.csv");
    expect_error(gg_csv_load(p, -1, &d, err), err, p, "cannot open");
}

static void playground_deterministic(void **state)
{
    (void)state;
    const char *names[4] = {"circle", "xor", "gauss", "spiral"};
    char err[GG_ERRLEN];
    for (int k = 0; k < 4; k++) {
        gg_dataset a, b, c;
        assert_int_equal(gg_playground(names[k], 301, 0.2, 5, &a, err), 0);
        assert_int_equal(gg_playground(names[k], 301, 0.2, 5, &b, err), 0);
        assert_int_equal(gg_playground(names[k], 301, 0.2, 6, &c, err), 0);
        assert_int_equal(a.n, 301);
        assert_int_equal(a.dim, 2);
        assert_int_equal(a.classes, 2);
        assert_memory_equal(a.x, b.x, 301 * 2 * sizeof(float));
        assert_memory_equal(a.y, b.y, 301 * sizeof(int32_t));
        assert_memory_not_equal(a.x, c.x, 301 * 2 * sizeof(float));
        gg_dataset_free(&a);
        gg_dataset_free(&b);
        gg_dataset_free(&c);
    }
}

/* Counts class-1 labels, checking every label is 0 or 1. */
static size_t count_ones(const gg_dataset *d)
{
    size_t ones = 0;
    for (size_t i = 0; i < d->n; i++) {
        assert_true(d->y[i] == 0 || d->y[i] == 1);
        ones += (size_t)d->y[i];
    }
    return ones;
}

static void playground_shapes(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset d;
    const size_t n = 2001;

    assert_int_equal(gg_playground("circle", n, 0, 1, &d, err), 0);
    assert_int_equal(count_ones(&d), 1001);
    for (size_t i = 0; i < n; i++) {
        double r = hypot(d.x[2 * i], d.x[2 * i + 1]);
        assert_true(d.y[i] ? r < 2.5 : (r >= 3.5 - 1e-5 && r <= 5 + 1e-5));
    }
    gg_dataset_free(&d);

    assert_int_equal(gg_playground("xor", n, 0, 1, &d, err), 0);
    size_t ones = count_ones(&d);
    assert_true(ones > 900 && ones < 1100);
    for (size_t i = 0; i < n; i++) {
        float x = d.x[2 * i], y = d.x[2 * i + 1];
        assert_true(fabsf(x) >= 0.3f && fabsf(x) <= 5.3f && fabsf(y) >= 0.3f);
        assert_int_equal(d.y[i], x * y >= 0);
    }
    gg_dataset_free(&d);

    assert_int_equal(gg_playground("gauss", n, 0, 1, &d, err), 0);
    assert_int_equal(count_ones(&d), 1001);
    double mean[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        mean[d.y[i]] += d.x[2 * i] + d.x[2 * i + 1];
    assert_true(fabs(mean[1] / 1001 / 2 - 2) < 0.1);
    assert_true(fabs(mean[0] / 1000 / 2 + 2) < 0.1);
    gg_dataset_free(&d);

    assert_int_equal(gg_playground("spiral", n, 0, 1, &d, err), 0);
    assert_int_equal(count_ones(&d), 1001);
    for (size_t i = 0; i < n; i++)
        assert_true(hypot(d.x[2 * i], d.x[2 * i + 1]) <= 5 + 1e-5);
    gg_dataset_free(&d);
}

static void playground_errors(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset d;
    expect_error(gg_playground("moons", 10, 0, 1, &d, err), err, "gg_playground",
                 "unknown data set \"moons\" (valid: circle, xor, gauss, spiral)");
    assert_null(d.x);
    expect_error(gg_playground("xor", 1, 0, 1, &d, err), err, "gg_playground",
                 "n = 1");
    expect_error(gg_playground("xor", 10, NAN, 1, &d, err), err, "gg_playground",
                 "noise nan is not in [0, 1]");
}

/* A data set whose sample i has label i % 7 and features (i, -i). */
static void make_indexed(gg_dataset *d, size_t n)
{
    *d = (gg_dataset){.n = n, .dim = 2, .classes = 7};
    d->x = malloc(n * 2 * sizeof(float));
    d->y = malloc(n * sizeof(int32_t));
    assert_true(d->x && d->y);
    for (size_t i = 0; i < n; i++) {
        d->x[2 * i] = (float)i;
        d->x[2 * i + 1] = -(float)i;
        d->y[i] = (int32_t)(i % 7);
    }
}

/* Marks the samples of part in seen[] (by their feature), checking each is
 * intact and not yet seen. */
static void mark_samples(const float *x, const int32_t *y, size_t m, int *seen)
{
    for (size_t i = 0; i < m; i++) {
        size_t id = (size_t)x[2 * i];
        assert_true(x[2 * i + 1] == -x[2 * i]);
        assert_int_equal(y[i], id % 7);
        assert_int_equal(seen[id], 0);
        seen[id] = 1;
    }
}

static void split_disjoint(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset src, a, b, a2, b2;
    make_indexed(&src, 101);
    assert_int_equal(gg_dataset_split(&src, 0.7, 9, &a, &b, err), 0);
    assert_int_equal(a.n, 71);
    assert_int_equal(b.n, 30);
    assert_int_equal(a.classes, 7);
    assert_int_equal(b.dim, 2);
    int seen[101] = {0};
    mark_samples(a.x, a.y, a.n, seen);
    mark_samples(b.x, b.y, b.n, seen);
    for (int i = 0; i < 101; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(gg_dataset_split(&src, 0.7, 9, &a2, &b2, err), 0);
    assert_memory_equal(a.x, a2.x, a.n * 2 * sizeof(float));
    gg_dataset_free(&a2);
    gg_dataset_free(&b2);
    assert_int_equal(gg_dataset_split(&src, 0.7, 10, &a2, &b2, err), 0);
    assert_memory_not_equal(a.x, a2.x, a.n * 2 * sizeof(float));
    gg_dataset_free(&a2);
    gg_dataset_free(&b2);
    assert_int_equal(gg_dataset_split(&src, 0, 1, &a2, &b2, err), 0);
    assert_int_equal(a2.n, 0);
    assert_null(a2.x);
    assert_int_equal(b2.n, 101);
    gg_dataset_free(&a2);
    gg_dataset_free(&b2);
    expect_error(gg_dataset_split(&src, 1.5, 1, &a2, &b2, err), err,
                 "gg_dataset_split", "fraction 1.5 is not in [0, 1]");
    assert_null(b2.x);
    gg_dataset_free(&a);
    gg_dataset_free(&b);
    gg_dataset_free(&src);
    gg_dataset_free(&src); /* twice is safe */
    gg_dataset_free(NULL);
}

static void batcher_epochs(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset src;
    make_indexed(&src, 10);
    gg_batcher b;
    assert_int_equal(gg_batcher_init(&b, &src, 3, 1, 4, err), 0);
    float x[8]; /* room for the batch of 4 below */
    int32_t y[4];
    const size_t sizes[5] = {3, 3, 3, 1, 0};
    float first[2][10];
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[10] = {0};
        for (int k = 0; k < 5; k++) {
            size_t m = gg_batcher_next(&b, x, y);
            assert_int_equal(m, sizes[k]);
            mark_samples(x, y, m, seen);
            for (size_t i = 0; i < m; i++)
                first[epoch][3 * k + (int)i] = x[2 * i];
        }
        for (int i = 0; i < 10; i++)
            assert_int_equal(seen[i], 1);
        assert_int_equal(b.epoch, (size_t)epoch + 1);
    }
    assert_memory_not_equal(first[0], first[1], sizeof first[0]);
    gg_batcher_free(&b);
    gg_batcher_free(&b);

    assert_int_equal(gg_batcher_init(&b, &src, 4, 0, 4, err), 0);
    assert_int_equal(gg_batcher_next(&b, x, NULL), 4);
    assert_true(x[0] == 0 && x[2] == 1 && x[6] == 3);
    assert_int_equal(gg_batcher_next(&b, NULL, y), 4);
    assert_int_equal(y[0], 4);
    gg_batcher_free(&b);
    expect_error(gg_batcher_init(&b, &src, 0, 1, 4, err), err,
                 "gg_batcher_init", "batch size 0");
    gg_dataset_free(&src);
}

static void one_hot_rows(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    const int32_t y[3] = {2, 0, 1};
    float out[9];
    assert_int_equal(gg_one_hot(y, 3, 3, out, err), 0);
    const float want[9] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
    assert_memory_equal(out, want, sizeof want);
    const int32_t bad[2] = {1, 3};
    expect_error(gg_one_hot(bad, 2, 3, out, err), err, "gg_one_hot",
                 "label 3 at index 1");
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == 0.0f);
}

/* The rows predict --input reads: IDX (raw, gzip) or CSV with or without
 * the label column; what does not fit leaves no rows behind (fuzz_features
 * found a row count left after an image-size mismatch). */
static void features_from_idx_and_csv(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    float *x;
    size_t n;
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_images(gz ? "fi.gz" : "fi", gz);
        assert_int_equal(gg_features_load(p, 4, &x, &n, err), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < 12; i++)
            assert_true(fabs((double)x[i] - (pixels[i] / 255.0)) <= 1e-7);
        free(x);
        x = (float *)1;
        n = 7;
        assert_int_not_equal(gg_features_load(p, 3, &x, &n, err), 0);
        assert_non_null(strstr(err, "4 pixels per image, but 3 features are wanted"));
        assert_null(x);
        assert_int_equal(n, 0);
    }
    const char rows[] = "a,b,label\n1.5,-2,0\n3,4,1\n";
    const char *p = write_raw("fr.csv", rows, sizeof rows - 1);
    for (size_t dim = 2; dim <= 3; dim++) {
        assert_int_equal(gg_features_load(p, dim, &x, &n, err), 0);
        assert_int_equal(n, 2);
        assert_true(fabs((double)x[0] - (1.5)) <= 0);
        assert_true(x[dim] == 3.0f);                    /* row 2 starts after dim values */
        assert_true(x[2] == (dim == 2 ? 3.0f : 0.0f)); /* 3 features: the label is the third */
        free(x);
    }
    assert_int_not_equal(gg_features_load(p, 1, &x, &n, err), 0);
    assert_non_null(strstr(err, "3 columns, but 1 features are wanted (1 columns, or 2 with a label last)"));
    assert_null(x);
    assert_int_equal(n, 0);
    assert_int_not_equal(gg_features_load(p, 0, &x, &n, err), 0);
    assert_non_null(strstr(err, "0 features wanted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(features_from_idx_and_csv),
        cmocka_unit_test(idx_raw_and_gzip_values),
        cmocka_unit_test(idx_corrupt_headers),
        cmocka_unit_test(idx_bad_magic_empty_missing),
        cmocka_unit_test(idx_gzip_truncated_and_crc),
        cmocka_unit_test(idx_prefixes_and_flips),
        cmocka_unit_test(idx_label_range_and_count),
        cmocka_unit_test(mnist_directory),
        cmocka_unit_test(fashion_mnist),
        cmocka_unit_test(csv_valid_files),
        cmocka_unit_test(csv_corrupt_files),
        cmocka_unit_test(playground_deterministic),
        cmocka_unit_test(playground_shapes),
        cmocka_unit_test(playground_errors),
        cmocka_unit_test(split_disjoint),
        cmocka_unit_test(batcher_epochs),
        cmocka_unit_test(one_hot_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
