/* A listening socket served through the ring: one accept in flight at a
 * time, each new connection handed to the owner, and one policy for accept
 * errors shared by the control socket and the metrics listener. */
#ifndef RF_LISTENER_H
#define RF_LISTENER_H

#include <stdbool.h>
#include <stdint.h>

#include "event/loop.h"

struct listener;

/* A new connection: fd is the caller's to keep or close. Not called once
 * listener_close() has run. */
typedef void (*listener_fn)(struct listener *ls, int fd);

/* Embedded in its owner, which finds itself with container_of(). */
struct listener {
	struct loop *loop;
	int fd;			/* listening socket, owned; -1 = none */
	const char *what;	/* names the socket in log lines; borrowed */
	uint64_t retry_ms;	/* pause after a resource error */
	listener_fn on_conn;
	void (*on_idle)(struct listener *ls);	/* optional: the last SQE
						 * came back after close */
	void (*starved)(struct listener *ls);	/* optional: an accept
						 * found no descriptor
						 * (EMFILE, ENFILE) */
	struct io_op op;
	struct timer retry;	/* armed while paused */
	bool busy;		/* op is in the ring */
	bool closing;		/* listener_close() was called */
	bool failing;		/* warned; quiet until an accept works */
};

/* Start accepting on fd (takes ownership) for on_conn. An accept that
 * fails for lack of descriptors, memory or buffers (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM...) logs a warning once and pauses retry_ms, since
 * accepting again at once would spin while the backlog holds the peers;
 * EINTR, EAGAIN and ECONNABORTED (the peer left first) retry at once.
 * Never fails. */
void listener_init(struct listener *ls, struct loop *l, int fd,
		   const char *what, uint64_t retry_ms, listener_fn on_conn);

/* Stop accepting: cancel the pause and the accept in flight. A connection
 * that arrives meanwhile is closed. Run loop turns until listener_idle()
 * (on_idle, if set, is called then) before listener_fini(). */
void listener_close(struct listener *ls);

/* True when no SQE of ls is in the ring. */
static inline bool listener_idle(const struct listener *ls)
{
	return !ls->busy;
}

/* Close the listening socket. */
void listener_fini(struct listener *ls);

#endif
