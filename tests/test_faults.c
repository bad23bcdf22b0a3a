/* test_faults.c - allocation-failure injection (built with
 * -Dfault_injection=true): every scenario is run with its 1st, 2nd, ...
 * allocation failing, until a run completes without reaching the fault.
 * Each failure must come back as a clean error; LeakSanitizer (in the ASan
 * build) checks that none of them leaks. */
#include "testutil.h"

#include "fault.h"
#include "gategrad.h"

typedef int (*scenario_fn)(char *err, size_t errlen);

/* Runs fn with allocation n failing for n = 1, 2, ... Returns how many
 * failure points were exercised. */
static unsigned long exhaust(const char *name, scenario_fn fn)
{
    for (unsigned long n = 1;; n++) {
        char err[GG_ERRLEN] = "";
        gg__fault_arm(n);
        int rc = fn(err, sizeof err);
        unsigned long reached = gg__fault_count();
        gg__fault_arm(0);
        if (reached < n) {
            if (rc != 0)
                fail_msg("%s: failed with no allocation failing: %s", name, err);
            print_message("%s: %lu allocation-failure points, each a clean error\n", name, n - 1);
            return n - 1;
        }
        if (rc == 0)
            fail_msg("%s: allocation %lu failed but the scenario reported success", name, n);
        if (!err[0])
            fail_msg("%s: allocation %lu failed without an error message", name, n);
    }
}

static int graph_error(gg_graph *g, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", g && gg_error(g) ? gg_error(g) : "out of memory creating the graph");
    gg_graph_free(g);
    return -1;
}

/* Scalars, tensors, labels, every kind of gate, forward and backward. */
static int build_and_backprop(char *err, size_t errlen)
{
    gg_graph *g = gg_graph_new();
    if (!g)
        return graph_error(g, err, errlen);
    gg_node *x = gg_scalar(g, 0.5), *y = gg_scalar(g, -1.5);
    if (!x || gg_set_label(g, x, "x") || gg_set_label(g, y, "y"))
        return graph_error(g, err, errlen);
    gg_node *s = gg_sigmoid(g, gg_add(g, gg_mul(g, x, y), gg_max(g, x, y)));
    gg_node *A = gg_tensor(g, GG_F32, 2, (int64_t[]){64, 300}, NULL);
    gg_node *B = gg_tensor(g, GG_F32, 2, (int64_t[]){300, 40}, NULL);
    gg_node *b = gg_tensor(g, GG_F32, 1, (int64_t[]){40}, NULL);
    gg_node *h = gg_relu(g, gg_add(g, gg_matmul(g, A, B), b));
    gg_node *l = gg_mean(g, gg_log_softmax(g, h));
    for (int i = 0; i < 2000 && s; i++) /* enough nodes to need a second chunk */
        s = gg_add(g, s, x);
    if (!s || !l || gg_backward(g, s) || gg_forward(g, l) || gg_backward(g, l) || gg_forward(g, s))
        return graph_error(g, err, errlen);
    gg_graph_free(g);
    return 0;
}

static void core_allocation_failures(void **state)
{
    (void)state;
    assert_true(exhaust("build and back-propagate a graph", build_and_backprop) >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(core_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
