/* The end-of-crawl account: text on stderr and --summary-json. */
#ifndef RF_SUMMARY_H
#define RF_SUMMARY_H

#include <stdio.h>
#include <stdint.h>

#include "sched.h"

/* Print the human summary of st over elapsed_ms to f. */
void summary_print(FILE *f, const struct sched_stats *st, uint64_t elapsed_ms);

/* Write the same as one JSON object (and a newline) to path. Returns 0 or
 * -errno. */
int summary_write_json(const char *path, const struct sched_stats *st,
		       uint64_t elapsed_ms);

#endif
