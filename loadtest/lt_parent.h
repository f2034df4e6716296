/*
 * lt_parent.h — the parent process of a load test: forks the workers,
 * moves them through the phases together (see lt_worker.h), prints the
 * live progress, merges their results and writes the reports.
 */
#ifndef CHORUS_LT_PARENT_H
#define CHORUS_LT_PARENT_H

#include "lt_config.h"

/* Runs the whole test; returns the process exit status (0, 1 or 3). */
int lt_parent_run(const lt_config *cfg);

#endif
