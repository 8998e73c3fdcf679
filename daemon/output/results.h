/* Result records: one JSON object a line in DIR/results.jsonl, one per job,
 * buffered and written whole lines at a time; never touches a connection.
 *
 * The log rotates by output.rotate_size and output.rotate_interval into
 * DIR/results-YYYYmmddTHHMMSSZ[-N].jsonl, always between two records. A
 * helper thread compresses rotated files (output.compress) and deletes the
 * oldest beyond output.rotate_keep, so the loop never waits on either. A
 * failed write (a full disk) keeps every record buffered, blocks new
 * fetches through results_blocked(), and is retried by a timer.
 *
 * Durability (output.sync): records are numbered from 1 as they are
 * written (results.records). Under batch, an fdatasync through the ring
 * runs at most every output.sync_interval while records wait for one;
 * under none, a record counts once the kernel has it. Either way the
 * durable callback then says "records up to N are durable", in order.
 * Before the file is renamed (rotation, reopen) what was written is synced
 * (blocking: rare) and the callback runs, so its owner can make its own
 * marks durable before a record moves out of results.jsonl. */
#ifndef RF_RESULTS_H
#define RF_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "event/loop.h"
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
	bool last_lost;		/* the last results_write() lost its record */
	bool keep_last;		/* copy each record into last (output.redis) */
	struct buf last;	/* the last record written, with its newline;
				 * empty when it was lost */
	/* ---- durability (output.sync) ---- */
	uint64_t written;	/* records handed to the kernel, <= records */
	uint64_t synced;	/* records durable per output.sync, <= written */
	uint64_t sync_target;	/* written when the sync in flight began */
	uint64_t sync_last_ms;	/* loop clock of the last sync's start */
	int sync_fd;		/* dup of fd under the sync SQE, or -1 */
	bool sync_busy;		/* op_sync is in flight */
	int sync_err;		/* -errno of the last failed sync, 0 */
	struct io_op op_sync;
	struct timer t_sync;	/* next sync while records wait for one */
	/* Told (never re-entering results) when records up to n are durable;
	 * NULL: nobody listens. */
	void (*durable)(void *arg, uint64_t n);
	/* Asked before the file is renamed, after the records were synced:
	 * false defers the rotation (records stay buffered and the next
	 * flush asks again). NULL: always. */
	bool (*may_rotate)(void *arg);
	void *owner;		/* the argument of both */
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

/* The job number of a record line (n bytes at p, as results_format()
 * writes it: "job" right after "ts"). Returns true with *num set, or false
 * for a line that is not such a record. Sees only the buffer: fuzzed. */
bool results_line_job(const char *p, size_t n, uint64_t *num);

/* Write out everything buffered. While blocked (and a loop was given) this
 * only returns the error: t_retry makes the attempts. Returns 0 or -errno. */
int results_flush(struct results *r);

/* Whether a write failed and records wait for the retry: callers should
 * start no new fetch until it clears. */
bool results_blocked(const struct results *r);

/* Write out what is buffered and make every written record durable now,
 * blocking (fdatasync under output.sync: batch); the durable callback runs.
 * For compaction and the end of a run. Returns 0 or -errno. */
int results_sync_now(struct results *r);

/* Whether no sync of r is in flight (the ring must not outlive one). */
bool results_idle(const struct results *r);

/* Flush (one last attempt), close, wait for the helper thread to finish
 * compressing and pruning, free. Returns the first error that lost records
 * (including what could not be written now), or 0. */
int results_close(struct results *r);

#endif
