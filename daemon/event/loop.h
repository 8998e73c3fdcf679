/* The event loop: one io_uring ring drives every socket operation, and the
 * wait for the next completion is bounded by the earliest timer, so timers
 * cost no SQE. Knows completions and timers, never HTTP. */
#ifndef RF_LOOP_H
#define RF_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/bufpool.h"
#include "event/timer.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

struct io_op;
/* res and flags are the CQE's. */
typedef void (*io_done_fn)(struct io_op *op, int res, unsigned flags);

/* One in-flight ring operation, embedded in its owner (user_data points
 * here). The owner must stay alive until done() has run. */
struct io_op {
	io_done_fn done;
};

/* How long a turn may wait for loop.batch_nr completions. */
#define LOOP_BATCH_WAIT_NS 200000

struct loop_hook {
	void (*fn)(struct loop_hook *h);	/* run once per turn, before the wait;
						 * last added runs first */
	struct loop_hook *next;
};

struct loop {
	struct io_uring ring;
	struct timer_heap timers;
	uint64_t now_ms;		/* cached CLOCK_MONOTONIC, updated per turn */
	uint64_t turns, cqes;		/* counters for status */
	struct loop_hook *hooks;
	struct loop_hook *flushers;	/* run after every hook */
	unsigned batch_nr;		/* >1: completions worth waking for, set
					 * by the scheduler from its load */
	bool stop;			/* loop_run() returns when set */
	bool busy;			/* a hook has work left: this turn's
					 * wait must not sleep (reset per turn) */
	bool cancel_fd;			/* the kernel cancels by fd (5.19+) */
	bool bufs_tried;		/* loop_bufs_init() ran */
	bool bufs_on;			/* bufs is registered: receive with
					 * multishot recv from it (6.0+) */
	struct bufpool bufs;		/* the ring's receive buffers */
	const char *setup;		/* the setup flags in use, for the log */
};

/* Set up a ring with sq_entries (power of two) and a CQ four times larger,
 * with the newest setup flags the kernel takes (DEFER_TASKRUN on 6.1,
 * COOP_TASKRUN on 5.19, none on 5.15), and probe whether it cancels by fd.
 * RINGFETCH_RING_COMPAT=1 in the environment forces the oldest path of
 * each, so tests run it on a new kernel too. A fallback in use is logged
 * once. Returns 0, or -errno with a sentence in err (ENOMEM names ulimit
 * -l). */
int loop_init(struct loop *l, unsigned sq_entries, char *err, size_t errlen);
void loop_fini(struct loop *l);

/* Give the ring a pool of receive buffers of buf_size bytes, about
 * pool_bytes in all, for multishot receives (l->bufs_on). The first call
 * decides; later ones return its answer. Kernels without buffer rings or
 * multishot recv (before 6.0), or RINGFETCH_RING_COMPAT=1, leave bufs_on
 * false, and the log says once that receives go into per-connection
 * buffers. Run it before anything is in flight. Returns 0 when bufs_on,
 * else -ENOTSUP (or -ENOMEM). */
int loop_bufs_init(struct loop *l, unsigned buf_size, size_t pool_bytes);

/* An SQE whose completion will call op->done. Submits pending SQEs when the
 * SQ is full, so it never returns NULL. */
struct io_uring_sqe *loop_sqe(struct loop *l, struct io_op *op);

/* An SQE whose completion is ignored (e.g. a cancel request). */
struct io_uring_sqe *loop_sqe_noop(struct loop *l);

/* Cancel everything in flight on fd: one cancel by fd where the kernel
 * has it, else one cancel for each of the n ops (those of fd's owner that
 * may be in flight; one that is not just misses). */
void loop_cancel_fd(struct loop *l, int fd, struct io_op *const *ops,
		    size_t n);

/* Submit what is pending, wait for at least one completion or the earliest
 * timer, run completions, timers and hooks. Returns 0 or -errno (fatal). */
int loop_run_once(struct loop *l);

/* Run turns until l->stop is set. Returns 0 or -errno. */
int loop_run(struct loop *l);

void loop_add_hook(struct loop *l, struct loop_hook *h);

/* Take h off the turn's list (its owner is going away); harmless when it
 * is not on it. */
void loop_remove_hook(struct loop *l, struct loop_hook *h);

/* As loop_add_hook(), for a hook that runs after all the others: one that
 * hands on what they produced (worker rings send a turn's messages). */
void loop_add_flusher(struct loop *l, struct loop_hook *h);
void loop_remove_flusher(struct loop *l, struct loop_hook *h);

/* Hand the SQEs prepared so far to the kernel now rather than at the end
 * of the turn: for output that cost real CPU to make (a TLS handshake
 * flight), so the peer works on it while this turn goes on. */
static inline void loop_submit_now(struct loop *l)
{
	io_uring_submit(&l->ring);
}

static inline uint64_t loop_now_ms(const struct loop *l)
{
	return l->now_ms;
}

/* Refresh the cached clock from CLOCK_MONOTONIC and return it. */
uint64_t loop_update_clock(struct loop *l);

/* Never fails; see timer_arm(). */
static inline void loop_timer_arm(struct loop *l, struct timer *t,
				  uint64_t at_ms, timer_fn fn)
{
	timer_arm(&l->timers, t, at_ms, fn);
}

static inline void loop_timer_cancel(struct loop *l, struct timer *t)
{
	timer_cancel(&l->timers, t);
}

/* Wall-clock milliseconds since the epoch (for records). */
uint64_t loop_wall_ms(void);

#endif
