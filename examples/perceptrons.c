/* perceptrons.c - step perceptrons y = step(w1 x1 + w2 x2 + b) for AND, OR
 * and NAND, and the hand-wired 2-2-1 network XOR = AND(OR, NAND) (§8).
 * Each is an MLP with the step activation whose weights are set by name;
 * all four inputs go through at once as one batch. */
#include <gategrad.h>
#include <stdio.h>

static const double inputs[] = {0, 0, 0, 1, 1, 0, 1, 1};

/* Builds spec over the four inputs, sets its weights and biases, prints it. */
static int show(const char *title, const char *spec_text, const double *w1, const double *b1, const double *w2,
                const double *b2)
{
    char err[GG_ERRLEN];
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){4, 2}, inputs);
    gg_mlp_spec spec;
    gg_mlp *m = gg_mlp_spec_parse(spec_text, &spec, err) ? NULL : gg_mlp_new(g, x, &spec, 1, err);
    if (!m) {
        fprintf(stderr, "perceptrons: %s\n", err);
        gg_graph_free(g);
        return 1;
    }
    gg_set_data(g, gg_find(g, "fc1.weight"), w1);
    gg_set_data(g, gg_find(g, "fc1.bias"), b1);
    if (w2) {
        gg_set_data(g, gg_find(g, "fc2.weight"), w2);
        gg_set_data(g, gg_find(g, "fc2.bias"), b2);
    }
    gg_node *y = gg_mlp_output(m);
    gg_forward(g, y);
    printf("%-5s", title);
    for (size_t i = 0; i < 4; i++)
        printf("  %g %g -> %g", inputs[2 * i], inputs[2 * i + 1], gg_value_at(y, i));
    printf("\n");
    gg_mlp_free(m);
    gg_graph_free(g);
    return 0;
}

int main(void)
{
    int bad = 0;
    bad |= show("AND", "2-1:linear:out=step", (double[]){1, 1}, (double[]){-1.5}, NULL, NULL);
    bad |= show("OR", "2-1:linear:out=step", (double[]){1, 1}, (double[]){-0.5}, NULL, NULL);
    bad |= show("NAND", "2-1:linear:out=step", (double[]){-1, -1}, (double[]){1.5}, NULL, NULL);
    /* Hidden unit 1 is OR, hidden unit 2 is NAND, the output ANDs them. */
    bad |= show("XOR", "2-2-1:step:out=step", (double[]){1, -1, 1, -1}, (double[]){-0.5, 1.5},
                (double[]){1, 1}, (double[]){-1.5});
    return bad;
}
