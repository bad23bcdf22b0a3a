/* test_shape.c - the shape gates (slice, concat, gather_rows, broadcast_to,
 * transpose_axes) and reshape's -1: values and gradients by hand, every
 * error with its message, gradient checking in f64, f32 against f64,
 * gather's index checks when recorded and at gg_forward, traces and
 * pictures of a wide concat, and agreement with PyTorch's numbers
 * (tests/fixtures/torch_shape.h). */
#include "testutil.h"

#include <stdio.h>

#include "fixtures/torch_shape.h"
#include "gategrad.h"

#define DIMS(...) (int64_t[]){__VA_ARGS__}

/* A tensor of dtype dt and shape dims holding v[0..numel) (a variable when
 * variable, else a constant). */
static gg_node *filled(gg_graph *g, gg_dtype dt, int rank, const int64_t *dims, const double *v,
                       bool variable)
{
    gg_node *x = variable ? gg_tensor(g, dt, rank, dims, NULL) : gg_input(g, dt, rank, dims, NULL);
    assert_non_null(x);
    for (size_t i = 0, n = gg_numel(x); i < n; i++) {
        if (dt == GG_F64)
            ((double *)gg_data(x))[i] = v[i];
        else
            ((float *)gg_data(x))[i] = (float)v[i];
    }
    return x;
}

/* 0, 1, 2, ... in the given shape, a variable. */
static gg_node *iota(gg_graph *g, int rank, const int64_t *dims)
{
    double v[256];
    for (int i = 0; i < 256; i++)
        v[i] = i;
    return filled(g, GG_F64, rank, dims, v, true);
}

static void expect_shape(const gg_node *n, int rank, const int64_t *dims)
{
    assert_non_null(n);
    int64_t d[GG_MAX_DIMS];
    assert_int_equal(gg_shape(n, d), rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(d[i], dims[i]);
}

static void expect_values(const gg_node *n, const double *want, size_t count)
{
    assert_int_equal(gg_numel(n), count);
    for (size_t i = 0; i < count; i++)
        if (gg_value_at(n, i) != want[i])
            fail_msg("value %zu = %.17g, expected %.17g", i, gg_value_at(n, i), want[i]);
}

static void expect_grads(const gg_node *n, const double *want, size_t count)
{
    assert_int_equal(gg_numel(n), count);
    for (size_t i = 0; i < count; i++)
        if (gg_grad_at(n, i) != want[i])
            fail_msg("grad %zu = %.17g, expected %.17g", i, gg_grad_at(n, i), want[i]);
}

/* op returned NULL and recorded a message containing msg. */
static void expect_error(gg_graph *g, const gg_node *n, const char *msg)
{
    assert_null(n);
    assert_contains(gg_error(g), msg);
    gg_clear_error(g);
}

/* Seeds the upstream gradient 1, 2, 3, ... (so every element's share is
 * visible) and back-propagates. */
static void backward_iota(gg_graph *g, gg_node *root)
{
    double seed[256];
    for (int i = 0; i < 256; i++)
        seed[i] = i + 1;
    assert_true(gg_numel(root) <= 256);
    assert_int_equal(gg_backward_seed(g, root, seed), 0);
}

/* ---- slice ------------------------------------------------------------------ */

static void slice_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 2, DIMS(2, 4)); /* [[0 1 2 3] [4 5 6 7]] */
    gg_node *s = gg_slice(g, x, 1, 1, 3);
    expect_shape(s, 2, DIMS(2, 2));
    expect_values(s, (double[]){1, 2, 5, 6}, 4);
    backward_iota(g, s);
    expect_grads(x, (double[]){0, 1, 2, 0, 0, 3, 4, 0}, 8);
    assert_string_equal(gg_gate_name(s), "slice");
    assert_true(gg_gate_param(s) == 1); /* the axis, not the aux pointer */

    /* Python's bounds: negative from the end, clamped past either end. */
    expect_values(gg_slice(g, x, -1, -3, -1), (double[]){1, 2, 5, 6}, 4);
    expect_values(gg_slice(g, x, 1, -100, 2), (double[]){0, 1, 4, 5}, 4);
    expect_values(gg_slice(g, x, 1, 2, 100), (double[]){2, 3, 6, 7}, 4);
    expect_values(gg_slice(g, x, 0, 1, INT64_C(1) << 53), (double[]){4, 5, 6, 7}, 4);
    gg_node *row = gg_slice(g, x, -2, -1, 2);
    expect_shape(row, 2, DIMS(1, 4));
    expect_values(row, (double[]){4, 5, 6, 7}, 4);

    /* A 3-D tensor along its middle axis, gradients accumulating over two
     * slices that overlap. */
    gg_node *y = iota(g, 3, DIMS(2, 3, 2));
    gg_node *a = gg_slice(g, y, 1, 0, 2), *b = gg_slice(g, y, 1, 1, 3);
    expect_values(a, (double[]){0, 1, 2, 3, 6, 7, 8, 9}, 8);
    expect_values(b, (double[]){2, 3, 4, 5, 8, 9, 10, 11}, 8);
    assert_int_equal(gg_backward(g, gg_sum(g, gg_add(g, a, b))), 0);
    expect_grads(y, (double[]){1, 1, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1}, 12);
    gg_graph_free(g);
}

static void slice_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 2, DIMS(2, 4));
    expect_error(g, gg_slice(g, x, 1, 3, 1),
                 "slice: axis 1, start 3, stop 1 of [2,4]: the slice is empty (tensors have no zero-length dimension)");
    expect_error(g, gg_slice(g, x, 1, 2, 2), "slice: axis 1, start 2, stop 2 of [2,4]: the slice is empty");
    expect_error(g, gg_slice(g, x, -1, 10, 20), "slice: axis -1, start 10, stop 20 of [2,4]: the slice is empty");
    expect_error(g, gg_slice(g, x, 0, -1, -5), "slice: axis 0, start -1, stop -5 of [2,4]: the slice is empty");
    expect_error(g, gg_slice(g, x, 2, 0, 1), "slice: axis 2 is out of range for [2,4]");
    expect_error(g, gg_slice(g, x, -3, 0, 1), "slice: axis -3 is out of range for [2,4]");
    expect_error(g, gg_slice(g, gg_scalar(g, 1), 0, 0, 1), "slice: axis 0 is out of range for []");
    expect_error(g, gg_slice(g, x, 1, 0, (INT64_C(1) << 53) + 1),
                 "slice: start 0 or stop 9007199254740993 is beyond +-2^53");
    expect_error(g, gg_slice(g, x, 1, INT64_MIN, 2), "slice: start -9223372036854775808 or stop 2 is beyond +-2^53");
    size_t before = gg_node_count(g);
    assert_null(gg_slice(g, NULL, 0, 0, 1));
    assert_null(gg_error(g)); /* a NULL input: no new message */
    assert_int_equal(gg_node_count(g), before);
    gg_graph_free(g);
}

/* ---- concat ------------------------------------------------------------------- */

static void concat_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = filled(g, GG_F64, 2, DIMS(2, 1), (double[]){1, 2}, true);
    gg_node *b = filled(g, GG_F64, 2, DIMS(2, 2), (double[]){10, 11, 20, 21}, true);
    gg_node *c = filled(g, GG_F64, 2, DIMS(2, 3), (double[]){-1, -2, -3, -4, -5, -6}, false);
    gg_node *z = gg_concat(g, 3, (gg_node *[]){a, b, c}, 1);
    expect_shape(z, 2, DIMS(2, 6));
    expect_values(z, (double[]){1, 10, 11, -1, -2, -3, 2, 20, 21, -4, -5, -6}, 12);
    backward_iota(g, z);
    expect_grads(a, (double[]){1, 7}, 2);
    expect_grads(b, (double[]){2, 3, 8, 9}, 4);
    assert_null(gg_grad_data(c)); /* a constant part receives nothing */
    assert_true(gg_gate_param(z) == 1);

    gg_node *in[2];
    assert_int_equal(gg_inputs(z, in), 3);
    assert_ptr_equal(in[0], a);
    assert_ptr_equal(in[1], b);
    assert_ptr_equal(gg_node_input(z, 2), c);
    assert_null(gg_node_input(z, 3));

    /* Along axis 0 (and -2), and a part given twice: its gradient adds up. */
    gg_node *r = filled(g, GG_F64, 2, DIMS(1, 3), (double[]){7, 8, 9}, true);
    gg_node *z0 = gg_concat(g, 3, (gg_node *[]){r, c, r}, -2);
    expect_shape(z0, 2, DIMS(4, 3));
    expect_values(z0, (double[]){7, 8, 9, -1, -2, -3, -4, -5, -6, 7, 8, 9}, 12);
    gg_zero_grad(g);
    backward_iota(g, z0);
    expect_grads(r, (double[]){1 + 10, 2 + 11, 3 + 12}, 3);

    /* One part: a copy. 3-D along the last axis. */
    gg_node *one = gg_concat(g, 1, &r, 0);
    expect_shape(one, 2, DIMS(1, 3));
    expect_values(one, (double[]){7, 8, 9}, 3);
    assert_int_equal(gg_inputs(one, in), 1);
    gg_node *p = iota(g, 3, DIMS(2, 2, 1)), *q = iota(g, 3, DIMS(2, 2, 2));
    gg_node *pq = gg_concat(g, 2, (gg_node *[]){p, q}, -1);
    expect_shape(pq, 3, DIMS(2, 2, 3));
    expect_values(pq, (double[]){0, 0, 1, 1, 2, 3, 2, 4, 5, 3, 6, 7}, 12);
    gg_graph_free(g);
}

static void concat_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new(), *other = gg_graph_new();
    gg_node *a = iota(g, 2, DIMS(2, 3)), *b = iota(g, 2, DIMS(3, 3)), *c = iota(g, 3, DIMS(2, 3, 1));
    expect_error(g, gg_concat(g, 0, (gg_node *[]){a}, 0), "concat: needs at least one part (n = 0)");
    expect_error(g, gg_concat(g, -2, (gg_node *[]){a}, 0), "concat: needs at least one part (n = -2)");
    expect_error(g, gg_concat(g, 1, NULL, 0), "concat: needs at least one part (n = 1, parts NULL)");
    expect_error(g, gg_concat(g, 3, (gg_node *[]){a, a, b}, 1),
                 "concat: parts[2] [3,3] and parts[0] [2,3] differ in dimension 0 (only the concat axis, 1, may differ)");
    expect_error(g, gg_concat(g, 2, (gg_node *[]){a, c}, 0), "concat: parts[1] [2,3,1] and parts[0] [2,3]: ranks differ");
    expect_error(g, gg_concat(g, 2, (gg_node *[]){a, b}, 2), "concat: axis 2 is out of range for parts[0] [2,3]");
    expect_error(g, gg_concat(g, 2, (gg_node *[]){a, b}, -3), "concat: axis -3 is out of range for parts[0] [2,3]");
    gg_node *f = gg_input(g, GG_F32, 2, DIMS(2, 3), NULL);
    expect_error(g, gg_concat(g, 2, (gg_node *[]){a, f}, 0),
                 "concat: parts[1] is f32 [2,3] but parts[0] f64 [2,3]: dtypes differ (convert with gg_cast)");
    expect_error(g, gg_concat(g, 2, (gg_node *[]){a, gg_scalar(g, 1)}, 0),
                 "concat: parts[1] is a scalar ([]); concat joins tensors along an axis");
    gg_node *foreign = iota(other, 2, DIMS(2, 3));
    expect_error(g, gg_concat(g, 2, (gg_node *[]){a, foreign}, 0), "concat: parts[1] (node 0) belongs to another graph");
    assert_null(gg_concat(g, 2, (gg_node *[]){a, NULL}, 0));
    assert_null(gg_error(g));
    gg_graph_free(other);
    gg_graph_free(g);
}

/* ---- gather_rows ---------------------------------------------------------------- */

static void gather_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *t = filled(g, GG_F64, 2, DIMS(3, 2), (double[]){1, 2, 10, 20, 100, 200}, true);
    gg_node *idx = filled(g, GG_F64, 1, DIMS(4), (double[]){2, 0, 2, 1}, false);
    gg_node *e = gg_gather_rows(g, t, idx);
    expect_shape(e, 2, DIMS(4, 2));
    expect_values(e, (double[]){100, 200, 1, 2, 100, 200, 10, 20}, 8);
    backward_iota(g, e); /* row 2 picked twice: 1 + 5, 2 + 6 */
    expect_grads(t, (double[]){3, 4, 7, 8, 6, 8}, 6);
    assert_null(gg_grad_data(idx));

    /* A scalar index gives [D]; indices of rank 2 give rank 3; -0 is 0. */
    gg_node *s = gg_gather_rows(g, t, gg_constant(g, GG_F64, 1));
    expect_shape(s, 1, DIMS(2));
    expect_values(s, (double[]){10, 20}, 2);
    gg_node *m = gg_gather_rows(g, t, filled(g, GG_F64, 2, DIMS(2, 2), (double[]){-0.0, 1, 1, 2}, false));
    expect_shape(m, 3, DIMS(2, 2, 2));
    expect_values(m, (double[]){1, 2, 10, 20, 10, 20, 100, 200}, 8);
    gg_node *three = gg_gather_rows(g, t, gg_input(g, GG_F64, 3, DIMS(1, 2, 1), NULL));
    expect_shape(three, 4, DIMS(1, 2, 1, 2));
    expect_values(three, (double[]){1, 2, 1, 2}, 4);

    /* Indices computed from constants are checked as computed, when
     * recorded and at every gg_forward. */
    gg_node *flipped = gg_gather_rows(g, t, gg_sub(g, gg_constant(g, GG_F64, 2), idx));
    expect_values(flipped, (double[]){1, 2, 100, 200, 1, 2, 10, 20}, 8);
    assert_int_equal(gg_set_data(g, idx, (double[]){2, 2, 3, 0}), 0);
    assert_int_not_equal(gg_forward(g, flipped), 0);
    assert_contains(gg_error(g), "gather_rows: indices element 2 is -1: out of range [0, V) (table [3,2], V = 3)");
    gg_graph_free(g);
}

static void gather_errors_when_recorded(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *t = iota(g, 2, DIMS(3, 2));
    gg_node *ok = gg_input(g, GG_F64, 1, DIMS(2), NULL);
    expect_error(g, gg_gather_rows(g, iota(g, 1, DIMS(3)), ok), "gather_rows: table [3] must be 2-D [V, D]");
    expect_error(g, gg_gather_rows(g, iota(g, 3, DIMS(3, 2, 1)), ok), "gather_rows: table [3,2,1] must be 2-D [V, D]");
    expect_error(g, gg_gather_rows(g, t, gg_tensor(g, GG_F64, 1, DIMS(2), NULL)),
                 "gather_rows: indices [2] require a gradient; they must be a constant");
    expect_error(g, gg_gather_rows(g, t, gg_input(g, GG_F64, 4, DIMS(1, 1, 1, 2), NULL)),
                 "gather_rows: indices [1,1,1,2] have rank 4, at most 3");
    expect_error(g, gg_gather_rows(g, t, gg_input(g, GG_F32, 1, DIMS(2), NULL)), "dtypes differ");
    double bad[][3] = {{0, 3, 1}, {0, 1, -1}, {1.5, 0, 0}, {0, 0, NAN}, {INFINITY, 0, 0}};
    const char *msg[] = {
        "gather_rows: indices element 1 is 3: out of range [0, V) (table [3,2], V = 3)",
        "gather_rows: indices element 2 is -1: out of range [0, V) (table [3,2], V = 3)",
        "gather_rows: indices element 0 is 1.5: not a whole number (table [3,2], V = 3)",
        "gather_rows: indices element 2 is nan: not a whole number (table [3,2], V = 3)",
        "gather_rows: indices element 0 is inf: out of range [0, V) (table [3,2], V = 3)",
    };
    for (int i = 0; i < 5; i++) {
        size_t before = gg_node_count(g);
        gg_node *ix = filled(g, GG_F64, 1, DIMS(3), bad[i], false);
        expect_error(g, gg_gather_rows(g, t, ix), msg[i]);
        assert_int_equal(gg_node_count(g), before + 1); /* the refused node is not kept */
    }
    gg_graph_free(g);
}

/* gg_set_data may write any index: gg_forward checks before gathering,
 * returns non-zero with the message, and runs again once they are good. */
static void gather_errors_at_forward(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        gg_dtype type = dt ? GG_F32 : GG_F64;
        gg_graph *g = gg_graph_new();
        gg_node *t = filled(g, type, 2, DIMS(4, 1), (double[]){1, 2, 3, 4}, true);
        gg_node *idx = filled(g, type, 2, DIMS(2, 2), (double[]){0, 1, 2, 3}, false);
        gg_node *loss = gg_sum(g, gg_gather_rows(g, t, idx));
        assert_near(gg_value(loss), 10, 0);
        float f_bad[] = {0, 1, 4, 3}, f_frac[] = {0, 0.5f, 1, 1}, f_good[] = {3, 3, 3, 0};
        double d_bad[] = {0, 1, 4, 3}, d_frac[] = {0, 0.5, 1, 1}, d_good[] = {3, 3, 3, 0};
        assert_int_equal(gg_set_data(g, idx, dt ? (void *)f_bad : (void *)d_bad), 0);
        assert_int_not_equal(gg_forward(g, loss), 0);
        assert_contains(gg_error(g), "gather_rows: indices element 2 is 4: out of range [0, V) (table [4,1], V = 4)");
        gg_clear_error(g);
        assert_int_equal(gg_set_data(g, idx, dt ? (void *)f_frac : (void *)d_frac), 0);
        assert_int_not_equal(gg_forward(g, loss), 0);
        assert_contains(gg_error(g), "gather_rows: indices element 1 is 0.5: not a whole number (table [4,1], V = 4)");
        assert_int_equal(gg_set_data(g, idx, dt ? (void *)f_good : (void *)d_good), 0);
        assert_int_equal(gg_forward(g, loss), 0);
        assert_near(gg_value(loss), 13, 0);
        gg_zero_grad(g);
        assert_int_equal(gg_backward(g, loss), 0);
        expect_grads(t, (double[]){1, 0, 0, 3}, 4);
        gg_graph_free(g);
    }
}

/* ---- broadcast_to -------------------------------------------------------------- */

static void broadcast_to_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = filled(g, GG_F64, 2, DIMS(3, 1), (double[]){1, 2, 3}, true);
    gg_node *b = gg_broadcast_to(g, x, 3, DIMS(2, 3, 2));
    expect_shape(b, 3, DIMS(2, 3, 2));
    expect_values(b, (double[]){1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, 12);
    backward_iota(g, b); /* x[i] gets seeds (2i+1, 2i+2) and (2i+7, 2i+8) */
    expect_grads(x, (double[]){1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12}, 3);

    gg_node *s = gg_scalar(g, 5);
    gg_node *bs = gg_broadcast_to(g, s, 2, DIMS(2, 2));
    expect_values(bs, (double[]){5, 5, 5, 5}, 4);
    gg_zero_grad(g);
    backward_iota(g, bs);
    assert_true(gg_grad(s) == 10);
    gg_node *same = gg_broadcast_to(g, x, 2, DIMS(3, 1));
    expect_shape(same, 2, DIMS(3, 1));
    expect_values(same, (double[]){1, 2, 3}, 3);
    gg_node *sc = gg_broadcast_to(g, s, 0, NULL);
    expect_shape(sc, 0, NULL);
    assert_true(gg_value(sc) == 5);
    gg_node *row = gg_broadcast_to(g, filled(g, GG_F64, 1, DIMS(2), (double[]){4, 6}, true), 4, DIMS(1, 2, 1, 2));
    expect_values(row, (double[]){4, 6, 4, 6}, 4);
    gg_graph_free(g);
}

static void broadcast_to_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 2, DIMS(3, 2));
    expect_error(g, gg_broadcast_to(g, x, 2, DIMS(4, 3)),
                 "broadcast_to: [3,2] to [4,3]: not broadcastable (dimension 0 of the input is 3, the target's 4; only 1 stretches)");
    expect_error(g, gg_broadcast_to(g, x, 3, DIMS(2, 3, 4)),
                 "broadcast_to: [3,2] to [2,3,4]: not broadcastable (dimension 1 of the input is 2, the target's 4");
    expect_error(g, gg_broadcast_to(g, x, 1, DIMS(2)), "broadcast_to: [3,2] to [2]: the target has fewer dimensions than the input");
    expect_error(g, gg_broadcast_to(g, x, 0, NULL), "broadcast_to: [3,2] to []: the target has fewer dimensions");
    expect_error(g, gg_broadcast_to(g, x, 2, DIMS(3, 0)), "broadcast_to: [3,2] to [3,0]: every dimension must be >= 1");
    expect_error(g, gg_broadcast_to(g, x, 3, DIMS(-1, 3, 2)), "broadcast_to: [3,2] to [-1,3,2]: every dimension must be >= 1");
    expect_error(g, gg_broadcast_to(g, x, 5, DIMS(1, 1, 1, 3, 2)), "broadcast_to: rank 5 is out of range 0..4");
    expect_error(g, gg_broadcast_to(g, x, 2, NULL), "broadcast_to: dims is NULL for rank 2");
    gg_graph_free(g);
}

/* ---- transpose_axes ------------------------------------------------------------ */

static void transpose_axes_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 3, DIMS(2, 3, 4));
    gg_node *t = gg_transpose_axes(g, x, 0, 2);
    expect_shape(t, 3, DIMS(4, 3, 2));
    /* t[i][j][k] = x[k][j][i] = 12k + 4j + i */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                assert_true(gg_value_at(t, (size_t)(i * 6 + j * 2 + k)) == 12 * k + 4 * j + i);
    backward_iota(g, t); /* x[k][j][i] receives seed (i*6 + j*2 + k) + 1 */
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 4; i++)
                assert_true(gg_grad_at(x, (size_t)(12 * k + 4 * j + i)) == i * 6 + j * 2 + k + 1);
    assert_true(gg_gate_param(t) == 0);

    /* Negative axes; the last two as gg_transpose; an axis with itself. */
    gg_node *neg = gg_transpose_axes(g, x, -1, -3);
    for (size_t i = 0; i < 24; i++)
        assert_true(gg_value_at(neg, i) == gg_value_at(t, i));
    gg_node *last = gg_transpose_axes(g, x, -2, -1), *old = gg_transpose(g, x);
    expect_shape(last, 3, DIMS(2, 4, 3));
    for (size_t i = 0; i < 24; i++)
        assert_true(gg_value_at(last, i) == gg_value_at(old, i));
    gg_node *same = gg_transpose_axes(g, x, 1, 1);
    expect_shape(same, 3, DIMS(2, 3, 4));
    for (size_t i = 0; i < 24; i++)
        assert_true(gg_value_at(same, i) == (double)i);
    gg_node *v = iota(g, 1, DIMS(3));
    expect_values(gg_transpose_axes(g, v, 0, -1), (double[]){0, 1, 2}, 3);
    /* 4-D, the two middle axes of [2,3,1,2] */
    gg_node *w = iota(g, 4, DIMS(2, 3, 1, 2));
    gg_node *w12 = gg_transpose_axes(g, w, 1, 2);
    expect_shape(w12, 4, DIMS(2, 1, 3, 2));
    for (size_t i = 0; i < 12; i++)
        assert_true(gg_value_at(w12, i) == (double)i); /* a 1 moved: same order */
    gg_node *w13 = gg_transpose_axes(g, w, 3, 1);
    expect_shape(w13, 4, DIMS(2, 2, 1, 3));
    expect_values(w13, (double[]){0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11}, 12);
    gg_graph_free(g);
}

static void transpose_axes_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 3, DIMS(2, 3, 4));
    expect_error(g, gg_transpose_axes(g, x, 0, 3), "transpose_axes: axes 0 and 3: the second is out of range for [2,3,4]");
    expect_error(g, gg_transpose_axes(g, x, -4, 1), "transpose_axes: axes -4 and 1: the first is out of range for [2,3,4]");
    expect_error(g, gg_transpose_axes(g, gg_scalar(g, 2), 0, 0), "transpose_axes: axes 0 and 0: the first is out of range for []");
    gg_graph_free(g);
}

/* ---- reshape's -1 ---------------------------------------------------------------- */

static void reshape_infers_one_dimension(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 2, DIMS(3, 4));
    gg_node *r = gg_reshape(g, x, 2, DIMS(-1, 6));
    expect_shape(r, 2, DIMS(2, 6));
    expect_shape(gg_reshape(g, x, 1, DIMS(-1)), 1, DIMS(12));
    expect_shape(gg_reshape(g, x, 3, DIMS(2, -1, 2)), 3, DIMS(2, 3, 2));
    expect_shape(gg_reshape(g, x, 4, DIMS(1, 12, 1, -1)), 4, DIMS(1, 12, 1, 1));
    expect_shape(gg_reshape(g, gg_scalar(g, 3), 1, DIMS(-1)), 1, DIMS(1));
    backward_iota(g, r);
    for (size_t i = 0; i < 12; i++) {
        assert_true(gg_value_at(r, i) == (double)i);
        assert_true(gg_grad_at(x, i) == (double)i + 1);
    }
    expect_error(g, gg_reshape(g, x, 2, DIMS(-1, -1)),
                 "reshape: [3,4] to [-1,-1]: only one dimension may be -1 (inferred from the others)");
    expect_error(g, gg_reshape(g, x, 2, DIMS(-1, 5)),
                 "reshape: [3,4] to [-1,5]: the element count is not a multiple of the other dimensions' product");
    expect_error(g, gg_reshape(g, x, 2, DIMS(-1, 0)), "reshape: [3,4] to [-1,0]: element counts differ");
    expect_error(g, gg_reshape(g, x, 2, DIMS(-2, 6)), "reshape: [3,4] to [-2,6]: element counts differ");
    expect_error(g, gg_reshape(g, x, 2, DIMS(5, 3)), "reshape: [3,4] to [5,3]: element counts differ");
    gg_graph_free(g);
}

/* ---- Gradient checking and dtypes ------------------------------------------------- */

static void expect_gradcheck(gg_graph *g, gg_node *root)
{
    gg_gradcheck_result r;
    int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-6, &r);
    if (rc != 0)
        fail_msg("gradcheck rc=%d (%s): %zu/%zu failures, worst analytic %.12g numeric %.12g", rc,
                 gg_error(g) ? gg_error(g) : "", r.failures, r.checked, r.worst_analytic, r.worst_numeric);
    assert_true(r.checked > 0);
}

/* Reproducible values in [-2, 2] (a small LCG). */
static void fill_pseudo(gg_node *x, unsigned seed)
{
    for (size_t i = 0, n = gg_numel(x); i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = ((seed >> 8) % 40001) / 10000.0 - 2.0;
        if (gg_node_dtype(x) == GG_F64)
            ((double *)gg_data(x))[i] = v;
        else
            ((float *)gg_data(x))[i] = (float)v;
    }
}

/* sum(f(x...) * w) for one shape gate (which), in dtype dt, seeded so that
 * both dtypes see the same numbers. Its variable leaves in *leaves. */
static gg_node *composed(gg_graph *g, gg_dtype dt, int which, gg_node **leaves, int *nleaves)
{
    gg_node *x = gg_tensor(g, dt, 3, DIMS(2, 3, 4), NULL), *y = gg_tensor(g, dt, 3, DIMS(2, 1, 4), NULL);
    fill_pseudo(x, 1);
    fill_pseudo(y, 2);
    leaves[0] = x, leaves[1] = y;
    *nleaves = 2;
    gg_node *out = NULL;
    switch (which) {
    case 0: /* two slices of x, one through tanh, joined again */
        out = gg_mul(g, gg_slice(g, x, 1, 0, 2), gg_tanh(g, gg_slice(g, x, -2, -2, 10)));
        break;
    case 1: /* concat of x, y, and x again (fan-out) along the middle axis */
        out = gg_tanh(g, gg_concat(g, 3, (gg_node *[]){x, y, gg_mul(g, x, x)}, 1));
        break;
    case 2: { /* repeated rows of a table */
        gg_node *table = gg_reshape(g, x, 2, DIMS(6, -1));
        double ix[] = {5, 0, 5, 2, 2, 5};
        gg_node *idx = filled(g, dt, 2, DIMS(3, 2), ix, false);
        out = gg_sin(g, gg_gather_rows(g, table, idx));
        break;
    }
    case 3: /* y stretched over x's middle axis, and x over a new leading one */
        out = gg_mul(g, gg_broadcast_to(g, gg_tanh(g, y), 3, DIMS(2, 3, 4)),
                     gg_sum_axis(g, gg_broadcast_to(g, x, 4, DIMS(2, 2, 3, 4)), 0, 0));
        break;
    case 4: /* transposed both ways, multiplied with itself */
        out = gg_mul(g, gg_transpose_axes(g, x, 0, 2),
                     gg_transpose_axes(g, gg_tanh(g, x), -1, -3));
        break;
    default: /* reshape with -1 through matmul */
        out = gg_matmul(g, gg_reshape(g, x, 2, DIMS(-1, 4)), gg_reshape(g, gg_tanh(g, y), 2, DIMS(4, -1)));
        break;
    }
    assert_non_null(out);
    int64_t dims[GG_MAX_DIMS];
    int rank = gg_shape(out, dims);
    gg_node *wt = gg_input(g, dt, rank, dims, NULL);
    fill_pseudo(wt, 3);
    return gg_sum(g, gg_mul(g, out, wt));
}

static void gradcheck_each_gate(void **state)
{
    (void)state;
    for (int which = 0; which < 6; which++) {
        gg_graph *g = gg_graph_new();
        gg_node *leaves[2];
        int n;
        gg_node *root = composed(g, GG_F64, which, leaves, &n);
        assert_non_null(root);
        expect_gradcheck(g, root);
        gg_graph_free(g);
    }
}

/* The same computation in f32 and f64: values and gradients agree to f32's
 * precision. */
static void f32_matches_f64(void **state)
{
    (void)state;
    for (int which = 0; which < 6; which++) {
        gg_graph *g = gg_graph_new();
        gg_node *l32[2], *l64[2];
        int n32, n64;
        gg_node *r32 = composed(g, GG_F32, which, l32, &n32);
        gg_node *r64 = composed(g, GG_F64, which, l64, &n64);
        assert_int_equal(gg_node_dtype(r32), GG_F32);
        assert_int_equal(gg_backward(g, r32), 0);
        assert_int_equal(gg_backward(g, r64), 0);
        assert_near(gg_value(r32), gg_value(r64), 1e-5 * (1 + fabs(gg_value(r64))));
        for (int l = 0; l < n64; l++)
            for (size_t i = 0; i < gg_numel(l64[l]); i++)
                assert_near(gg_grad_at(l32[l], i), gg_grad_at(l64[l], i), 1e-5);
        gg_graph_free(g);
    }
}

/* ---- PyTorch ---------------------------------------------------------------------- */

static gg_node *torch_input(gg_graph *g, const tshape_tensor *t, bool variable)
{
    return filled(g, GG_F64, t->rank, t->dims, t->v, variable);
}

static size_t numel_of(const tshape_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

static void agrees_with_torch(void **state)
{
    (void)state;
    size_t count = sizeof torch_shape_cases / sizeof *torch_shape_cases;
    int seen[6] = {0};
    for (size_t c = 0; c < count; c++) {
        const tshape_case *k = &torch_shape_cases[c];
        gg_graph *g = gg_graph_new();
        gg_node *in[4];
        for (int i = 0; i < k->nin; i++)
            in[i] = torch_input(g, &k->in[i], k->grad[i] != NULL);
        gg_node *out = NULL;
        const int64_t *p = k->p;
        int gate = -1;
        if (!strcmp(k->gate, "slice"))
            out = gg_slice(g, in[0], (int)p[0], p[1], p[2]), gate = 0;
        else if (!strcmp(k->gate, "concat"))
            out = gg_concat(g, k->nin, in, (int)p[0]), gate = 1;
        else if (!strcmp(k->gate, "gather_rows"))
            out = gg_gather_rows(g, in[0], in[1]), gate = 2;
        else if (!strcmp(k->gate, "broadcast_to"))
            out = gg_broadcast_to(g, in[0], (int)p[0], p + 1), gate = 3;
        else if (!strcmp(k->gate, "transpose_axes"))
            out = gg_transpose_axes(g, in[0], (int)p[0], (int)p[1]), gate = 4;
        else if (!strcmp(k->gate, "reshape"))
            out = gg_reshape(g, in[0], (int)p[0], p + 1), gate = 5;
        if (!out)
            fail_msg("case %zu (%s): %s", c, k->gate, gg_error(g) ? gg_error(g) : "unknown gate");
        seen[gate]++;
        expect_shape(out, k->out.rank, k->out.dims);
        gg_node *wt = filled(g, GG_F64, k->out.rank, k->out.dims, k->w, false);
        gg_node *root = gg_sum(g, gg_mul(g, out, wt));
        assert_int_equal(gg_backward(g, root), 0);
        for (size_t i = 0, n = numel_of(&k->out); i < n; i++)
            assert_near(gg_value_at(out, i), k->out.v[i], 1e-12);
        for (int j = 0; j < k->nin; j++) {
            if (!k->grad[j]) {
                assert_null(gg_grad_data(in[j]));
                continue;
            }
            for (size_t i = 0, n = numel_of(&k->in[j]); i < n; i++)
                assert_near(gg_grad_at(in[j], i), k->grad[j][i], 1e-12);
        }
        gg_graph_free(g);
    }
    for (int i = 0; i < 6; i++)
        assert_true(seen[i] >= 3); /* every gate has cases */
}

/* ---- Traces and pictures of a wide concat ------------------------------------------- */

static void collect(const char *line, void *ctx)
{
    FILE *out = ctx;
    fputs(line, out);
    fputc('\n', out);
}

/* 20 parts: the trace lists the first GGT_TRACED_INPUTS (16) parts'
 * gradients and says how many more there are; a part that is also used
 * elsewhere gets its fan-out line. */
static void traced_wide_concat(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *parts[20];
    char name[16];
    for (int i = 0; i < 20; i++) {
        parts[i] = filled(g, GG_F64, 1, DIMS(2), (double[]){i, -i}, true);
        snprintf(name, sizeof name, "p%d", i);
        gg_set_label(g, parts[i], name);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gg_tracer *t = gg_trace_callback(g, collect, out, NULL);
    assert_non_null(t);
    gg_node *z = gg_concat(g, 20, parts, 0);
    gg_node *sl = gg_slice(g, z, 0, 2, -2);
    gg_node *root = gg_add(g, gg_sum(g, sl), gg_sum(g, parts[3]));
    assert_int_equal(gg_backward(g, root), 0);
    gg_trace_end(t);
    fclose(out);
    assert_contains(text, "= concat(p0 = [2] {0, 0}, p1 = [2] {1, -1}, ");
    assert_contains(text, "p19 = [2] {19, -19}, 0) = [40] {0, 0, 1, -1, ... 36 more}");
    assert_contains(text, "= slice(n20 = [40] {0, 0, 1, -1, ... 36 more} min -19 max 19 norm");
    assert_contains(text, ", 0, 2, -2) = [36] {1, -1, 2, -2, ... 32 more}");
    assert_contains(text, "; concat gate, splits the upstream gradient back: each part receives its own stretch along the axis; now p0.grad = [2] {0, 0}, p1.grad = [2] {1, 1}, ");
    assert_contains(text, "p15.grad = [2] {1, 1}; and 4 more inputs' gradients (not shown)");
    assert_contains(text, "backward p3 #3 is used by 2 gates: copy gate, gradient adder: dp3 = the sum of 2 contributions = [2] {2, 2}");
    for (int i = 0; i < 20; i++)
        assert_true(gg_grad_at(parts[i], 0) == (i == 0 || i == 19 ? 0 : i == 3 ? 2 : 1));
    assert_true(gg_grad_at(parts[19], 1) == 0);
    free(text);

    /* The picture: every part wired in, labelled a, b, ... and by number
     * past z. */
    gg_node *more[30];
    for (int i = 0; i < 30; i++)
        more[i] = i < 20 ? parts[i] : parts[i - 20];
    gg_node *wide = gg_concat(g, 30, more, -1);
    expect_shape(wide, 1, DIMS(60));
    assert_int_equal(gg_node_input(wide, 29) == parts[9], 1);
    text = NULL;
    out = open_memstream(&text, &len);
    assert_int_equal(gg_dot(g, wide, out, NULL), 0);
    fclose(out);
    char edge[64];
    snprintf(edge, sizeof edge, "v0 -> g%zu [label=\"a\"];", gg_node_id(wide));
    assert_contains(text, edge);
    snprintf(edge, sizeof edge, "v19 -> g%zu [label=\"t\"];", gg_node_id(wide));
    assert_contains(text, edge);
    snprintf(edge, sizeof edge, "v5 -> g%zu [label=\"z\"];", gg_node_id(wide));
    assert_contains(text, edge);
    snprintf(edge, sizeof edge, "v6 -> g%zu [label=\"27\"];", gg_node_id(wide));
    assert_contains(text, edge);
    snprintf(edge, sizeof edge, "v9 -> g%zu [label=\"30\"];", gg_node_id(wide));
    assert_contains(text, edge);
    assert_contains(text, "label=\"concat -1\"");
    free(text);
    gg_graph_free(g);
}

/* The other gates in a trace, with their parameters as written. */
static void traced_gates(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = iota(g, 2, DIMS(2, 3));
    gg_set_label(g, x, "x");
    gg_node *idx = filled(g, GG_F64, 1, DIMS(3), (double[]){1, 1, 0}, false);
    gg_set_label(g, idx, "idx");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gg_tracer *t = gg_trace_file(g, out, NULL);
    gg_node *e = gg_gather_rows(g, x, idx);
    gg_node *tr = gg_transpose_axes(g, e, 0, -1);
    gg_node *b = gg_broadcast_to(g, gg_slice(g, x, -1, 1, 2), 3, DIMS(2, 2, 1));
    assert_int_equal(gg_backward(g, gg_add(g, gg_sum(g, tr), gg_sum(g, b))), 0);
    gg_trace_end(t);
    fclose(out);
    assert_contains(text, "= gather_rows(x = [2,3] {0, 1, 2, 3, ... 2 more} min 0 max 5 norm 7.4161985, idx = [3] {1, 1, 0}) = [3,3]");
    assert_contains(text, "= transpose_axes(n2 = [3,3] {3, 4, 5, 3, ... 5 more} min 0 max 5 norm ");
    assert_contains(text, ", 0, -1) = [3,3] {3, 3, 0, 4, ... 5 more}");
    assert_contains(text, "= slice(x = [2,3] {0, 1, 2, 3, ... 2 more} min 0 max 5 norm 7.4161985, -1, 1, 2) = [2,1] {1, 4}");
    assert_contains(text, "= broadcast_to(n4 = [2,1] {1, 4}) = [2,2,1] {1, 4, 1, 4}");
    assert_contains(text, "gather_rows gate, scatter-adder: each table row receives the sum of the upstream gradient rows");
    assert_contains(text, "now x.grad = [2,3] {1, 3, 1, 2, ... 2 more}");
    assert_contains(text, "broadcast_to gate, sums the upstream gradient back over the stretched dimensions");
    assert_contains(text, "transpose_axes gate, passes the upstream gradient through, with the two axes swapped back");
    assert_contains(text, "slice gate, passes the upstream gradient back into the sliced range");
    /* x: rows 1, 1, 0 gathered (row 1 twice), column 1 sliced twice over */
    expect_grads(x, (double[]){1, 1 + 2, 1, 2, 2 + 2, 2}, 6);
    free(text);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slice_by_hand),
        cmocka_unit_test(slice_errors),
        cmocka_unit_test(concat_by_hand),
        cmocka_unit_test(concat_errors),
        cmocka_unit_test(gather_by_hand),
        cmocka_unit_test(gather_errors_when_recorded),
        cmocka_unit_test(gather_errors_at_forward),
        cmocka_unit_test(broadcast_to_by_hand),
        cmocka_unit_test(broadcast_to_errors),
        cmocka_unit_test(transpose_axes_by_hand),
        cmocka_unit_test(transpose_axes_errors),
        cmocka_unit_test(reshape_infers_one_dimension),
        cmocka_unit_test(gradcheck_each_gate),
        cmocka_unit_test(f32_matches_f64),
        cmocka_unit_test(agrees_with_torch),
        cmocka_unit_test(traced_wide_concat),
        cmocka_unit_test(traced_gates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
