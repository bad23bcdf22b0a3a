/* test_report.c - the training report (gg_train_report_html): one
 * self-contained page, its numbers, its escaping, NaN and Inf, its
 * refusals; the standalone boundary picture (gg_train_report_svg); the
 * grid of gg_train_report_view. The page in a browser is
 * tests/test_train_report.sh's. */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "gategrad.h"

static char dir[] = "/tmp/gg_report_test.XXXXXX";
static char path[4096];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/report.html", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t count(const char *h, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(h, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Every http(s) reference in h is an xmlns. */
static void assert_no_address(const char *h)
{
    for (const char *p = strstr(h, "http"); p; p = strstr(p + 1, "http")) {
        if (strncmp(p, "http-equiv", 10) == 0)
            continue;
        bool svg_ns = p - h >= 7 && strncmp(p - 7, "xmlns=", 6) == 0 &&
                      strncmp(p, "http://www.w3.org/2000/svg", 26) == 0;
        if (!svg_ns)
            fail_msg("a network address in the page: '%.60s'", p);
    }
}

static char *written(const gg_train_report *r)
{
    char err[GG_ERRLEN] = "";
    if (gg_train_report_html(r, path, err))
        fail_msg("gg_train_report_html: %s", err);
    return slurp(path);
}

/* A 3-epoch run of a 2-layer model on 4 points, boundaries at epochs 1 and 3. */
static const double norms[3][2] = {{0.0125, 0.5}, {0.02, 0.4}, {0.03, 0.3}};
static const float pts[8] = {-1, -1, 1, 1, -1, 1, 1, -1};
static const int32_t labels[4] = {0, 0, 1, 1};
static float probs[2][4 * 4 * 2];

static gg_train_report run3(gg_report_epoch *ep)
{
    for (int f = 0; f < 2; f++)
        for (int c = 0; c < 16; c++) {
            probs[f][2 * c] = c < 8 ? 0.9f : 0.2f; /* class 0 below, 1 above */
            probs[f][2 * c + 1] = 1 - probs[f][2 * c];
        }
    ep[0] = (gg_report_epoch){1, 0.6931, 0.7012, 0.5, 0.01, norms[0], probs[0]};
    ep[1] = (gg_report_epoch){2, 0.5123, 0.5555, 0.75, 0.005, norms[1], NULL};
    ep[2] = (gg_report_epoch){3, 0.25, 0.3125, 1, 0.0001, norms[2], probs[1]};
    gg_train_report r = {.data = "xor", .model = "2-4-2:tanh", .summary = "Model: \"2-4-2:tanh\"",
                         .epochs = ep, .nepochs = 3, .nlayers = 2, .test_loss = 0.34375,
                         .test_accuracy = 0.875, .classes = 2, .points = pts, .labels = labels, .npoints = 4};
    gg_train_report_view(&r, 4, NULL);
    return r;
}

static void test_structure(void **state)
{
    (void)state;
    gg_report_epoch ep[3];
    gg_train_report r = run3(ep);
    char *h = written(&r);
    assert_non_null(h);
    assert_contains(h, "<!DOCTYPE html>");
    assert_contains(h, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';");
    assert_no_address(h);
    assert_int_equal(count(h, "<script"), 2); /* the data and the slider's script, both inline */
    assert_int_equal(count(h, "src="), 0);
    assert_contains(h, "<title>gategrad training report</title>");
    assert_contains(h, "data <b id=\"gg-data\">xor</b>");
    assert_contains(h, "test accuracy <b id=\"gg-test-accuracy\">0.8750</b>");
    assert_contains(h, "test loss <b id=\"gg-test-loss\">0.3438</b>");
    /* one table row per epoch with its numbers */
    assert_contains(h, "<tr><td>1</td><td>0.6931</td><td>0.7012</td><td>0.5000</td><td>0.01</td></tr>");
    assert_contains(h, "<tr><td>3</td><td>0.2500</td><td>0.3125</td><td>1.0000</td><td>0.0001</td></tr>");
    /* three curves; the boundary at epochs 1 and 3, the last shown */
    assert_int_equal(count(h, "<polyline class='gg-series' data-name='train loss'"), 1);
    assert_int_equal(count(h, "class=\"gg-frame\""), 2);
    assert_contains(h, "<g class=\"gg-frame\" data-epoch=\"1\" display=\"none\">");
    assert_contains(h, "<g class=\"gg-frame\" data-epoch=\"3\" display=\"inline\">");
    assert_contains(h, "id=\"gg-slider\" min=\"0\" max=\"1\" value=\"1\"");
    assert_contains(h, "\"epochs\":3,\"frames\":[1,3]");
    /* each 4-cell row is one class: one rect per row per frame, class 0
     * (orange) in the lower rows, which SVG draws at the bottom (y 2, 3) */
    assert_int_equal(count(h, "width=\"4\" height=\"1\""), 8);
    assert_contains(h, "<rect x=\"0\" y=\"3\" width=\"4\" height=\"1\" fill=\"#f59322\"");
    assert_contains(h, "<rect x=\"0\" y=\"0\" width=\"4\" height=\"1\" fill=\"#0877bd\"");
    assert_int_equal(count(h, "<circle "), 4);
    /* gradient norms: the table, the legend, fc1 over fc2 at the first and last epochs */
    assert_contains(h, "<tr><td>1</td><td>0.0125</td><td>0.5</td></tr>");
    assert_contains(h, "<b id=\"gg-norm-ratio-first\">0.025</b> at epoch 1");
    assert_contains(h, "<b id=\"gg-norm-ratio-last\">0.1</b> at epoch 3");
    assert_int_equal(count(h, "data-name='grad norm'"), 2);
    assert_contains(h, "<pre id=\"gg-summary\">Model: &quot;2-4-2:tanh&quot;</pre>");
    free(h);
}

static void test_escaping(void **state)
{
    (void)state;
    gg_report_epoch ep[3];
    gg_train_report r = run3(ep);
    const char *evil = "<b>\"x\" & 'y'</script><script>alert(1)</script>";
    const char *names[2] = {evil, "fc<2>"};
    r.title = evil;
    r.data = evil;
    r.model = evil;
    r.summary = evil;
    r.layer_names = names;
    char *h = written(&r);
    assert_non_null(h);
    assert_null(strstr(h, "<b>\"x\""));
    assert_null(strstr(h, "alert(1)</script>"));
    assert_null(strstr(h, "fc<2>"));
    assert_int_equal(count(h, "</script>"), 2); /* only the page's own two */
    assert_contains(h, "<title>&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>");
    assert_contains(h, "<th>fc&lt;2&gt;</th>");
    /* JSON in the script: <, >, &, / and quotes as \u escapes */
    assert_contains(h, "{\"title\":\"\\u003cb\\u003e\\u0022x\\u0022 \\u0026 \\u0027y\\u0027\\u003c\\u002fscript\\u003e");
    assert_no_address(h);
    free(h);
}

static void test_nan_inf(void **state)
{
    (void)state;
    double bad_norms[2] = {NAN, INFINITY};
    gg_report_epoch ep[2] = {{1, INFINITY, NAN, NAN, 0.01, bad_norms, NULL},
                             {2, -INFINITY, NAN, NAN, 0.01, bad_norms, NULL}};
    gg_train_report r = {.epochs = ep, .nepochs = 2, .nlayers = 2, .test_loss = NAN, .test_accuracy = NAN};
    char *h = written(&r);
    assert_non_null(h);
    assert_contains(h, "<tr><td>1</td><td>Inf</td><td>NaN</td><td>NaN</td><td>0.01</td></tr>");
    assert_contains(h, "<tr><td>2</td><td>-Inf</td><td>NaN</td><td>NaN</td><td>0.01</td></tr>");
    assert_contains(h, "<tr><td>1</td><td>NaN</td><td>Inf</td></tr>");
    assert_contains(h, "test loss <b id=\"gg-test-loss\">NaN</b>");
    assert_contains(h, "\"test_accuracy\":\"NaN\"");
    assert_null(strstr(h, "points='")); /* nothing to draw: no line at all */
    assert_null(strstr(h, "nan"));
    assert_null(strstr(h, "inf"));
    assert_null(strstr(h, "id=\"gg-boundary\"")); /* no boundary without probs */
    free(h);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_report_epoch ep[3];
    gg_train_report r = run3(ep);
    unlink(path);
    assert_int_equal(gg_train_report_html(NULL, path, err), -1);
    assert_contains(err, "NULL report");
    assert_int_equal(gg_train_report_html(&r, NULL, err), -1);
    assert_contains(err, "NULL path");
    gg_train_report bad = r;
    bad.grid = 0;
    assert_int_equal(gg_train_report_html(&bad, path, err), -1);
    assert_contains(err, "epoch 1 has a decision boundary but the report no grid");
    bad = r;
    int32_t wrong[4] = {0, 1, 2, 0};
    bad.labels = wrong;
    assert_int_equal(gg_train_report_html(&bad, path, err), -1);
    assert_contains(err, "point 2 has label 2, not a class of 0..1");
    bad = r;
    bad.nlayers = 65;
    assert_int_equal(gg_train_report_html(&bad, path, err), -1);
    assert_contains(err, "nlayers <= 64");
    assert_int_equal(access(path, F_OK), -1); /* none of them wrote anything */
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no/such/dir/r.html", dir);
    assert_int_equal(gg_train_report_html(&r, missing, err), -1);
    assert_contains(err, "no/such/dir");
}

/* The old page stays whole until the new one replaces it. */
static void test_atomic(void **state)
{
    (void)state;
    gg_report_epoch ep[3];
    gg_train_report r = run3(ep);
    char *h = written(&r);
    r.data = "spiral";
    char *again = written(&r);
    assert_contains(again, "data <b id=\"gg-data\">spiral</b>");
    assert_null(strstr(again, "data <b id=\"gg-data\">xor</b>"));
    /* no temporary file is left beside it */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    free(h);
    free(again);
}

/* The standalone picture: the last epoch's boundary alone, under the points. */
static void test_svg(void **state)
{
    (void)state;
    char err[GG_ERRLEN] = "", svg[4200];
    snprintf(svg, sizeof svg, "%s/b.svg", dir);
    gg_report_epoch ep[3];
    gg_train_report r = run3(ep);
    for (int c = 0; c < 16; c++) /* epoch 3: class 1 everywhere, confident */
        probs[1][2 * c] = 0.05f, probs[1][2 * c + 1] = 0.95f;
    assert_int_equal(gg_train_report_svg(&r, svg, err), 0);
    char *h = slurp(svg);
    assert_non_null(h);
    assert_int_equal(strncmp(h, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 4 4\"", 51), 0);
    assert_int_equal(count(h, "class=\"gg-frame\""), 1);
    assert_contains(h, "<g class=\"gg-frame\" data-epoch=\"3\" display=\"inline\">");
    assert_int_equal(count(h, "<rect "), 4); /* one run per row */
    assert_contains(h, "<rect x=\"0\" y=\"3\" width=\"4\" height=\"1\" fill=\"#0877bd\" fill-opacity=\"0.58\"/>");
    assert_int_equal(count(h, "<circle "), 4);
    assert_contains(h, "fill=\"#f59322\"/>"); /* the class-0 points */
    assert_null(strstr(h, "<section"));
    assert_int_equal(strcmp(h + strlen(h) - 7, "</svg>\n"), 0);
    free(h);
    unlink(svg);

    for (int i = 0; i < 3; i++)
        ep[i].probs = NULL;
    assert_int_equal(gg_train_report_svg(&r, svg, err), -1);
    assert_contains(err, "no epoch of the report has a decision boundary");
    int32_t wrong[4] = {0, 1, 2, 0};
    r = run3(ep);
    r.labels = wrong;
    assert_int_equal(gg_train_report_svg(&r, svg, err), -1);
    assert_contains(err, "point 2 has label 2");
    assert_int_equal(access(svg, F_OK), -1);
}

static void test_view(void **state)
{
    (void)state;
    gg_train_report r = {.points = (const float[]){0, 0, 2, 1}, .npoints = 2};
    float xy[2 * 2 * 2];
    gg_train_report_view(&r, 2, xy);
    double span = 2 * 1.1 + 1e-6;
    assert_int_equal(r.grid, 2);
    assert_near(r.span, span, 1e-12);
    assert_near(r.xmin, (2 - span) / 2, 1e-12);
    assert_near(r.ymin, (1 - span) / 2, 1e-12);
    /* row 0 is the bottom row, column 0 the left */
    assert_near(xy[0], r.xmin + span / 4, 1e-6);
    assert_near(xy[1], r.ymin + span / 4, 1e-6);
    assert_near(xy[2], r.xmin + 3 * span / 4, 1e-6);
    assert_near(xy[7], r.ymin + 3 * span / 4, 1e-6);
    gg_train_report none = {0};
    gg_train_report_view(&none, 3, NULL);
    assert_near(none.xmin, -1.1 - 5e-7, 1e-9);
    assert_near(none.span, 2.2 + 1e-6, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure), cmocka_unit_test(test_escaping), cmocka_unit_test(test_nan_inf),
        cmocka_unit_test(test_refusals),  cmocka_unit_test(test_atomic),   cmocka_unit_test(test_svg),
        cmocka_unit_test(test_view),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
