/* parse.c - the expression language (gategrad/expr.h): a shunting-yard
 * parser with explicit stacks that records one engine gate per
 * operator or function as soon as its operands are known. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h" /* the library's allocator, so fault injection reaches the parser */
#include "core/core.h" /* the gate table: its entries with an expression name are the functions */
#include "gategrad/expr.h"
#include "gategrad/graph.h"

#undef uthash_malloc
#undef uthash_free
#define uthash_malloc(sz) ggb_malloc(sz)
#define uthash_free(ptr, sz) ggb_free(ptr)
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

/* ---- Errors ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void fail(gg_expr_error *err, size_t column,
                                                       const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    ggb_verrorf(err->message, NULL, fmt, ap);
    va_end(ap);
    err->column = column;
}

/* ---- Variables ----------------------------------------------------------------- */

typedef struct var_entry {
    char *name;
    gg_node *node;
    size_t col; /* where a program assigned it (1-based), 0 for a given value */
    UT_hash_handle hh;
} var_entry;

struct gg_expr_vars {
    var_entry *table;
    var_entry **list; /* in the order given */
    size_t count, cap;
};

static bool ident_start(int c) { return isalpha(c) || c == '_'; }
static bool ident_char(int c) { return isalnum(c) || c == '_'; }

static size_t scan_ident(const char *s)
{
    size_t n = 0;
    if (ident_start((unsigned char)s[0]))
        while (ident_char((unsigned char)s[n]))
            n++;
    return n;
}

/* Reads a decimal number (optional sign, digits, optional fraction and
 * exponent: no hex, inf or nan) at the start of s into *value. Returns the
 * characters read, 0 if there is no number there. */
static size_t scan_number(const char *s, bool allow_sign, double *value)
{
    size_t n = 0, digits = 0;
    if (allow_sign && (s[n] == '-' || s[n] == '+'))
        n++;
    for (; isdigit((unsigned char)s[n]); n++)
        digits++;
    if (s[n] == '.')
        for (n++; isdigit((unsigned char)s[n]); n++)
            digits++;
    if (digits == 0)
        return 0;
    if (s[n] == 'e' || s[n] == 'E') {
        size_t e = n + 1;
        if (s[e] == '+' || s[e] == '-')
            e++;
        if (isdigit((unsigned char)s[e])) {
            for (n = e; isdigit((unsigned char)s[n]);)
                n++;
        }
    }
    char *copy = ggb_malloc(n + 1);
    if (!copy)
        return 0;
    memcpy(copy, s, n);
    copy[n] = '\0';
    *value = strtod(copy, NULL);
    ggb_free(copy);
    return n;
}

static bool vars_push(gg_expr_vars *v, var_entry *e)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        var_entry **list = ggb_realloc(v->list, cap * sizeof *list);
        if (!list)
            return false;
        v->list = list;
        v->cap = cap;
    }
    int oom = 0;
#undef uthash_nonfatal_oom
#define uthash_nonfatal_oom(obj) (oom = 1)
    HASH_ADD_KEYPTR(hh, v->table, e->name, strlen(e->name), e);
    if (oom)
        return false;
    v->list[v->count++] = e;
    return true;
}

static var_entry *vars_lookup(const gg_expr_vars *v, const char *name, size_t len)
{
    var_entry *e = NULL;
    if (v)
        HASH_FIND(hh, v->table, name, len, e);
    return e;
}

/* Checks "NAME=VALUE" and splits it; false with err filled. */
static bool split_assignment(const char *arg, size_t *name_len, double *value, gg_expr_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        fail(err, 0, "'%.60s' is not NAME=VALUE", arg);
        return false;
    }
    *name_len = (size_t)(eq - arg);
    if (*name_len == 0 || scan_ident(arg) != *name_len) {
        fail(err, 0, "'%.*s' in '%.60s' is not a variable name (letters, digits, _; not starting with a digit)",
             (int)(*name_len < 60 ? *name_len : 60), arg, arg);
        return false;
    }
    size_t used = scan_number(eq + 1, true, value);
    if (used == 0 || eq[1 + used] != '\0') {
        fail(err, 0, "value of %.*s: '%.60s' is not a number", (int)*name_len, arg, eq + 1);
        return false;
    }
    if (!isfinite(*value)) {
        fail(err, 0, "value of %.*s: '%.60s' is out of range", (int)*name_len, arg, eq + 1);
        return false;
    }
    return true;
}

/* Adds name[0..len) for node (made by make when node is NULL: a new
 * variable leaf holding value) to *vars; 0, or -1 with err filled. */
static int add_entry(gg_expr_vars **vars, gg_graph *g, const char *name, size_t len, gg_node *node,
                     double value, size_t col, gg_expr_error *err)
{
    if (vars_lookup(*vars, name, len)) {
        fail(err, 0, "variable %.*s is given twice", (int)len, name);
        return -1;
    }
    if (!*vars && !(*vars = ggb_calloc(1, sizeof **vars))) {
        fail(err, 0, "out of memory");
        return -1;
    }
    var_entry *e = ggb_calloc(1, sizeof *e);
    if (e && (e->name = ggb_strndup(name, len)))
        e->node = node ? node : gg_scalar(g, value);
    if (e)
        e->col = col;
    if (!e || !e->name || !e->node || gg_set_label(g, e->node, e->name) || !vars_push(*vars, e)) {
        fail(err, col, "cannot %s %.*s: %s", node ? "assign" : "add variable", (int)len, name,
             gg_error(g) ? gg_error(g) : "out of memory");
        if (e)
            ggb_free(e->name);
        ggb_free(e);
        return -1;
    }
    return 0;
}

static int add_variable(gg_expr_vars **vars, gg_graph *g, const char *name, size_t len, double value,
                        gg_expr_error *err)
{
    return add_entry(vars, g, name, len, NULL, value, 0, err);
}

int gg_expr_vars_add(gg_expr_vars **vars, gg_graph *g, const char *arg, gg_expr_error *err)
{
    size_t len;
    double value;
    if (!vars || !g || !arg) {
        fail(err, 0, "gg_expr_vars_add: no %s given", !vars ? "table" : !g ? "graph" : "assignment");
        return -1;
    }
    if (!split_assignment(arg, &len, &value, err))
        return -1;
    return add_variable(vars, g, arg, len, value, err);
}

int gg_expr_vars_put(gg_expr_vars **vars, gg_graph *g, const char *name, double value,
                     gg_expr_error *err)
{
    if (!vars || !g || !name) {
        fail(err, 0, "gg_expr_vars_put: no %s given", !vars ? "table" : !g ? "graph" : "name");
        return -1;
    }
    size_t len = strlen(name);
    if (len == 0 || scan_ident(name) != len) {
        fail(err, 0, "'%.60s' is not a variable name (letters, digits, _; not starting with a digit)",
             name);
        return -1;
    }
    if (!isfinite(value)) {
        fail(err, 0, "value of %.60s is not finite", name);
        return -1;
    }
    return add_variable(vars, g, name, len, value, err);
}

size_t gg_expr_vars_count(const gg_expr_vars *vars) { return vars ? vars->count : 0; }

const char *gg_expr_var_name(const gg_expr_vars *vars, size_t i)
{
    return vars && i < vars->count ? vars->list[i]->name : NULL;
}

gg_node *gg_expr_var_node(const gg_expr_vars *vars, size_t i)
{
    return vars && i < vars->count ? vars->list[i]->node : NULL;
}

gg_node *gg_expr_var_find(const gg_expr_vars *vars, const char *name)
{
    var_entry *e = name ? vars_lookup(vars, name, strlen(name)) : NULL;
    return e ? e->node : NULL;
}

void gg_expr_vars_free(gg_expr_vars *vars)
{
    if (!vars)
        return;
    HASH_CLEAR(hh, vars->table);
    for (size_t i = 0; i < vars->count; i++) {
        ggb_free(vars->list[i]->name);
        ggb_free(vars->list[i]);
    }
    ggb_free(vars->list);
    ggb_free(vars);
}

/* ---- Functions ------------------------------------------------------------------- */

/* Functions are the gates with an expression name (ggc_gate.expr), read
 * from the gate table: adding a gate adds its function. */

/* The id of the gate called name[0..len) in the language, or -1. */
static int find_func(const char *name, size_t len)
{
    for (size_t id = 0; id < ggc_gate_count; id++) {
        const char *e = ggc_gates[id]->expr;
        if (e && strlen(e) == len && memcmp(e, name, len) == 0)
            return (int)id;
    }
    return -1;
}

/* "max, min, sigmoid, ..." into buf. */
static const char *known_funcs(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t id = 0; id < ggc_gate_count && used < size; id++) {
        const char *e = ggc_gates[id]->expr;
        int w = e ? snprintf(buf + used, size - used, "%s%s", used ? ", " : "", e) : 0;
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* ---- The parser's state ------------------------------------------------------------- */

enum op_kind { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_POW, OP_PAREN, OP_CALL };

typedef struct op {
    enum op_kind kind;
    size_t col;  /* where it is in the text, 1-based */
    int func;    /* OP_CALL: the gate id; OP_PAREN: the call it opens, or -1 */
    size_t args; /* OP_PAREN of a call: arguments seen so far */
} op;

typedef struct operand {
    gg_node *node;
    size_t col;
} operand;

typedef struct parser {
    gg_graph *g;
    const char *text;
    const gg_expr_vars *vars;
    gg_expr_vars *assigned; /* names the program assigned so far */
    size_t start, stop;     /* the statement being parsed: where it starts, where it ended */
    gg_expr_error *err;
    op *ops;
    size_t nops, ops_cap;
    operand *vals;
    size_t nvals, vals_cap;
} parser;

static bool grow(void **p, size_t *cap, size_t need, size_t size, parser *ps)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? 2 * *cap : 64;
    void *q = ggb_realloc(*p, cap2 * size);
    if (!q) {
        fail(ps->err, 0, "out of memory");
        return false;
    }
    *p = q;
    *cap = cap2;
    return true;
}

static bool push_op(parser *ps, op o)
{
    if (!grow((void **)&ps->ops, &ps->ops_cap, ps->nops + 1, sizeof o, ps))
        return false;
    ps->ops[ps->nops++] = o;
    return true;
}

static bool push_val(parser *ps, gg_node *node, size_t col)
{
    if (!node) {
        fail(ps->err, col, "%s", gg_error(ps->g) ? gg_error(ps->g) : "out of memory");
        return false;
    }
    if (!grow((void **)&ps->vals, &ps->vals_cap, ps->nvals + 1, sizeof(operand), ps))
        return false;
    ps->vals[ps->nvals++] = (operand){node, col};
    return true;
}

static int prec(enum op_kind k)
{
    static const int p[] = {[OP_ADD] = 1, [OP_SUB] = 1, [OP_MUL] = 2, [OP_DIV] = 2,
                            [OP_NEG] = 3, [OP_POW] = 4};
    return k <= OP_POW ? p[k] : 0;
}

/* ---- Applying operators: one gate each -------------------------------------------------- */

/* a ^ b: the pow gate with a constant exponent (it may be any expression
 * without variables), pow_node when the exponent depends on a variable. */
static bool apply_pow(parser *ps, operand a, operand b)
{
    if (gg_requires_grad(b.node))
        return push_val(ps, gg_pow_node(ps->g, a.node, b.node), a.col);
    return push_val(ps, gg_pow(ps->g, a.node, gg_value(b.node)), a.col);
}

/* Pops the operands of o (the state machine guarantees they are there) and
 * pushes the gate it records. */
static bool apply(parser *ps, op o)
{
    gg_graph *g = ps->g;
    if (o.kind == OP_NEG) {
        operand a = ps->vals[--ps->nvals];
        return push_val(ps, gg_neg(g, a.node), o.col);
    }
    if (o.kind == OP_CALL) {
        const ggc_gate *f = ggc_gates[o.func];
        int arity = f->arity, np = f->nparams;
        ps->nvals -= (size_t)(arity + np);
        operand *a = &ps->vals[ps->nvals];
        gg_node *in[GGC_DESCRIBED_INPUTS];
        double p[4];
        for (int i = 0; i < arity; i++)
            in[i] = a[i].node;
        for (int i = 0; i < np; i++) {
            if (gg_requires_grad(a[arity + i].node)) {
                fail(ps->err, a[arity + i].col, "argument %d of %s must be a constant (it depends on a variable)",
                     arity + i + 1, f->expr);
                return false;
            }
            p[i] = gg_value(a[arity + i].node);
        }
        gg_node *n = np == 0 && arity <= 2 ? ggc_record(g, o.func, in[0], arity > 1 ? in[1] : NULL, 0, NULL)
                                           : ggc_record_n(g, o.func, arity, in, p, np, NULL);
        return push_val(ps, n, o.col);
    }
    operand b = ps->vals[--ps->nvals], a = ps->vals[--ps->nvals];
    switch (o.kind) {
    case OP_ADD: return push_val(ps, gg_add(g, a.node, b.node), a.col);
    case OP_SUB: return push_val(ps, gg_sub(g, a.node, b.node), a.col);
    case OP_MUL: return push_val(ps, gg_mul(g, a.node, b.node), a.col);
    case OP_DIV: return push_val(ps, gg_div(g, a.node, b.node), a.col);
    default: return apply_pow(ps, a, b);
    }
}

/* Applies the operators on top of the stack that bind at least as tightly
 * as an incoming binary operator of kind k (more tightly for right-
 * associative ^). */
static bool reduce_for(parser *ps, enum op_kind k)
{
    while (ps->nops > 0) {
        op top = ps->ops[ps->nops - 1];
        int pt = prec(top.kind), pk = prec(k);
        if (top.kind >= OP_PAREN || pt < pk || (pt == pk && k == OP_POW))
            break;
        ps->nops--;
        if (!apply(ps, top))
            return false;
    }
    return true;
}

/* Applies operators down to the innermost '(' (left on the stack); false
 * when there is none (the caller reports why). */
static bool reduce_to_paren(parser *ps)
{
    while (ps->nops > 0 && ps->ops[ps->nops - 1].kind != OP_PAREN) {
        op top = ps->ops[--ps->nops];
        if (!apply(ps, top))
            return false;
    }
    return ps->nops > 0;
}

/* ---- Tokens --------------------------------------------------------------------------- */

static void stray(parser *ps, size_t at)
{
    unsigned char c = (unsigned char)ps->text[at];
    if (isprint(c))
        fail(ps->err, at + 1, "unexpected character '%c'", c);
    else
        fail(ps->err, at + 1, "unexpected byte 0x%02x", c);
}

static void expected_operand(parser *ps, size_t at)
{
    if (ps->text[at] == '\0')
        fail(ps->err, at + 1, "the expression ends where an operand (a number, variable, "
                              "function call or '(') is expected");
    else
        fail(ps->err, at + 1, "expected an operand (a number, variable, function call or '(') "
                              "before '%c'", ps->text[at]);
}

/* ---- Suggestions for unknown names -------------------------------------------------------- */

/* Edit distance between a[0..la) and b (NUL-terminated), up to 16 + 1. */
static size_t distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    if (la > 16 || lb > 16)
        return 17;
    size_t row[17];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* Keeps cand in *best when it is nearer name than what is there: at most
 * two edits, and fewer than the name's length. */
static void consider(const char *name, size_t len, const char *cand, const char **best, size_t *dist)
{
    size_t d = distance(name, len, cand);
    if (d > 0 && d <= 2 && d < len && d < *dist) {
        *best = cand;
        *dist = d;
    }
}

/* " (did you mean 'best'?)", or "" when there is no best, into buf. */
static const char *suggestion(const char *best, char *buf, size_t size)
{
    if (best)
        snprintf(buf, size, " (did you mean '%s'?)", best);
    else
        buf[0] = '\0';
    return buf;
}

/* " (did you mean 'NAME'?)" for the nearest function, or "". */
static const char *near_function(const char *name, size_t len, char *buf, size_t size)
{
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    for (size_t id = 0; id < ggc_gate_count; id++)
        if (ggc_gates[id]->expr)
            consider(name, len, ggc_gates[id]->expr, &best, &dist);
    return suggestion(best, buf, size);
}

/* The same among the variables and the names assigned so far. */
static const char *near_variable(const parser *ps, const char *name, size_t len, char *buf, size_t size)
{
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    const gg_expr_vars *tables[2] = {ps->vars, ps->assigned};
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; tables[t] && i < tables[t]->count; i++)
            consider(name, len, tables[t]->list[i]->name, &best, &dist);
    return suggestion(best, buf, size);
}

/* "column C", or "line L, column C" in a text of several lines, for the
 * 1-based offset col. */
static const char *place(const char *text, size_t col, char *buf, size_t size)
{
    size_t line = 1, start = 0;
    for (size_t i = 0; i + 1 < col && text[i]; i++)
        if (text[i] == '\n') {
            line++;
            start = i + 1;
        }
    if (strchr(text, '\n'))
        snprintf(buf, size, "line %zu, column %zu", line, col - start);
    else
        snprintf(buf, size, "column %zu", col);
    return buf;
}

/* Where a later statement of the program assigns name[0..len), or 0. */
static size_t assigned_later(const parser *ps, const char *name, size_t len)
{
    const char *s = ps->text;
    for (size_t at = ps->stop; s[at]; at++) {
        if (s[at] != ';' && s[at] != '\n')
            continue;
        size_t k = at + 1;
        while (isspace((unsigned char)s[k]))
            k++;
        if (scan_ident(s + k) != len || memcmp(s + k, name, len) != 0)
            continue;
        size_t e = k + len;
        while (s[e] == ' ' || s[e] == '\t')
            e++;
        if (s[e] == '=')
            return k + 1;
    }
    return 0;
}

/* A name: a call when '(' follows (*call set), else a variable. Returns
 * the length consumed (the '(' included), 0 on error. */
static size_t operand_name(parser *ps, size_t at, bool *call)
{
    const char *s = ps->text + at;
    size_t len = scan_ident(s), after = len;
    while (isspace((unsigned char)s[after]))
        after++;
    if (s[after] == '(') {
        int f = find_func(s, len);
        if (f < 0) {
            char known[200], near[64];
            fail(ps->err, at + 1, "unknown function '%.*s'%s (known: %s)", (int)(len < 40 ? len : 40), s,
                 near_function(s, len, near, sizeof near), known_funcs(known, sizeof known));
            return 0;
        }
        if (!push_op(ps, (op){OP_CALL, at + 1, f, 0}) ||
            !push_op(ps, (op){OP_PAREN, at + after + 1, f, 1}))
            return 0;
        *call = true;
        return after + 1;
    }
    var_entry *v = vars_lookup(ps->vars, s, len);
    if (!v)
        v = vars_lookup(ps->assigned, s, len);
    if (!v) {
        int shown = (int)(len < 40 ? len : 40);
        char near[64];
        size_t later = assigned_later(ps, s, len);
        char where[48];
        if (later)
            fail(ps->err, at + 1, "'%.*s' is used before it is assigned (at %s)", shown, s,
                 place(ps->text, later, where, sizeof where));
        else
            fail(ps->err, at + 1, "variable '%.*s' has no value (give %.*s=NUMBER)%s", shown, s, shown, s,
                 near_variable(ps, s, len, near, sizeof near));
        return 0;
    }
    return push_val(ps, v->node, at + 1) ? len : 0;
}

static size_t operand_number(parser *ps, size_t at)
{
    double value = 0;
    size_t len = scan_number(ps->text + at, false, &value);
    if (len == 0) {
        fail(ps->err, at + 1, "out of memory");
        return 0;
    }
    if (!isfinite(value)) {
        fail(ps->err, at + 1, "the number '%.*s' is out of range", (int)(len < 40 ? len : 40),
             ps->text + at);
        return 0;
    }
    return push_val(ps, gg_constant(ps->g, GG_F64, value), at + 1) ? len : 0;
}

/* The closing ')' of a call with no arguments, "f()". */
static bool empty_call(parser *ps, size_t at)
{
    if (ps->nops == 0)
        return false;
    op *top = &ps->ops[ps->nops - 1];
    if (top->kind != OP_PAREN || top->func < 0 || top->args != 1)
        return false;
    size_t k = top->col; /* the '(' is at index col - 1 */
    while (isspace((unsigned char)ps->text[k]))
        k++;
    if (k != at)
        return false;
    top->args = 0;
    return true;
}

/* Where an operand is expected: returns characters consumed, 0 on error;
 * *operand_done tells whether an operand is now complete. */
static size_t at_operand(parser *ps, size_t at, bool *operand_done)
{
    char c = ps->text[at];
    *operand_done = true;
    if (ident_start((unsigned char)c)) {
        bool call = false;
        size_t n = operand_name(ps, at, &call);
        *operand_done = !call; /* a call's arguments come next */
        return n;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)ps->text[at + 1])))
        return operand_number(ps, at);
    *operand_done = false;
    if (c == '-')
        return push_op(ps, (op){OP_NEG, at + 1, -1, 0}) ? 1 : 0;
    if (c == '(')
        return push_op(ps, (op){OP_PAREN, at + 1, -1, 0}) ? 1 : 0;
    if (c == ')' && empty_call(ps, at))
        return 0; /* handled by the caller as a closing parenthesis */
    if (c == '\0' || strchr("+*/^),;", c))
        expected_operand(ps, at);
    else
        stray(ps, at);
    return 0;
}

static bool close_paren(parser *ps, size_t at)
{
    if (!reduce_to_paren(ps)) {
        if (ps->err->message[0] == '\0')
            fail(ps->err, at + 1, "unbalanced parentheses: this ')' has no matching '('");
        return false;
    }
    op paren = ps->ops[--ps->nops];
    if (paren.func < 0)
        return true;
    op call = ps->ops[--ps->nops];
    const ggc_gate *f = ggc_gates[call.func];
    int want = f->arity + f->nparams;
    if (paren.args != (size_t)want) {
        fail(ps->err, call.col, "%s takes %d argument%s, not %zu", f->expr, want, want == 1 ? "" : "s",
             paren.args);
        return false;
    }
    return apply(ps, call);
}

static bool comma(parser *ps, size_t at)
{
    if (!reduce_to_paren(ps) || ps->ops[ps->nops - 1].func < 0) {
        if (ps->err->message[0] == '\0')
            fail(ps->err, at + 1, "',' outside the arguments of a function call");
        return false;
    }
    ps->ops[ps->nops - 1].args++;
    return true;
}

/* Where an operator is expected: true when one was read (or ')' / ','),
 * with *operand_next telling whether an operand must follow. */
static bool at_operator(parser *ps, size_t at, bool *operand_next)
{
    static const char ops[] = "+-*/^";
    static const enum op_kind kinds[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW};
    char c = ps->text[at];
    *operand_next = true;
    const char *p = c ? strchr(ops, c) : NULL;
    if (p) {
        enum op_kind k = kinds[p - ops];
        return reduce_for(ps, k) && push_op(ps, (op){k, at + 1, -1, 0});
    }
    if (c == ',')
        return comma(ps, at);
    *operand_next = false;
    if (c == ')')
        return close_paren(ps, at);
    if (ident_start((unsigned char)c) || isdigit((unsigned char)c) || c == '(' || c == '.')
        fail(ps->err, at + 1, "expected an operator (+ - * / ^) before '%c'", c);
    else
        stray(ps, at);
    return false;
}

/* ---- The driver ---------------------------------------------------------------------------- */

static gg_node *finish(parser *ps, size_t end)
{
    while (ps->nops > 0) {
        op top = ps->ops[--ps->nops];
        if (top.kind == OP_PAREN) {
            fail(ps->err, top.col, "unbalanced parentheses: this '(' is never closed");
            return NULL;
        }
        if (!apply(ps, top))
            return NULL;
    }
    if (ps->nvals != 1) {
        fail(ps->err, end + 1, "internal error: %zu values left after parsing", ps->nvals);
        return NULL;
    }
    return ps->vals[0].node;
}

/* Whether a '(' is still open: a newline inside parentheses does not end
 * the statement. */
static bool in_parens(const parser *ps)
{
    for (size_t i = 0; i < ps->nops; i++)
        if (ps->ops[i].kind == OP_PAREN)
            return true;
    return false;
}

/* Whether the statement ends at: the text's end, or ';' or a newline
 * where an operator could come, outside parentheses. */
static bool statement_ends(const parser *ps, size_t at)
{
    char c = ps->text[at];
    return c == '\0' || ((c == ';' || c == '\n') && !in_parens(ps));
}

/* Parses the statement's expression from ps->start; sets ps->stop. */
static gg_node *parse(parser *ps)
{
    const char *s = ps->text;
    size_t at = ps->start;
    bool want_operand = true, seen = false;
    ps->nops = ps->nvals = 0;
    for (;;) {
        while (isspace((unsigned char)s[at]) && !(s[at] == '\n' && !want_operand && !in_parens(ps)))
            at++;
        if (statement_ends(ps, at) && !seen) {
            fail(ps->err, ps->start ? at + 1 : 0, "empty expression");
            return NULL;
        }
        seen = true;
        if (want_operand) {
            bool done;
            size_t n = at_operand(ps, at, &done);
            if (n == 0 && !(s[at] == ')' && ps->err->message[0] == '\0'))
                return NULL;
            if (n == 0) { /* "f()": the ')' closes the call at once */
                if (!close_paren(ps, at))
                    return NULL;
                n = 1;
                done = true;
            }
            at += n;
            want_operand = !done;
            continue;
        }
        if (statement_ends(ps, at)) {
            ps->stop = at;
            return finish(ps, at);
        }
        if (!at_operator(ps, at, &want_operand))
            return NULL;
        at++;
    }
}

/* "name = ..." was parsed into *v: name labels it and later statements
 * may use it. A given variable or a name assigned before is refused. */
static bool assign(parser *ps, size_t at, size_t len, gg_node **v)
{
    const char *name = ps->text + at;
    int shown = (int)(len < 40 ? len : 40);
    var_entry *old = vars_lookup(ps->assigned, name, len);
    if (old) {
        char where[48];
        fail(ps->err, at + 1, "'%.*s' is assigned twice (first at %s)", shown, name,
             place(ps->text, old->col, where, sizeof where));
        return false;
    }
    if (vars_lookup(ps->vars, name, len)) {
        fail(ps->err, at + 1, "'%.*s' is a variable given a value; assign another name", shown, name);
        return false;
    }
    /* The name needs a node of its own: "b = a" or "c = 2" copy. */
    if (gg_is_leaf(*v) || gg_label(ps->g, *v))
        *v = gg_copy(ps->g, *v);
    return add_entry(&ps->assigned, ps->g, name, len, *v, 0, at + 1, ps->err) == 0;
}

/* A program: statements separated by ';' or newlines, each "name = expr"
 * but the last, which may be a bare expression; its value is the root. */
static gg_node *parse_program(parser *ps)
{
    const char *s = ps->text;
    gg_node *root = NULL;
    size_t at = 0, bare = 0;
    for (;;) {
        while (isspace((unsigned char)s[at]) || s[at] == ';')
            at++;
        if (s[at] == '\0')
            break;
        if (bare) {
            fail(ps->err, bare, "this statement assigns no name; only the last one may be a bare expression");
            return NULL;
        }
        size_t len = scan_ident(s + at), eq = at + len;
        while (s[eq] == ' ' || s[eq] == '\t')
            eq++;
        bool named = len > 0 && s[eq] == '=';
        ps->start = named ? eq + 1 : at;
        gg_node *v = parse(ps);
        if (!v || (named && !assign(ps, at, len, &v)))
            return NULL;
        if (!named)
            bare = at + 1;
        root = v;
        at = ps->stop;
    }
    if (!root)
        fail(ps->err, 0, "empty expression");
    return root;
}

/* The error's column, an offset into the whole text so far, as a line and
 * a column in it. */
static void to_line_and_column(const char *text, gg_expr_error *err)
{
    if (err->column == 0)
        return;
    size_t line = 1, start = 0;
    for (size_t i = 0; i + 1 < err->column && text[i]; i++)
        if (text[i] == '\n') {
            line++;
            start = i + 1;
        }
    err->line = line;
    err->column -= start;
}

gg_node *gg_expr_build(gg_graph *g, const char *text, const gg_expr_vars *vars, gg_expr_error *err)
{
    gg_expr_error ignored;
    if (!err)
        err = &ignored;
    *err = (gg_expr_error){0};
    if (!g || !text) {
        fail(err, 0, "gg_expr_build: no %s given", !g ? "graph" : "expression");
        return NULL;
    }
    parser ps = {.g = g, .text = text, .vars = vars, .err = err};
    gg_node *root = parse_program(&ps);
    ggb_free(ps.ops);
    ggb_free(ps.vals);
    gg_expr_vars_free(ps.assigned);
    to_line_and_column(text, err);
    return root;
}
