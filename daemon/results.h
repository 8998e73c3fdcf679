/* Result records: one JSON object a line in DIR/results.jsonl, one per job,
 * buffered and written whole lines at a time; never touches a connection. */
#ifndef RF_RESULTS_H
#define RF_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct job;

struct results {
	int fd;			/* results.jsonl, O_APPEND */
	char *path;		/* owned */
	struct buf out;		/* whole records not yet written */
	uint64_t records;	/* records written or buffered */
	int64_t ts_sec;		/* second of ts_text (cache) */
	char ts_text[24];	/* "YYYY-mm-ddTHH:MM:SS" of ts_sec */
	int err;		/* first write error (-errno), 0 if none */
};

/* Create dir (and parents) if needed and open DIR/results.jsonl for append.
 * Returns 0, or -errno with a sentence naming the path in err. */
int results_open(struct results *r, const char *dir, char *err,
		 size_t errlen);

/* Format j's record into the buffer and write the buffer out once it holds
 * 64 KiB. Returns 0 or -errno (the record stays buffered). */
int results_write(struct results *r, const struct job *j);

/* Format j's record (one line with its "\n") into b. Returns 0 or -errno. */
int results_format(struct buf *b, const struct job *j, uint64_t wall_ms,
		   struct results *cache);

/* Write out everything buffered. Returns 0 or -errno. */
int results_flush(struct results *r);

/* Flush and close. Returns the first write error, or 0. */
int results_close(struct results *r);

#endif
