/* An append-only file of lines with group commit through the ring: the
 * lines appended during a loop turn leave in one write, followed (when
 * sync is on) by one fdatasync linked to it, so one disk flush serves
 * every line appended meanwhile. A waiter learns when everything appended
 * before it has reached the disk. The daemon's journal of accepted jobs and
 * the batch crawl's parked lines are both such files.
 *
 * A write that fails (a full disk) is kept and tried again every second;
 * waiters are held until it succeeds, so nothing is reported durable that
 * is not. journal_read() gives the lines back after a crash and cuts a torn
 * last line off the file. */
#ifndef RF_JOURNAL_H
#define RF_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/list.h"
#include "event/loop.h"

#define JOURNAL_PEND_MAX (16u << 20)	/* appended, not yet written */
#define JOURNAL_RETRY_MS 1000		/* after a failed write or sync */

struct journal_wait {
	/* Called once, from a completion, when every line appended before
	 * journal_wait() is on the disk (err 0), or the journal is closing
	 * (err -ECANCELED). */
	void (*durable)(struct journal_wait *w, int err);
	uint64_t seq;			/* set by journal_wait() */
	struct list_node node;		/* in journal.waits, by seq */
};

struct journal {
	struct loop *loop;		/* borrowed */
	char *path;			/* owned */
	int fd;				/* -1 when closed */
	bool sync;			/* fdatasync after each write */
	bool busy;			/* a write (and sync) is in flight */
	bool closing;
	int write_err;			/* of the batch in flight's write */
	int error;			/* -errno of the last failure, 0 after
					 * a success; logged once per run of
					 * failures */
	struct buf pend;		/* appended, not yet handed over */
	struct buf wire;		/* under the write SQE; kept on failure */
	size_t wire_off;		/* of wire, written so far */
	uint64_t size;			/* bytes in the file */
	uint64_t appended;		/* lines appended, all time */
	uint64_t wire_seq;		/* appended count the wire ends at */
	uint64_t durable;		/* lines known to be on the disk */
	uint64_t writes, syncs;		/* counters, for tests and status */
	struct io_op op_write, op_sync;
	struct timer t_retry;
	struct loop_hook hook;		/* hands pend over once a turn */
	struct list_node waits;		/* struct journal_wait, by seq */
};

/* Open (creating) path for appending on loop l. The file must already be
 * consistent (journal_read() cut a torn line off). Returns 0, or -errno
 * with a sentence naming path in err. */
int journal_open(struct journal *jr, struct loop *l, const char *path,
		 bool sync, char *err, size_t errlen);

/* Append one line (n bytes, without its newline, which is added). Returns
 * the line's sequence number (from 1), or -ENOBUFS when JOURNAL_PEND_MAX
 * bytes already wait for the disk (nothing appended: hold the producer). */
int64_t journal_append(struct journal *jr, const char *line, size_t n);

/* Have w->durable called once everything appended so far is on the disk;
 * at once (before returning) when it already is. */
void journal_wait(struct journal *jr, struct journal_wait *w);

/* Stop waiting (w's owner is going away); harmless when not waiting. */
void journal_unwait(struct journal_wait *w);

/* Bytes appended and not yet on the disk. */
size_t journal_pending(const struct journal *jr);

/* Bytes jr holds allocated for its buffers (their capacity, not their
 * content), for the daemon's status. */
size_t journal_mem_bytes(const struct journal *jr);

/* Write out everything appended, blocking (at shutdown, and before a
 * compaction). Returns 0 or -errno. */
int journal_flush_now(struct journal *jr);

/* Replace the file's content with the n bytes at p (complete lines),
 * through a temporary file, fdatasync and rename; appends go on into the
 * new file. Blocking: for compaction, when the journal is idle (nothing in
 * flight). Returns 0, or -errno with the old file kept. */
int journal_rewrite(struct journal *jr, const char *p, size_t n);

/* Every line of the file was consumed (the batch crawl took its parked
 * lines back): cut the file to nothing, so its disk is given back, and
 * append from its start again. Only when nothing is pending or in flight.
 * Returns 0, -EBUSY (nothing done) or -errno. */
int journal_empty(struct journal *jr);

/* What is pending is written (blocking, once), waiters are told (-ECANCELED
 * for what could not be written), the file is closed and jr's memory freed.
 * With a write in flight this happens on its completion: run the loop
 * until journal_idle() before jr goes away. */
void journal_close(struct journal *jr);

/* Whether no operation of jr is in flight. */
bool journal_idle(const struct journal *jr);

/* Read path line by line into fn (each without its newline). A last line
 * without a newline is torn: it is not passed, and the file is truncated
 * before it. A missing file reads as empty. Returns the number of lines
 * read, or -errno with a sentence in err. */
int64_t journal_read(const char *path,
		     void (*fn)(void *arg, const char *line, size_t n),
		     void *arg, char *err, size_t errlen);

#endif
