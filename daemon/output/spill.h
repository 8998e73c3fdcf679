/* The spill file: jobs that were accepted but not finished when the daemon
 * stopped, saved as JSON Lines and taken back first at the next start, so
 * every accepted job gets exactly one record across a restart. */
#ifndef RF_SPILL_H
#define RF_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct job;
struct json_val;
struct json_doc;

/* One saved job, as spill_load() hands it over; every pointer lives until
 * the callback returns. */
struct spill_entry {
	uint64_t num;			/* the job number it was given */
	const char *id;			/* submitter id, or NULL */
	const char *url;		/* as submitted */
	size_t url_len;
	const struct json_val *headers;	/* object of strings, or NULL */
};

/* What one line of a spill file or of the journal is. */
enum spill_line {
	SPILL_BAD = 0,		/* not JSON, or none of the below */
	SPILL_JOB,		/* {"job":N,"url":..}: a job to take back */
	SPILL_DONE,		/* {"done":N}: job N has its record */
	SPILL_NEXT,		/* {"next_job":N}: the job counter */
};

/* Classify the n bytes at p (one line, without its newline); for SPILL_JOB
 * fill e (pointing into doc, which the caller frees with json_doc_free()
 * whatever the answer), for the others set *num (> 0). SPILL_BAD comes
 * with a reason in err. Sees only the buffer: fuzzed. */
enum spill_line spill_parse(const char *p, size_t n, struct json_doc *doc,
			    struct spill_entry *e, uint64_t *num, char *err,
			    size_t errlen);

/* Append j as one line {"job":N,"id":..,"url":..,"headers":{..}} to b.
 * Returns 0, or -ENOBUFS/-ENOMEM with b unchanged. */
int spill_format(struct buf *b, const struct job *j);

/* Replace path by a file holding a first line {"next_job":N} and then the
 * lines in b: written to path.tmp, fsynced and renamed, so a crash leaves
 * the old file or the new one, never half of one. Returns 0, or -errno
 * with a sentence naming the path in err. */
int spill_write(const char *path, const struct buf *b, uint64_t next_job,
		char *err, size_t errlen);

/* Call fn(arg, entry) for every job line of path, in order; a line that is
 * not a job is logged and skipped. *next_job gets the saved counter (0 when
 * absent). A missing file loads nothing. Returns how many jobs were handed
 * over, or -errno with a sentence in err (the file cannot be read). */
int spill_load(const char *path,
	       void (*fn)(void *arg, const struct spill_entry *e), void *arg,
	       uint64_t *next_job, char *err, size_t errlen);

#endif
