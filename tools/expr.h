/* expr.h - the `gategrad` command's expression language, built straight
 * into a gategrad graph, one engine gate per operator or function.
 *
 *   expr     := numbers (1, 2.5, .5, 1e-3), variables [A-Za-z_][A-Za-z0-9_]*,
 *               + - * / ^, unary minus, ( ), and calls max(a, b), min(a, b),
 *               sigmoid, tanh, relu, exp, log, abs (one argument each)
 *   precedence, loosest first: + -  then  * /  then unary minus  then ^
 *               (^ is right-associative: a^b^c = a^(b^c), -a^2 = -(a^2))
 *
 * Gates: + add, - sub, * mul, / div, unary minus neg, ^ pow, functions by
 * name; numbers are constant leaves. The exponent of ^ must be constant (it
 * may be any expression without variables, e.g. x^(1/2) or x^-1): the pow
 * gate takes a fixed exponent, and x^y with a variable y is refused with a
 * hint to write exp(y * log(x)) instead.
 *
 * A variable is one scalar leaf labelled with its name however often it is
 * used, so using it twice shows as fan-out in a trace.
 *
 * The parser is shunting-yard with explicit heap stacks: no recursion, so
 * nesting depth is limited only by memory, and every input is read in one
 * pass. */
#ifndef GG_TOOLS_EXPR_H
#define GG_TOOLS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include <gategrad.h>

/* Where and what went wrong. column is 1-based in the expression, 0 when
 * the problem is not in the expression (a NAME=VALUE argument). */
typedef struct expr_error {
    size_t column;
    char message[256];
} expr_error;

/* The variables and their leaves, a uthash table keyed by name. */
typedef struct expr_vars expr_vars;

/* Reads "NAME=VALUE" and adds NAME as a variable scalar leaf of g holding
 * VALUE, labelled NAME. Variables are kept in the order they are added.
 * 0, or -1 with err filled (not NAME=VALUE, NAME not a valid name, VALUE not
 * a finite decimal number, NAME given twice, out of memory). */
int expr_vars_add(expr_vars **vars, gg_graph *g, const char *arg, expr_error *err);

/* Number of variables, and the i-th (in the order added). */
size_t expr_vars_count(const expr_vars *vars);
const char *expr_var_name(const expr_vars *vars, size_t i);
gg_node *expr_var_node(const expr_vars *vars, size_t i);

/* The leaf of the variable called name, or NULL. */
gg_node *expr_var_find(const expr_vars *vars, const char *name);

/* Frees the table (not the leaves: g owns them). NULL is ignored. */
void expr_vars_free(expr_vars *vars);

/* Parses text and records its gates in g, variables taken from vars.
 * Returns the root node, or NULL with err filled: empty input, a stray
 * character, a malformed number, unknown function, wrong argument count,
 * unbalanced parentheses, a missing operand or operator, a variable with no
 * value, a non-constant exponent, or an engine error. */
gg_node *expr_build(gg_graph *g, const char *text, const expr_vars *vars, expr_error *err);

/* Reads a decimal number (optional sign, digits, optional fraction and
 * exponent: no hex, inf or nan) at the start of s into *value. Returns the
 * characters read, 0 if there is no number there. */
size_t expr_scan_number(const char *s, bool allow_sign, double *value);

#endif
