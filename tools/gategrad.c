/* gategrad.c - the `gategrad` command: finds the subcommand in the table
 * and runs it. Subcommands live one per file, tools/cmd_NAME.c; how to add
 * one is described in cli.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

#define GG_COMMAND_ENTRY(name, help) {#name, cmd_##name, help},
static const command commands[] = {GG_COMMANDS(GG_COMMAND_ENTRY)};
#undef GG_COMMAND_ENTRY

static void usage(FILE *out)
{
    fprintf(out, "usage: gategrad COMMAND [options] ...\n"
                 "       gategrad COMMAND --help | gategrad --version\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\nExamples:\n"
                 "  gategrad grad \"(x + y) * z\" x=-2 y=5 z=-4\n"
                 "  gategrad trace \"2 * (x*y + max(z, w))\" x=3 y=-4 z=2 w=-1\n"
                 "  gategrad explain \"sigmoid(w*x + b)\" w=2 x=-1 b=3 --wrt w\n"
                 "  gategrad dot \"(x + y) * z\" x=-2 y=5 z=-4 | dot -Tsvg > f.svg\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_BAD_INPUT;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gategrad %s\n", GG_VERSION_STRING);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try gategrad --help)", argv[1]);
    return CLI_BAD_INPUT;
}
