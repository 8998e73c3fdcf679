/* One engine for both modes: the loop, the record writer, the scheduler,
 * body storage and metrics, set up in one place and torn down in one place.
 * The batch crawl (crawl.c) and the daemon (daemon.c) each own one and add
 * what is theirs on top: a producer (URL files, the control socket) and
 * observers of finished jobs (the summary, control's waiters). */
#ifndef RF_ENGINE_H
#define RF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "engine/sched.h"
#include "event/loop.h"
#include "output/results.h"

struct bodies;
struct metrics;
struct redis_out;
struct workers;

struct engine {
	struct config *cfg;		/* borrowed; outlives the engine */
	char *out_dir;			/* owned: output directory in use */
	struct loop loop;
	struct results results;		/* DIR/results.jsonl */
	struct sched sched;
	struct bodies *bodies;		/* output.bodies store, or NULL */
	struct metrics *metrics;	/* NULL once engine_stop() ran; always
					 * there before, exporting only when
					 * metrics.listen or .textfile is set */
	struct sched_observer rec;	/* first observer: writes the record */
	struct sched_observer met;	/* then: metrics histograms */
	struct workers *workers;	/* limits.workers > 1: the worker
					 * rings the conns run on; else NULL */
	struct redis_out *rout;		/* output.redis, or NULL */
	struct sched_observer pub;	/* then: the record to output.redis */
	unsigned up;			/* what engine_init() got done */
};

/* Set up e for cfg (borrowed), writing under out_dir (copied): loop,
 * results, scheduler, body storage when output.bodies is set, metrics.
 * Returns 0, or -errno with a sentence in err; on failure everything set up
 * so far is undone and e needs no engine_fini(). */
int engine_init(struct engine *e, struct config *cfg, const char *out_dir,
		char *err, size_t errlen);

/* The end of the run: close idle pooled connections and stop exporting
 * metrics (the textfile is written a last time). Harmless twice. */
void engine_stop(struct engine *e);

/* Run loop turns without sleeping until no connection is open and done(arg)
 * holds (NULL: nothing more), for at most max_ms. Returns whether both
 * held in time. */
bool engine_drain(struct engine *e, bool (*done)(void *arg), void *arg,
		  uint64_t max_ms);

/* Around a change to what the worker rings read (the configuration, the
 * TLS context): they wait between two completions meanwhile. Nothing that
 * waits for a worker (an abort, a detach) may run in between. No-ops
 * without worker rings. */
void engine_pause(struct engine *e);
void engine_resume(struct engine *e);

/* Close what engine_init() opened, in reverse: engine_stop(), the result
 * file (a last flush), the scheduler (every job must be finished or
 * dropped), body storage, the loop. Returns 0, or -errno when records were
 * lost because the result file could not be written. */
int engine_fini(struct engine *e);

#endif
