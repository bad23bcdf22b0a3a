/* boundary.c - a 2-16-16-2 tanh network learns the TensorFlow Playground's
 * spiral, and draws what it learned: the plane coloured by the predicted
 * class (':' sure of class 1, '.' leaning to it, blank class 0), the test points on top.
 * `gategrad train --data spiral --boundary spiral.svg` draws the same as an SVG. */
#include <gategrad.h>
#include <stdio.h>

#define COLS 64
#define ROWS 28

static void draw(gg_classifier *c, const gg_dataset *test)
{
    static float grid[ROWS * COLS * 2], probs[ROWS * COLS * 2];
    char pic[ROWS][COLS + 1];
    for (int r = 0; r < ROWS; r++)
        for (int k = 0; k < COLS; k++) {
            grid[2 * (r * COLS + k)] = -6.0f + 12.0f * ((float)k + 0.5f) / COLS;
            grid[2 * (r * COLS + k) + 1] = 6.0f - 12.0f * ((float)r + 0.5f) / ROWS;
        }
    char err[GG_ERRLEN];
    if (gg_classifier_predict(c, grid, ROWS * COLS, probs, err)) {
        fprintf(stderr, "boundary: %s\n", err);
        return;
    }
    for (int r = 0; r < ROWS; r++) {
        for (int k = 0; k < COLS; k++) {
            float p1 = probs[2 * (r * COLS + k) + 1];
            pic[r][k] = p1 > 0.5f ? (p1 > 0.9f ? ':' : '.') : ' ';
        }
        pic[r][COLS] = 0;
    }
    for (size_t i = 0; i < test->n; i++) {
        int k = (int)((test->x[2 * i] + 6) / 12 * COLS), r = (int)((6 - test->x[2 * i + 1]) / 12 * ROWS);
        if (k >= 0 && k < COLS && r >= 0 && r < ROWS)
            pic[r][k] = test->y[i] ? 'X' : 'o';
    }
    for (int r = 0; r < ROWS; r++)
        printf("|%s|\n", pic[r]);
}

int main(void)
{
    char err[GG_ERRLEN];
    gg_dataset train = {0}, test = {0};
    gg_mlp_spec spec;
    gg_classifier *c = NULL;
    if (gg_load_named_dataset("spiral", 1, &train, &test, err) ||
        gg_mlp_spec_parse("2-16-16-2:tanh", &spec, err) || !(c = gg_classifier_new(&spec, 32, 1, err))) {
        fprintf(stderr, "boundary: %s\n", err);
        return 1;
    }
    gg_fit_config cfg = {.epochs = 300, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = 1,
                         .schedule = {.kind = GG_SCHED_COSINE, .min_factor = 0.01}};
    cfg.opt.lr = 0.01;
    double acc;
    if (gg_classifier_fit(c, &train, NULL, &cfg, NULL, NULL, err) ||
        gg_classifier_evaluate(c, &test, NULL, &acc, NULL, err)) {
        fprintf(stderr, "boundary: %s\n", err);
        return 1;
    }
    printf("spiral: test accuracy %.3f (class 1: X on ':' / '.', class 0: o on blank)\n", acc);
    draw(c, &test);
    gg_classifier_free(c);
    gg_dataset_free(&train);
    gg_dataset_free(&test);
    return 0;
}
