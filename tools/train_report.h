/* train_report.h - the page of `gategrad train --html`: the run's numbers
 * collected per epoch, written by gg_train_report_html. */
#ifndef GG_TOOLS_TRAIN_REPORT_H
#define GG_TOOLS_TRAIN_REPORT_H

#include <gategrad.h>

typedef struct train_report train_report;

/* A collector for a run of up to epochs epochs on classes classes; on 2-D
 * data (test's points are drawn) it samples the decision boundary at the
 * first epoch and at every ceil(epochs / 8)-th, the last included. NULL
 * when out of memory. */
train_report *train_report_new(size_t epochs, const gg_dataset *test, size_t classes);

/* From the epoch callback: samples the boundary when epoch e is one of them
 * (gg_classifier_predict; the training itself is unchanged). An error is
 * kept for train_report_write. */
void train_report_epoch(train_report *t, gg_classifier *c, size_t e);

typedef struct train_report_run {
    gg_classifier *c;
    const char *data;
    const gg_epoch_stats *hist; /* n epochs, measured with grad_norms */
    size_t n;
    double test_loss, test_accuracy;
} train_report_run;

/* Writes the page to path (the boundary at the run's last epoch is the
 * final weights'). 0, or -1 with a message in err. */
int train_report_write(train_report *t, const char *path, const train_report_run *run, char *err);

void train_report_free(train_report *t);

#endif
