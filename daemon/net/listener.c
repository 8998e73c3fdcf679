/* Accept through the ring with one retry policy for both listeners. */
#include "net/listener.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

static void arm_accept(struct listener *ls)
{
	if (ls->busy || ls->closing || ls->fd < 0)
		return;
	io_uring_prep_accept(loop_sqe(ls->loop, &ls->op), ls->fd, NULL, NULL,
			     SOCK_CLOEXEC);
	ls->busy = true;
}

static void on_retry(struct timer *t)
{
	arm_accept(container_of(t, struct listener, retry));
}

/* Errors that say nothing about the listener: accept again at once. */
static bool transient(int err)
{
	return err == EINTR || err == EAGAIN || err == ECONNABORTED ||
	       err == ECANCELED;
}

static void on_accept(struct io_op *op, int res, unsigned flags)
{
	struct listener *ls = container_of(op, struct listener, op);

	(void)flags;
	ls->busy = false;
	if (ls->closing) {
		if (res >= 0)
			close(res);
		if (ls->on_idle)
			ls->on_idle(ls);
		return;
	}
	if (res >= 0) {
		if (ls->failing)
			log_info("%s: accepting again", ls->what);
		ls->failing = false;
		ls->on_conn(ls, res);
	} else if (!transient(-res)) {
		if (!ls->failing)
			log_warn("%s: accept: %s; pausing %llu ms", ls->what,
				 strerror(-res),
				 (unsigned long long)ls->retry_ms);
		ls->failing = true;
		if ((res == -EMFILE || res == -ENFILE) && ls->starved)
			ls->starved(ls);
		loop_timer_arm(ls->loop, &ls->retry,
			       loop_now_ms(ls->loop) + ls->retry_ms, on_retry);
		return;
	}
	arm_accept(ls);
}

void listener_init(struct listener *ls, struct loop *l, int fd,
		   const char *what, uint64_t retry_ms, listener_fn on_conn)
{
	memset(ls, 0, sizeof(*ls));
	ls->loop = l;
	ls->fd = fd;
	ls->what = what;
	ls->retry_ms = retry_ms;
	ls->on_conn = on_conn;
	ls->op.done = on_accept;
	arm_accept(ls);
}

void listener_close(struct listener *ls)
{
	ls->closing = true;
	loop_timer_cancel(ls->loop, &ls->retry);
	if (ls->busy)
		io_uring_prep_cancel(loop_sqe_noop(ls->loop), &ls->op, 0);
}

void listener_fini(struct listener *ls)
{
	if (ls->fd >= 0)
		close(ls->fd);
	ls->fd = -1;
}
