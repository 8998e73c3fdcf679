/* The control socket: a Unix stream listener and its clients, speaking
 * SPEC's line protocol (one JSON request a line, one response line each,
 * in order) with every accept, receive and send going through the ring.
 *
 * Every client has bounded buffers: a request line stops at 64 KiB, and
 * output past a ceiling drops the client (a watcher is counted in
 * watch_dropped), so a client that stops reading never holds memory or the
 * loop. A client whose submit finds the queue full is paused: its line
 * stays buffered and nothing more is read from it, so its writes block as
 * TCP would. Once per loop turn a hook resumes paused clients, oldest
 * first, while the queue has room (or the daemon stops: their submits then
 * get shutting_down). */
#ifndef RF_CONTROL_H
#define RF_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "event/loop.h"
#include "net/listener.h"

struct daemon;
struct job;

#define CONTROL_LINE_MAX (64 * 1024)	/* longer: line_too_long */

struct client;

struct control_stats {
	uint64_t accepted;		/* connections accepted */
	uint64_t requests;		/* lines answered */
	uint64_t errors;		/* of which {"ok":false} */
	uint64_t queue_waits;		/* times a client waited for room */
	uint64_t watch_dropped;		/* watchers dropped: output full */
	uint64_t dropped;		/* other clients dropped: output full */
};

struct control {
	struct daemon *d;
	struct loop *loop;
	struct listener ls;		/* the listening socket */
	struct loop_hook hook;		/* resume paused clients, free dead */
	struct client *clients;		/* every client, open or dead */
	struct client *blocked_head, *blocked_tail; /* paused, FIFO */
	uint32_t n_clients, n_watchers;
	uint32_t n_dead;		/* closed, waiting for their SQEs */
	uint32_t n_paused;		/* in the blocked list */
	struct buf rec;			/* scratch: one {"result":...} line */
	struct buf resp;		/* scratch: one response line */
	struct control_stats st;
};

/* Serve the listening socket lfd (takes ownership) for daemon d on loop l.
 * Returns 0 or -ENOMEM. */
int control_init(struct control *ctl, struct daemon *d, struct loop *l,
		 int lfd);

/* Create, bind and listen on a Unix socket at path with mode, making its
 * parent directory; a stale socket file (nobody answers) is replaced, a
 * live one refused. Returns the fd, or -errno with a sentence in err. */
int control_listen(const char *path, unsigned mode, char *err,
		   size_t errlen);

/* A job finished: send its record to the client that waits for it and to
 * every watcher. j is only read. */
void control_on_finish(struct control *ctl, const struct job *j);

/* Stop accepting and close every client, cancelling their SQEs; run loop
 * turns until control_idle() before control_fini(). */
void control_close(struct control *ctl);

/* True when no client memory and no SQE of ctl remain. */
bool control_idle(const struct control *ctl);

/* Free what is left (after control_close() and control_idle()). */
void control_fini(struct control *ctl);

#endif
