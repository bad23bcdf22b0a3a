/* cli.h - what the `gategrad` subcommands share: the subcommand list,
 * argument parsing, building the expression's graph, and error messages.
 *
 * Adding a subcommand (say `train`):
 *   1. write tools/cmd_train.c defining  int cmd_train(int argc, char **argv)
 *      (argv[0] is "train"; return the exit code: 0 ok, 2 bad input, 1 other
 *      failure; answer --help with a usage and examples);
 *   2. add one line  X(train, "one-line help")  to GG_COMMANDS below;
 *   3. add 'train' to gategrad_commands in tools/meson.build.
 * `gategrad --help` lists it and `gategrad train ...` runs it. */
#ifndef GG_TOOLS_CLI_H
#define GG_TOOLS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <gategrad.h>

#define GG_COMMANDS(X)                                                                 \
    X(grad, "value of an expression and its gradient for each variable")              \
    X(hessian, "value, gradient and Hessian matrix of an expression (second derivatives)") \
    X(trace, "the gate-level trace of an expression, forward then backward")          \
    X(explain, "the chain rule for one variable, path by path, with the numbers")     \
    X(dot, "an expression's graph as Graphviz DOT (render with dot -Tsvg)")          \
    X(html, "a page that steps through backpropagation gate by gate (self-contained HTML)") \
    X(train, "train an MLP classifier on a data set (fashion-mnist, spiral, CSV, ...)") \
    X(predict, "evaluate a saved model on a data set's test split")

#define GG_COMMAND_DECL(name, help) int cmd_##name(int argc, char **argv);
GG_COMMANDS(GG_COMMAND_DECL)
#undef GG_COMMAND_DECL

/* Exit codes. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_BAD_INPUT = 2 };

/* Options a subcommand accepts (cli_parse refuses the others). */
enum { CLI_OPT_JSON = 1u << 0, CLI_OPT_WRT = 1u << 1, CLI_OPT_MAX_PATHS = 1u << 2 };

typedef struct cli_args {
    const char *expr;
    char **assign; /* the NAME=VALUE arguments, nassign of them (into argv) */
    int nassign;
    bool json;          /* --json */
    const char *wrt;    /* --wrt NAME */
    size_t max_paths;   /* --max-paths N (0: the library's default) */
} cli_args;

/* Parses "[options] EXPR NAME=VALUE..." (options may come anywhere; "--"
 * ends them). Returns -1 to go on, or the exit code to return at once:
 * CLI_OK after printing usage for --help, CLI_BAD_INPUT after a message. */
int cli_parse(int argc, char **argv, unsigned accepted, const char *usage, cli_args *a);

/* The expression's graph: variables (labelled by name) first, then one gate
 * per operator, the root labelled "f" (or another free name). */
typedef struct cli_expr {
    gg_graph *g;
    gg_expr_vars *vars;
    gg_node *root;
} cli_expr;

/* Builds e from a. Returns CLI_OK, or an exit code after printing the
 * problem (with the expression and a caret under the column at fault). */
int cli_build(const cli_args *a, cli_expr *e);

/* cli_parse, then cli_build: -1 to go on, or the exit code to return (all
 * freed by then). */
int cli_start(int argc, char **argv, unsigned accepted, const char *usage, cli_args *a,
              cli_expr *e);

/* Runs backward from the root; CLI_OK or CLI_FAILED with a message. */
int cli_backward(cli_expr *e);

/* Frees what cli_parse and cli_build made; returns rc, for `return cli_free(...)`. */
int cli_free(cli_args *a, cli_expr *e, int rc);

/* Takes "--grad NAME" out of argv[0..*argc) (before any "--"), shortening
 * it, and sets *name (NULL without the option). -1 to go on, or
 * CLI_BAD_INPUT after a message (no NAME). */
int cli_take_grad(int *argc, char **argv, const char **name);

/* Records d root / d name as a graph (gg_gradient), labelled "d<f>/d<name>";
 * NULL after a message (no such variable, a gate that cannot record). */
gg_node *cli_gradient(cli_expr *e, const char *name);

/* "gategrad: <message>" on stderr, printf-style. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* From cli_hold_errors on, cli_error and the parsers' usage errors keep
 * their messages (the first 4 KiB) instead of printing them, until
 * cli_release_errors prints them (print) or drops them. The ranks of an
 * MPI job hold their errors until they have agreed which of them failed,
 * so that a mistake every rank makes is printed once (cmd_train.c). */
void cli_hold_errors(void);
void cli_release_errors(bool print);

/* The expression language, for every subcommand's --help. */
extern const char cli_language_help[];

#endif
