/* gategrad/expr.h - the expression language: text such as "(x + y) * z"
 * built straight into a graph, one gate per operator or function. The
 * `gategrad` command reads its expressions with it.
 *
 *   expr     := numbers (1, 2.5, .5, 1e-3), variables [A-Za-z_][A-Za-z0-9_]*,
 *               + - * / ^, unary minus, ( ), and calls of the gate table's
 *               functions: max(a, b), min(a, b), sigmoid, tanh, exp, log,
 *               relu, abs, sqrt, sin, cos, softplus, silu, gelu (one
 *               argument each), pow(a, b), clamp(x, lo, hi) (lo and hi
 *               constant), where(cond, a, b)
 *   precedence, loosest first: + -  then  * /  then unary minus  then ^
 *               (^ is right-associative: a^b^c = a^(b^c), -a^2 = -(a^2))
 *
 * Gates: + add, - sub, * mul, / div, unary minus neg, ^ pow with a constant
 * exponent (any expression without variables, e.g. x^(1/2) or x^-1) and
 * pow_node with one that depends on a variable (x^y, 2^x), functions by
 * name; numbers are constant leaves.
 *
 * A variable is one scalar leaf labelled with its name however often it is
 * used, so using it twice shows as fan-out in a trace.
 *
 * The parser is shunting-yard with explicit heap stacks: no recursion, so
 * nesting depth is limited only by memory, and every input is read in one
 * pass. */
#ifndef GATEGRAD_EXPR_H
#define GATEGRAD_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "gategrad/base.h"
#include "gategrad/graph.h"

/* Where and what went wrong: line and column 1-based in the text (line 1
 * for a one-line expression), both 0 when the problem is not in the text
 * (a NAME=VALUE argument). */
typedef struct gg_expr_error {
    size_t line, column;
    char message[GG_ERRLEN];
} gg_expr_error;

/* The variables and their leaves, by name and in the order added. Owned by
 * the caller: start from NULL, free with gg_expr_vars_free. */
typedef struct gg_expr_vars gg_expr_vars;

/* Reads "NAME=VALUE" and adds NAME as a variable scalar leaf of g holding
 * VALUE, labelled NAME. Variables are kept in the order they are added.
 * 0, or -1 with err filled (not NAME=VALUE, NAME not a valid name, VALUE not
 * a finite decimal number, NAME given twice, out of memory). */
GG_API int gg_expr_vars_add(gg_expr_vars **vars, gg_graph *g, const char *arg, gg_expr_error *err);

/* Adds name as a variable scalar leaf of g holding value, labelled name:
 * the same as "NAME=VALUE" without the text. 0, or -1 with err filled (not
 * a valid name, value not finite, name given twice, out of memory). */
GG_API int gg_expr_vars_put(gg_expr_vars **vars, gg_graph *g, const char *name, double value,
                            gg_expr_error *err);

/* Number of variables, and the i-th (in the order added; NULL past the
 * end). Names are owned by vars. */
GG_API size_t gg_expr_vars_count(const gg_expr_vars *vars);
GG_API const char *gg_expr_var_name(const gg_expr_vars *vars, size_t i);
GG_API gg_node *gg_expr_var_node(const gg_expr_vars *vars, size_t i);

/* The leaf of the variable called name, or NULL. Give a variable a new
 * value with gg_set_value on its leaf, then gg_forward the root. */
GG_API gg_node *gg_expr_var_find(const gg_expr_vars *vars, const char *name);

/* Frees the table (not the leaves: g owns them). NULL is ignored. */
GG_API void gg_expr_vars_free(gg_expr_vars *vars);

/* Parses text (NUL-terminated) and records its gates in g, variables taken
 * from vars (leaves of g). The nodes belong to g, as any others do.
 * Returns the root node, or NULL with err filled: empty input, a stray
 * character, a malformed number, unknown function, wrong argument count,
 * unbalanced parentheses, a missing operand or operator, a variable with no
 * value, a non-constant exponent, or an engine error. err may be NULL. */
GG_API gg_node *gg_expr_build(gg_graph *g, const char *text, const gg_expr_vars *vars, gg_expr_error *err);

#endif
