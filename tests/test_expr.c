/* test_expr.c - the expression language (gategrad/expr.h): values,
 * precedence and associativity, one gate per operator, fan-out, every class
 * of bad input with its column, huge inputs, and random garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gategrad/expr.h"

typedef struct env {
    gg_graph *g;
    gg_expr_vars *vars;
} env;

/* A graph with the given NAME=VALUE variables (NULL-terminated). */
static env make_env(const char *const *assign)
{
    env e = {gg_graph_new(), NULL};
    gg_expr_error err;
    for (; assign && *assign; assign++)
        if (gg_expr_vars_add(&e.vars, e.g, *assign, &err))
            fail_msg("%s: %s", *assign, err.message);
    return e;
}

static void free_env(env *e)
{
    gg_expr_vars_free(e->vars);
    gg_graph_free(e->g);
}

static double eval(const char *text)
{
    static const char *const vars[] = {"x=3", "y=-2", "z=0.5", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *root = gg_expr_build(e.g, text, e.vars, &err);
    if (!root)
        fail_msg("%s: column %zu: %s", text, err.column, err.message);
    double v = gg_value(root);
    free_env(&e);
    return v;
}

static void check_eval(const char *text, double want)
{
    double got = eval(text);
    if (!(fabs(got - want) <= 1e-12 * (1 + fabs(want))))
        fail_msg("%s = %.17g, want %.17g", text, got, want);
}
#define assert_eval(text, want) check_eval(text, want)

static void numbers(void **state)
{
    (void)state;
    assert_eval("42", 42);
    assert_eval("2.5", 2.5);
    assert_eval(".5", 0.5);
    assert_eval("5.", 5);
    assert_eval("1e3", 1000);
    assert_eval("1.5E-2", 0.015);
    assert_eval("2e+2", 200);
    assert_eval("1e-400", 0);
}

static void precedence_and_associativity(void **state)
{
    (void)state;
    assert_eval("1 + 2 * 3", 7);
    assert_eval("(1 + 2) * 3", 9);
    assert_eval("10 - 4 - 3", 3);
    assert_eval("8 / 4 / 2", 1);
    assert_eval("2 ^ 3 ^ 2", 512);
    assert_eval("(2 ^ 3) ^ 2", 64);
    assert_eval("-2 ^ 2", -4);
    assert_eval("-x^2", -9);
    assert_eval("(-x)^2", 9);
    assert_eval("2 ^ -1", 0.5);
    assert_eval("2 * -3", -6);
    assert_eval("--2", 2);
    assert_eval("x - -y", 1);
    assert_eval("-x * y", 6);
    assert_eval("2 * 3 ^ 2", 18);
    assert_eval("x^(1/2)", sqrt(3));
    assert_eval("x ^ 2 ^ -1", sqrt(3));
    assert_eval("1 + 2 * 3 - 4 / 2 ^ 2", 6);
}

static void functions(void **state)
{
    (void)state;
    assert_eval("max(x, y)", 3);
    assert_eval("min(x, y)", -2);
    assert_eval("sigmoid(0)", 0.5);
    assert_eval("tanh(0)", 0);
    assert_eval("relu(y)", 0);
    assert_eval("relu(x)", 3);
    assert_eval("exp(0)", 1);
    assert_eval("log(1)", 0);
    assert_eval("abs(y)", 2);
    assert_eval("max(1 + 2, min(x, 10) * 2)", 6);
    assert_eval("sigmoid ( 0 ) + max ( 1 , 2 )", 2.5);
    assert_eval("2 * (x*y + max(z, -1))", -11);
    assert_eval("sqrt(x + 1)", 2);
    assert_eval("sin(0) + cos(0)", 1);
    assert_eval("softplus(0)", log(2.0));
    assert_eval("softplus(100)", 100);
    assert_eval("silu(0) + gelu(0)", 0);
    assert_eval("pow(y, x)", -8);   /* a negative base, an integral exponent */
    assert_eval("y^x", -8);
    assert_eval("2^x", 8);
    assert_eval("x^(y + 2)", 1);
}

/* Programs: assignments separated by ';' or newlines label their nodes,
 * later statements use the names, the last statement is the root. */
static void programs(void **state)
{
    (void)state;
    static const char *const vars[] = {"x=2", "y=3", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *f = gg_expr_build(e.g, "a = x*y; b = a + x\n\nc = (b *\n b); c - 1", e.vars, &err);
    if (!f)
        fail_msg("column %zu: %s", err.column, err.message);
    assert_true(gg_value(f) == 63);
    assert_non_null(gg_find(e.g, "a"));
    assert_true(gg_value(gg_find(e.g, "b")) == 8);
    assert_int_equal(gg_backward(e.g, f), 0);
    assert_true(gg_grad(gg_find(e.g, "x")) == 2 * 8 * (3 + 1)); /* dc/dx = 2b * (y + 1) */
    /* "b = a" and "c = 2" get nodes of their own for their names. */
    gg_node *g2 = gg_expr_build(e.g, "p = x; q = p; r = 2; q * r", e.vars, &err);
    assert_non_null(g2);
    assert_string_equal(gg_gate_name(gg_find(e.g, "q")), "copy");
    assert_string_equal(gg_gate_name(gg_find(e.g, "r")), "copy");
    assert_true(gg_value(g2) == 4);
    free_env(&e);

    /* Errors on a later line report that line and the column in it. */
    env e2 = make_env(vars);
    assert_null(gg_expr_build(e2.g, "a = x\nb = a + q\nb", e2.vars, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 9);
    assert_null(gg_expr_build(e2.g, "k = x\n  k = 1", e2.vars, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 3);
    assert_string_equal(err.message, "'k' is assigned twice (first at line 1, column 1)");
    free_env(&e2);
}

/* ^ with a constant exponent is the pow gate, with a variable one pow_node
 * (both inputs receive a gradient). */
static void powers(void **state)
{
    (void)state;
    static const char *const vars[] = {"x=3", "y=2", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *c = gg_expr_build(e.g, "x^(1/2 + 1)", e.vars, &err);
    assert_non_null(c);
    assert_string_equal(gg_gate_name(c), "pow");
    gg_node *v = gg_expr_build(e.g, "x^y", e.vars, &err);
    assert_non_null(v);
    assert_string_equal(gg_gate_name(v), "pow_node");
    assert_int_equal(gg_backward(e.g, v), 0);
    assert_true(fabs(gg_grad(gg_find(e.g, "x")) - 6.0) < 1e-12);           /* y * x^(y-1) */
    assert_true(fabs(gg_grad(gg_find(e.g, "y")) - 9.0 * log(3.0)) < 1e-12); /* x^y * log(x) */
    free_env(&e);
}

/* Each operator and function is one gate, numbers constant leaves. */
static void one_gate_per_operator(void **state)
{
    (void)state;
    static const char *const vars[] = {"x=-2", "y=5", "z=-4", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *f = gg_expr_build(e.g, "(x + y) * z", e.vars, &err);
    assert_non_null(f);
    assert_int_equal(gg_node_count(e.g), 5);
    assert_string_equal(gg_gate_name(f), "mul");
    gg_node *in[2];
    assert_int_equal(gg_inputs(f, in), 2);
    assert_string_equal(gg_gate_name(in[0]), "add");
    assert_ptr_equal(in[1], gg_find(e.g, "z"));
    assert_int_equal(gg_backward(e.g, f), 0);
    assert_true(gg_grad(gg_find(e.g, "x")) == -4 && gg_grad(gg_find(e.g, "z")) == 3);
    free_env(&e);

    e = make_env(vars);
    f = gg_expr_build(e.g, "-x^2 + sigmoid(3)", e.vars, &err);
    assert_non_null(f);
    /* 3 vars, constant 2, pow, neg, constant 3, sigmoid, add */
    assert_int_equal(gg_node_count(e.g), 9);
    assert_string_equal(gg_gate_name(f), "add");
    assert_int_equal(gg_inputs(f, in), 2);
    assert_string_equal(gg_gate_name(in[0]), "neg");
    assert_string_equal(gg_gate_name(in[1]), "sigmoid");
    free_env(&e);
}

static void fan_out_is_one_leaf(void **state)
{
    (void)state;
    static const char *const vars[] = {"x=3", "y=4", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *f = gg_expr_build(e.g, "x*y + x + x^2", e.vars, &err);
    assert_non_null(f);
    assert_int_equal(gg_backward(e.g, f), 0);
    gg_node *x = gg_expr_var_find(e.vars, "x");
    assert_ptr_equal(x, gg_find(e.g, "x"));
    assert_true(gg_grad(x) == 4 + 1 + 6);
    assert_int_equal(gg_expr_vars_count(e.vars), 2);
    assert_string_equal(gg_expr_var_name(e.vars, 1), "y");
    free_env(&e);
}

/* ---- Bad input: message and 1-based column ---------------------------------------- */

static void expect_error(const char *text, size_t column, const char *words)
{
    static const char *const vars[] = {"x=1", "y=2", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *f = gg_expr_build(e.g, text, e.vars, &err);
    if (f)
        fail_msg("'%s' was accepted", text);
    if (err.column != column || !strstr(err.message, words))
        fail_msg("'%s': got column %zu '%s', want column %zu '%s'", text, err.column,
                 err.message, column, words);
    free_env(&e);
}

static void bad_expressions(void **state)
{
    (void)state;
    expect_error("", 0, "empty expression");
    expect_error("   \t ", 0, "empty expression");
    expect_error("foo(x)", 1, "unknown function 'foo'");
    expect_error("x + sinh(y)", 5, "unknown function 'sinh'");
    expect_error("max(x)", 1, "max takes 2 arguments, not 1");
    expect_error("max()", 1, "max takes 2 arguments, not 0");
    expect_error("1 + sigmoid(x, y)", 5, "sigmoid takes 1 argument, not 2");
    expect_error("max(1, 2, 3)", 1, "not 3");
    expect_error("(x + 1", 1, "'(' is never closed");
    expect_error("((x) + (1)", 1, "'(' is never closed");
    expect_error("x + 1)", 6, "')' has no matching '('");
    expect_error(")", 1, "expected an operand");
    expect_error("x + q", 5, "variable 'q' has no value");
    expect_error("x $ 1", 3, "unexpected character '$'");
    expect_error("x + \x01", 5, "unexpected byte 0x01");
    expect_error("x +", 4, "ends where an operand");
    expect_error("* x", 1, "expected an operand");
    expect_error("x y", 3, "expected an operator");
    expect_error("2x", 2, "expected an operator");
    expect_error("x (y)", 1, "unknown function 'x'");
    expect_error("(x) (y)", 5, "expected an operator");
    expect_error("1, 2", 2, "',' outside");
    expect_error("(1, 2)", 3, "',' outside");
    expect_error("max(1,)", 7, "expected an operand");
    expect_error("1e999", 1, "out of range");
    expect_error("+x", 1, "expected an operand");
    expect_error("x = 1", 1, "'x' is a variable given a value; assign another name");
    expect_error("x == 1", 4, "unexpected character '='");
    expect_error("sigmod(x)", 1, "unknown function 'sigmod' (did you mean 'sigmoid'?)");
    expect_error("x + yy", 5, "variable 'yy' has no value (give yy=NUMBER) (did you mean 'y'?)");
    expect_error("x + zzzz", 5, "variable 'zzzz' has no value (give zzzz=NUMBER)");
    expect_error("a = x*y; a = 2", 10, "'a' is assigned twice (first at column 1)");
    expect_error("a = b + 1; b = x", 5, "'b' is used before it is assigned (at column 12)");
    expect_error("a = x; a + 1; a", 8, "only the last one may be a bare expression");
    expect_error("a = ; b = 1", 5, "empty expression");
    expect_error("a = x +; b = 1", 8, "expected an operand");
    expect_error("a = (x +\n y", 5, "this '(' is never closed");
}

static void expect_assign_error(const char *const *assign, const char *words)
{
    gg_graph *g = gg_graph_new();
    gg_expr_vars *vars = NULL;
    gg_expr_error err = {0};
    int rc = 0;
    for (; *assign && rc == 0; assign++)
        rc = gg_expr_vars_add(&vars, g, *assign, &err);
    if (rc == 0 || err.column != 0 || !strstr(err.message, words))
        fail_msg("want '%s', got rc %d '%s'", words, rc, err.message);
    gg_expr_vars_free(vars);
    gg_graph_free(g);
}

static void bad_assignments(void **state)
{
    (void)state;
    expect_assign_error((const char *[]){"x=abc", NULL}, "'abc' is not a number");
    expect_assign_error((const char *[]){"x=", NULL}, "is not a number");
    expect_assign_error((const char *[]){"x=1.5.2", NULL}, "is not a number");
    expect_assign_error((const char *[]){"x=nan", NULL}, "is not a number");
    expect_assign_error((const char *[]){"x=inf", NULL}, "is not a number");
    expect_assign_error((const char *[]){"x=0x10", NULL}, "is not a number");
    expect_assign_error((const char *[]){"x=1e999", NULL}, "out of range");
    expect_assign_error((const char *[]){"x=1", "x=2", NULL}, "x is given twice");
    expect_assign_error((const char *[]){"1x=2", NULL}, "not a variable name");
    expect_assign_error((const char *[]){"=2", NULL}, "not a variable name");
    expect_assign_error((const char *[]){"x", NULL}, "not NAME=VALUE");
}

static void good_assignments(void **state)
{
    (void)state;
    static const char *const vars[] = {"x=-2", "_a1=+1.5e1", "B=.25", NULL};
    env e = make_env(vars);
    assert_true(gg_value(gg_expr_var_find(e.vars, "x")) == -2);
    assert_true(gg_value(gg_expr_var_find(e.vars, "_a1")) == 15);
    assert_true(gg_value(gg_expr_var_find(e.vars, "B")) == 0.25);
    assert_null(gg_expr_var_find(e.vars, "b"));
    free_env(&e);
}

/* ---- Huge inputs: no recursion, no quadratic time ----------------------------------------- */

/* head, unit n times, mid, tail n times. */
static char *repeat(const char *head, const char *unit, size_t n, const char *mid, const char *tail)
{
    size_t h = strlen(head), u = strlen(unit), m = strlen(mid), t = strlen(tail);
    char *s = malloc(h + n * (u + t) + m + 1), *p = s;
    assert_non_null(s);
    memcpy(p, head, h);
    p += h;
    for (size_t i = 0; i < n; i++, p += u)
        memcpy(p, unit, u);
    memcpy(p, mid, m);
    p += m;
    for (size_t i = 0; i < n; i++, p += t)
        memcpy(p, tail, t);
    *p = '\0';
    return s;
}

static double eval_owned(char *text)
{
    double v = eval(text);
    free(text);
    return v;
}

static void deep_nesting(void **state)
{
    (void)state;
    assert_true(eval_owned(repeat("", "(", 50000, "x", ")")) == 3);
    assert_true(eval_owned(repeat("", "-", 50001, "x", "")) == -3);
    assert_true(eval_owned(repeat("", "-(", 50000, "x", ")")) == 3);
    assert_true(eval_owned(repeat("", "abs(", 20000, "y", ")")) == 2);
    assert_true(eval_owned(repeat("", "1^(", 20000, "1", ")")) == 1);
    char *s = repeat("", "(", 50000, "x", "");
    expect_error(s, 50000, "never closed");
    free(s);
}

static void long_sums(void **state)
{
    (void)state;
    size_t n = 50000;
    char *s = repeat("x", "+x", n - 1, "", "");
    static const char *const vars[] = {"x=3", NULL};
    env e = make_env(vars);
    gg_expr_error err;
    gg_node *f = gg_expr_build(e.g, s, e.vars, &err);
    assert_non_null(f);
    assert_true(gg_value(f) == 3.0 * (double)n);
    assert_int_equal(gg_backward(e.g, f), 0);
    assert_true(gg_grad(gg_expr_var_find(e.vars, "x")) == (double)n);
    free_env(&e);
    free(s);
}

/* Random strings over the language's alphabet: every one parses or is
 * refused with a message and a column inside the text (or just past it). */
static void random_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "xy1.e+-*/^(),  maxsigmodtnhreluplgb$";
    static const char *const vars[] = {"x=1", "y=2", NULL};
    uint64_t seed = 12345;
    char text[40];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 39);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            text[i] = alphabet[(seed >> 33) % (sizeof alphabet - 1)];
        }
        text[len] = '\0';
        env e = make_env(vars);
        gg_expr_error err;
        gg_node *f = gg_expr_build(e.g, text, e.vars, &err);
        if (!f) {
            assert_true(err.message[0] != '\0');
            assert_true(err.column <= len + 1);
        }
        free_env(&e);
    }
}

/* The C interface: variables by name and value, reading them back,
 * re-running with a new value, and bad calls refused with a message. */
static void library_interface(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_expr_vars *vars = NULL;
    gg_expr_error err;
    assert_int_equal(gg_expr_vars_put(&vars, g, "x", 3.0, &err), 0);
    assert_int_equal(gg_expr_vars_put(&vars, g, "y2", -0.5, &err), 0);
    gg_node *f = gg_expr_build(g, "x*x + x + y2", vars, &err);
    assert_non_null(f);
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(gg_value(f) == 11.5);
    assert_true(gg_grad(gg_expr_var_find(vars, "x")) == 7.0);
    assert_int_equal(gg_expr_vars_count(vars), 2);
    assert_string_equal(gg_expr_var_name(vars, 1), "y2");
    assert_ptr_equal(gg_expr_var_node(vars, 0), gg_expr_var_find(vars, "x"));
    assert_string_equal(gg_label(g, gg_expr_var_node(vars, 0)), "x");
    assert_null(gg_expr_var_name(vars, 2));
    assert_null(gg_expr_var_node(vars, 2));
    assert_null(gg_expr_var_find(vars, "z"));
    assert_null(gg_expr_var_find(vars, NULL));

    /* A new value, then forward: the same graph, recomputed. */
    assert_int_equal(gg_set_value(g, gg_expr_var_find(vars, "x"), -1.0), 0);
    assert_int_equal(gg_forward(g, f), 0);
    assert_true(gg_value(f) == -0.5);

    assert_int_equal(gg_expr_vars_put(&vars, g, "x", 1.0, &err), -1);
    assert_string_equal(err.message, "variable x is given twice");
    assert_int_equal(gg_expr_vars_put(&vars, g, "2x", 1.0, &err), -1);
    assert_non_null(strstr(err.message, "is not a variable name"));
    assert_int_equal(gg_expr_vars_put(&vars, g, "w", NAN, &err), -1);
    assert_string_equal(err.message, "value of w is not finite");
    assert_int_equal(gg_expr_vars_put(NULL, g, "w", 1.0, &err), -1);
    assert_int_equal(gg_expr_vars_add(&vars, NULL, "w=1", &err), -1);
    assert_null(gg_expr_build(NULL, "x", vars, &err));
    assert_string_equal(err.message, "gg_expr_build: no graph given");
    assert_null(gg_expr_build(g, NULL, vars, &err));
    assert_null(gg_expr_build(g, "x +", vars, NULL)); /* err may be NULL */
    assert_int_equal(gg_expr_vars_count(NULL), 0);
    gg_expr_vars_free(vars);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers),
        cmocka_unit_test(precedence_and_associativity),
        cmocka_unit_test(functions),
        cmocka_unit_test(one_gate_per_operator),
        cmocka_unit_test(fan_out_is_one_leaf),
        cmocka_unit_test(bad_expressions),
        cmocka_unit_test(bad_assignments),
        cmocka_unit_test(good_assignments),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(long_sums),
        cmocka_unit_test(random_garbage),
        cmocka_unit_test(library_interface),
        cmocka_unit_test(powers),
        cmocka_unit_test(programs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
