/* The ring: get SQE, submit, reap CQEs, route each to its io_op; the wait is
 * bounded by the earliest timer through IORING_ENTER_EXT_ARG. */
#include "event/loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int loop_init(struct loop *l, unsigned sq_entries, char *err, size_t errlen)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int rc = -EINVAL;

	memset(l, 0, sizeof(*l));
	timer_heap_init(&l->timers);
	/* Newer setup flags first; older kernels answer EINVAL and we fall back. */
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(*flag_sets); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = sq_entries * 4;
		rc = io_uring_queue_init_params(sq_entries, &l->ring, &p);
		if (rc != -EINVAL)
			break;
	}
	if (rc == -ENOMEM) {
		snprintf(err, errlen, "io_uring_setup: out of locked memory "
			 "(raise ulimit -l or LimitMEMLOCK=)");
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "io_uring_setup: %s", strerror(-rc));
		return rc;
	}
	loop_update_clock(l);
	return 0;
}

void loop_fini(struct loop *l)
{
	io_uring_queue_exit(&l->ring);
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
