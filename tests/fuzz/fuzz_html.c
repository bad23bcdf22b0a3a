/* fuzz_html.c - libFuzzer target: the stepping page (gg_html) with hostile
 * text. The input, split at NUL bytes, gives the page's title and the labels
 * of a small circuit's nodes; its first byte picks the language. The page
 * must contain exactly as many '<' as the same circuit's page with plain
 * labels: every '<' is markup gg_html wrote itself, none came from the text,
 * and the text never appears unescaped. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gategrad.h"
#include "gategrad/teach.h"

enum { NODES = 8 };

typedef struct page {
    char *text;
    size_t len;
} page;

/* q = x*y + x; f = sigmoid(q) * max(x, y) / (1 + |y|): NODES nodes, labelled
 * from labels[] where one is given and accepted. */
static int render(const char *title, const char *const *labels, int ko, bool *taken, page *out)
{
    gg_graph *g = gg_graph_new();
    if (!g)
        return -1;
    gg_node *n[NODES];
    n[0] = gg_scalar(g, 0.5);
    n[1] = gg_scalar(g, -2);
    n[2] = gg_mul(g, n[0], n[1]);
    n[3] = gg_add(g, n[2], n[0]);
    n[4] = gg_sigmoid(g, n[3]);
    n[5] = gg_max(g, n[0], n[1]);
    n[6] = gg_div(g, gg_mul(g, n[4], n[5]), gg_add(g, gg_constant(g, GG_F64, 1), gg_abs(g, n[1])));
    n[7] = gg_neg(g, n[6]);
    for (int i = 0; i < NODES; i++) {
        taken[i] = labels[i] && n[i] && gg_set_label(g, n[i], labels[i]) == 0;
        gg_clear_error(g);
    }
    gg_html_opts o = {.title = title, .lang = ko ? "ko" : "en"};
    FILE *f = open_memstream(&out->text, &out->len);
    int rc = f && n[NODES - 1] ? gg_html(g, n[NODES - 1], f, &o) : -1;
    if (f)
        fclose(f);
    gg_graph_free(g);
    return rc;
}

static size_t count_lt(const page *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->len; i++)
        k += p->text[i] == '<';
    return k;
}

/* Plain labels "n0", "n1", ... where the hostile page's were taken. */
static void plain_labels(const bool *taken, char plain[NODES][8], const char *out[NODES])
{
    for (int i = 0; i < NODES; i++) {
        snprintf(plain[i], sizeof plain[i], "n%d", i);
        out[i] = taken[i] ? plain[i] : NULL;
    }
}

/* The '<' count of the plain page with labels where taken[] says, in
 * either language (remembered: it depends on nothing else). */
static size_t plain_count(const bool *taken, int ko)
{
    static size_t known[2][1u << NODES];
    unsigned mask = 0;
    for (int i = 0; i < NODES; i++)
        mask |= (unsigned)taken[i] << i;
    if (known[ko][mask])
        return known[ko][mask];
    char names[NODES][8];
    const char *plain_names[NODES];
    bool taken_plain[NODES];
    page plain = {0};
    plain_labels(taken, names, plain_names);
    if (render("t", plain_names, ko, taken_plain, &plain) != 0)
        abort();
    known[ko][mask] = count_lt(&plain);
    free(plain.text);
    return known[ko][mask];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *parts[NODES + 1] = {0};
    size_t k = 0;
    for (char *p = text; k < NODES + 1 && p < text + size - 1; p += strlen(p) + 1)
        parts[k++] = p;
    if (k == 0)
        parts[k++] = "";
    const char *const *labels = parts + 1;
    page hostile = {0};
    bool taken[NODES];
    int ko = data[0] & 1;
    int rc = render(parts[0], labels, ko, taken, &hostile);
    if (rc == 0) {
        size_t want = plain_count(taken, ko), got = count_lt(&hostile);
        if (got != want) {
            fprintf(stderr, "the page has %zu '<', the plain page %zu\n", got, want);
            abort();
        }
    }
    free(hostile.text);
    free(text);
    return 0;
}
