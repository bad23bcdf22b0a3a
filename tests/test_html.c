/* test_html.c - the stepping page (gg_html): self-contained, escaped,
 * its recorded steps and numbers, its refusals. The page's script is run
 * by tests/test_html_page.sh (node: C and page agree; chromium: the DOM). */
#include "testutil.h"

#include <stdio.h>

#include "gategrad.h"
#include "core/core.h"

/* The page for root, as a malloc'd string (NULL when gg_html fails). */
static char *page(gg_graph *g, gg_node *root, const gg_html_opts *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    int rc = gg_html(g, root, f, o);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

static size_t count(const char *h, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(h, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static gg_node *var(gg_graph *g, const char *name, double v)
{
    gg_node *n = gg_scalar(g, v);
    gg_set_label(g, n, name);
    return n;
}

/* The lecture's circuit: its steps, their lines and numbers. */
static void test_circuit(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", -2), *y = var(g, "y", 5), *z = var(g, "z", -4);
    gg_node *q = gg_add(g, x, y);
    gg_set_label(g, q, "q");
    gg_node *f = gg_mul(g, q, z);
    gg_set_label(g, f, "f");
    char *h = page(g, f, NULL);
    assert_non_null(h);
    assert_contains(h, "<!DOCTYPE html>");
    assert_contains(h, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';");
    assert_contains(h, "<title>gategrad: f</title>");
    /* 2 forward steps, 2 backward, in that order, each with the trace's line */
    assert_int_equal(count(h, "{\"k\":\"f\""), 2);
    assert_int_equal(count(h, "{\"k\":\"b\""), 2);
    assert_contains(h, "{\"k\":\"f\",\"n\":3,\"lines\":[\"forward  q #3 = add(x = -2, y = 5) = 3\"]");
    assert_contains(h, "dq = z * upstream = -4 * 1 = -4, dz = q * upstream = 3 * 1 = 3");
    /* after mul's backward: f holds 1, q -4, z 3; what each wire carried */
    assert_contains(h, "\"g\":[[4,1],[3,-4],[2,3]],\"c\":[-4,3]}");
    assert_contains(h, "\"g\":[[3,-4],[0,-4],[1,-4]],\"c\":[-4,-4]}");
    /* values, the layout's layers (x, y at 0; z beside q; f last), editable */
    assert_contains(h, "\"name\":\"q\",\"id\":3");
    assert_contains(h, "\"value\":-12,\"x\":570.0");
    assert_contains(h, "\"editable\":true");
    assert_contains(h, "GG_FN['mul'] = {f: function (a, b) { return (a * b); }, d: [function (a, b, z) { return (b); }");
    /* gradients as after gg_backward */
    assert_near(gg_grad(x), -4, 0);
    assert_near(gg_grad(z), 3, 0);
    /* a second page gives the same numbers (gradients were zeroed first) */
    char *again = page(g, f, NULL);
    assert_string_equal(h, again);
    free(again);
    free(h);
    gg_graph_free(g);
}

/* Self-contained: nothing outside the file, no address but SVG's namespace. */
static void test_self_contained(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3), *y = var(g, "y", -4);
    gg_node *xy = gg_mul(g, x, y), *m = gg_max(g, x, y), *two = gg_constant(g, GG_F64, 2);
    gg_node *f = gg_mul(g, two, gg_add(g, xy, m));
    char *h = page(g, f, NULL);
    assert_non_null(h);
    size_t http = count(h, "http"), ns = count(h, "http://www.w3.org/2000/svg");
    assert_int_equal(http, ns + count(h, "http-equiv"));
    assert_true(ns >= 1);
    assert_null(strstr(h, " src="));
    assert_null(strstr(h, "<link"));
    assert_null(strstr(h, "@import"));
    assert_null(strstr(h, "url("));
    /* three scripts (data, the gate formulas, the page) and nothing else */
    assert_int_equal(count(h, "<script"), 3);
    assert_int_equal(count(h, "</script>"), 3);
    /* the max gate routes; a plain constant is a "const" node */
    assert_contains(h, "\"gate\":\"max\"");
    assert_contains(h, "\"routes\":true");
    assert_contains(h, "\"kind\":\"const\"");
    free(h);
    gg_graph_free(g);
}

/* Labels and titles never become markup. */
static void test_escaping(void **state)
{
    (void)state;
    const char *evil = "</script><script>alert(1)</script><b x='1' y=\"2\">&amp;";
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, evil, 1), *y = var(g, "a<b>&c", 2);
    gg_node *f = gg_add(g, x, y);
    gg_set_label(g, f, "</SCRIPT >");
    gg_html_opts o = {.title = "<i>title</i> & \"quotes\""};
    char *h = page(g, f, &o);
    assert_non_null(h);
    assert_null(strstr(h, "alert(1)</script>"));
    assert_null(strstr(h, "<script>alert"));
    assert_null(strstr(h, "<b x="));
    assert_null(strstr(h, "a<b>"));
    assert_null(strstr(h, "</SCRIPT"));
    assert_null(strstr(h, "<i>"));
    assert_int_equal(count(h, "</script>"), 3);
    assert_contains(h, "<title>&lt;i&gt;title&lt;/i&gt; &amp; &quot;quotes&quot;</title>");
    /* in JSON: every <, >, &, /, quote as \u escapes */
    assert_contains(h, "\\u003c\\u002fscript\\u003e\\u003cscript\\u003ealert(1)");
    assert_contains(h, "\\u0027");
    assert_contains(h, "a\\u003cb\\u003e\\u0026c");
    free(h);
    gg_graph_free(g);
}

/* NaN and the infinities go out as strings the page reads back. */
static void test_nan_inf(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 0), *y = var(g, "y", -1);
    gg_node *lx = gg_log(g, x), *sy = gg_sqrt(g, y);
    gg_node *f = gg_add(g, lx, sy);
    char *h = page(g, f, NULL);
    assert_non_null(h);
    assert_contains(h, "\"value\":\"-Infinity\"");
    assert_contains(h, "\"value\":\"NaN\"");
    assert_contains(h, "\"g\":[[2,1],[0,\"Infinity\"]]"); /* dlog/dx = 1/0 */
    assert_contains(h, "[1,\"NaN\"]]");                     /* dsqrt/dy at -1 */
    assert_contains(h, "nan"); /* the trace's own words, in the lines */
    free(h);
    gg_graph_free(g);
}

/* Over 500 gates: refused with a message that says how to narrow it. */
static void test_too_big(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 1), *s = x;
    for (int i = 0; i < 500; i++)
        s = gg_add(g, s, x);
    char *h = page(g, s, NULL);
    assert_non_null(h); /* 500 is allowed */
    free(h);
    s = gg_add(g, s, x);
    assert_null(page(g, s, NULL));
    assert_contains(gg_error(g), "html: the graph has 501 gates, more than the 500 a page can show");
    assert_contains(gg_error(g), "a node nearer the inputs as the root");
    gg_html_opts o = {.max_gates = 10};
    assert_null(page(g, gg_node_at(g, 11), &o));
    assert_contains(gg_error(g), "has 11 gates, more than the 10");
    assert_non_null(h = page(g, gg_node_at(g, 10), &o));
    free(h);
    gg_graph_free(g);
}

/* Tensors: shape, values for the heatmaps, not editable. */
static void test_tensor(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *W = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 2}, (const double[]){0.1, 0.5, -0.3, 0.8});
    gg_node *x = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 1}, (const double[]){0.2, 0.4});
    gg_node *q = gg_matmul(g, W, x);
    gg_node *f = gg_sum(g, gg_mul(g, q, q));
    char *h = page(g, f, NULL);
    assert_non_null(h);
    assert_contains(h, "\"rank\":2,\"shape\":[2,2],\"rows\":2,\"cols\":2,\"value\":[0.10000000000000001,0.5,-0.29999999999999999,0.80000000000000004]");
    assert_contains(h, "\"editable\":false");
    /* dW = 2 q x^T = [[0.088, 0.176], [0.104, 0.208]], recorded at matmul's step */
    assert_near(gg_grad_at(W, 3), 0.208, 1e-12);
    assert_contains(h, "[0,[0.08");
    /* q used twice: its gradient after mul's step */
    assert_contains(h, "\"c\":[null,null]");
    free(h);
    gg_graph_free(g);
}

/* A tensor over 64 elements: its summary, no heatmap data. */
static void test_big_tensor(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i;
    gg_node *x = gg_tensor(g, GG_F64, 2, (const int64_t[]){10, 10}, v);
    gg_set_label(g, x, "X");
    gg_node *f = gg_sum(g, gg_mul(g, x, x));
    char *h = page(g, f, NULL);
    assert_non_null(h);
    assert_contains(h, "\"shape\":[10,10],\"rows\":10,\"cols\":10,\"value\":null,\"summary\":\"[10,10] {0, 1, 2, 3, ... 96 more} min 0 max 99 norm");
    assert_contains(h, "\"gsummary\":\"[10,10] {0, 2, 4, 6, ... 96 more} min 0 max 198");
    assert_contains(h, "[0,null]"); /* X's gradient at its step: too big to record */
    free(h);
    gg_graph_free(g);
}

/* Gates without formulas for the page: recorded numbers only. */
static void test_not_editable(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3);
    gg_node *f = gg_mul(g, gg_clamp(g, x, 0, 2), x);
    char *h = page(g, f, NULL);
    assert_non_null(h);
    assert_contains(h, "\"editable\":false");
    assert_contains(h, "\"gate\":\"clamp\"");
    assert_contains(h, "\"fn\":false");
    /* x used twice: both contributions recorded, mul's exactly */
    assert_contains(h, "\"c\":[3,2]");
    free(h);
    gg_graph_free(g);
}

static void test_errors_and_lang(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new(), *other = gg_graph_new();
    gg_node *x = var(g, "x", 3), *f = gg_sigmoid(g, x);
    assert_int_not_equal(gg_html(g, f, NULL, NULL), 0);
    assert_contains(gg_error(g), "html: no output");
    assert_int_not_equal(gg_html(g, NULL, stdout, NULL), 0);
    assert_contains(gg_error(g), "html: the root is NULL");
    assert_int_not_equal(gg_html(g, gg_scalar(other, 1), stdout, NULL), 0);
    assert_int_not_equal(gg_html(NULL, f, stdout, NULL), 0);
    gg_tracer *t = gg_trace_file(g, stderr, NULL);
    assert_null(page(g, f, NULL));
    assert_contains(gg_error(g), "hook is already in use");
    gg_trace_end(t);
    gg_html_opts o = {.lang = "ko"};
    char *h = page(g, f, &o);
    assert_non_null(h);
    assert_contains(h, "<html lang=\"ko\">");
    assert_contains(h, "\"lang\":\"ko\"");
    free(h);
    /* the hook slot is free again */
    assert_non_null(t = gg_trace_file(g, stderr, NULL));
    gg_trace_end(t);
    gg_graph_free(g);
    gg_graph_free(other);
}

/* Every elementwise gate of the table has its formulas as text, and the
 * page has them in JavaScript: only gates without the macros' texts are
 * left out. */
static void test_gate_texts(void **state)
{
    (void)state;
    size_t with = 0;
    for (size_t i = 0; i < ggc_gate_count; i++) {
        const ggc_gate *gate = ggc_gates[i];
        if (!gate || !gate->fwd_text)
            continue;
        with++;
        assert_true(gate->elementwise);
        assert_non_null(gate->local_text[0]);
        if (gate->arity == 2)
            assert_non_null(gate->local_text[1]);
    }
    assert_true(with >= 24);
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 0.5), *y = var(g, "y", 2);
    gg_node *sp = gg_softplus(g, gg_pow_node(g, x, y)), *e = gg_elu(g, x, 1.0);
    gg_node *f = gg_gelu(g, gg_add(g, sp, e));
    char *h = page(g, f, NULL);
    assert_non_null(h);
    assert_contains(h, "\"editable\":true");
    assert_contains(h, "GG_FN['gelu'] = {f: function (x, p) { return (0.5 * x * (1.0 + ggErf(x * Math.SQRT1_2))); }");
    assert_contains(h, "Math.log1p(Math.exp(x))");
    assert_contains(h, "Math.expm1(x)");
    free(h);
    gg_graph_free(g);
}

/* Which gates carry their rule sentence in Korean (ggc_gate.rule_ko): every
 * gate of the lecture and the common ones. The rest are listed too: their
 * pages show the English sentence. */
static const char *const korean_rules[] = {
    "leaf", "add", "sub", "mul", "div", "max", "min", "copy", "neg", "sigmoid", "tanh", "exp", "log",
    "relu", "leaky_relu", "elu", "abs", "pow", "sqrt", "sin", "cos", "log1p", "softplus", "silu", "gelu",
    "pow_node", "matmul", "sum", "mean", "softmax_cross_entropy", "step", "normal_cdf",
};
static const char *const english_only[] = {
    "custom", "sum_axis", "mean_axis", "reshape", "transpose", "softmax", "log_softmax",
    "bce_with_logits", "where", "clamp", "cast", "max_axis", "min_axis", "argmax_axis", "softmax_axis",
    "log_softmax_axis", "slice", "concat", "gather_rows", "broadcast_to", "transpose_axes", "batch_norm",
};

static bool listed(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* Hangul syllables (U+AC00..U+D7A3) start with a byte 0xEA..0xED in UTF-8. */
static bool has_hangul(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0xea && *p <= 0xed)
            return true;
    return false;
}

static const ggc_gate *gate_named(const char *name)
{
    for (size_t i = 0; i < ggc_gate_count; i++)
        if (!strcmp(ggc_gates[i]->name, name))
            return ggc_gates[i];
    fail_msg("no gate %s", name);
    return NULL;
}

/* "rule":"SENTENCE" as the page's data holds it (escaped as ggt_json_str does). */
static const char *rule_field(char *buf, const char *rule)
{
    size_t n = (size_t)sprintf(buf, "\"rule\":\"");
    for (const unsigned char *p = (const unsigned char *)rule; *p; p++)
        n += (size_t)(*p < 0x20 || strchr("<>&/\"'\\", *p) ? sprintf(buf + n, "\\u%04x", *p)
                                                          : sprintf(buf + n, "%c", *p));
    sprintf(buf + n, "\"");
    return buf;
}

static void test_korean_rules(void **state)
{
    (void)state;
    size_t nko = sizeof korean_rules / sizeof *korean_rules, nen = sizeof english_only / sizeof *english_only;
    assert_int_equal(nko + nen, ggc_gate_count);
    for (size_t i = 0; i < ggc_gate_count; i++) {
        const ggc_gate *gate = ggc_gates[i];
        bool ko = listed(korean_rules, nko, gate->name);
        if (!ko && !listed(english_only, nen, gate->name))
            fail_msg("gate %s is in neither list", gate->name);
        if (ko != (gate->rule_ko != NULL))
            fail_msg("gate %s: rule_ko is %s, the list says %s", gate->name, gate->rule_ko ? "set" : "NULL",
                     ko ? "Korean" : "English only");
        if (gate->rule_ko && !has_hangul(gate->rule_ko))
            fail_msg("gate %s: rule_ko has no Korean: %s", gate->name, gate->rule_ko);
    }
    /* The slides' names for the four patterns stay as they are written. */
    assert_contains(gate_named("add")->rule_ko, "gradient distributor");
    assert_contains(gate_named("mul")->rule_ko, "swap multiplier");
    assert_contains(gate_named("max")->rule_ko, "gradient router");
    assert_contains(gate_named("copy")->rule_ko, "gradient adder");
    assert_contains(gate_named("copy")->rule_ko, "upstream에서 온 gradient1 + upstream에서 온 gradient2");
    assert_contains(gate_named("sigmoid")->rule_ko, "sigmoid 미분");

    /* A Korean page: each gate's card sentence in Korean, clamp's in English;
     * the English page keeps every English sentence. The lecture's sigmoid
     * circuit: 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) with scalar add and mul,
     * exp and the reciprocal (1 / x as div), and max, copy, clamp. */
    gg_graph *g = gg_graph_new();
    gg_node *w0 = var(g, "w0", 2), *x0 = var(g, "x0", -1), *w1 = var(g, "w1", -3), *x1 = var(g, "x1", -2);
    gg_node *w2 = var(g, "w2", -3), *one = gg_scalar(g, 1), *minus = gg_scalar(g, -1);
    gg_node *dot = gg_add(g, gg_add(g, gg_mul(g, w0, x0), gg_mul(g, w1, x1)), w2);
    gg_node *s = gg_div(g, one, gg_add(g, one, gg_exp(g, gg_mul(g, minus, dot))));
    gg_node *c = gg_copy(g, s);
    gg_node *f = gg_add(g, gg_max(g, c, gg_sigmoid(g, dot)), gg_clamp(g, c, 0, 1));
    gg_html_opts ko = {.lang = "ko"};
    char *h = page(g, f, &ko), *en = page(g, f, NULL);
    assert_non_null(h);
    assert_non_null(en);
    const char *const used[] = {"add", "mul", "div", "exp", "max", "copy", "sigmoid"};
    char field[1024];
    for (size_t i = 0; i < sizeof used / sizeof *used; i++) {
        const ggc_gate *gate = gate_named(used[i]);
        assert_contains(h, rule_field(field, gate->rule_ko));
        assert_null(strstr(en, rule_field(field, gate->rule_ko)));
        assert_contains(en, rule_field(field, gate->rule));
        assert_null(strstr(h, rule_field(field, gate->rule))); /* the trace's lines may still say it */
    }
    assert_contains(h, rule_field(field, gate_named("clamp")->rule));
    assert_contains(en, rule_field(field, gate_named("clamp")->rule));
    /* the page ran backward: max routes to c (a tie), clamp passes, so dc = 2, and dw0 = 2 * ddot * x0 */
    assert_near(gg_grad(w0), 2 * 0.19661193324148185 * -1, 1e-12);
    free(h);
    free(en);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_circuit),     cmocka_unit_test(test_self_contained),
        cmocka_unit_test(test_escaping),    cmocka_unit_test(test_nan_inf),
        cmocka_unit_test(test_too_big),     cmocka_unit_test(test_tensor),
        cmocka_unit_test(test_not_editable), cmocka_unit_test(test_errors_and_lang),
        cmocka_unit_test(test_gate_texts),  cmocka_unit_test(test_big_tensor),
        cmocka_unit_test(test_korean_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
