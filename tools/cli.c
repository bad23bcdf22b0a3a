/* cli.c - argument parsing, graph building and error messages shared by
 * the `gategrad` subcommands. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_language_help[] =
    "Expressions: numbers (2, 0.5, 1e-3), variables (x, w_1), + - * /, ^ (power,\n"
    "right-associative, binding tighter than unary minus: -a^2 is -(a^2); the\n"
    "exponent must be constant: write exp(y * log(x)) for x^y), unary minus,\n"
    "parentheses, max(a, b), min(a, b), sigmoid, tanh, relu, exp, log, abs.\n"
    "Each operator and function is one gate; a variable used twice is one leaf\n"
    "whose gradient is the sum of both uses. Quote the expression for the shell.\n"
    "Errors print one line naming the problem and its column, and exit with 2.\n";

static struct {
    bool on;
    size_t len;
    char text[4096];
} held;

void cli_hold_errors(void)
{
    held.on = true;
    held.len = 0;
}

void cli_release_errors(bool print)
{
    if (print)
        fwrite(held.text, 1, held.len, stderr);
    held.on = false;
    held.len = 0;
}

/* Prints, or keeps while errors are held, "gategrad: ", the message, a
 * newline and after. */
static void error_text(const char *fmt, va_list ap, const char *after)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (!held.on) {
        fprintf(stderr, "gategrad: %s\n%s", line, after);
        return;
    }
    size_t room = sizeof held.text - held.len;
    int n = snprintf(held.text + held.len, room, "gategrad: %s\n%s", line, after);
    if (n > 0)
        held.len += (size_t)n < room ? (size_t)n : room - 1;
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_text(fmt, ap, "");
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static int usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_text(fmt, ap, usage);
    va_end(ap);
    return CLI_BAD_INPUT;
}

static bool parse_count(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || *s == '-' || v == 0 || v > 1000000)
        return false;
    *out = (size_t)v;
    return true;
}

/* One "--name" option at argv[*i]; -1 to go on, else an exit code. */
static int option(int argc, char **argv, int *i, unsigned accepted, const char *usage,
                  cli_args *a)
{
    const char *o = argv[*i];
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
        fputs(usage, stdout);
        fputs(cli_language_help, stdout);
        return CLI_OK;
    }
    if ((accepted & CLI_OPT_JSON) && !strcmp(o, "--json")) {
        a->json = true;
        return -1;
    }
    bool wrt = (accepted & CLI_OPT_WRT) && !strcmp(o, "--wrt");
    bool paths = (accepted & CLI_OPT_MAX_PATHS) && !strcmp(o, "--max-paths");
    if (!wrt && !paths)
        return usage_error(usage, "unknown option '%.40s' (an expression that starts with -- "
                                  "goes after a '--' argument)", o);
    if (*i + 1 >= argc)
        return usage_error(usage, "%s needs a value", o);
    const char *v = argv[++*i];
    if (wrt)
        a->wrt = v;
    else if (!parse_count(v, &a->max_paths))
        return usage_error(usage, "--max-paths: '%s' is not a count from 1 to 1000000", v);
    return -1;
}

/* "--word" or "-h"; "---x" or "--(x)" are expressions. */
static bool is_option(const char *s)
{
    if (!strcmp(s, "-h"))
        return true;
    if (strncmp(s, "--", 2) || !isalpha((unsigned char)s[2]))
        return false;
    return strspn(s + 2, "abcdefghijklmnopqrstuvwxyz-") == strlen(s + 2);
}

int cli_parse(int argc, char **argv, unsigned accepted, const char *usage, cli_args *a)
{
    *a = (cli_args){0};
    a->assign = calloc((size_t)argc + 1, sizeof *a->assign);
    if (!a->assign) {
        cli_error("out of memory");
        return CLI_FAILED;
    }
    bool options = true;
    for (int i = 1; i < argc; i++) {
        if (options && !strcmp(argv[i], "--")) {
            options = false;
        } else if (options && is_option(argv[i])) {
            int rc = option(argc, argv, &i, accepted, usage, a);
            if (rc >= 0)
                return rc;
        } else if (!a->expr) {
            a->expr = argv[i];
        } else {
            a->assign[a->nassign++] = argv[i];
        }
    }
    if (!a->expr)
        return usage_error(usage, "%s", "no expression given");
    if ((accepted & CLI_OPT_WRT) && !a->wrt)
        return usage_error(usage, "%s", "--wrt NAME is required");
    return -1;
}

/* Line `line` of the text (1-based), or the part of a long one around col,
 * with a caret under col. */
static void show_column(const char *text, size_t line, size_t col)
{
    for (size_t l = 1; l < line && strchr(text, '\n'); l++)
        text = strchr(text, '\n') + 1;
    size_t len = strcspn(text, "\n"), at = col - 1, from = 0, to = len;
    if (at > 40)
        from = at - 40;
    if (to > at + 40)
        to = at + 40;
    const char *pre = from ? "..." : "";
    fprintf(stderr, "  %s%.*s%s\n  %*s^\n", pre, (int)(to - from), text + from,
            to < len ? "..." : "", (int)(strlen(pre) + at - from), "");
}

static void label_root(cli_expr *e)
{
    static const char *const names[] = {"f", "result", "out", "root_"};
    if (gg_label(e->g, e->root))
        return;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!gg_find(e->g, names[i])) {
            gg_set_label(e->g, e->root, names[i]);
            return;
        }
}

int cli_build(const cli_args *a, cli_expr *e)
{
    gg_expr_error err;
    if (!(e->g = gg_graph_new())) {
        cli_error("out of memory");
        return CLI_FAILED;
    }
    for (int i = 0; i < a->nassign; i++)
        if (gg_expr_vars_add(&e->vars, e->g, a->assign[i], &err)) {
            cli_error("%s", err.message);
            return CLI_BAD_INPUT;
        }
    if (!(e->root = gg_expr_build(e->g, a->expr, e->vars, &err))) {
        if (err.column == 0) {
            cli_error("%s", err.message);
        } else {
            if (strchr(a->expr, '\n'))
                cli_error("line %zu, column %zu: %s", err.line, err.column, err.message);
            else
                cli_error("column %zu: %s", err.column, err.message);
            show_column(a->expr, err.line, err.column);
        }
        return CLI_BAD_INPUT;
    }
    label_root(e);
    return CLI_OK;
}

int cli_backward(cli_expr *e)
{
    if (gg_backward(e->g, e->root)) {
        cli_error("%s", gg_error(e->g));
        return CLI_FAILED;
    }
    return CLI_OK;
}

int cli_free(cli_args *a, cli_expr *e, int rc)
{
    free(a->assign);
    gg_expr_vars_free(e->vars);
    gg_graph_free(e->g);
    *a = (cli_args){0};
    *e = (cli_expr){0};
    return rc;
}

int cli_start(int argc, char **argv, unsigned accepted, const char *usage, cli_args *a,
              cli_expr *e)
{
    *e = (cli_expr){0};
    int rc = cli_parse(argc, argv, accepted, usage, a);
    if (rc < 0)
        rc = cli_build(a, e);
    return rc == CLI_OK && e->root ? -1 : cli_free(a, e, rc);
}

int cli_take_grad(int *argc, char **argv, const char **name)
{
    int n = 0;
    *name = NULL;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--")) {
            while (i < *argc)
                argv[n++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--grad")) {
            if (i + 1 >= *argc) {
                cli_error("--grad needs a variable name");
                return CLI_BAD_INPUT;
            }
            *name = argv[++i];
        } else
            argv[n++] = argv[i];
    }
    *argc = n;
    argv[n] = NULL;
    return -1;
}

gg_node *cli_gradient(cli_expr *e, const char *name)
{
    gg_node *x = NULL, *d;
    for (size_t i = 0; i < gg_expr_vars_count(e->vars); i++)
        if (!strcmp(gg_expr_var_name(e->vars, i), name))
            x = gg_expr_var_node(e->vars, i);
    if (!x) {
        cli_error("--grad %s: no variable '%s' was given a value", name, name);
        return NULL;
    }
    if (gg_gradient(e->g, e->root, 1, &x, &d)) {
        cli_error("%s", gg_error(e->g));
        return NULL;
    }
    char label[256];
    snprintf(label, sizeof label, "d%s/d%s", gg_label(e->g, e->root), name);
    if (!gg_label(e->g, d) && !gg_find(e->g, label))
        gg_set_label(e->g, d, label);
    return d;
}
