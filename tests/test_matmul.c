/* test_matmul.c - gg_matmul with NumPy's rules: the dot product,
 * vector-matrix, matrix-vector, matrix-matrix, batches of matrices whose
 * batch dimensions broadcast either way, a 1-D operand with a batched one.
 * Values and gradients by hand, output shapes, gradient checking, f32
 * against f64, errors, the 2-D path bit for bit against the GEMM kernel,
 * re-running, and torch.matmul's numbers (tests/fixtures/torch_matmul.h). */
#include "testutil.h"

#include "fixtures/torch_matmul.h"
#include "gategrad.h"
#include "kernels/kernels.h"

/* A leaf of dtype dt and the given shape holding v (converted), or n
 * values drawn from seed when v is NULL. */
static double drawn(int seed, size_t i) { return 1.3 * sin(0.7 + 1.9 * seed + 1.37 * (double)i); }

static gg_node *leaf(gg_graph *g, gg_dtype dt, int rank, const int64_t *dims, const double *v, int seed,
                     bool variable)
{
    gg_node *x = variable ? gg_tensor(g, dt, rank, dims, NULL) : gg_input(g, dt, rank, dims, NULL);
    assert_non_null(x);
    for (size_t i = 0, n = gg_numel(x); i < n; i++) {
        double e = v ? v[i] : drawn(seed, i);
        if (dt == GG_F64)
            ((double *)gg_data(x))[i] = e;
        else
            ((float *)gg_data(x))[i] = (float)e;
    }
    return x;
}

static gg_node *var(gg_graph *g, int rank, const int64_t *dims, const double *v)
{
    return leaf(g, GG_F64, rank, dims, v, 0, true);
}

static void expect_shape(const gg_node *n, int rank, const int64_t *dims)
{
    int64_t got[GG_MAX_DIMS];
    assert_non_null(n);
    assert_int_equal(gg_shape(n, got), rank);
    for (int i = 0; i < rank; i++)
        if (got[i] != dims[i])
            fail_msg("dimension %d is %lld, expected %lld", i, (long long)got[i], (long long)dims[i]);
}

static void expect_values(const gg_node *n, size_t count, const double *want, bool grad)
{
    assert_int_equal(gg_numel(n), count);
    for (size_t i = 0; i < count; i++) {
        double got = grad ? gg_grad_at(n, i) : gg_value_at(n, i);
        if (got != want[i])
            fail_msg("%s[%zu] = %.17g, expected %.17g", grad ? "grad" : "value", i, got, want[i]);
    }
}

/* ---- by hand ------------------------------------------------------------- */

/* [k] x [k]: a rank-0 node; d(a.b)/da = b, /db = a. */
static void dot_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = var(g, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    gg_node *b = var(g, 1, (int64_t[]){3}, (double[]){4, -5, 6});
    gg_node *z = gg_matmul(g, a, b);
    expect_shape(z, 0, NULL);
    assert_true(gg_value(z) == 12);
    assert_int_equal(gg_backward_seed(g, z, (double[]){2}), 0);
    expect_values(a, 3, (double[]){8, -10, 12}, true);
    expect_values(b, 3, (double[]){2, 4, 6}, true);

    /* x . x: both gradients land in x, 2x in all. */
    gg_zero_grad(g);
    gg_node *xx = gg_matmul(g, a, a);
    assert_true(gg_value(xx) == 14);
    assert_int_equal(gg_backward(g, xx), 0);
    expect_values(a, 3, (double[]){2, 4, 6}, true);

    /* In f32 the scalar is stored inline too. */
    gg_node *af = leaf(g, GG_F32, 1, (int64_t[]){3}, (double[]){1, 2, 3}, 0, true);
    gg_node *bf = leaf(g, GG_F32, 1, (int64_t[]){3}, (double[]){0.5, -0.25, 4}, 0, true);
    gg_node *zf = gg_matmul(g, af, bf);
    assert_int_equal(gg_node_dtype(zf), GG_F32);
    assert_true(gg_value(zf) == 12);
    assert_int_equal(gg_backward(g, zf), 0);
    expect_values(bf, 3, (double[]){1, 2, 3}, true);
    gg_graph_free(g);
}

/* [2,3] x [3] -> [2] and [2] x [2,3] -> [3]. */
static void matrix_vector_and_vector_matrix(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    const double av[] = {1, 2, 3, 4, 5, 6};
    gg_node *A = var(g, 2, (int64_t[]){2, 3}, av);
    gg_node *x = var(g, 1, (int64_t[]){3}, (double[]){1, 0, -1});
    gg_node *Ax = gg_matmul(g, A, x);
    expect_shape(Ax, 1, (int64_t[]){2});
    expect_values(Ax, 2, (double[]){-2, -2}, false);
    /* dA = seed (outer) x, dx = A^T seed */
    assert_int_equal(gg_backward_seed(g, Ax, (double[]){1, 10}), 0);
    expect_values(A, 6, (double[]){1, 0, -1, 10, 0, -10}, true);
    expect_values(x, 3, (double[]){41, 52, 63}, true);

    gg_zero_grad(g);
    gg_node *y = var(g, 1, (int64_t[]){2}, (double[]){1, 2});
    gg_node *yA = gg_matmul(g, y, A);
    expect_shape(yA, 1, (int64_t[]){3});
    expect_values(yA, 3, (double[]){9, 12, 15}, false);
    /* dy = A seed, dA = y (outer) seed */
    assert_int_equal(gg_backward_seed(g, yA, (double[]){1, 0, -1}), 0);
    expect_values(y, 2, (double[]){-2, -2}, true);
    expect_values(A, 6, (double[]){1, 0, -1, 2, 0, -2}, true);
    gg_graph_free(g);
}

static void matrix_matrix(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *A = var(g, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
    gg_node *B = var(g, 2, (int64_t[]){2, 2}, (double[]){5, 6, 7, 8});
    gg_node *C = gg_matmul(g, A, B);
    expect_shape(C, 2, (int64_t[]){2, 2});
    expect_values(C, 4, (double[]){19, 22, 43, 50}, false);
    /* dA = 1 . B^T (row sums of B), dB = A^T . 1 (column sums of A) */
    assert_int_equal(gg_backward(g, gg_sum(g, C)), 0);
    expect_values(A, 4, (double[]){11, 15, 11, 15}, true);
    expect_values(B, 4, (double[]){4, 4, 6, 6}, true);
    gg_graph_free(g);
}

/* a [2,1,1,2] (A0 = [1 2], A1 = [3 4]) x b [3,2,1] (B0 = [1 0]^T,
 * B1 = [0 1]^T, B2 = [1 1]^T) -> [2,3,1,1], z[i][j] = Ai . Bj: a is
 * broadcast over b's batch of 3 and b over a's batch of 2, so with seed
 * s[i][j], dAi = sum_j s[i][j] Bj^T and dBj = sum_i s[i][j] Ai^T. */
static void batches_broadcast_both_ways(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = var(g, 4, (int64_t[]){2, 1, 1, 2}, (double[]){1, 2, 3, 4});
    gg_node *b = var(g, 3, (int64_t[]){3, 2, 1}, (double[]){1, 0, 0, 1, 1, 1});
    gg_node *z = gg_matmul(g, a, b);
    expect_shape(z, 4, (int64_t[]){2, 3, 1, 1});
    expect_values(z, 6, (double[]){1, 2, 3, 3, 4, 7}, false);
    assert_int_equal(gg_backward_seed(g, z, (double[]){1, 2, 3, 4, 5, 6}), 0);
    expect_values(a, 4, (double[]){4, 5, 10, 11}, true);
    expect_values(b, 6, (double[]){13, 18, 17, 24, 21, 30}, true);

    /* The outer batch dimension of rank 4: c [1,2,1,1] = (2, 3) against
     * d [2,1,1,1] = (5, 7) -> [2,2,1,1], z[i][j] = c[j] d[i]. */
    gg_node *c = var(g, 4, (int64_t[]){1, 2, 1, 1}, (double[]){2, 3});
    gg_node *d = var(g, 4, (int64_t[]){2, 1, 1, 1}, (double[]){5, 7});
    gg_node *cd = gg_matmul(g, c, d);
    expect_shape(cd, 4, (int64_t[]){2, 2, 1, 1});
    expect_values(cd, 4, (double[]){10, 15, 14, 21}, false);
    assert_int_equal(gg_backward_seed(g, cd, (double[]){1, 2, 3, 4}), 0);
    expect_values(c, 2, (double[]){1 * 5 + 3 * 7, 2 * 5 + 4 * 7}, true);
    expect_values(d, 2, (double[]){1 * 2 + 2 * 3, 3 * 2 + 4 * 3}, true);
    gg_graph_free(g);
}

/* A batched operand against a 2-D one, either side: the 2-D operand's
 * gradient is the sum over the batch. */
static void batch_against_matrix(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    /* [3,1,2] x [2,1]: rows [1 2], [3 4], [5 6] times [1 1]^T */
    gg_node *a = var(g, 3, (int64_t[]){3, 1, 2}, (double[]){1, 2, 3, 4, 5, 6});
    gg_node *b = var(g, 2, (int64_t[]){2, 1}, (double[]){1, 1});
    gg_node *z = gg_matmul(g, a, b);
    expect_shape(z, 3, (int64_t[]){3, 1, 1});
    expect_values(z, 3, (double[]){3, 7, 11}, false);
    assert_int_equal(gg_backward_seed(g, z, (double[]){1, 2, 3}), 0);
    expect_values(a, 6, (double[]){1, 1, 2, 2, 3, 3}, true);
    expect_values(b, 2, (double[]){1 + 6 + 15, 2 + 8 + 18}, true);

    /* [1,2] x [2,2,1]: [1 -1] times [3 1]^T and [5 2]^T */
    gg_node *c = var(g, 2, (int64_t[]){1, 2}, (double[]){1, -1});
    gg_node *d = var(g, 3, (int64_t[]){2, 2, 1}, (double[]){3, 1, 5, 2});
    gg_node *cd = gg_matmul(g, c, d);
    expect_shape(cd, 3, (int64_t[]){2, 1, 1});
    expect_values(cd, 2, (double[]){2, 3}, false);
    assert_int_equal(gg_backward_seed(g, cd, (double[]){1, 10}), 0);
    expect_values(c, 2, (double[]){53, 21}, true);
    expect_values(d, 4, (double[]){1, -1, 10, -10}, true);
    gg_graph_free(g);
}

/* [2] x [3,2,2] -> [3,2] and [3,2,2] x [2] -> [3,2]: the vector goes with
 * every matrix of the batch and receives the sum over it. */
static void vector_with_batch(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    const double mats[] = {1, 0, 0, 1, /**/ 2, 1, 0, 1, /**/ 0, 0, 1, 1};
    gg_node *v = var(g, 1, (int64_t[]){2}, (double[]){1, 2});
    gg_node *B = var(g, 3, (int64_t[]){3, 2, 2}, mats);
    gg_node *vB = gg_matmul(g, v, B);
    expect_shape(vB, 2, (int64_t[]){3, 2});
    expect_values(vB, 6, (double[]){1, 2, 2, 3, 2, 2}, false);
    assert_int_equal(gg_backward(g, gg_sum(g, vB)), 0);
    expect_values(v, 2, (double[]){1 + 3 + 0, 1 + 1 + 2}, true); /* row sums of each Bj */
    expect_values(B, 12, (double[]){1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2}, true);

    gg_zero_grad(g);
    gg_node *Bv = gg_matmul(g, B, v);
    expect_shape(Bv, 2, (int64_t[]){3, 2});
    expect_values(Bv, 6, (double[]){1, 2, 4, 2, 0, 3}, false);
    /* dv = sum_j Bj^T s_j, dBj = s_j (outer) v */
    assert_int_equal(gg_backward_seed(g, Bv, (double[]){1, 2, 3, 4, 5, 6}), 0);
    expect_values(v, 2, (double[]){1 + 6 + 6, 2 + 7 + 6}, true);
    expect_values(B, 12, (double[]){1, 2, 2, 4, 3, 6, 4, 8, 5, 10, 6, 12}, true);
    gg_graph_free(g);
}

/* Output shapes of every form, ranks 1 to 4. */
static void output_shapes(void **state)
{
    (void)state;
    static const struct {
        int ra, rb, rz;
        int64_t a[4], b[4], z[4];
    } cases[] = {
        {1, 1, 0, {1}, {1}, {0}},
        {1, 2, 1, {3}, {3, 1}, {1}},
        {2, 1, 1, {1, 3}, {3}, {1}},
        {2, 2, 2, {1, 3}, {3, 1}, {1, 1}},
        {4, 3, 4, {2, 1, 3, 4}, {5, 4, 6}, {2, 5, 3, 6}},
        {3, 4, 4, {5, 3, 4}, {2, 1, 4, 6}, {2, 5, 3, 6}},
        {3, 3, 3, {1, 3, 4}, {7, 4, 2}, {7, 3, 2}},
        {4, 4, 4, {1, 2, 3, 4}, {3, 1, 4, 2}, {3, 2, 3, 2}},
        {1, 4, 3, {4}, {2, 3, 4, 5}, {2, 3, 5}},
        {4, 1, 3, {2, 3, 5, 4}, {4}, {2, 3, 5}},
        {1, 3, 2, {4}, {1, 4, 5}, {1, 5}},
        {2, 4, 4, {3, 4}, {2, 2, 4, 5}, {2, 2, 3, 5}},
    };
    gg_graph *g = gg_graph_new();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gg_node *a = leaf(g, GG_F64, cases[i].ra, cases[i].a, NULL, 1, true);
        gg_node *b = leaf(g, GG_F64, cases[i].rb, cases[i].b, NULL, 2, true);
        gg_node *z = gg_matmul(g, a, b);
        if (!z)
            fail_msg("case %zu: %s", i, gg_error(g));
        expect_shape(z, cases[i].rz, cases[i].z);
    }
    gg_graph_free(g);
}

/* ---- every form: gradient checking, f32 against f64 ------------------------ */

typedef struct form {
    int ra, rb;
    int64_t a[4], b[4];
} form;

static const form forms[] = {
    {1, 1, {4}, {4}},
    {1, 2, {3}, {3, 5}},
    {2, 1, {4, 3}, {3}},
    {2, 2, {3, 4}, {4, 2}},
    {2, 2, {9, 20}, {20, 13}},
    {3, 3, {2, 3, 4}, {2, 4, 5}},
    {4, 3, {2, 1, 3, 4}, {5, 4, 6}},
    {3, 4, {3, 2, 3}, {2, 1, 3, 2}},
    {4, 4, {1, 2, 3, 2}, {3, 1, 2, 4}},
    {3, 2, {3, 5, 4}, {4, 2}},
    {2, 3, {3, 2}, {4, 2, 5}},
    {1, 3, {4}, {3, 4, 2}},
    {3, 1, {2, 3, 4}, {4}},
    {1, 4, {3}, {2, 2, 3, 2}},
    {4, 1, {2, 1, 2, 3}, {3}},
};
#define NFORMS (sizeof forms / sizeof *forms)

/* sum(matmul(a, b) * w) over drawn a, b and a constant w. */
static gg_node *weighted(gg_graph *g, gg_dtype dt, const form *f, int seed, gg_node **a, gg_node **b)
{
    *a = leaf(g, dt, f->ra, f->a, NULL, seed, true);
    *b = leaf(g, dt, f->rb, f->b, NULL, seed + 1, true);
    gg_node *z = gg_matmul(g, *a, *b);
    assert_non_null(z);
    int64_t dims[GG_MAX_DIMS];
    int rz = gg_shape(z, dims);
    gg_node *w = leaf(g, dt, rz, dims, NULL, seed + 2, false);
    return gg_sum(g, gg_mul(g, z, w));
}

static void expect_gradcheck(gg_graph *g, gg_node *root, size_t i)
{
    gg_gradcheck_result r;
    int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-6, &r);
    if (rc != 0)
        fail_msg("form %zu: gradcheck rc=%d (%s): %zu/%zu failures, worst analytic %.12g numeric %.12g", i, rc,
                 gg_error(g) ? gg_error(g) : "", r.failures, r.checked, r.worst_analytic, r.worst_numeric);
    assert_true(r.checked > 0);
}

static void gradcheck_every_form(void **state)
{
    (void)state;
    for (size_t i = 0; i < NFORMS; i++) {
        gg_graph *g = gg_graph_new();
        gg_node *a, *b;
        expect_gradcheck(g, weighted(g, GG_F64, &forms[i], (int)i, &a, &b), i);
        gg_graph_free(g);
    }
    /* One operand constant (only the other receives), and one leaf on both sides. */
    gg_graph *g = gg_graph_new();
    gg_node *A = leaf(g, GG_F64, 3, (int64_t[]){2, 3, 3}, NULL, 40, true);
    gg_node *B = leaf(g, GG_F64, 2, (int64_t[]){3, 3}, NULL, 41, false);
    gg_node *v = leaf(g, GG_F64, 1, (int64_t[]){3}, NULL, 42, true);
    gg_node *w = leaf(g, GG_F64, 3, (int64_t[]){2, 3, 3}, NULL, 43, false);
    gg_node *AA = gg_matmul(g, A, A);             /* [2,3,3] . [2,3,3] */
    gg_node *BA = gg_matmul(g, B, gg_tanh(g, A)); /* B broadcast, constant */
    gg_node *vAv = gg_matmul(g, gg_matmul(g, v, A), v); /* [3] . [2,3,3] . [3] -> [2] */
    expect_gradcheck(g, gg_add(g, gg_sum(g, gg_mul(g, gg_add(g, AA, BA), w)), gg_sum(g, vAv)), NFORMS);
    gg_graph_free(g);
}

static void f32_agrees_with_f64(void **state)
{
    (void)state;
    for (size_t i = 0; i < NFORMS; i++) {
        gg_graph *g = gg_graph_new();
        gg_node *a32, *b32, *a64, *b64;
        gg_node *r32 = weighted(g, GG_F32, &forms[i], (int)i, &a32, &b32);
        gg_node *r64 = weighted(g, GG_F64, &forms[i], (int)i, &a64, &b64);
        assert_int_equal(gg_node_dtype(r32), GG_F32);
        assert_int_equal(gg_backward(g, r32), 0);
        assert_int_equal(gg_backward(g, r64), 0);
        gg_node *z32 = gg_node_input(gg_node_input(r32, 0), 0), *z64 = gg_node_input(gg_node_input(r64, 0), 0);
        assert_string_equal(gg_gate_name(z32), "matmul");
        assert_int_equal(gg_numel(z32), gg_numel(z64));
        for (size_t k = 0; k < gg_numel(z64); k++)
            assert_near(gg_value_at(z32, k), gg_value_at(z64, k), 1e-5 * (1 + fabs(gg_value_at(z64, k))));
        for (size_t k = 0; k < gg_numel(a64); k++)
            assert_near(gg_grad_at(a32, k), gg_grad_at(a64, k), 1e-5 * (1 + fabs(gg_grad_at(a64, k))));
        for (size_t k = 0; k < gg_numel(b64); k++)
            assert_near(gg_grad_at(b32, k), gg_grad_at(b64, k), 1e-5 * (1 + fabs(gg_grad_at(b64, k))));
        assert_true(gg_grad_at(a64, 0) != 0 && gg_grad_at(b64, 0) != 0);
        gg_graph_free(g);
    }
}

/* ---- errors ----------------------------------------------------------------- */

static void expect_error(gg_graph *g, const gg_node *z, const char *message)
{
    assert_null(z);
    assert_non_null(gg_error(g));
    assert_string_equal(gg_error(g), message);
    gg_clear_error(g);
}

static void errors_name_both_shapes(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *s = gg_scalar(g, 2);
    gg_node *v3 = leaf(g, GG_F64, 1, (int64_t[]){3}, NULL, 0, true);
    gg_node *v4 = leaf(g, GG_F64, 1, (int64_t[]){4}, NULL, 0, true);
    gg_node *m34 = leaf(g, GG_F64, 2, (int64_t[]){3, 4}, NULL, 0, true);
    gg_node *m42 = leaf(g, GG_F64, 2, (int64_t[]){4, 2}, NULL, 0, true);
    gg_node *b234 = leaf(g, GG_F64, 3, (int64_t[]){2, 3, 4}, NULL, 0, true);
    gg_node *b345 = leaf(g, GG_F64, 3, (int64_t[]){3, 4, 5}, NULL, 0, true);
    gg_node *q2134 = leaf(g, GG_F64, 4, (int64_t[]){2, 1, 3, 4}, NULL, 0, true);
    gg_node *q3342 = leaf(g, GG_F64, 4, (int64_t[]){3, 3, 4, 2}, NULL, 0, true);
    const char *rank0 = "a rank-0 operand has no matrix product (use gg_mul)";
    char want[GG_ERRLEN];
    snprintf(want, sizeof want, "matmul: [] x [3]: %s", rank0);
    expect_error(g, gg_matmul(g, s, v3), want);
    snprintf(want, sizeof want, "matmul: [3,4] x []: %s", rank0);
    expect_error(g, gg_matmul(g, m34, s), want);
    snprintf(want, sizeof want, "matmul: [] x []: %s", rank0);
    expect_error(g, gg_matmul(g, s, s), want);
    expect_error(g, gg_matmul(g, v3, v4), "matmul: [3] x [4]: inner dimensions differ");
    expect_error(g, gg_matmul(g, v3, m42), "matmul: [3] x [4,2]: inner dimensions differ");
    expect_error(g, gg_matmul(g, m34, v3), "matmul: [3,4] x [3]: inner dimensions differ");
    expect_error(g, gg_matmul(g, m42, m34), "matmul: [4,2] x [3,4]: inner dimensions differ");
    expect_error(g, gg_matmul(g, b234, b345), "matmul: [2,3,4] x [3,4,5]: batch dimensions do not broadcast");
    expect_error(g, gg_matmul(g, q2134, q3342), "matmul: [2,1,3,4] x [3,3,4,2]: batch dimensions do not broadcast");
    expect_error(g, gg_matmul(g, b234, v3), "matmul: [2,3,4] x [3]: inner dimensions differ");
    expect_error(g, gg_matmul(g, b234, q3342), "matmul: [2,3,4] x [3,3,4,2]: batch dimensions do not broadcast");
    /* Batches that broadcast, inner dimensions that differ. */
    gg_node *b352 = leaf(g, GG_F64, 3, (int64_t[]){3, 5, 2}, NULL, 0, true);
    expect_error(g, gg_matmul(g, q2134, b352), "matmul: [2,1,3,4] x [3,5,2]: inner dimensions differ");
    /* The graph goes on working after errors. */
    gg_node *ok = gg_matmul(g, q2134, m42);
    expect_shape(ok, 4, (int64_t[]){2, 1, 3, 2});
    assert_null(gg_error(g));
    gg_graph_free(g);
}

/* ---- the 2-D path and the kernel -------------------------------------------- */

/* A 2-D product is exactly the GEMM kernel's call, forward and backward, in
 * both dtypes; and each matrix of a batch comes out bit for bit as the 2-D
 * product of its slices would (the kernel's bits do not depend on where
 * the operands lie). */
static void two_d_is_the_kernel_bit_for_bit(void **state)
{
    (void)state;
    enum { M = 37, K = 53, N = 29, BATCH = 3 };
    for (int dt = GG_F32; dt <= GG_F64; dt++) {
        size_t es = dt == GG_F32 ? sizeof(float) : sizeof(double);
        gg_graph *g = gg_graph_new();
        gg_node *A = leaf(g, (gg_dtype)dt, 2, (int64_t[]){M, K}, NULL, 7, true);
        gg_node *B = leaf(g, (gg_dtype)dt, 2, (int64_t[]){K, N}, NULL, 8, true);
        gg_node *C = gg_matmul(g, A, B);
        void *seed = malloc(M * N * es), *want = calloc(M * N + M * K + K * N, es);
        assert_non_null(seed);
        assert_non_null(want);
        for (size_t i = 0; i < M * N; i++) {
            if (dt == GG_F32)
                ((float *)seed)[i] = (float)drawn(9, i);
            else
                ((double *)seed)[i] = drawn(9, i);
        }
        assert_int_equal(gg_backward_seed(g, C, seed), 0);
        char *wc = want, *wa = wc + M * N * es, *wb = wa + M * K * es;
        if (dt == GG_F32) {
            ggk_gemm_f32(0, 0, M, N, K, gg_data(A), K, gg_data(B), N, 0.0f, (float *)wc, N);
            ggk_gemm_f32(0, 1, M, K, N, seed, N, gg_data(B), N, 1.0f, (float *)wa, K);
            ggk_gemm_f32(1, 0, K, N, M, gg_data(A), K, seed, N, 1.0f, (float *)wb, N);
        } else {
            ggk_gemm_f64(0, 0, M, N, K, gg_data(A), K, gg_data(B), N, 0.0, (double *)wc, N);
            ggk_gemm_f64(0, 1, M, K, N, seed, N, gg_data(B), N, 1.0, (double *)wa, K);
            ggk_gemm_f64(1, 0, K, N, M, gg_data(A), K, seed, N, 1.0, (double *)wb, N);
        }
        assert_memory_equal(gg_data(C), wc, M * N * es);
        assert_memory_equal(gg_grad_data(A), wa, M * K * es);
        assert_memory_equal(gg_grad_data(B), wb, K * N * es);

        /* [BATCH,M,K] x [K,N]: slice i's product is the 2-D one of slice i. */
        gg_node *Ab = leaf(g, (gg_dtype)dt, 3, (int64_t[]){BATCH, M, K}, NULL, 10, false);
        gg_node *Cb = gg_matmul(g, Ab, B);
        expect_shape(Cb, 3, (int64_t[]){BATCH, M, N});
        for (int i = 0; i < BATCH; i++) {
            gg_node *slice = gg_input(g, (gg_dtype)dt, 2, (int64_t[]){M, K}, (char *)gg_data(Ab) + (size_t)i * M * K * es);
            gg_node *Ci = gg_matmul(g, slice, B);
            assert_memory_equal((char *)gg_data(Cb) + (size_t)i * M * N * es, gg_data(Ci), M * N * es);
        }
        free(seed);
        free(want);
        gg_graph_free(g);
    }
}

/* gg_forward recomputes batched products from new leaf values; gradients
 * of broadcast operands accumulate across backward passes, as leaves do. */
static void rerun_and_accumulate(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = var(g, 3, (int64_t[]){2, 1, 2}, (double[]){1, 2, 3, 4});
    gg_node *v = var(g, 1, (int64_t[]){2}, (double[]){1, 1});
    gg_node *z = gg_matmul(g, a, v); /* [2,1] */
    gg_node *root = gg_sum(g, z);
    assert_true(gg_value(root) == 10);
    assert_int_equal(gg_set_data(g, v, (double[]){2, -1}), 0);
    assert_int_equal(gg_forward(g, root), 0);
    expect_values(z, 2, (double[]){0, 2}, false);
    assert_int_equal(gg_backward(g, root), 0);
    assert_int_equal(gg_backward(g, root), 0);
    expect_values(v, 2, (double[]){8, 12}, true);
    expect_values(a, 4, (double[]){4, -2, 4, -2}, true);
    gg_graph_free(g);
}

/* ---- torch.matmul ------------------------------------------------------------ */

static void expect_close(const char *what, const char *name, size_t k, double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 + 1e-12 * fabs(want)))
        fail_msg("%s: %s[%zu] = %.17g, torch %.17g", what, name, k, got, want);
}

static void agrees_with_torch(void **state)
{
    (void)state;
    size_t ncases = sizeof torch_mm_cases / sizeof *torch_mm_cases;
    assert_true(ncases >= 15);
    for (size_t i = 0; i < ncases; i++) {
        const torch_mm_case *c = &torch_mm_cases[i];
        gg_graph *g = gg_graph_new();
        gg_node *a = var(g, c->sa.rank, c->sa.dims, c->a);
        gg_node *b = var(g, c->sb.rank, c->sb.dims, c->b);
        gg_node *z = gg_matmul(g, a, b);
        if (!z)
            fail_msg("%s: %s", c->what, gg_error(g));
        expect_shape(z, c->sz.rank, c->sz.dims);
        gg_node *w = gg_input(g, GG_F64, c->sz.rank, c->sz.dims, c->w);
        assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, z, w))), 0);
        for (size_t k = 0; k < gg_numel(z); k++)
            expect_close(c->what, "z", k, gg_value_at(z, k), c->z[k]);
        for (size_t k = 0; k < gg_numel(a); k++)
            expect_close(c->what, "da", k, gg_grad_at(a, k), c->da[k]);
        for (size_t k = 0; k < gg_numel(b); k++)
            expect_close(c->what, "db", k, gg_grad_at(b, k), c->db[k]);
        gg_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dot_by_hand),
        cmocka_unit_test(matrix_vector_and_vector_matrix),
        cmocka_unit_test(matrix_matrix),
        cmocka_unit_test(batches_broadcast_both_ways),
        cmocka_unit_test(batch_against_matrix),
        cmocka_unit_test(vector_with_batch),
        cmocka_unit_test(output_shapes),
        cmocka_unit_test(gradcheck_every_form),
        cmocka_unit_test(f32_agrees_with_f64),
        cmocka_unit_test(errors_name_both_shapes),
        cmocka_unit_test(two_d_is_the_kernel_bit_for_bit),
        cmocka_unit_test(rerun_and_accumulate),
        cmocka_unit_test(agrees_with_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
