/* The batch crawl: URL files in, one record per URL out, then exit with
 * SPEC's status (0 all ok, 1 some failed, 2 usage, 3 fatal, 128 + the
 * signal's number after SIGINT or SIGTERM). */
#ifndef RF_CRAWL_H
#define RF_CRAWL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_FATAL = 3,
       EXIT_SIGNAL = 128 };

struct crawl_opts {
	char **files;			/* borrowed; none: cfg batch.urls */
	size_t n_files;
	const char *summary_json;	/* NULL: no JSON summary */
	bool quiet;			/* no progress, no summary on stderr */
	bool resume;			/* --resume: continue OUT's crawl */
};

/* Run the whole crawl with configuration c. Returns the exit status. */
int crawl_run(struct config *c, struct crawl_opts *o);

#endif
