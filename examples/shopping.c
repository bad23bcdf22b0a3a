/* shopping.c - the lecture's shopping graphs (seed 003, 계산그래프).
 *
 * Apples: 2 apples at 100 each with 10% tax, price = 100 * 2 * 1.1 = 220;
 * dprice/dapple = 2.2, dprice/dcount = 110, dprice/dtax = 200.
 * Apples and oranges: (100*2 + 150*3) * 1.1 = 715; d/dapple = 2.2,
 * d/dapple_count = 110, d/dorange = 3.3, d/dorange_count = 165, d/dtax = 650. */
#include <gategrad.h>
#include <stdio.h>

static gg_node *item(gg_graph *g, const char *name, double value)
{
    gg_node *n = gg_scalar(g, value);
    gg_set_label(g, n, name);
    return n;
}

static int traced_backward(gg_graph *g, gg_node *price)
{
    gg_tracer *trace = gg_trace_file(g, stdout, NULL);
    int rc = !price || !trace || gg_forward(g, price) || gg_backward(g, price);
    gg_trace_end(trace);
    if (rc)
        fprintf(stderr, "shopping: %s\n", gg_error(g));
    return rc;
}

int main(void)
{
    gg_graph *g = gg_graph_new();
    gg_node *apple = item(g, "apple", 100), *count = item(g, "apple_count", 2);
    gg_node *tax = item(g, "tax", 1.1);
    gg_node *apples = gg_mul(g, apple, count);
    gg_set_label(g, apples, "apples");
    gg_node *price = gg_mul(g, apples, tax);
    gg_set_label(g, price, "price");
    printf("== 2 apples at 100, tax 1.1 ==\n");
    if (traced_backward(g, price))
        return 1;
    printf("price = %g; dapple = %g, dapple_count = %g, dtax = %g\n", gg_value(price),
           gg_grad(apple), gg_grad(count), gg_grad(tax));
    gg_graph_free(g);

    g = gg_graph_new();
    apple = item(g, "apple", 100);
    count = item(g, "apple_count", 2);
    gg_node *orange = item(g, "orange", 150), *ocount = item(g, "orange_count", 3);
    tax = item(g, "tax", 1.1);
    apples = gg_mul(g, apple, count);
    gg_node *oranges = gg_mul(g, orange, ocount);
    gg_node *total = gg_add(g, apples, oranges);
    price = gg_mul(g, total, tax);
    gg_set_label(g, apples, "apples");
    gg_set_label(g, oranges, "oranges");
    gg_set_label(g, total, "total");
    gg_set_label(g, price, "price");
    printf("\n== 2 apples at 100 and 3 oranges at 150, tax 1.1 ==\n");
    if (traced_backward(g, price))
        return 1;
    printf("price = %g; dapple = %g, dapple_count = %g, dorange = %g, dorange_count = %g, "
           "dtax = %g\n", gg_value(price), gg_grad(apple), gg_grad(count), gg_grad(orange),
           gg_grad(ocount), gg_grad(tax));
    gg_graph_free(g);
    return 0;
}
