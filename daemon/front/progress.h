/* The batch crawl's live progress line on stderr: one line redrawn in place
 * with \r from a loop timer, only when stderr is a terminal. */
#ifndef RF_PROGRESS_H
#define RF_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/sched.h"
#include "event/loop.h"
#include "event/timer.h"

struct batch;

#define PROGRESS_INTERVAL_MS 250 /* at most four redraws a second */
#define PROGRESS_WINDOW 8	 /* rates over the last 2 s of samples */

struct progress_sample {
	uint64_t t_ms, done, bytes;
};

struct progress {
	struct loop *loop;     /* borrowed */
	const struct sched *s; /* borrowed: counters */
	const struct batch *b; /* borrowed: total, once b->done */
	struct timer timer;    /* next redraw; armed while on */
	bool on;	       /* drawing: stderr is a tty, not quiet */
	unsigned shown;	       /* columns on screen now, 0 = none */
	unsigned n_samples;    /* samples taken, all time */
	struct sched_snapshot snap; /* the scheduler at the last sample */
	struct progress_sample win[PROGRESS_WINDOW]; /* ring */
};

/* Start drawing on stderr when it is a terminal and !quiet; otherwise p
 * stays off and every call below does nothing. l, s and b must outlive the
 * progress until progress_stop(). Never fails: a terminal that cannot be
 * written to just shows nothing. */
void progress_start(struct progress *p, struct loop *l, const struct sched *s,
		    const struct batch *b, bool quiet);

/* Erase the line (before other output on stderr, such as a log line); the
 * next tick draws it again. */
void progress_clear(struct progress *p);

/* Erase the line and stop the timer for good (before the summary). */
void progress_stop(struct progress *p);

#endif
