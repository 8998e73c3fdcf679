/* The daemon's promise that nothing accepted is lost (queue.journal): every
 * accepted job is an accept line in STATE_DIR/journal.jsonl before its
 * submitter hears "ok", and gets a done line once its record is durable
 * (output.sync), never before. A start replays the accepted jobs that have
 * neither a done line nor a record in results.jsonl, with their numbers,
 * and compacts the journal to the live jobs; so does a running daemon once
 * the journal has grown by DURABLE_COMPACT_FACTOR times what compaction
 * left, and at least DURABLE_COMPACT_MIN: so it stays proportional to the
 * live jobs, and a compaction (blocking, costing about what it keeps)
 * comes no more often than every 8 times its own size of traffic.
 *
 * Ordering, which is what makes "exactly one record" hold across kill -9:
 *   accept line durable  <  acknowledgement sent
 *   record durable       <  done line appended
 *   done lines durable   <  a record leaves results.jsonl (rotation) */
#ifndef RF_DURABLE_H
#define RF_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/engine.h"
#include "base/buf.h"
#include "output/journal.h"
#include "output/spill.h"

#define DURABLE_COMPACT_MIN (8ull << 20)	/* RINGFETCH_JOURNAL_COMPACT
						 * overrides (tests) */
#define DURABLE_COMPACT_FACTOR 8

struct durable_mark {
	uint64_t num;			/* job number */
	uint64_t rec;			/* results.records after its record */
};

struct durable {
	bool on;			/* queue.journal in effect */
	struct engine *e;		/* borrowed */
	struct journal jr;		/* open while on */
	char *path;			/* owned: STATE_DIR/journal.jsonl */
	struct buf line;		/* scratch: one accept line */
	struct sched_observer obs;	/* after the record writer */
	struct durable_mark *fifo;	/* ring of marks waiting for their
					 * record's sync, oldest at head */
	size_t head, len, cap;
	uint64_t compact_at;		/* journal size that compacts */
	uint64_t compactions;		/* counters, for status */
	uint64_t refused;		/* submits the journal could not take */
	bool rotate_warned;
	/* Accept a job taken back from the journal (the daemon sets its
	 * headers); NULL when it could not be (logged by the callee). */
	struct job *(*take)(void *arg, const struct spill_entry *e);
	void *take_arg;
};

/* Before the daemon takes submits: with queue.journal on (on, the caller's
 * reading of the tri-state), read the journal in state_dir, replay its live
 * jobs through take (in journal order, with their numbers), count as done
 * those with a record in results.jsonl, compact, and open it for appends;
 * then observe e's jobs and its results' syncs. Off: nothing but du->on =
 * false. Returns 0, or -errno with a sentence in err (the daemon cannot
 * keep its promise: it must not start). */
int durable_open(struct durable *du, struct engine *e, bool on,
		 const char *state_dir, char *err, size_t errlen);

/* Journal j's accept line (after sched accepted j; its headers set).
 * Returns 0 (j->journaled set; harmless when off), or -ENOBUFS with the
 * reason in why when the journal cannot take it: the caller drops j and
 * answers queue_full, for an unjournaled acknowledgement is a lie. */
int durable_accept(struct durable *du, struct job *j, char *why,
		   size_t whylen);

/* Have w->durable called once every accept line so far is on the disk (at
 * once when off). A waiting w moves to the latest line. */
void durable_gate(struct durable *du, struct journal_wait *w);

/* Once a turn: marks that could not be appended, and compaction when the
 * journal has grown and is idle. */
void durable_tick(struct durable *du);

/* At the end (the loop still runs, fetching has stopped): records synced,
 * their done marks written, the journal closed; a failure is logged, for
 * what it leaves undone is redone at the next start. Run loop turns until
 * durable_idle() before durable_fini(). Returns 0. */
int durable_close(struct durable *du);
bool durable_idle(const struct durable *du);
void durable_fini(struct durable *du);

#endif
