/* Result records: one JSON object a line in DIR/results.jsonl, one per job,
 * buffered and written whole lines at a time; never touches a connection.
 *
 * The log rotates by output.rotate_size and output.rotate_interval into
 * DIR/results-YYYYmmddTHHMMSSZ[-N].jsonl, always between two records. A
 * helper thread compresses rotated files (output.compress) and deletes the
 * oldest beyond output.rotate_keep, so the loop never waits on either. A
 * failed write (a full disk) keeps every record buffered, blocks new
 * fetches through results_blocked(), and is retried by a timer. */
#ifndef RF_RESULTS_H
#define RF_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "event/timer.h"

struct job;
struct loop;
struct config;
struct rotated_worker;

struct results {
	int fd;			/* results.jsonl (O_APPEND), or -1 */
	char *dir;		/* owned: the output directory */
	char *path;		/* owned: DIR/results.jsonl */
	struct buf out;		/* whole records not yet written */
	uint64_t records;	/* records written or buffered */
	uint64_t size;		/* bytes in the open file: whole lines */
	uint64_t opened_ms;	/* loop clock when the open file began */
	int64_t ts_sec;		/* second of ts_text (cache) */
	char ts_text[24];	/* "YYYY-mm-ddTHH:MM:SS" of ts_sec */
	int err;		/* first error that lost records, 0 if none */
	int blocked;		/* -errno of the failing write while records
				 * wait for t_retry, else 0 */
	struct loop *loop;	/* NULL: no timers, every flush tries */
	const struct config *cfg; /* borrowed; output.* read at each use */
	struct timer t_retry;	/* next write attempt while blocked */
	struct timer t_rotate;	/* output.rotate_interval */
	char last_stamp[20];	/* stamp of the last rotated name */
	unsigned last_seq;	/* its -N suffix, 0 for none */
	bool rotate_failed;	/* the last rotation failed (logged once) */
	struct rotated_worker *worker; /* owned; from the first rotation */
};

/* Create dir (and parents) if needed and open DIR/results.jsonl for append.
 * l (may be NULL: no interval rotation, no retry timer) and cfg (may be
 * NULL: no rotation) are borrowed and must outlive r. Returns 0, or -errno
 * with a sentence naming the path in err. */
int results_open(struct results *r, struct loop *l, const struct config *cfg,
		 const char *dir, char *err, size_t errlen);

/* Write out what is buffered, then switch to DIR/results.jsonl anew (the
 * old one may have been renamed by logrotate; dir may differ from the last
 * one). On failure r keeps writing the file it had. Returns 0, or -errno
 * with a sentence in err. */
int results_reopen(struct results *r, const char *dir, char *err,
		    size_t errlen);

/* Format j's record into the buffer and write the buffer out once it holds
 * 64 KiB. Returns 0 or -errno (-ENOBUFS: the record was lost; any other:
 * it stays buffered and r is blocked). */
int results_write(struct results *r, const struct job *j);

/* Format j's record (one line with its "\n") into b. Returns 0 or -errno. */
int results_format(struct buf *b, const struct job *j, uint64_t wall_ms,
		   struct results *cache);

/* Write out everything buffered. While blocked (and a loop was given) this
 * only returns the error: t_retry makes the attempts. Returns 0 or -errno. */
int results_flush(struct results *r);

/* Whether a write failed and records wait for the retry: callers should
 * start no new fetch until it clears. */
bool results_blocked(const struct results *r);

/* Flush (one last attempt), close, wait for the helper thread to finish
 * compressing and pruning, free. Returns the first error that lost records
 * (including what could not be written now), or 0. */
int results_close(struct results *r);

#endif
