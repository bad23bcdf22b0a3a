/* json.c - strict JSON parser and writer helpers for file headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    ggi_json *j;
    char *out; /* next free byte of j->text */
    int depth, max_depth;
    const char *why;
} parser;

static int fail(parser *p, const char *why)
{
    if (!p->why)
        p->why = why;
    return -1;
}

static int peek(const parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : -1;
}

static void skip_ws(parser *p)
{
    int c;
    while ((c = peek(p)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        p->pos++;
}

/* Consumes c or fails with why (or with "unexpected end" at the end). */
static int expect(parser *p, int c, const char *why)
{
    skip_ws(p);
    if (peek(p) == c) {
        p->pos++;
        return 0;
    }
    return fail(p, peek(p) < 0 ? "unexpected end of input" : why);
}

static int new_node(parser *p, ggi_json_type type, const char *key)
{
    ggi_json *j = p->j;
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 64;
        ggi_json_node *nodes = ggb_realloc(j->nodes, cap * sizeof *nodes);
        if (!nodes)
            return fail(p, "out of memory");
        j->nodes = nodes;
        j->cap = cap;
    }
    j->nodes[j->n++] = (ggi_json_node){.type = type, .key = key};
    return 0;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4)
        return fail(p, "unterminated string");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p->s[p->pos++], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return fail(p, "invalid \\u escape");
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

static void put_utf8(parser *p, unsigned cp)
{
    if (cp < 0x80) {
        *p->out++ = (char)cp;
    } else if (cp < 0x800) {
        *p->out++ = (char)(0xc0 | cp >> 6);
        *p->out++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *p->out++ = (char)(0xe0 | cp >> 12);
        *p->out++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *p->out++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *p->out++ = (char)(0xf0 | cp >> 18);
        *p->out++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *p->out++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *p->out++ = (char)(0x80 | (cp & 0x3f));
    }
}

/* \uXXXX, possibly the first half of a surrogate pair (p->pos is past 'u').
 * The UTF-8 form is never longer than the escape, so text cannot overflow. */
static int unicode_escape(parser *p)
{
    unsigned cp, lo;
    if (hex4(p, &cp))
        return -1;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(p, "lone surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return fail(p, "lone surrogate in \\u escape");
        p->pos += 2;
        if (hex4(p, &lo))
            return -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(p, "lone surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0)
        return fail(p, "\\u0000 in a string is not supported");
    put_utf8(p, cp);
    return 0;
}

static int escape(parser *p)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    int c = peek(p);
    if (c < 0)
        return fail(p, "unterminated string");
    p->pos++;
    if (c == 'u')
        return unicode_escape(p);
    const char *hit = c ? strchr(from, c) : NULL;
    if (!hit)
        return fail(p, "invalid escape in string");
    *p->out++ = to[hit - from];
    return 0;
}

/* Parses a string (p->pos at the opening quote) into text; *out points to it. */
static int string(parser *p, const char **out)
{
    *out = p->out;
    p->pos++;
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return fail(p, "unterminated string");
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, "control character in string");
        if (c == '\\') {
            p->pos++;
            if (escape(p))
                return -1;
            continue;
        }
        size_t n = c < 0x80 ? 1 : ggi_utf8_char(p->s + p->pos, p->len - p->pos);
        if (n == 0)
            return fail(p, "invalid UTF-8 in string");
        memcpy(p->out, p->s + p->pos, n);
        p->out += n;
        p->pos += n;
    }
    p->pos++;
    *p->out++ = '\0';
    return 0;
}

static size_t digits(parser *p)
{
    size_t start = p->pos;
    while (peek(p) >= '0' && peek(p) <= '9')
        p->pos++;
    return p->pos - start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? copied into text. */
static int number(parser *p, const char **out)
{
    size_t start = p->pos;
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0') {
        p->pos++;
    } else if (digits(p) == 0) {
        return fail(p, "invalid number");
    }
    if (peek(p) == '.') {
        p->pos++;
        if (digits(p) == 0)
            return fail(p, "invalid number");
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (digits(p) == 0)
            return fail(p, "invalid number");
    }
    if (peek(p) >= '0' && peek(p) <= '9')
        return fail(p, "invalid number (leading zero)");
    size_t n = p->pos - start;
    *out = p->out;
    memcpy(p->out, p->s + start, n);
    p->out += n;
    *p->out++ = '\0';
    return 0;
}

static int literal(parser *p, const char *word, ggi_json_type type, const char *key)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    p->pos += n;
    return new_node(p, type, key);
}

static int value(parser *p, const char *key);

/* "name": in an object. */
static int member_name(parser *p, const char **name)
{
    skip_ws(p);
    if (peek(p) != '"')
        return fail(p, peek(p) < 0 ? "unexpected end of input" : "expected a member name");
    if (string(p, name))
        return -1;
    return expect(p, ':', "expected ':' after a member name");
}

/* An array or object; p->pos is at its opening bracket. */
static int container(parser *p, ggi_json_type type, const char *key)
{
    int is_obj = type == GGI_JSON_OBJECT;
    size_t self = p->j->n, prev = 0, count = 0;
    if (++p->depth > p->max_depth)
        return fail(p, "nesting too deep");
    if (new_node(p, type, key))
        return -1;
    p->pos++;
    skip_ws(p);
    if (peek(p) == (is_obj ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        const char *name = NULL;
        if (is_obj && member_name(p, &name))
            return -1;
        size_t child = p->j->n;
        if (value(p, name))
            return -1;
        if (prev)
            p->j->nodes[prev].next = child;
        prev = child;
        count++;
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (expect(p, is_obj ? '}' : ']',
                   is_obj ? "expected ',' or '}'" : "expected ',' or ']'"))
            return -1;
        break;
    }
    p->j->nodes[self].count = count;
    p->depth--;
    return 0;
}

static int value(parser *p, const char *key)
{
    skip_ws(p);
    int c = peek(p);
    const char *str;
    switch (c) {
    case -1:
        return fail(p, "unexpected end of input");
    case '{':
        return container(p, GGI_JSON_OBJECT, key);
    case '[':
        return container(p, GGI_JSON_ARRAY, key);
    case '"':
        if (string(p, &str) || new_node(p, GGI_JSON_STRING, key))
            return -1;
        break;
    case 't':
        return literal(p, "true", GGI_JSON_TRUE, key);
    case 'f':
        return literal(p, "false", GGI_JSON_FALSE, key);
    case 'n':
        return literal(p, "null", GGI_JSON_NULL, key);
    default:
        if (c != '-' && (c < '0' || c > '9'))
            return fail(p, "unexpected character");
        if (number(p, &str) || new_node(p, GGI_JSON_NUMBER, key))
            return -1;
        break;
    }
    p->j->nodes[p->j->n - 1].str = str;
    return 0;
}

const char *ggi_json_parse(const char *s, size_t len, int max_depth, ggi_json *j,
                           size_t *where)
{
    *j = (ggi_json){0};
    /* Every string or number, with its NUL, fits in the bytes of its token
     * plus the byte after it, so len + 1 bytes hold all of them. */
    j->text = ggb_malloc(len + 1);
    parser p = {.s = (const unsigned char *)s, .len = len, .j = j,
                .out = j->text, .max_depth = max_depth};
    if (!j->text)
        fail(&p, "out of memory");
    else if (value(&p, NULL) == 0) {
        skip_ws(&p);
        if (p.pos < len)
            fail(&p, "trailing characters after the JSON value");
    }
    if (p.why) {
        *where = p.pos;
        ggi_json_free(j);
    }
    return p.why;
}

void ggi_json_free(ggi_json *j)
{
    ggb_free(j->nodes);
    ggb_free(j->text);
    *j = (ggi_json){0};
}

const char *ggi_json_uint(const ggi_json_node *n, uint64_t max, uint64_t *out)
{
    if (n->type != GGI_JSON_NUMBER)
        return "is not a number";
    if (n->str[0] == '-')
        return "is negative";
    if (strpbrk(n->str, ".eE"))
        return "is not an integer";
    uint64_t v = 0;
    for (const char *c = n->str; *c; c++) {
        unsigned d = (unsigned)(*c - '0');
        if (v > max / 10 || max - v * 10 < d)
            return "is too large";
        v = v * 10 + d;
    }
    *out = v;
    return NULL;
}

size_t ggi_utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int ggi_utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t k = ggi_utf8_char(u, n);
        if (k == 0)
            return 0;
        u += k;
        n -= k;
    }
    return 1;
}

void ggi_jbuf_put(ggi_jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1)
            cap *= 2;
        char *p = ggb_realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void ggi_jbuf_lit(ggi_jbuf *b, const char *s)
{
    ggi_jbuf_put(b, s, strlen(s));
}

void ggi_jbuf_str(ggi_jbuf *b, const char *s)
{
    ggi_jbuf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            ggi_jbuf_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            ggi_jbuf_put(b, esc, 6);
        } else {
            ggi_jbuf_put(b, s, 1);
        }
    }
    ggi_jbuf_put(b, "\"", 1);
}

void ggi_jbuf_uint(ggi_jbuf *b, uint64_t v)
{
    char s[24];
    int n = snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    ggi_jbuf_put(b, s, (size_t)n);
}

void ggi_jbuf_free(ggi_jbuf *b)
{
    ggb_free(b->p);
    *b = (ggi_jbuf){0};
}
