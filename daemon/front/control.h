/* The control socket: a Unix stream listener and its clients, speaking
 * SPEC's line protocol (one JSON request a line, one response line each,
 * in order) with every accept, receive and send going through the ring.
 *
 * Every client has bounded buffers: a request line stops at 64 KiB, and
 * output past a ceiling drops the client (a watcher is counted in
 * watch_dropped), so a client that stops reading never holds memory or the
 * loop. At most daemon.max_clients are connected at once (read at each
 * accept, so a reload applies it); a connection beyond is closed at once,
 * unanswered, and counted in refused: memory for clients is bounded by
 * max_clients times a client's buffers. A client whose submit finds the
 * queue full is paused: its line stays buffered and nothing more is read
 * from it, so its writes block as TCP would. The scheduler's room signal
 * resumes paused clients, oldest first, while the queue has room; once the
 * daemon stops taking work, a hook resumes them all (their submits then
 * get shutting_down).
 *
 * Fair intake holds a client back the same way, by host: one whose next
 * submit is for a host at its queue.host_share is held at share (its line
 * kept, nothing more read) until the scheduler says a host dropped below
 * its share, while clients submitting for other hosts go on being read. A
 * client's submits are taken in its order, so a client that mixes hosts
 * waits behind its first held one. "nowait" gets queue_full instead of
 * either wait.
 *
 * With a gate (queue.journal), a client's output is held from its
 * acknowledgement until the daemon says the job is durable; its requests
 * go on being processed meanwhile (so a pipelining client gets its acks in
 * batches, one per disk sync), until the held output reaches the mark at
 * which any client stops being read.
 *
 * The daemon is reached only through struct control_ops, so this module
 * knows the protocol and its clients, not the daemon's insides. */
#ifndef RF_CONTROL_H
#define RF_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/list.h"
#include "engine/sched.h"
#include "event/loop.h"
#include "net/listener.h"
#include "output/journal.h"

struct job;
struct json_val;

/* What the control socket asks of its daemon; arg is control_init's. */
struct control_ops {
	/* Whether submits are taken (false once the daemon stops). */
	bool (*accepting)(void *arg);
	/* Accept url (len bytes, which control has checked parse) with an
	 * optional id; req is the submit's JSON object (its optional fields
	 * checked by jobspec_check), or NULL. The queue has room. Returns
	 * the job (owned by sched; control may set its waiter) or NULL with
	 * the reason in why when it cannot be accepted (out of memory, the
	 * journal cannot take it): nothing accepted, and the client is
	 * answered queue_full. */
	struct job *(*submit)(void *arg, const char *url, size_t len,
			      const char *id, const struct json_val *req,
			      char *why, size_t whylen);
	/* After a job was accepted for a client: hold that client's output
	 * until what was accepted so far is durable, then call w->durable
	 * (perhaps at once). A waiting w moves to the latest job. NULL: no
	 * gate (every acknowledgement leaves at once). */
	void (*gate)(void *arg, struct journal_wait *w);
	/* Cancel job num (id NULL) or every job with id. Returns how many. */
	uint32_t (*cancel)(void *arg, uint64_t num, const char *id);
	/* Append the status object to b. Returns 0 or -errno. */
	int (*status)(void *arg, struct buf *b);
	/* Append j's record, one line with its newline, to b. Returns 0 or
	 * -errno. */
	int (*record)(void *arg, struct buf *b, const struct job *j);
};

#define CONTROL_LINE_MAX (64 * 1024)	/* longer: line_too_long */

struct client;

struct control_stats {
	uint64_t accepted;		/* connections accepted */
	uint64_t requests;		/* lines answered */
	uint64_t errors;		/* of which {"ok":false} */
	uint64_t queue_waits;		/* times a client waited for room */
	uint64_t share_waits;		/* times one waited for its host's
					 * share */
	uint64_t watch_dropped;		/* watchers dropped: output full */
	uint64_t dropped;		/* other clients dropped: output full */
	uint64_t refused;		/* closed at accept: max_clients */
};

struct control {
	const struct control_ops *ops;
	void *arg;			/* the ops' argument */
	struct sched *sched;		/* borrowed: room and live jobs */
	struct loop *loop;
	struct listener ls;		/* the listening socket */
	struct loop_hook hook;		/* resume paused clients, free dead */
	struct list_node clients;	/* every client, open or dead */
	struct list_node blocked;	/* paused clients, FIFO */
	struct sched_room_wait room;	/* waiting while blocked is not empty */
	struct list_node at_share;	/* clients held at their host's share,
					 * FIFO */
	struct sched_room_wait share;	/* waiting while at_share is not
					 * empty */
	uint32_t n_clients, n_watchers;
	uint32_t n_dead;		/* closed, waiting for their SQEs */
	uint32_t n_paused;		/* in the blocked list */
	uint32_t n_at_share;		/* in the at_share list */
	bool refusing;			/* the last connection was refused */
	uint64_t last_input_ms;		/* loop clock of the last bytes read */
	struct buf rec;			/* scratch: one {"result":...} line */
	struct buf resp;		/* scratch: one response line */
	struct control_stats st;
};

/* Serve the listening socket lfd (takes ownership: it is closed by
 * control_fini) for a daemon reached through ops with arg, whose scheduler
 * is s, on loop l. Never fails; the first accept is armed. */
void control_init(struct control *ctl, const struct control_ops *ops,
		  void *arg, struct sched *s, struct loop *l, int lfd);

/* Create, bind and listen on a Unix socket at path with mode, making its
 * parent directory; a stale socket file (nobody answers) is replaced, a
 * live one refused. Returns the fd, or -errno with a sentence in err. */
int control_listen(const char *path, unsigned mode, char *err,
		   size_t errlen);

/* A job finished: send its record to the client that waits for it and to
 * every watcher. j is only read. */
void control_on_finish(struct control *ctl, const struct job *j);

/* Bytes ctl holds allocated for its buffers and those of its clients
 * (capacity, not content), for the daemon's status. Walks the clients. */
size_t control_mem_bytes(const struct control *ctl);

/* Whether every client's answers have been sent (watchers aside) and no
 * client has sent a byte for quiet_ms: what a stopping daemon waits for
 * (within its grace) before closing them, so that requests already in
 * their sockets are answered, shutting_down, rather than cut off. */
bool control_settled(const struct control *ctl, uint64_t quiet_ms);

/* Stop accepting and close every client, cancelling their SQEs; run loop
 * turns until control_idle() before control_fini(). */
void control_close(struct control *ctl);

/* True when no client memory and no SQE of ctl remain. */
bool control_idle(const struct control *ctl);

/* Free what is left (after control_close() and control_idle()). */
void control_fini(struct control *ctl);

#endif
