/* test_io.c - safetensors checkpoints: round trips, files other tools write,
 * every malformed header, caller mismatches, interrupted (atomic) saves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gategrad/io.h"
#include "io/io.h"

/* ---- helpers ---- */

static char tmpdir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/gg_test_io_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    return rmdir(tmpdir);
}

static const char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static int count_dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static unsigned char *read_whole(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    *len = 0;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    return buf;
}

static void write_whole(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* A file image: 8-byte little-endian length, json, then dlen bytes 0,1,2,... */
static unsigned char *image(const char *json, size_t dlen, size_t *len)
{
    size_t h = strlen(json);
    unsigned char *buf = malloc(8 + h + dlen + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, json, h);
    for (size_t i = 0; i < dlen; i++)
        buf[8 + h + i] = (unsigned char)i;
    *len = 8 + h + dlen;
    return buf;
}

static void assert_err_has(int rc, const char *err, const char *needle)
{
    if (rc == 0 || !strstr(err, needle))
        fail_msg("rc %d, message \"%s\" lacks \"%s\"", rc, err, needle);
}

static void expect_parse_error(const char *json, size_t dlen, const char *needle)
{
    size_t len;
    unsigned char *buf = image(json, dlen, &len);
    gg_safetensors *f = (gg_safetensors *)buf;
    char err[GG_ERRLEN] = "";
    int rc = gg_safetensors_parse(buf, len, &f, err);
    assert_null(f);
    assert_err_has(rc, err, needle);
    assert_non_null(strstr(err, "<memory>: "));
    free(buf);
}

static gg_tensor_ref ref(const char *name, gg_dtype dt, int rank, const int64_t *dims,
                         void *data)
{
    gg_tensor_ref t = {.name = name, .dtype = dt, .rank = rank, .data = data};
    for (int i = 0; i < rank; i++)
        t.dims[i] = dims[i];
    return t;
}

/* ---- round trips ---- */

static float f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double f64_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Fills n values that start with every special bit pattern. */
static void fill_f32(float *x, size_t n)
{
    const uint32_t special[] = {0x7fc00000, 0xffc00001, 0x7f800001, 0x7f800000, 0xff800000,
                                0x80000000, 0x00000001, 0x7f7fffff};
    for (size_t i = 0; i < n; i++)
        x[i] = i < 8 ? f32_bits(special[i]) : (float)i * 0.37f - 3.0f;
}

static void fill_f64(double *x, size_t n)
{
    const uint64_t special[] = {0x7ff8000000000000, 0xfff8000000000001, 0x7ff0000000000001,
                                0x7ff0000000000000, 0xfff0000000000000, 0x8000000000000000,
                                0x0000000000000001, 0x7fefffffffffffff};
    for (size_t i = 0; i < n; i++)
        x[i] = i < 8 ? f64_bits(special[i]) : (double)i * 0.37 - 3.0;
}

static void round_trip_all_ranks(void **state)
{
    (void)state;
    static const int64_t dims[5][4] = {{0}, {9}, {3, 4}, {2, 3, 2}, {2, 1, 3, 2}};
    static const int64_t numel[5] = {1, 9, 12, 12, 12};
    static const char *names[10] = {"f0", "f1", "f2", "f3", "f4",
                                    "d0", "d1", "d2", "d3", "d4"};
    gg_tensor_ref t[10], back[10];
    void *in[10], *out[10];
    for (int k = 0; k < 10; k++) {
        int r = k % 5;
        gg_dtype dt = k < 5 ? GG_F32 : GG_F64;
        size_t bytes = (size_t)numel[r] * gg_dtype_size(dt);
        in[k] = malloc(bytes);
        out[k] = calloc(1, bytes);
        if (dt == GG_F32)
            fill_f32(in[k], (size_t)numel[r]);
        else
            fill_f64(in[k], (size_t)numel[r]);
        t[k] = ref(names[k], dt, r, dims[r], in[k]);
        back[k] = ref(names[k], dt, r, dims[r], out[k]);
    }
    char err[GG_ERRLEN] = "";
    const char *p = path_of("rt.safetensors");
    assert_int_equal(gg_safetensors_save(p, t, 10, NULL, err), 0);
    assert_int_equal(gg_safetensors_load(p, back, 10, 0, err), 0);
    for (int k = 0; k < 10; k++) {
        size_t bytes = (size_t)numel[k % 5] * gg_dtype_size(t[k].dtype);
        assert_memory_equal(in[k], out[k], bytes);
        free(in[k]);
        free(out[k]);
    }
    assert_int_equal(count_dir_entries(), 1);
}

static void layout_is_aligned_and_little_endian(void **state)
{
    (void)state;
    float a[3] = {1.0f, -2.0f, 0.5f};
    double b = 1.0;
    int64_t d3 = 3;
    gg_tensor_ref t[2] = {ref("a", GG_F32, 1, &d3, a), ref("b", GG_F64, 0, NULL, &b)};
    char err[GG_ERRLEN];
    const char *p = path_of("layout.safetensors");
    assert_int_equal(gg_safetensors_save(p, t, 2, NULL, err), 0);
    size_t len;
    unsigned char *buf = read_whole(p, &len);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)buf[i] << (8 * i);
    assert_int_equal(h % 8, 0);
    assert_int_equal(len, 8 + h + 8 + 12);
    /* F64 "b" first (aligned), then F32 "a"; bytes little-endian. */
    const unsigned char one_f64[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    const unsigned char a_le[12] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f};
    assert_memory_equal(buf + 8 + h, one_f64, 8);
    assert_memory_equal(buf + 8 + h + 8, a_le, 12);
    assert_non_null(strstr((char *)buf + 8,
                           "\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}"));
    assert_non_null(strstr((char *)buf + 8,
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]}"));
    size_t end = 8 + h;
    while (buf[end - 1] == ' ')
        end--;
    assert_int_equal(buf[end - 1], '}');
    assert_true(8 + h - end < 8);
    free(buf);
}

static void metadata_and_names_round_trip(void **state)
{
    (void)state;
    const char *odd = "q\"uote\\back\nnl\ttab\x01 \xc3\xa4 \xf0\x9f\x92\xa1";
    const char *meta[] = {"format", "pt", "model", "{\"layers\": [4, 3]}", "odd", odd,
                          "", "empty key", NULL};
    float x[2] = {1.5f, -0.0f}, y[2];
    int64_t two = 2;
    gg_tensor_ref t = ref(odd, GG_F32, 1, &two, x);
    char err[GG_ERRLEN];
    const char *p = path_of("meta.safetensors");
    assert_int_equal(gg_safetensors_save(p, &t, 1, meta, err), 0);

    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(p, &f, err), 0);
    assert_int_equal(gg_safetensors_meta_count(f), 4);
    assert_string_equal(gg_safetensors_meta(f, "format"), "pt");
    assert_string_equal(gg_safetensors_meta(f, "model"), "{\"layers\": [4, 3]}");
    assert_string_equal(gg_safetensors_meta(f, "odd"), odd);
    assert_string_equal(gg_safetensors_meta(f, ""), "empty key");
    assert_null(gg_safetensors_meta(f, "absent"));
    const char *k, *v;
    assert_int_equal(gg_safetensors_meta_at(f, 0, &k, &v), 0);
    assert_string_equal(k, "");
    assert_int_equal(gg_safetensors_meta_at(f, 3, &k, &v), 0);
    assert_string_equal(k, "odd");
    assert_int_not_equal(gg_safetensors_meta_at(f, 4, &k, &v), 0);

    gg_safetensors_info info;
    assert_int_equal(gg_safetensors_count(f), 1);
    assert_int_equal(gg_safetensors_tensor(f, 0, &info), 0);
    assert_string_equal(info.name, odd);
    assert_string_equal(info.dtype, "F32");
    assert_int_equal(info.loadable, 1);
    assert_int_equal(info.gg_type, GG_F32);
    assert_int_equal(info.rank, 1);
    assert_int_equal(info.dims[0], 2);
    assert_int_equal(info.begin, 0);
    assert_int_equal(info.end, 8);
    assert_int_not_equal(gg_safetensors_tensor(f, 1, &info), 0);
    gg_tensor_ref back = ref(odd, GG_F32, 1, &two, y);
    assert_int_equal(gg_safetensors_read(f, &back, err), 0);
    assert_memory_equal(x, y, sizeof x);
    gg_safetensors_close(f);
}

/* ---- files written by other tools ---- */

static void foreign_file_loads(void **state)
{
    (void)state;
    /* Unpadded, other key orders, whitespace everywhere, escaped names
     * ("w\u00e9" is "wé", "\ud83d\udca1" a surrogate pair), a BF16 and an
     * empty tensor, metadata last. */
    const char *json =
        " {\n\t\"w\\u00e9\" : { \"data_offsets\" : [ 0 , 8 ] , \"shape\" : [2] ,"
        " \"dtype\" : \"F32\" } ,\r\n"
        "  \"\\ud83d\\udca1\\/x\": {\"shape\": [], \"dtype\": \"F64\", \"data_offsets\": [8, 16]},"
        "  \"half\": {\"dtype\": \"BF16\", \"shape\": [1, 2], \"data_offsets\": [16, 20]},"
        "  \"none\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [20, 20]},"
        "  \"__metadata__\": {\"format\": \"pt\", \"esc\": \"a\\\"b\\\\c\\u0041\"}\n}";
    size_t len;
    unsigned char *buf = image(json, 20, &len);
    const unsigned char data[20] = {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc1, /* 1, -10 */
                                    0, 0, 0, 0, 0, 0, 0xf8, 0x7f,       /* NaN */
                                    0x80, 0x3f, 0x00, 0x40};            /* bf16 1, 2 */
    memcpy(buf + len - 20, data, 20);
    const char *p = path_of("foreign.safetensors");
    write_whole(p, buf, len);
    free(buf);

    float w[2] = {0}, none[1];
    double s = 0;
    int64_t d2 = 2, d05[2] = {0, 5};
    gg_tensor_ref t[3] = {ref("w\xc3\xa9", GG_F32, 1, &d2, w),
                          ref("\xf0\x9f\x92\xa1/x", GG_F64, 0, NULL, &s),
                          ref("none", GG_F32, 2, d05, none)};
    char err[GG_ERRLEN] = "";
    assert_err_has(gg_safetensors_load(p, t, 3, 0, err), err,
                   "tensor 'half' in the file was not asked for");
    assert_int_equal(gg_safetensors_load(p, t, 3, GG_SAFETENSORS_ALLOW_EXTRA, err), 0);
    assert_true(w[0] == 1.0f && w[1] == -10.0f);
    assert_true(isnan(s));

    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(p, &f, err), 0);
    assert_string_equal(gg_safetensors_meta(f, "esc"), "a\"b\\cA");
    size_t i;
    gg_safetensors_info info;
    assert_int_equal(gg_safetensors_find(f, "half", &i), 0);
    assert_int_equal(gg_safetensors_tensor(f, i, &info), 0);
    assert_string_equal(info.dtype, "BF16");
    assert_int_equal(info.loadable, 0);
    assert_int_equal(info.rank, 2);
    unsigned char raw[4];
    assert_err_has(gg_safetensors_read_raw(f, i, raw, 3, err), err, "has 4 bytes, not 3");
    assert_int_equal(gg_safetensors_read_raw(f, i, raw, 4, err), 0);
    assert_memory_equal(raw, data + 16, 4);
    float h[2];
    gg_tensor_ref bad = ref("half", GG_F32, 2, (int64_t[]){1, 2}, h);
    assert_err_has(gg_safetensors_read(f, &bad, err), err,
                   "dtype mismatch: expected F32, found BF16 (only F32 and F64 can be loaded)");
    assert_int_not_equal(gg_safetensors_find(f, "absent", &i), 0);
    gg_safetensors_close(f);
}

static void empty_file_and_no_metadata(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    const char *p = path_of("empty.safetensors");
    assert_int_equal(gg_safetensors_save(p, NULL, 0, NULL, err), 0);
    size_t len;
    unsigned char *buf = read_whole(p, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(buf + 8, "{}      ", 8);
    free(buf);
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(p, &f, err), 0);
    assert_int_equal(gg_safetensors_count(f), 0);
    assert_int_equal(gg_safetensors_meta_count(f), 0);
    assert_null(gg_safetensors_meta(f, "x"));
    gg_safetensors_close(f);
    gg_safetensors_close(NULL);
}

/* ---- malformed files ---- */

#define T1(dt, shape, off) "{\"a\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}}"
#define ENTRY(name, off) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" off "}"

static void bad_json(void **state)
{
    (void)state;
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"", "at byte 0: unexpected end of input"},
        {"   ", "unexpected end of input"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "unexpected end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,", "unexpected end"},
        {"{} x", "at byte 3: trailing characters"},
        {"{}{}", "trailing characters"},
        {"{\"a", "unterminated string"},
        {"{\"a\\", "unterminated string"},
        {"{\"a\\u12", "unterminated string"},
        {"{\"a\\q\":1}", "invalid escape"},
        {"{\"a\\'\":1}", "invalid escape"},
        {"{\"\\u12G4\":1}", "invalid \\u escape"},
        {"{\"\\ud800\":1}", "lone surrogate"},
        {"{\"\\udc00\":1}", "lone surrogate"},
        {"{\"\\ud800\\u0041\":1}", "lone surrogate"},
        {"{\"\\u0000\":1}", "\\u0000"},
        {"{\"a\x01\":1}", "control character in string"},
        {"{\"a\tb\":1}", "control character in string"},
        {"{\"\xff\":1}", "invalid UTF-8"},
        {"{\"\xc0\xaf\":1}", "invalid UTF-8"},
        {"{\"\xed\xa0\x80\":1}", "invalid UTF-8"},
        {"{\"\xe2\x82\":1}", "invalid UTF-8"},
        {"{'a':1}", "expected a member name"},
        {"{\"a\":1,}", "expected a member name"},
        {"{a:1}", "expected a member name"},
        {"{\"a\" 1}", "expected ':'"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
        {"{\"a\":[1 2]}", "expected ',' or ']'"},
        {"{\"a\":[1,]}", "unexpected character"},
        {"{\"a\":tru}", "unexpected character"},
        {"{\"a\":nul}", "unexpected character"},
        {"{\"a\":+1}", "unexpected character"},
        {"{\"a\":01}", "leading zero"},
        {"{\"a\":1.}", "invalid number"},
        {"{\"a\":-}", "invalid number"},
        {"{\"a\":1e}", "invalid number"},
        {"{\"a\":.5}", "unexpected character"},
        {"{\"a\":1} // c", "trailing characters"},
        {"\xef\xbb\xbf{}", "unexpected character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_parse_error(cases[i].json, 0, cases[i].needle);
}

static void deep_nesting_is_refused(void **state)
{
    (void)state;
    enum { DEPTH = 100000 };
    char *json = malloc(2 * DEPTH + 16);
    strcpy(json, "{\"a\":");
    memset(json + 5, '[', DEPTH);
    memset(json + 5 + DEPTH, ']', DEPTH);
    strcpy(json + 5 + 2 * DEPTH, "}");
    expect_parse_error(json, 0, "nesting too deep");
    /* The limit is 8 levels: the 8th still parses (and fails later). */
    expect_parse_error("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}", 0,
                       "tensor 'a': unknown key \"b\"");
    expect_parse_error("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}",
                       0, "nesting too deep");
    free(json);
}

static void bad_schema(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        size_t dlen;
        const char *needle;
    } cases[] = {
        {"[]", 0, "header is not a JSON object"},
        {"\"x\"", 0, "header is not a JSON object"},
        {"{\"a\":5}", 0, "tensor 'a': not a JSON object"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': missing \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "missing \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "missing \"data_offsets\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
         "unknown key \"x\""},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
         8, "duplicate key \"dtype\""},
        {T1("F17", "[2]", "[0,8]"), 8, "unknown dtype \"F17\""},
        {T1("f32", "[2]", "[0,8]"), 8, "unknown dtype \"f32\""},
        {"{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "\"dtype\" is not a string"},
        {T1("F32", "2", "[0,8]"), 8, "\"shape\" is not an array"},
        {T1("F32", "{}", "[0,8]"), 8, "\"shape\" is not an array"},
        {T1("F32", "[\"2\"]", "[0,8]"), 8, "shape[0] is not a number"},
        {T1("F32", "[null]", "[0,8]"), 8, "shape[0] is not a number"},
        {T1("F32", "[1,-2]", "[0,8]"), 8, "shape[1] is negative"},
        {T1("F32", "[2.0]", "[0,8]"), 8, "shape[0] is not an integer"},
        {T1("F32", "[2e0]", "[0,8]"), 8, "shape[0] is not an integer"},
        {T1("F32", "[9223372036854775808]", "[0,8]"), 8, "shape[0] is too large"},
        {T1("F32", "[4294967296,4294967296]", "[0,8]"), 8, "shape overflows"},
        {T1("F64", "[4611686018427387904,4]", "[0,8]"), 8, "shape overflows"},
        {T1("F64", "[2305843009213693952]", "[0,8]"), 8, "shape overflows"},
        {T1("F4", "[3]", "[0,2]"), 2, "elements do not fill whole bytes"},
        {T1("F32", "[2]", "8"), 8, "\"data_offsets\" is not an array of 2 integers"},
        {T1("F32", "[2]", "[8]"), 8, "\"data_offsets\" is not an array of 2 integers"},
        {T1("F32", "[2]", "[0,8,8]"), 8, "\"data_offsets\" is not an array of 2 integers"},
        {T1("F32", "[2]", "[-1,7]"), 8, "data_offsets[0] is negative"},
        {T1("F32", "[2]", "[0,8.0]"), 8, "data_offsets[1] is not an integer"},
        {T1("F32", "[2]", "[0,\"8\"]"), 8, "data_offsets[1] is not a number"},
        {T1("F32", "[2]", "[0,18446744073709551616]"), 8, "data_offsets[1] is too large"},
        {T1("F32", "[2]", "[8,0]"), 8, "data_offsets end before begin"},
        {T1("F32", "[3]", "[0,8]"), 8, "data_offsets span 8 bytes, but F32 [3] needs 12"},
        {T1("F32", "[2]", "[0,12]"), 12, "span 12 bytes, but F32 [2] needs 8"},
        {T1("BF16", "[2,2]", "[0,4]"), 4, "but BF16 [2, 2] needs 8"},
        {"{" ENTRY("a", "[0,8]") "," ENTRY("a", "[8,16]") "}", 16,
         "duplicate tensor name 'a'"},
        {"{" ENTRY("a", "[0,8]") "," ENTRY("b", "[4,12]") "}", 12,
         "tensors 'a' and 'b' overlap"},
        {"{" ENTRY("a", "[0,8]") "," ENTRY("b", "[0,8]") "}", 8, "overlap"},
        {"{" ENTRY("a", "[0,8]") "," ENTRY("b", "[12,20]") "}", 20,
         "gap in the data section: bytes 8..12 before tensor 'b'"},
        {"{" ENTRY("a", "[4,12]") "}", 12, "gap in the data section: bytes 0..4"},
        {"{" ENTRY("a", "[0,8]") "}", 4, "past the end of the data section (4 bytes)"},
        {"{" ENTRY("a", "[0,8]") "}", 12, "data section has 4 trailing bytes"},
        {"{}", 1, "data section has 1 trailing bytes"},
        {"{\"__metadata__\":[]}", 0, "\"__metadata__\" is not an object"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "\"__metadata__\" value of 'k' is not a string"},
        {"{\"__metadata__\":{\"k\":null}}", 0, "is not a string"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate \"__metadata__\""},
        {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate metadata key 'k'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_parse_error(cases[i].json, cases[i].dlen, cases[i].needle);
}

static void bad_header_length(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = image(T1("F32", "[2]", "[0,8]"), 8, &len);
    gg_safetensors *f;
    char err[GG_ERRLEN];
    assert_err_has(gg_safetensors_parse(buf, 7, &f, err), err, "file too short");
    assert_null(f);
    buf[0] = (unsigned char)(len - 8 + 1);
    assert_err_has(gg_safetensors_parse(buf, len, &f, err), err,
                   "runs past the end of the file");
    memset(buf, 0xff, 8);
    assert_err_has(gg_safetensors_parse(buf, len, &f, err), err,
                   "header length 18446744073709551615 exceeds the limit");
    memset(buf, 0, 8);
    buf[3] = 0x10; /* 256 MiB */
    assert_err_has(gg_safetensors_parse(buf, len, &f, err), err, "exceeds the limit");

    /* The same through a real file, and files that are not there at all. */
    const char *p = path_of("hlen.safetensors");
    write_whole(p, buf, len);
    assert_err_has(gg_safetensors_open(p, &f, err), err, "exceeds the limit");
    assert_non_null(strstr(err, p));
    write_whole(p, buf, 5);
    assert_err_has(gg_safetensors_open(p, &f, err), err, "file too short");
    buf[3] = 0;
    buf[1] = 1; /* 256 + len */
    write_whole(p, buf, len);
    assert_err_has(gg_safetensors_open(p, &f, err), err, "runs past the end of the file");
    assert_err_has(gg_safetensors_open(path_of("absent"), &f, err), err, "cannot open");
    assert_err_has(gg_safetensors_open(tmpdir, &f, err), err, "not a regular file");
    unlink(p);
    free(buf);
}

static void truncated_after_open(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4}, y[4];
    int64_t d4 = 4;
    gg_tensor_ref t = ref("x", GG_F32, 1, &d4, x);
    char err[GG_ERRLEN];
    const char *p = path_of("trunc.safetensors");
    assert_int_equal(gg_safetensors_save(p, &t, 1, NULL, err), 0);
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(p, &f, err), 0);
    size_t len;
    unsigned char *buf = read_whole(p, &len);
    write_whole(p, buf, len - 4);
    t.data = y;
    assert_err_has(gg_safetensors_read(f, &t, err), err,
                   "cannot read tensor 'x': unexpected end of file");
    gg_safetensors_close(f);
    unlink(p);
    free(buf);
}

/* ---- what the caller asks for ---- */

static void load_mismatches(void **state)
{
    (void)state;
    float a[6] = {0};
    double b[2] = {0};
    int64_t d23[2] = {2, 3}, d32[2] = {3, 2}, d2 = 2, d6 = 6;
    gg_tensor_ref t[2] = {ref("a", GG_F32, 2, d23, a), ref("b", GG_F64, 1, &d2, b)};
    char err[GG_ERRLEN];
    const char *p = path_of("mismatch.safetensors");
    assert_int_equal(gg_safetensors_save(p, t, 2, NULL, err), 0);

    gg_tensor_ref r = ref("c", GG_F32, 2, d23, a);
    assert_err_has(gg_safetensors_load(p, &r, 1, GG_SAFETENSORS_ALLOW_EXTRA, err), err,
                   "no tensor 'c' in the file");
    r = ref("a", GG_F64, 2, d23, a);
    assert_err_has(gg_safetensors_load(p, &r, 1, GG_SAFETENSORS_ALLOW_EXTRA, err), err,
                   "tensor 'a': dtype mismatch: expected F64, found F32");
    assert_null(strstr(err, "only F32"));
    r = ref("a", GG_F32, 2, d32, a);
    assert_err_has(gg_safetensors_load(p, &r, 1, GG_SAFETENSORS_ALLOW_EXTRA, err), err,
                   "tensor 'a': shape mismatch: expected [3, 2], found [2, 3]");
    r = ref("a", GG_F32, 1, &d6, a);
    assert_err_has(gg_safetensors_load(p, &r, 1, GG_SAFETENSORS_ALLOW_EXTRA, err), err,
                   "expected [6], found [2, 3]");
    r = ref("b", GG_F64, 0, NULL, b);
    assert_err_has(gg_safetensors_load(p, &r, 1, GG_SAFETENSORS_ALLOW_EXTRA, err), err,
                   "expected [], found [2]");
    r = ref("a", GG_F32, 2, d23, a);
    assert_err_has(gg_safetensors_load(p, &r, 1, 0, err), err,
                   "tensor 'b' in the file was not asked for");
    assert_int_equal(gg_safetensors_load(p, &r, 1, GG_SAFETENSORS_ALLOW_EXTRA, err), 0);
    r.rank = 5;
    assert_err_has(gg_safetensors_load(p, &r, 1, 0, err), err,
                   "invalid request for tensor 'a': rank out of range");
    r = ref("a", GG_F32, 2, d23, NULL);
    assert_err_has(gg_safetensors_load(p, &r, 1, 0, err), err, "NULL data");
    assert_int_not_equal(gg_safetensors_load(p, &r, 1, 0, NULL), 0);
}

static void save_rejects_bad_input(void **state)
{
    (void)state;
    float x[2] = {1, 2};
    int64_t d2 = 2, dneg = -1;
    char err[GG_ERRLEN];
    const char *p = path_of("bad_save.safetensors");
    gg_tensor_ref t[2] = {ref("x", GG_F32, 1, &d2, x), ref("x", GG_F32, 1, &d2, x)};
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err, "duplicate tensor name 'x'");
    t[1].name = "__metadata__";
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err, "the name is reserved");
    t[1].name = "bad\xff";
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err, "not valid UTF-8");
    t[1] = ref("y", GG_F32, 1, &dneg, x);
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err,
                   "cannot save tensor 1 ('y'): negative dimension");
    t[1] = ref("y", GG_F32, 1, &d2, NULL);
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err, "NULL data");
    t[1] = ref("y", (gg_dtype)7, 1, &d2, x);
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err, "invalid dtype");
    t[1] = ref(NULL, GG_F32, 1, &d2, x);
    assert_err_has(gg_safetensors_save(p, t, 2, NULL, err), err, "NULL name");
    const char *odd[] = {"k", NULL};
    assert_err_has(gg_safetensors_save(p, t, 1, odd, err), err, "metadata key 'k' has no value");
    const char *twice[] = {"k", "1", "k", "2", NULL};
    assert_err_has(gg_safetensors_save(p, t, 1, twice, err), err, "'k' is given twice");
    const char *bad[] = {"k", "\xc3", NULL};
    assert_err_has(gg_safetensors_save(p, t, 1, bad, err), err, "value that is not valid UTF-8");
    assert_err_has(gg_safetensors_save(path_of("no/such/dir/x"), t, 1, NULL, err), err,
                   "cannot create a temporary file");
    assert_int_equal(count_dir_entries(), 0);
}

static void messages_never_overrun(void **state)
{
    (void)state;
    char name[2000];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char json[2200];
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"Q\",\"shape\":[],\"data_offsets\":[0,0]}}",
             name);
    size_t len;
    unsigned char *buf = image(json, 0, &len);
    struct {
        char err[GG_ERRLEN];
        char canary[16];
    } m;
    memset(m.canary, 0x5a, sizeof m.canary);
    gg_safetensors *f;
    assert_int_not_equal(gg_safetensors_parse(buf, len, &f, m.err), 0);
    assert_int_equal(strlen(m.err), GG_ERRLEN - 1);
    for (size_t i = 0; i < sizeof m.canary; i++)
        assert_int_equal(m.canary[i], 0x5a);
    assert_int_not_equal(gg_safetensors_parse(buf, len, &f, NULL), 0);
    free(buf);

    /* A newline in a name must not split the message. */
    expect_parse_error("{\"a\\nb\":5}", 0, "tensor 'a?b': not a JSON object");
}

/* ---- atomic saves ---- */

static void interrupted_save_keeps_old_file(void **state)
{
    (void)state;
    enum { N = 5000 }; /* several write chunks */
    float *x = malloc(N * sizeof *x);
    fill_f32(x, N);
    int64_t dn = N;
    gg_tensor_ref t = ref("x", GG_F32, 1, &dn, x);
    const char *meta[] = {"v", "1", NULL};
    char err[GG_ERRLEN];
    char p[512];
    strcpy(p, path_of("ckpt.safetensors"));
    assert_int_equal(gg_safetensors_save(p, &t, 1, meta, err), 0);
    size_t old_len, len;
    unsigned char *old = read_whole(p, &old_len);

    x[0] = 42.0f;
    meta[1] = "2";
    long k = 1;
    for (;; k++) {
        ggi_atomic_fail_at = k;
        int rc = gg_safetensors_save(p, &t, 1, meta, err);
        int fired = ggi_atomic_fail_at == 0;
        ggi_atomic_fail_at = 0;
        if (!fired) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_not_equal(rc, 0);
        assert_non_null(strstr(err, p));
        assert_int_equal(count_dir_entries(), 1); /* no temporary file left */
        unsigned char *now = read_whole(p, &len);
        if (strstr(err, "fsync of its directory failed")) {
            /* The last step: the rename is done, the new file complete. */
            assert_int_not_equal(len == old_len && memcmp(now, old, len) == 0, 1);
            free(old);
            old = now;
            continue;
        }
        assert_int_equal(len, old_len);
        assert_memory_equal(now, old, len);
        free(now);
    }
    /* create, chmod, fdopen, 2 header writes, 3 data chunks, flush, fsync,
     * close, rename, directory fsync: 13 steps, then success. */
    assert_int_equal(k, 14);
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(p, &f, err), 0);
    assert_string_equal(gg_safetensors_meta(f, "v"), "2");
    gg_safetensors_close(f);
    free(old);
    free(x);
}

static void atomic_file_direct(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    char p[512];
    strcpy(p, path_of("plot.svg"));
    write_whole(p, "old", 3);
    gg_atomic_file af;
    assert_int_equal(gg_atomic_open(p, &af, err), 0);
    fprintf(af.fp, "<svg/>");
    assert_int_equal(count_dir_entries(), 2);
    gg_atomic_abort(&af);
    gg_atomic_abort(&af);
    assert_int_equal(count_dir_entries(), 1);
    size_t len;
    unsigned char *buf = read_whole(p, &len);
    assert_int_equal(len, 3);
    free(buf);
    assert_int_equal(gg_atomic_open(p, &af, err), 0);
    fprintf(af.fp, "<svg/>");
    assert_int_equal(gg_atomic_commit(&af, err), 0);
    buf = read_whole(p, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "<svg/>", 6);
    free(buf);
    unlink(p);
}


static bool exists(const char *name)
{
    return access(path_of(name), F_OK) == 0;
}

/* The pid of a process that has exited (and been reaped). */
static long dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return (long)pid;
}

/* A save removes the temporary files killed writers left for its target,
 * and nothing else: not another target's, not other names, not a live
 * process's, not a file whose lock is held. */
static void stale_temps_are_removed(void **state)
{
    (void)state;
    char dead[64], live[64], locked[64], other[64], odd[64], odd2[64];
    long gone = dead_pid();
    snprintf(dead, sizeof dead, "m.safetensors.tmp-%ld-Ab3xYz", gone);
    snprintf(live, sizeof live, "m.safetensors.tmp-%ld-Ab3xYz", (long)getppid());
    snprintf(locked, sizeof locked, "m.safetensors.tmp-%ld-Qq9qQq", gone);
    snprintf(other, sizeof other, "n.safetensors.tmp-%ld-Ab3xYz", gone);
    snprintf(odd, sizeof odd, "m.safetensors.tmp-%ld-Ab3", gone);
    snprintf(odd2, sizeof odd2, "m.safetensors.tmp-%ldx-Ab3xYz", gone);
    const char *names[] = {dead, live, locked, other, odd, odd2};
    for (size_t i = 0; i < 6; i++)
        write_whole(path_of(names[i]), "partial", 7);
    int fd = open(path_of(locked), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* as a writer in another pid namespace holds it */

    float x[3] = {1, 2, 3};
    int64_t dn = 3;
    gg_tensor_ref t = ref("x", GG_F32, 1, &dn, x);
    char err[GG_ERRLEN];
    assert_int_equal(gg_safetensors_save(path_of("m.safetensors"), &t, 1, NULL, err), 0);
    assert_false(exists(dead));
    for (size_t i = 1; i < 6; i++)
        assert_true(exists(names[i]));
    assert_int_equal(count_dir_entries(), 6);
    close(fd);
    assert_int_equal(gg_safetensors_save(path_of("m.safetensors"), &t, 1, NULL, err), 0);
    assert_false(exists(locked)); /* its lock released, its writer gone */
    assert_int_equal(count_dir_entries(), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_all_ranks, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(layout_is_aligned_and_little_endian, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(metadata_and_names_round_trip, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(foreign_file_loads, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(empty_file_and_no_metadata, make_dir, remove_dir),
        cmocka_unit_test(bad_json),
        cmocka_unit_test(deep_nesting_is_refused),
        cmocka_unit_test(bad_schema),
        cmocka_unit_test_setup_teardown(bad_header_length, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(truncated_after_open, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(load_mismatches, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(save_rejects_bad_input, make_dir, remove_dir),
        cmocka_unit_test(messages_never_overrun),
        cmocka_unit_test_setup_teardown(interrupted_save_keeps_old_file, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(atomic_file_direct, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(stale_temps_are_removed, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
