/* nn_common.h - what `gategrad train` and `gategrad predict` share: option
 * tables, loading data and models, printing results, the SVG pictures. */
#ifndef GG_TOOLS_NN_COMMON_H
#define GG_TOOLS_NN_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include <gategrad.h>

typedef enum { NN_STR, NN_SIZE, NN_DOUBLE, NN_FLAG } nn_opt_kind;

/* One "--name VALUE" option: where its value goes and its allowed range. */
typedef struct nn_opt {
    const char *name;
    nn_opt_kind kind;
    void *dst;        /* const char **, size_t *, double * or bool * */
    double min, max;  /* NN_SIZE and NN_DOUBLE */
    bool *seen;       /* set when given; may be NULL */
} nn_opt;

/* Parses argv[1..argc) against opts (terminated by a NULL name). Returns -1
 * to go on, CLI_OK after printing usage for --help, CLI_BAD_INPUT after a
 * one-line message for an unknown option, a missing value or a bad number. */
int nn_parse(int argc, char **argv, const nn_opt *opts, const char *usage);

/* Loads the named data set (gg_load_named_dataset); CLI_OK or CLI_BAD_INPUT
 * after printing the loader's message. */
int nn_load_data(const char *name, uint64_t seed, gg_dataset *train, gg_dataset *test);

/* Prints "test loss L  test accuracy A" and, for classes <= 20, the
 * confusion matrix (rows: true class, columns: predicted). */
void nn_print_eval(double loss, double acc, const size_t *confusion, size_t classes);

/* ---- Under mpiexec ----------------------------------------------------------
 * A subcommand's MPI life: nn_dist_begin before anything else, nn_dist_agree
 * at the end of its set-up (just before its first collective call), and
 * nn_dist_end on its way out, whatever happened. Between begin and the
 * agreement each rank holds its error messages (cli_hold_errors); at the
 * agreement one sum counts the ranks that failed: when all did (the same
 * mistake: an option, a missing file) rank 0 alone prints, when some did
 * each of those prints its own, and every rank ends with its exit code,
 * none left waiting. A rank that fails before reaching the agreement joins
 * it in nn_dist_end. A failure after the agreement ends the job
 * (MPI_Abort) once its rank has printed it. In one process all of this
 * does nothing. */

/* MPI when launched by mpiexec, and each rank's share of the cores. CLI_OK,
 * or CLI_FAILED after a message. */
int nn_dist_begin(void);

/* The agreement on rc, this rank's set-up result: rc, or CLI_FAILED when
 * this rank was ready and another was not. Once per run; later calls
 * return rc. */
int nn_dist_agree(int rc);

/* Agrees if the run has not, then ends MPI (MPI_Abort for a failure the
 * ranks did not agree on); returns rc. */
int nn_dist_end(int rc);

/* The rank that prints results and writes files (rank 0; the only one in
 * one process). */
bool nn_primary(void);

/* Loss curves (train and validation) and validation accuracy per epoch. */
int svg_curves(const char *path, const gg_epoch_stats *hist, size_t n, char *err);

/* The decision regions of a 2-D classifier under d's points, as the
 * TensorFlow Playground draws them. */
int svg_boundary(const char *path, gg_classifier *c, const gg_dataset *d, char *err);

#endif
