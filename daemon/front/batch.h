/* The batch producer: reads URL files lazily through the ring, one line a
 * job. With a park (SPEC: Fair intake), a line whose host is over its share
 * of the queue, or that finds the queue full, is parked on disk and
 * reading goes on; parked lines come back first, host by host in turn.
 * Without one, reading pauses while the queue is full. Either way memory
 * does not depend on the files' length. */
#ifndef RF_BATCH_H
#define RF_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/sched.h"
#include "event/loop.h"
#include "front/park.h"

#define BATCH_BUF (64 * 1024)	/* a longer line becomes an invalid_url record */
/* A line this long is no URL, nor a JSON line: the file is junk (a binary
 * file, /dev/zero) and reading it stops there, with a log line. */
#define BATCH_JUNK_LINE (1024 * 1024)

struct batch {
	struct sched *s;
	struct loop *loop;
	int *fds;		/* one per file, opened at start; -1 once read */
	char **names;		/* borrowed */
	size_t n, cur;		/* files, and the one being read */
	struct io_op op_read;
	struct loop_hook hook;	/* feeds the rest of a turn's budget */
	struct sched_room_wait room; /* waiting: the queue was full */
	struct sched_room_wait share; /* waiting: parked hosts at their share */
	struct park *park;	/* borrowed, set after opening; NULL: no
				 * parking (reading pauses on a full queue) */
	uint64_t park_max;	/* bytes parked past which reading pauses */
	bool files_done;	/* every file read (lines may be parked) */
	bool park_failed;	/* logged once: a line could not park */
	bool reading;		/* a read SQE is in flight */
	bool eof;		/* files[cur] hit EOF */
	bool skip_rest;		/* discarding the tail of an over-long line */
	size_t long_bytes;	/* bytes of that line so far (skip_rest) */
	bool done;		/* every file read and every line submitted
				 * (none parked), or stopped */
	int error;		/* -errno of a failed read (or -ENOMEM: a
				 * line could not be accepted; -EFBIG: a
				 * junk line), 0 if none */
	uint64_t lines;		/* jobs submitted */
	uint64_t first;		/* job number of the crawl's first line */
	uint64_t index;		/* job lines met so far, skipped or not */
	uint64_t skipped;	/* lines --resume found done */
	/* Whether job line i has its record already (--resume); NULL:
	 * none has. Set after batch_open(). */
	bool (*done_before)(void *arg, uint64_t i);
	void *done_arg;
	size_t pos;		/* buf[pos..len) not yet consumed */
	size_t len;		/* bytes in buf */
	char buf[BATCH_BUF];
};

/* Open every file (a name "-" is stdin) before anything is fetched. Opens
 * never block: a FIFO is opened at once and then waited on until its
 * writer has written or gone, with a log line when that takes more than a
 * second. The job of the i-th URL line (from 0, over all files) is
 * numbered first + i (first is 1 unless set after opening). Returns 0, or
 * -errno with "FILE: reason" in err (nothing is left open). */
int batch_open(struct batch *b, struct sched *s, struct loop *l,
	       char **names, size_t n, char *err, size_t errlen);

/* park_init()'s written callback for a batch b (arg): parked lines it
 * waited for are on the disk. */
void batch_parked_written(void *arg);

/* Read no more lines (an interrupted crawl): done from now on, with what
 * was submitted so far. A read in flight completes harmlessly. */
void batch_stop(struct batch *b);

/* Close what is still open; the loop must not have a read in flight. */
void batch_close(struct batch *b);

#endif
