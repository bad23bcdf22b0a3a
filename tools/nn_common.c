/* nn_common.c - option tables and result printing for train and predict. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn_common.h"

static const nn_opt *find(const nn_opt *opts, const char *name)
{
    for (; opts->name; opts++)
        if (!strcmp(opts->name, name))
            return opts;
    return NULL;
}

static int set_value(const nn_opt *o, const char *v)
{
    char *end;
    errno = 0;
    if (o->kind == NN_STR) {
        *(const char **)o->dst = v;
        return -1;
    }
    double d = strtod(v, &end);
    bool whole = o->kind != NN_SIZE || d == floor(d);
    if (!*v || *end || errno || !whole || !(d >= o->min && d <= o->max)) {
        cli_error("--%s: '%s' is not %s in %g..%g", o->name, v,
                  o->kind == NN_SIZE ? "a whole number" : "a number", o->min, o->max);
        return CLI_BAD_INPUT;
    }
    if (o->kind == NN_SIZE)
        *(size_t *)o->dst = (size_t)d;
    else
        *(double *)o->dst = d;
    return -1;
}

int nn_parse(int argc, char **argv, const nn_opt *opts, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (gg_dist_rank() == 0) /* under mpiexec, once */
                fputs(usage, stdout);
            return CLI_OK;
        }
        const nn_opt *o = strncmp(a, "--", 2) ? NULL : find(opts, a + 2);
        if (!o) {
            cli_error("%s: unknown %s '%s' (see gategrad %s --help)", argv[0],
                      a[0] == '-' ? "option" : "argument", a, argv[0]);
            return CLI_BAD_INPUT;
        }
        if (o->seen)
            *o->seen = true;
        if (o->kind == NN_FLAG) {
            *(bool *)o->dst = true;
            continue;
        }
        if (i + 1 >= argc) {
            cli_error("%s needs a value", a);
            return CLI_BAD_INPUT;
        }
        int rc = set_value(o, argv[++i]);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

int nn_load_data(const char *name, uint64_t seed, gg_dataset *train, gg_dataset *test)
{
    char err[GG_ERRLEN];
    if (gg_load_named_dataset(name, seed, train, test, err) == 0)
        return CLI_OK;
    cli_error("%s", err);
    return CLI_BAD_INPUT;
}

void nn_print_eval(double loss, double acc, const size_t *confusion, size_t classes)
{
    printf("test loss %.4f  test accuracy %.4f\n", loss, acc);
    if (!confusion || classes > 20)
        return;
    printf("confusion matrix (rows: true class, columns: predicted)\n     ");
    for (size_t j = 0; j < classes; j++)
        printf(" %6zu", j);
    for (size_t i = 0; i < classes; i++) {
        printf("\n%4zu ", i);
        for (size_t j = 0; j < classes; j++)
            printf(" %6zu", confusion[i * classes + j]);
    }
    printf("\n");
}

/* ---- Under mpiexec ---------------------------------------------------------- */

static bool agreed, setup_failed;

bool nn_primary(void) { return gg_dist_rank() == 0; }

int nn_dist_begin(void)
{
    char err[GG_ERRLEN];
    if (gg_dist_init(0, err)) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    if (gg_dist_local_size() > 1 && !getenv("GG_NUM_THREADS"))
        gg_set_num_threads(gg_dist_threads_per_rank());
    if (gg_dist_size() > 1)
        cli_hold_errors();
    return CLI_OK;
}

int nn_dist_agree(int rc)
{
    if (gg_dist_size() == 1 || agreed)
        return rc;
    agreed = true;
    char err[GG_ERRLEN];
    double failed = rc != CLI_OK;
    if (gg_dist_sum(&failed, 1, err)) {
        cli_release_errors(true);
        cli_error("%s", err);
        return rc != CLI_OK ? rc : CLI_FAILED;
    }
    setup_failed = failed > 0;
    cli_release_errors(failed >= gg_dist_size() ? nn_primary() : rc != CLI_OK);
    return setup_failed && rc == CLI_OK ? CLI_FAILED : rc;
}

int nn_dist_end(int rc)
{
    rc = nn_dist_agree(rc);
    if (rc != CLI_OK && !setup_failed) {
        fflush(stdout);
        gg_dist_abort(rc);
    }
    gg_dist_finalize();
    return rc;
}
