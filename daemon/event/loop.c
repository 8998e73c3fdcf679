/* The ring: get SQE, submit, reap CQEs, route each to its io_op; the wait is
 * bounded by the earliest timer through IORING_ENTER_EXT_ARG. */
#include "event/loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

/* A fallback is named once per process, not once per worker ring. */
static _Atomic bool said_setup, said_bufs;

uint64_t loop_update_clock(struct loop *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return l->now_ms;
}

uint64_t loop_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool compat_forced(void)
{
	const char *v = getenv("RINGFETCH_RING_COMPAT");

	return v && v[0] && strcmp(v, "0") != 0;
}

/* Whether an ASYNC_CANCEL by fd with CANCEL_ALL is understood: kernels
 * before 5.19 answer EINVAL to its flags. Asked of an idle eventfd, so
 * nothing is cancelled either way. */
static bool probe_cancel_fd(struct loop *l)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int fd = eventfd(0, EFD_CLOEXEC), res = -EINVAL;

	if (fd < 0)
		return false;
	sqe = io_uring_get_sqe(&l->ring);
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, NULL);
		if (io_uring_submit_and_wait(&l->ring, 1) >= 0 &&
		    io_uring_wait_cqe(&l->ring, &cqe) == 0) {
			res = cqe->res;
			io_uring_cqe_seen(&l->ring, cqe);
		}
	}
	close(fd);
	return res != -EINVAL;
}

int loop_init(struct loop *l, unsigned sq_entries, char *err, size_t errlen)
{
	static const struct {
		unsigned flags;
		const char *name;
	} flag_sets[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		  "DEFER_TASKRUN" },
		{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
		{ 0, "no setup flags" },
	};
	size_t first = compat_forced() ? 2 : 0;
	struct io_uring_params p;
	int rc = -EINVAL;

	memset(l, 0, sizeof(*l));
	timer_heap_init(&l->timers);
	/* Newer setup flags first; older kernels answer EINVAL and we fall back. */
	for (size_t i = first; i < sizeof(flag_sets) / sizeof(*flag_sets);
	     i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i].flags | IORING_SETUP_CQSIZE;
		p.cq_entries = sq_entries * 4;
		rc = io_uring_queue_init_params(sq_entries, &l->ring, &p);
		l->setup = flag_sets[i].name;
		if (rc != -EINVAL)
			break;
	}
	if (rc == -ENOMEM) {
		snprintf(err, errlen, "io_uring_setup: out of locked memory "
			 "(raise ulimit -l or LimitMEMLOCK=)");
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "io_uring_setup: %s", rf_strerror(-rc));
		return rc;
	}
	l->cancel_fd = !compat_forced() && probe_cancel_fd(l);
	if ((l->setup != flag_sets[0].name || !l->cancel_fd) &&
	    !atomic_exchange(&said_setup, true))
		log_info("io_uring: %s, cancel %s%s", l->setup,
			 l->cancel_fd ? "by fd" : "op by op",
			 compat_forced() ? " (RINGFETCH_RING_COMPAT)" : "");
	loop_update_clock(l);
	return 0;
}

void loop_cancel_fd(struct loop *l, int fd, struct io_op *const *ops,
		    size_t n)
{
	if (l->cancel_fd) {
		io_uring_prep_cancel_fd(loop_sqe_noop(l), fd,
					IORING_ASYNC_CANCEL_ALL);
		return;
	}
	for (size_t i = 0; i < n; i++)
		io_uring_prep_cancel(loop_sqe_noop(l), ops[i], 0);
}

int loop_bufs_init(struct loop *l, unsigned buf_size, size_t pool_bytes)
{
	char why[128] = "RINGFETCH_RING_COMPAT";
	int rc = -ENOTSUP;

	if (l->bufs_tried)
		return l->bufs_on ? 0 : -ENOTSUP;
	l->bufs_tried = true;
	if (!compat_forced())
		rc = bufpool_init(&l->bufs, &l->ring, 0,
				  (unsigned)(pool_bytes / buf_size), buf_size,
				  why, sizeof(why));
	l->bufs_on = rc == 0;
	if (rc < 0 && !atomic_exchange(&said_bufs, true))
		log_info("io_uring: single-shot recv into per-connection "
			 "buffers, no provided buffer ring (%s)", why);
	return rc;
}

void loop_fini(struct loop *l)
{
	io_uring_queue_exit(&l->ring);
	bufpool_fini(&l->bufs);
	l->bufs_on = false;
	timer_heap_fini(&l->timers);
}

static struct io_uring_sqe *get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	while (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

struct io_uring_sqe *loop_sqe(struct loop *l, struct io_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

struct io_uring_sqe *loop_sqe_noop(struct loop *l)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_sqe_set_data(sqe, NULL);
	return sqe;
}

void loop_remove_hook(struct loop *l, struct loop_hook *h)
{
	/* h->next is left as it is, so a hook may remove itself while the
	 * turn walks the list. */
	for (struct loop_hook **pp = &l->hooks; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			return;
		}
	}
}

void loop_add_hook(struct loop *l, struct loop_hook *h)
{
	h->next = l->hooks;
	l->hooks = h;
}

void loop_add_flusher(struct loop *l, struct loop_hook *h)
{
	h->next = l->flushers;
	l->flushers = h;
}

void loop_remove_flusher(struct loop *l, struct loop_hook *h)
{
	for (struct loop_hook **pp = &l->flushers; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			return;
		}
	}
}

static unsigned reap(struct loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	/* Completions may queue SQEs; they are submitted on the next turn. */
	io_uring_for_each_cqe(&l->ring, head, cqe) {
		struct io_op *op = io_uring_cqe_get_data(cqe);

		n++;
		if (op)
			op->done(op, cqe->res, cqe->flags);
	}
	io_uring_cq_advance(&l->ring, n);
	return n;
}

int loop_run_once(struct loop *l)
{
	struct io_uring_cqe *cqe = NULL;
	struct __kernel_timespec ts, *tsp = NULL;
	uint64_t next;
	unsigned n, wait_nr;
	int rc;

	/* Hooks run just before sleeping, after the last turn's completions
	 * and timers, so work they start is submitted in the same enter. */
	l->busy = false;
	for (struct loop_hook *h = l->hooks; h; h = h->next)
		h->fn(h);
	for (struct loop_hook *h = l->flushers; h; h = h->next)
		h->fn(h);
	next = timer_next_ms(&l->timers);
	if (next != UINT64_MAX) {
		uint64_t wait = next > l->now_ms ? next - l->now_ms : 0;

		ts.tv_sec = (long long)(wait / 1000);
		ts.tv_nsec = (long long)(wait % 1000) * 1000000;
		tsp = &ts;
	}
	wait_nr = 1;
	if (l->batch_nr > 1 && (!tsp || ts.tv_sec > 0 ||
				ts.tv_nsec > LOOP_BATCH_WAIT_NS)) {
		/* Under load, wake for a batch of completions (or after a short
		 * bound) rather than for each one: fewer enters and wakeups per
		 * request, at a latency cost far below any timeout. */
		wait_nr = l->batch_nr;
		ts.tv_sec = 0;
		ts.tv_nsec = LOOP_BATCH_WAIT_NS;
		tsp = &ts;
	}
	if (l->stop || l->busy) {
		ts.tv_sec = ts.tv_nsec = 0;
		tsp = &ts;
	}
	rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, wait_nr, tsp,
					      NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
	    rc != -EBUSY)
		return rc;
	loop_update_clock(l);
	l->turns++;
	/* Overflowed CQEs (FEAT_NODROP) come back as the ring drains. */
	do {
		n = reap(l);
		l->cqes += n;
		if (io_uring_cq_has_overflow(&l->ring))
			io_uring_get_events(&l->ring);
	} while (n && io_uring_cq_ready(&l->ring));
	timer_run(&l->timers, l->now_ms);
	return 0;
}

int loop_run(struct loop *l)
{
	while (!l->stop) {
		int rc = loop_run_once(l);

		if (rc < 0)
			return rc;
	}
	return 0;
}
