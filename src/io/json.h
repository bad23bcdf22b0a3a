/* json.h - internal: a small strict JSON (RFC 8259) parser for file headers,
 * and the helpers their writers use to produce JSON.
 *
 * The parser builds the whole document as an array of nodes in document
 * order: a container's first child directly follows it, and each child links
 * to its next sibling. It accepts exactly RFC 8259 (no comments, trailing
 * commas, leading zeros, raw control characters or invalid UTF-8 in strings,
 * lone surrogates), plus two limits of its own: nesting deeper than
 * max_depth, and \u0000 (strings are handed out NUL-terminated) are errors. */
#ifndef GG_IO_JSON_H
#define GG_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum gg__json_type {
    GG__JSON_NULL,
    GG__JSON_FALSE,
    GG__JSON_TRUE,
    GG__JSON_NUMBER,
    GG__JSON_STRING,
    GG__JSON_ARRAY,
    GG__JSON_OBJECT
} gg__json_type;

typedef struct gg__json_node {
    gg__json_type type;
    size_t next;     /* index of the next sibling, 0 for none (0 is the root) */
    size_t count;    /* ARRAY, OBJECT: number of children */
    const char *key; /* member name when the parent is an OBJECT, else NULL */
    const char *str; /* STRING: decoded text; NUMBER: its token; else NULL */
} gg__json_node;

typedef struct gg__json {
    gg__json_node *nodes; /* nodes[0] is the root */
    size_t n, cap;
    char *text; /* every key, string and number, NUL-terminated */
} gg__json;

/* Parses len bytes at s. On success fills j (free with gg__json_free; the
 * caller may take j->text and set it to NULL to keep the strings) and
 * returns NULL; on error returns a static description, sets *where to the
 * byte offset of the problem and leaves nothing allocated. */
const char *gg__json_parse(const char *s, size_t len, int max_depth, gg__json *j,
                           size_t *where);

void gg__json_free(gg__json *j);

/* Reads a node as a non-negative integer that fits in max. Returns NULL, or
 * why not: "is not a number", "is negative", "is not an integer",
 * "is too large". */
const char *gg__json_uint(const gg__json_node *n, uint64_t max, uint64_t *out);

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is
 * invalid (overlong, surrogate, above U+10FFFF, truncated). */
size_t gg__utf8_char(const unsigned char *s, size_t n);

/* True when the NUL-terminated s is valid UTF-8. */
int gg__utf8_valid(const char *s);

/* A growing output buffer. Appending never fails: an allocation failure sets
 * oom and later appends do nothing. */
typedef struct gg__jbuf {
    char *p;
    size_t n, cap;
    int oom;
} gg__jbuf;

void gg__jbuf_put(gg__jbuf *b, const char *s, size_t n);
void gg__jbuf_lit(gg__jbuf *b, const char *s);       /* s as is */
void gg__jbuf_str(gg__jbuf *b, const char *s);       /* s as a JSON string */
void gg__jbuf_uint(gg__jbuf *b, uint64_t v);
void gg__jbuf_free(gg__jbuf *b);

#endif
