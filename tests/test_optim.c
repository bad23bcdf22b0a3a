/* test_optim.c - every optimizer against hand-computed steps, weight decay,
 * the learning-rate schedules, and bad configurations.
 *
 * The problem: w = (1, -2), E = 1/2 * sum (w - 0.5)^2, so dE/dw = w - 0.5.
 * The expected values after three steps with lr 0.1 were worked out with the
 * formulas of gategrad/nn.h in Python (double precision); the first step of
 * each is also spelled out by hand below. */
#include "testutil.h"

#include "gategrad.h"

typedef struct problem {
    gg_graph *g;
    gg_node *w, *e;
    gg_optimizer *opt;
} problem;

static problem setup(gg_opt_kind kind, double weight_decay, gg_dtype dt)
{
    problem p = {.g = gg_graph_new()};
    p.w = gg_tensor(p.g, dt, 1, (int64_t[]){2}, NULL);
    double init[] = {1, -2};
    float initf[] = {1, -2};
    gg_set_data(p.g, p.w, dt == GG_F64 ? (void *)init : (void *)initf);
    gg_node *t = gg_input(p.g, dt, 1, (int64_t[]){2}, NULL);
    double tv[] = {0.5, 0.5};
    float tf[] = {0.5f, 0.5f};
    gg_set_data(p.g, t, dt == GG_F64 ? (void *)tv : (void *)tf);
    p.e = gg_half_sse_loss(p.g, p.w, t);
    gg_opt_config cfg = gg_opt_defaults(kind);
    cfg.lr = 0.1;
    cfg.eps = 1e-8;
    cfg.weight_decay = weight_decay;
    char err[GG_ERRLEN];
    p.opt = gg_optimizer_new(&cfg, &p.w, 1, err);
    if (!p.opt)
        fail_msg("%s", err);
    return p;
}

static void steps(problem *p, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(gg_forward(p->g, p->e), 0);
        gg_optimizer_zero_grad(p->opt);
        assert_int_equal(gg_backward(p->g, p->e), 0);
        gg_optimizer_step(p->opt);
    }
}

static void done(problem *p)
{
    gg_optimizer_free(p->opt);
    gg_graph_free(p->g);
}

static void check(gg_opt_kind kind, double wd, double first0, double first1, double w0, double w1)
{
    problem p = setup(kind, wd, GG_F64);
    steps(&p, 1);
    assert_near(gg_value_at(p.w, 0), first0, 1e-12);
    assert_near(gg_value_at(p.w, 1), first1, 1e-12);
    steps(&p, 2);
    assert_near(gg_value_at(p.w, 0), w0, 1e-12);
    assert_near(gg_value_at(p.w, 1), w1, 1e-12);
    done(&p);
}

/* Step 1 by hand: g = (0.5, -2.5). sgd: w - 0.1 g = (0.95, -1.75). */
static void sgd(void **state)
{
    (void)state;
    check(GG_OPT_SGD, 0, 0.95, -1.75, 0.86449999999999994, -1.3224999999999998);
}

/* Step 1: v = g, the same as sgd; then v = 0.9 v + g keeps momentum. */
static void momentum(void **state)
{
    (void)state;
    check(GG_OPT_MOMENTUM, 0, 0.95, -1.75, 0.74299999999999999, -0.71500000000000008);
}

/* Step 1: v = g, w -= 0.1 (g + 0.9 g) = (1 - 0.095, -2 + 0.475). */
static void nesterov(void **state)
{
    (void)state;
    check(GG_OPT_NESTEROV, 0, 0.905, -1.525, 0.66366049999999999, -0.31830249999999971);
}

/* Step 1: s = g^2, w -= 0.1 g / |g| = w - 0.1 sign(g) (up to eps). */
static void adagrad(void **state)
{
    (void)state;
    check(GG_OPT_ADAGRAD, 0, 1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 2.5 / (2.5 + 1e-8), 0.79089917997973003,
          -1.7749393627535781);
}

/* Step 1: s = 0.1 g^2, w -= 0.1 g / (sqrt(0.1) |g|) = w - sign(g) * 0.316... */
static void rmsprop(void **state)
{
    (void)state;
    check(GG_OPT_RMSPROP, 0, 1 - 0.1 * 0.5 / (sqrt(0.1 * 0.25) + 1e-8), -2 + 0.1 * 2.5 / (sqrt(0.1 * 6.25) + 1e-8),
          0.52443530418333673, -1.2983616000994815);
}

/* Step 1: with bias correction m^ = g and v^ = g^2, so w -= 0.1 sign(g). */
static void adam(void **state)
{
    (void)state;
    check(GG_OPT_ADAM, 0, 1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 2.5 / (2.5 + 1e-8), 0.70487125573945109,
          -1.7004739344730824);
}

/* Weight decay adds 0.01 w to the gradient: step 1 g = (0.51, -2.52). */
static void weight_decay(void **state)
{
    (void)state;
    check(GG_OPT_SGD, 0.01, 1 - 0.051, -2 + 0.252, 0.86193274899999994, -1.3177853480000001);
    check(GG_OPT_ADAM, 0.01, 1 - 0.1 * 0.51 / (0.51 + 1e-8), -2 + 0.1 * 2.52 / (2.52 + 1e-8), 0.70478570302204069,
          -1.7004750689031387);
}

/* f32 parameters follow the same arithmetic, rounded to float per step. */
static void f32_params(void **state)
{
    (void)state;
    problem p = setup(GG_OPT_ADAM, 0, GG_F32);
    steps(&p, 3);
    assert_near(gg_value_at(p.w, 0), 0.70487125573945109, 1e-6);
    assert_near(gg_value_at(p.w, 1), -1.7004739344730824, 1e-6);
    done(&p);
}

static void lr_can_change(void **state)
{
    (void)state;
    problem p = setup(GG_OPT_SGD, 0, GG_F64);
    gg_optimizer_set_lr(p.opt, 0.5);
    assert_near(gg_optimizer_lr(p.opt), 0.5, 0);
    steps(&p, 1);
    assert_near(gg_value_at(p.w, 0), 0.75, 1e-15);
    done(&p);
}

static void schedules(void **state)
{
    (void)state;
    gg_schedule cos = {.kind = GG_SCHED_COSINE, .min_factor = 0.01};
    assert_near(gg_schedule_lr(&cos, 0.1, 0, 100), 0.1, 1e-15);
    assert_near(gg_schedule_lr(&cos, 0.1, 25, 100), 0.0855017856687341, 1e-15);
    assert_near(gg_schedule_lr(&cos, 0.1, 50, 100), 0.1 * (0.01 + 0.99 * 0.5), 1e-15);
    assert_near(gg_schedule_lr(&cos, 0.1, 100, 100), 0.001, 1e-15);
    assert_near(gg_schedule_lr(&cos, 0.1, 200, 100), 0.001, 1e-15);
    gg_schedule step = {.kind = GG_SCHED_STEP, .step_size = 10, .gamma = 0.5};
    assert_near(gg_schedule_lr(&step, 0.1, 9, 100), 0.1, 1e-15);
    assert_near(gg_schedule_lr(&step, 0.1, 10, 100), 0.05, 1e-15);
    assert_near(gg_schedule_lr(&step, 0.1, 35, 100), 0.0125, 1e-15);
    gg_schedule constant = {.kind = GG_SCHED_CONSTANT};
    assert_near(gg_schedule_lr(&constant, 0.1, 35, 100), 0.1, 0);
    assert_near(gg_schedule_lr(NULL, 0.1, 35, 100), 0.1, 0);
}

static void names_and_errors(void **state)
{
    (void)state;
    gg_opt_kind k;
    assert_int_equal(gg_opt_parse("rmsprop", &k), 0);
    assert_int_equal(k, GG_OPT_RMSPROP);
    assert_string_equal(gg_opt_name(GG_OPT_NESTEROV), "nesterov");
    assert_int_not_equal(gg_opt_parse("adamw", &k), 0);
    assert_near(gg_opt_defaults(GG_OPT_ADAM).lr, 1e-3, 0);

    char err[GG_ERRLEN];
    gg_graph *g = gg_graph_new();
    gg_node *w = gg_tensor(g, GG_F64, 1, (int64_t[]){2}, NULL);
    gg_node *c = gg_input(g, GG_F64, 1, (int64_t[]){2}, NULL);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_MOMENTUM);
    cfg.momentum = 1.5;
    assert_null(gg_optimizer_new(&cfg, &w, 1, err));
    assert_contains(err, "momentum must be in [0,1)");
    cfg = gg_opt_defaults(GG_OPT_SGD);
    cfg.lr = -1;
    assert_null(gg_optimizer_new(&cfg, &w, 1, err));
    assert_contains(err, "lr must be >= 0");
    cfg.lr = 0.1;
    assert_null(gg_optimizer_new(&cfg, &c, 1, err));
    assert_contains(err, "parameter 0 is not a variable leaf");
    gg_node *sum = gg_add(g, w, w);
    assert_null(gg_optimizer_new(&cfg, &sum, 1, err));
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd),
        cmocka_unit_test(momentum),
        cmocka_unit_test(nesterov),
        cmocka_unit_test(adagrad),
        cmocka_unit_test(rmsprop),
        cmocka_unit_test(adam),
        cmocka_unit_test(weight_decay),
        cmocka_unit_test(f32_params),
        cmocka_unit_test(lr_can_change),
        cmocka_unit_test(schedules),
        cmocka_unit_test(names_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
