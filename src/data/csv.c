/* csv.c - numeric CSV files with one integer label column (or none).
 *
 * The file is read a line at a time (getline), so memory grows with the data
 * kept, not with the file. Numbers are parsed by strtod, which follows the
 * C locale's decimal point unless the program called setlocale. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

typedef struct csv_reader {
    const char *path;
    int label_arg;     /* label_column as passed: -1 = last */
    size_t label_col;  /* resolved from the first line */
    size_t ncols;      /* 0 until the first non-empty line */
    size_t dim;        /* features: ncols - 1, or ncols without a label */
    size_t line;       /* current line, from 1 */
    size_t blank_line; /* first empty line after data, 0 if none yet */
    size_t cap;        /* rows allocated in d */
    int32_t max_label;
    char **fields; /* ncols pointers into the current line */
    char *err;
    gg_dataset d;
} csv_reader;

static int is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Returns s without surrounding spaces, tabs and line ends (cut in place). */
static char *trim(char *s)
{
    while (is_blank_char(*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && is_blank_char(s[len - 1]))
        s[--len] = '\0';
    return s;
}

static size_t count_fields(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

/* Cuts s at its commas into fields[0..] (trimmed, in place). */
static void split(char *s, char **fields)
{
    for (size_t i = 0;; i++) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        fields[i] = trim(s);
        if (!comma)
            return;
        s = comma + 1;
    }
}

/* Parses the whole of s as a number (NaN and infinities included). */
static int parse_number(const char *s, double *v)
{
    char *end;
    if (!*s)
        return -1;
    *v = strtod(s, &end);
    return *end ? -1 : 0;
}

/* Reports a problem at the current line and 1-based column col (0: none). */
static int csv_err(const csv_reader *r, size_t col, const char *fmt, ...)
    GGB_PRINTF(3, 4);
static int csv_err(const csv_reader *r, size_t col, const char *fmt, ...)
{
    char where[GG_ERRLEN];
    if (col)
        snprintf(where, sizeof where, "%s:%zu: column %zu", r->path, r->line, col);
    else
        snprintf(where, sizeof where, "%s:%zu", r->path, r->line);
    va_list ap;
    va_start(ap, fmt);
    ggb_verrorf(r->err, where, fmt, ap);
    va_end(ap);
    return -1;
}

/* Sets up the columns from the first non-empty line, which has n fields.
 * Returns 1 when that line is a header: some field is text that is not a
 * number (an empty field is a data error, not a sign of a header). */
static int first_line(csv_reader *r, char *line, size_t n)
{
    bool labelled = r->label_arg != GG_CSV_NO_LABEL;
    if (n < 2 && labelled)
        return csv_err(r, 0, "%zu column, need a label and at least one feature", n);
    if ((r->label_arg < -1 && labelled) || (r->label_arg >= 0 && (size_t)r->label_arg >= n))
        return csv_err(r, 0, "label column %d out of range (%zu columns, "
                       "-1 = last)", r->label_arg, n);
    r->fields = ggb_malloc(n * sizeof *r->fields);
    if (!r->fields)
        return csv_err(r, 0, "out of memory");
    r->ncols = n;
    r->dim = labelled ? n - 1 : n;
    r->label_col = !labelled ? SIZE_MAX : r->label_arg < 0 ? n - 1 : (size_t)r->label_arg;
    char *copy = ggb_strdup(line);
    if (!copy)
        return csv_err(r, 0, "out of memory");
    split(copy, r->fields);
    double v;
    int header = 0;
    for (size_t i = 0; i < n && !header; i++)
        header = *r->fields[i] && parse_number(r->fields[i], &v) != 0;
    ggb_free(copy);
    return header;
}

/* Makes room for one more row in r->d. */
static int reserve_row(csv_reader *r)
{
    if (r->d.n < r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 256, nx, xbytes, ybytes;
    if (r->cap && ggb_mul_size(r->cap, 2, &cap))
        return -1;
    if (ggb_mul_size(cap, r->dim, &nx)
        || ggb_mul_size(nx, sizeof(float), &xbytes)
        || ggb_mul_size(cap, sizeof(int32_t), &ybytes))
        return -1;
    float *x = ggb_realloc(r->d.x, xbytes);
    if (!x)
        return -1;
    r->d.x = x;
    int32_t *y = ggb_realloc(r->d.y, ybytes);
    if (!y)
        return -1;
    r->d.y = y;
    r->cap = cap;
    return 0;
}

static int parse_label(csv_reader *r, const char *s, size_t col)
{
    double v;
    if (parse_number(s, &v) || !(v >= 0 && v < GG_DATA_MAX_CLASSES)
        || v != floor(v))
        return csv_err(r, col, "label \"%.32s\" is not an integer in [0, %d)",
                       s, GG_DATA_MAX_CLASSES);
    int32_t label = (int32_t)v;
    r->d.y[r->d.n] = label;
    if (label > r->max_label)
        r->max_label = label;
    return 0;
}

static int parse_feature(csv_reader *r, const char *s, size_t col, float *out)
{
    double v;
    if (!*s)
        return csv_err(r, col, "empty field");
    if (parse_number(s, &v))
        return csv_err(r, col, "non-numeric field \"%.32s\"", s);
    if (isnan(v))
        return csv_err(r, col, "NaN field \"%.32s\"", s);
    if (!(fabs(v) <= FLT_MAX))
        return csv_err(r, col, "field \"%.32s\" is infinite or out of float "
                       "range", s);
    *out = (float)v;
    return 0;
}

/* Parses one data row of n fields into r->d. */
static int data_row(csv_reader *r, char *line, size_t n)
{
    if (n != r->ncols)
        return csv_err(r, 0, "%zu fields, expected %zu like the first line",
                       n, r->ncols);
    if (reserve_row(r))
        return csv_err(r, 0, "out of memory or too many rows");
    split(line, r->fields);
    float *x = r->d.x + r->d.n * r->dim;
    r->d.y[r->d.n] = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = i == r->label_col
                     ? parse_label(r, r->fields[i], i + 1)
                     : parse_feature(r, r->fields[i], i + 1, x++);
        if (rc)
            return -1;
    }
    r->d.n++;
    return 0;
}

/* Handles one line (its end of line still attached) of length len. */
static int csv_line(csv_reader *r, char *line, size_t len)
{
    if (memchr(line, '\0', len))
        return csv_err(r, 0, "NUL byte in line (binary file?)");
    if (r->line == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3; /* UTF-8 byte order mark, written by some spreadsheets */
    char *s = trim(line);
    if (!*s) {
        if (!r->blank_line)
            r->blank_line = r->line;
        return 0;
    }
    if (r->blank_line) {
        r->line = r->blank_line;
        return csv_err(r, 0, "empty line before more data");
    }
    size_t n = count_fields(s);
    if (r->ncols == 0) {
        int rc = first_line(r, s, n);
        if (rc)
            return rc < 0 ? -1 : 0;
    }
    return data_row(r, s, n);
}

/* Reads every line of fp; returns 0 or -1 with the error reported. */
static int csv_read_lines(csv_reader *r, FILE *fp)
{
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &size, fp)) >= 0) {
        r->line++;
        rc = csv_line(r, line, (size_t)len);
    }
    ggb_free(line);
    if (rc == 0 && ferror(fp))
        rc = ggb_errorf(r->err, "%s: read error: %s", r->path, strerror(errno));
    return rc;
}

int gg_csv_load(const char *path, int label_column, gg_dataset *out,
                char *err)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return ggb_errorf(err, "gg_csv_load: no path given");
    FILE *fp = fopen(path, "r");
    if (!fp)
        return ggb_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    csv_reader r = {.path = path, .label_arg = label_column, .err = err};
    int rc = csv_read_lines(&r, fp);
    fclose(fp);
    if (rc == 0 && r.ncols == 0)
        rc = ggb_errorf(err, "%s: empty file", path);
    else if (rc == 0 && r.d.n == 0)
        rc = ggb_errorf(err, "%s: no data rows after the header", path);
    ggb_free(r.fields);
    if (rc) {
        gg_dataset_free(&r.d);
        return -1;
    }
    r.d.dim = r.dim;
    r.d.classes = (size_t)r.max_label + 1;
    *out = r.d;
    return 0;
}
