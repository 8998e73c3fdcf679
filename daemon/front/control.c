/* The control socket's line protocol. A client's bytes arrive in c->in by
 * a recv SQE straight into the buffer's spare room; complete lines are
 * answered in order into c->out; c->out and c->wire form a double buffer,
 * so the bytes under a send SQE never move while new responses are queued.
 *
 * Work that could re-enter a client (resuming paused clients when room
 * frees, freeing closed ones) runs from a loop hook, never from inside the
 * completion or callback that caused it. */
#include "front/control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "engine/job.h"
#include "base/json.h"
#include "base/log.h"
#include "front/control_req.h"
#include "http/url.h"

#define CLIENT_RECV (16 * 1024)		/* bytes asked per recv */
#define CLIENT_OUT_SOFT (256 * 1024)	/* stop reading requests past this */
#define CLIENT_OUT_MAX (8 * 1024 * 1024)	/* drop a client past this */
#define WATCH_OUT_MAX (1024 * 1024)	/* drop a watcher past this */
#define CLIENT_KEEP (64 * 1024)		/* a buffer's room after a burst */
#define CONTROL_ACCEPT_RETRY_MS 100	/* after EMFILE and the like */
/* an id of 64 KiB of control characters is 384 KiB escaped */
#define REPLY_MAX (8 * CONTROL_LINE_MAX)

struct client {
	struct control *ctl;
	int fd;
	struct io_op op_recv, op_send;
	unsigned inflight;		/* SQEs whose CQE has not come */
	bool recv_armed, sending;
	bool eof;			/* peer finished writing */
	bool dead;			/* closed; freed once inflight is 0 */
	bool watching;
	bool paused;			/* not read: in the blocked list (queue
					 * full) or the at_share one */
	bool at_share;			/* paused in the at_share list: its
					 * next submit's host is at its share */
	bool skipping;			/* discarding an over-long line */
	bool gated;			/* output held until jw is told */
	struct journal_wait jw;		/* the gate (control_ops.gate) */
	struct buf in;			/* received, not yet answered */
	struct buf out;			/* responses queued */
	struct buf wire;		/* under the send SQE; never moved */
	uint32_t waits;			/* records owed here ("wait") */
	struct list_node node;		/* in ctl->clients */
	struct list_node bnode;		/* in ctl->blocked or ctl->at_share
					 * while paused */
};

#define client_of(n) list_entry(n, struct client, node)

static void process(struct client *c);
static void arm_recv(struct client *c);
static void on_gate(struct journal_wait *w, int err);

/* What a submit that cannot be taken yet waits for. */
enum client_wait {
	WAIT_NONE = 0,		/* answered: nothing to wait for */
	WAIT_ROOM,		/* the queue is full */
	WAIT_SHARE,		/* its host holds queue.host_share */
};

static void blocked_push(struct control *ctl, struct client *c,
			 enum client_wait why)
{
	c->paused = true;
	c->at_share = why == WAIT_SHARE;
	if (c->at_share) {
		list_push_back(&ctl->at_share, &c->bnode);
		ctl->st.share_waits++;
		ctl->n_at_share++;
		sched_wait_share(ctl->sched, &ctl->share);
		return;
	}
	list_push_back(&ctl->blocked, &c->bnode);
	ctl->st.queue_waits++;
	ctl->n_paused++;
	sched_wait_room(ctl->sched, &ctl->room);
}

static void blocked_remove(struct control *ctl, struct client *c)
{
	list_remove(&c->bnode);
	c->paused = false;
	if (c->at_share) {
		c->at_share = false;
		ctl->n_at_share--;
		if (list_empty(&ctl->at_share))
			sched_unwait_room(&ctl->share);
		return;
	}
	ctl->n_paused--;
	if (list_empty(&ctl->blocked))
		sched_unwait_room(&ctl->room);
}

/* Close c: no more input or output. Its memory goes in the reap hook,
 * once every SQE has completed, so callers up the stack stay safe. */
static void client_close(struct client *c)
{
	struct control *ctl = c->ctl;

	if (c->dead)
		return;
	c->dead = true;
	journal_unwait(&c->jw);
	c->gated = false;
	if (c->paused)
		blocked_remove(ctl, c);
	if (c->watching)
		ctl->n_watchers--;
	if (c->waits) {
		for (struct job *j = sched_first(ctl->sched); j;
		     j = sched_next(ctl->sched, j))
			if (j->waiter == c)
				j->waiter = NULL;
		c->waits = 0;
	}
	/* shutdown() completes a pending recv or send at once */
	shutdown(c->fd, SHUT_RDWR);
	if (c->inflight) {
		struct io_op *const ops[] = { &c->op_recv, &c->op_send };

		loop_cancel_fd(ctl->loop, c->fd, ops, 2);
	}
	ctl->n_dead++;
}

static void client_free(struct client *c)
{
	struct control *ctl = c->ctl;

	list_remove(&c->node);
	close(c->fd);
	buf_fini(&c->in);
	buf_fini(&c->out);
	buf_fini(&c->wire);
	ctl->n_clients--;
	ctl->n_dead--;
	free(c);
}

/* Once the peer is done and owed nothing, close. */
static void maybe_done(struct client *c)
{
	if (c->dead || !c->eof || c->paused || c->in.len || c->watching ||
	    c->waits || c->out.len || c->wire.len)
		return;
	client_close(c);
}

/* One of c's SQEs came back and *armed (its flag) is cleared. Returns
 * false when c is dead: the reap hook frees it once nothing is in flight. */
static bool client_op_done(struct client *c, bool *armed)
{
	c->inflight--;
	*armed = false;
	return !c->dead;
}

static void on_send(struct io_op *op, int res, unsigned flags)
{
	struct client *c = container_of(op, struct client, op_send);

	(void)flags;
	if (!client_op_done(c, &c->sending))
		return;
	if (res < 0) {
		client_close(c);	/* EPIPE, ECONNRESET: the peer left */
		return;
	}
	buf_consume(&c->wire, (size_t)res);
	if (!c->wire.len && c->out.len && !c->gated) {
		struct buf t = c->wire;

		c->wire = c->out;
		c->out = t;
	}
	/* A watcher lives for days: what a burst of records grew goes back.
	 * Only here, with no send in flight, may wire move. */
	buf_shrink(&c->out, CLIENT_KEEP);
	buf_shrink(&c->wire, CLIENT_KEEP);
	if (c->wire.len) {
		io_uring_prep_send(loop_sqe(c->ctl->loop, &c->op_send), c->fd,
				   c->wire.p, c->wire.len, MSG_NOSIGNAL);
		c->sending = true;
		c->inflight++;
	}
	/* output drained below the mark: take requests again */
	if (c->out.len + c->wire.len < CLIENT_OUT_SOFT) {
		process(c);
		arm_recv(c);
	}
	maybe_done(c);
}

static void kick_send(struct client *c)
{
	if (c->sending || c->dead || c->gated)
		return;
	if (!c->wire.len) {
		struct buf t = c->wire;

		c->wire = c->out;
		c->out = t;
	}
	if (!c->wire.len)
		return;
	io_uring_prep_send(loop_sqe(c->ctl->loop, &c->op_send), c->fd,
			   c->wire.p, c->wire.len, MSG_NOSIGNAL);
	c->sending = true;
	c->inflight++;
}

/* Queue n bytes of output. A client whose output would pass its ceiling
 * is not reading: it is dropped, so it costs no more memory. */
static void client_put(struct client *c, const char *p, size_t n)
{
	struct control *ctl = c->ctl;
	size_t max = c->watching ? WATCH_OUT_MAX : CLIENT_OUT_MAX;

	if (c->dead)
		return;
	if (c->out.len + c->wire.len + n > max ||
	    buf_append(&c->out, p, n) < 0) {
		if (c->watching) {
			ctl->st.watch_dropped++;
			log_warn("control: dropping a watcher fd=%d: %zu bytes "
				 "of output unread", c->fd,
				 c->out.len + c->wire.len);
		} else {
			ctl->st.dropped++;
			log_warn("control: dropping a client fd=%d: %zu bytes "
				 "of output unread", c->fd,
				 c->out.len + c->wire.len);
		}
		client_close(c);
		return;
	}
	kick_send(c);
}

static void reply(struct client *c, struct buf *b)
{
	c->ctl->st.requests++;
	client_put(c, b->p, b->len);
}

static void reply_err(struct client *c, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_err(struct client *c, const char *cls, const char *fmt, ...)
{
	struct buf *b = &c->ctl->resp;
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	buf_reset(b);
	buf_puts(b, "{\"ok\":false,\"error\":\"");
	buf_puts(b, cls);
	buf_puts(b, "\",\"detail\":");
	json_put_str(b, detail);
	buf_puts(b, "}\n");
	c->ctl->st.errors++;
	reply(c, b);
}

/* Returns WAIT_ROOM when the queue is full, WAIT_SHARE when it has room
 * but the URL's host is at its share, and c must wait (nothing was
 * answered); else 0 after one answer. A full queue is looked at first, so
 * clients_paused keeps its meaning; a client resumed for room whose host
 * is at its share is then held at the share without taking the room. */
static int submit(struct client *c, const struct control_req *rq)
{
	struct control *ctl = c->ctl;
	const char *url = rq->url, *id = rq->id;
	size_t len = rq->url_len;
	struct buf *b = &ctl->resp;
	char detail[192];
	char why[256];
	struct url u;
	struct job *j;
	enum client_wait wait = WAIT_NONE;
	int rc;

	if (!ctl->ops->accepting(ctl->arg)) {
		reply_err(c, "shutting_down", "the daemon is stopping");
		return 0;
	}
	rc = url_parse(&u, url, len, detail, sizeof(detail));
	if (rc != URL_OK) {
		reply_err(c, rc == URL_ESCHEME ? "unsupported_scheme" :
			  "invalid_url", "%s", detail);
		return 0;
	}
	if (sched_room(ctl->sched) == 0)
		wait = WAIT_ROOM;
	else if (sched_host_room(ctl->sched, &u) == 0)
		wait = WAIT_SHARE;
	if (wait == WAIT_ROOM && rq->nowait)
		reply_err(c, "queue_full", "the queue holds queue.capacity "
			  "(%u) jobs", ctl->sched->cfg->queue.capacity);
	else if (wait == WAIT_SHARE && rq->nowait)
		reply_err(c, "queue_full", "host %.200s holds its share of the "
			  "queue (queue.host_share: %u jobs)", u.host,
			  ctl->sched->share);
	url_fini(&u);
	if (wait)
		return rq->nowait ? 0 : (int)wait;
	j = ctl->ops->submit(ctl->arg, url, len, id, rq->fields, why,
			     sizeof(why));
	if (!j) {
		reply_err(c, "queue_full", "%s", why);
		return 0;
	}
	if (rq->wait) {
		j->waiter = c;
		c->waits++;
	}
	buf_reset(b);
	buf_puts(b, "{\"ok\":true,\"job\":");
	json_put_u64(b, j->num);
	buf_puts(b, ",\"id\":");
	json_put_str_or_null(b, id);
	buf_puts(b, "}\n");
	if (ctl->ops->gate)
		c->gated = true;	/* before the ack can leave */
	reply(c, b);
	if (ctl->ops->gate)
		ctl->ops->gate(ctl->arg, &c->jw);
	return 0;
}

static void op_cancel(struct client *c, const struct control_req *rq)
{
	struct buf *b = &c->ctl->resp;
	const char *id = rq->id;
	int64_t num = rq->job;
	uint32_t n;

	if (num > 0 || !id)
		n = c->ctl->ops->cancel(c->ctl->arg, num > 0 ? (uint64_t)num : 0,
					NULL);
	else
		n = c->ctl->ops->cancel(c->ctl->arg, 0, id);
	if (!n) {
		if (rq->has_job)
			reply_err(c, "unknown_job", "no live job %lld",
				  (long long)num);
		else
			reply_err(c, "unknown_job", "no live job with id %.200s",
				  id);
		return;
	}
	buf_reset(b);
	buf_puts(b, "{\"ok\":true,\"cancelled\":");
	json_put_u64(b, n);
	buf_puts(b, "}\n");
	reply(c, b);
}

/* Answer one line (without its newline). Returns 0, or the enum
 * client_wait that keeps it. */
static int line(struct client *c, const char *p, size_t n)
{
	struct control *ctl = c->ctl;
	struct control_req rq;
	struct buf *b = &ctl->resp;
	int rc = 0;

	switch (control_req_parse(&rq, p, n)) {
	case CTL_BLANK:
		break;			/* blank lines are not requests */
	case CTL_SUBMIT:
		rc = submit(c, &rq);
		break;
	case CTL_STATUS:
		buf_reset(b);
		buf_puts(b, "{\"ok\":true,\"status\":");
		ctl->ops->status(ctl->arg, b);
		buf_puts(b, "}\n");
		reply(c, b);
		break;
	case CTL_WATCH:
		if (!c->watching)
			ctl->n_watchers++;
		c->watching = true;
		ctl->st.requests++;
		client_put(c, "{\"ok\":true}\n", 12);
		break;
	case CTL_CANCEL:
		op_cancel(c, &rq);
		break;
	case CTL_ERROR:
		reply_err(c, rq.err_class, "%s", rq.detail);
		break;
	}
	control_req_fini(&rq);
	return rc;
}

/* Answer every complete line in c->in, in order, until one must wait. The
 * answered bytes are dropped once at the end: dropping them line by line
 * would move the rest of a 64 KiB buffer for every short line. */
static void process(struct client *c)
{
	size_t off = 0;
	int rc;

	while (!c->dead && !c->paused && off < c->in.len &&
	       c->out.len + c->wire.len < CLIENT_OUT_SOFT) {
		char *p = c->in.p + off;
		size_t left = c->in.len - off;
		char *nl = memchr(p, '\n', left);
		size_t n = nl ? (size_t)(nl - p) : left;

		if (c->skipping) {
			off += nl ? n + 1 : n;
			c->skipping = !nl;
			continue;
		}
		if (n > CONTROL_LINE_MAX) {
			reply_err(c, "line_too_long", "a request line is "
				  "limited to %u bytes", CONTROL_LINE_MAX);
			off += nl ? n + 1 : n;
			c->skipping = !nl;
			continue;
		}
		if (!nl && !c->eof)
			break;		/* wait for the rest of the line */
		rc = line(c, p, n);
		if (rc) {
			blocked_push(c->ctl, c, rc);
			break;
		}
		off += nl ? n + 1 : n;
	}
	if (!c->dead && off)
		buf_consume(&c->in, off);
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
	struct client *c = container_of(op, struct client, op_recv);

	(void)flags;
	if (!client_op_done(c, &c->recv_armed))
		return;
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		client_close(c);
		return;
	}
	if (res == 0)
		c->eof = true;
	if (res > 0) {
		c->in.len += (size_t)res;
		c->in.p[c->in.len] = '\0';
		c->ctl->last_input_ms = loop_now_ms(c->ctl->loop);
	}
	process(c);
	arm_recv(c);
	maybe_done(c);
}

/* Read more unless c is paused, finished, or has output unread. */
static void arm_recv(struct client *c)
{
	size_t room;

	if (c->dead || c->eof || c->paused || c->recv_armed ||
	    c->out.len + c->wire.len >= CLIENT_OUT_SOFT)
		return;
	if (buf_reserve(&c->in, CLIENT_RECV) < 0) {
		client_close(c);
		return;
	}
	room = c->in.cap - c->in.len - 1;
	io_uring_prep_recv(loop_sqe(c->ctl->loop, &c->op_recv), c->fd,
			   c->in.p + c->in.len, room, 0);
	c->recv_armed = true;
	c->inflight++;
}

static void client_new(struct control *ctl, int fd)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->op_recv.done = on_recv;
	c->op_send.done = on_send;
	c->jw.durable = on_gate;
	/* room for the longest line plus one read past it */
	buf_init(&c->in, CONTROL_LINE_MAX + CLIENT_RECV + 1);
	buf_init(&c->out, CLIENT_OUT_MAX);
	buf_init(&c->wire, CLIENT_OUT_MAX);
	list_push_front(&ctl->clients, &c->node);
	ctl->n_clients++;
	ctl->st.accepted++;
	arm_recv(c);
}

/* The gate opened: everything acknowledged so far is durable. */
static void on_gate(struct journal_wait *w, int err)
{
	struct client *c = container_of(w, struct client, jw);

	if (err) {
		/* the journal closed with the lines unwritten: what the
		 * held output acknowledges is not durable, so it never
		 * leaves */
		client_close(c);
		return;
	}
	c->gated = false;
	kick_send(c);
}

/* Fetches hold the descriptors a client needs: they yield some. */
static void on_starved(struct listener *ls)
{
	sched_fd_shortage(container_of(ls, struct control, ls)->sched);
}

/* Past daemon.max_clients a connection is closed unanswered: SPEC's error
 * classes have none for it, and an answer would cost the memory the bound
 * is there to save. Logged once per run of refusals, not per connection. */
static void on_conn(struct listener *ls, int fd)
{
	struct control *ctl = container_of(ls, struct control, ls);
	uint32_t max = ctl->sched->cfg->daemon.max_clients;

	if (ctl->n_clients - ctl->n_dead >= max) {
		close(fd);
		ctl->st.refused++;
		if (!ctl->refusing)
			log_warn("control: %u clients connected "
				 "(daemon.max_clients): closing new "
				 "connections until one leaves", max);
		ctl->refusing = true;
		return;
	}
	ctl->refusing = false;
	client_new(ctl, fd);
}

/* Resume paused clients, oldest first, while room lasts (or all of them
 * once the daemon stops taking work: they are answered shutting_down). A
 * client that finds the queue full again is paused anew. */
static void resume_paused(struct control *ctl)
{
	struct list_node *n;

	while ((n = list_first(&ctl->blocked)) &&
	       (sched_room(ctl->sched) > 0 || !ctl->ops->accepting(ctl->arg))) {
		struct client *c = list_entry(n, struct client, bnode);

		blocked_remove(ctl, c);
		process(c);
		arm_recv(c);
		maybe_done(c);
	}
	/* The room ran out under a client that stopped for its unread
	 * output rather than pausing: the others still wait for room. */
	if (!list_empty(&ctl->blocked))
		sched_wait_room(ctl->sched, &ctl->room);
}

/* sched's room signal, at the start of a turn. */
static void on_room(struct sched_room_wait *w)
{
	resume_paused(container_of(w, struct control, room));
}

/* A host dropped below its share (or the daemon stops taking work): give
 * every client held at a share one more look. Which host freed is not
 * said, so each re-reads its kept line; one whose host is still at its
 * share is held again, at the back. Only the clients held now are looked
 * at, so this ends even when all of them are held anew. */
static void resume_at_share(struct control *ctl)
{
	struct list_node now, *n;

	list_init(&now);
	while ((n = list_first(&ctl->at_share))) {
		list_remove(n);
		list_push_back(&now, n);
	}
	sched_unwait_room(&ctl->share);
	while ((n = list_first(&now))) {
		struct client *c = list_entry(n, struct client, bnode);

		blocked_remove(ctl, c);
		process(c);
		arm_recv(c);
		maybe_done(c);
	}
}

/* sched's share signal, at the start of a turn. */
static void on_share(struct sched_room_wait *w)
{
	resume_at_share(container_of(w, struct control, share));
}

/* Once per turn: a stopping daemon's paused clients, and the dead. */
static void control_hook(struct loop_hook *h)
{
	struct control *ctl = container_of(h, struct control, hook);
	struct list_node *n, *tmp;

	if (!ctl->ops->accepting(ctl->arg)) {
		if (!list_empty(&ctl->blocked))
			resume_paused(ctl);
		if (!list_empty(&ctl->at_share))
			resume_at_share(ctl);
	}
	/* scratch: a huge id or record grew them once */
	buf_shrink(&ctl->rec, CLIENT_KEEP);
	buf_shrink(&ctl->resp, CLIENT_KEEP);
	if (!ctl->n_dead)
		return;
	list_for_each_safe(n, tmp, &ctl->clients) {
		struct client *c = client_of(n);

		if (c->dead && !c->inflight)
			client_free(c);
	}
}

void control_on_finish(struct control *ctl, const struct job *j)
{
	struct buf *b = &ctl->rec;
	struct client *w = j->waiter;
	struct list_node *n;

	if (!w && !ctl->n_watchers)
		return;
	buf_reset(b);
	buf_puts(b, "{\"result\":");
	if (ctl->ops->record(ctl->arg, b, j) < 0)
		return;
	b->len--;			/* the record's newline */
	if (buf_puts(b, "}\n") < 0)
		return;
	if (w) {
		w->waits--;
		client_put(w, b->p, b->len);
		maybe_done(w);
	}
	if (!ctl->n_watchers)
		return;
	list_for_each(n, &ctl->clients) {
		struct client *c = client_of(n);

		if (c->watching && !c->dead)
			client_put(c, b->p, b->len);
	}
}

void control_init(struct control *ctl, const struct control_ops *ops,
		  void *arg, struct sched *s, struct loop *l, int lfd)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->ops = ops;
	ctl->arg = arg;
	ctl->sched = s;
	ctl->loop = l;
	list_init(&ctl->clients);
	list_init(&ctl->blocked);
	list_init(&ctl->at_share);
	ctl->room.room = on_room;
	ctl->share.room = on_share;
	buf_init(&ctl->rec, REPLY_MAX);
	buf_init(&ctl->resp, REPLY_MAX);
	ctl->hook.fn = control_hook;
	loop_add_hook(l, &ctl->hook);
	listener_init(&ctl->ls, l, lfd, "control", CONTROL_ACCEPT_RETRY_MS,
		      on_conn);
	ctl->ls.starved = on_starved;
}

size_t control_mem_bytes(const struct control *ctl)
{
	size_t n = ctl->rec.cap + ctl->resp.cap;
	const struct list_node *ln;

	list_for_each(ln, &ctl->clients) {
		const struct client *c = list_entry(ln, struct client, node);

		n += sizeof(*c) + c->in.cap + c->out.cap + c->wire.cap;
	}
	return n;
}

bool control_settled(const struct control *ctl, uint64_t quiet_ms)
{
	const struct list_node *n;

	list_for_each(n, &ctl->clients) {
		const struct client *c = list_entry(n, struct client, node);

		if (!c->dead && !c->watching && (c->out.len || c->wire.len))
			return false;
	}
	return loop_now_ms(ctl->loop) - ctl->last_input_ms >= quiet_ms;
}

void control_close(struct control *ctl)
{
	struct list_node *n;

	listener_close(&ctl->ls);
	list_for_each(n, &ctl->clients)
		client_close(client_of(n));
}

bool control_idle(const struct control *ctl)
{
	return listener_idle(&ctl->ls) && list_empty(&ctl->clients);
}

void control_fini(struct control *ctl)
{
	while (!list_empty(&ctl->clients))
		client_free(client_of(list_first(&ctl->clients)));
	sched_unwait_room(&ctl->room);
	sched_unwait_room(&ctl->share);
	listener_fini(&ctl->ls);
	buf_fini(&ctl->rec);
	buf_fini(&ctl->resp);
}

/* Whether a daemon answers at sa. A connect alone is not proof: the
 * socket of a killed daemon lingers (and takes connections) until its
 * io_uring's requests are torn down, so ask for a status line. */
static bool socket_is_live(int fd, const struct sockaddr_un *sa)
{
	static const char req[] = "{\"op\":\"status\"}\n";
	struct timeval tv = { .tv_sec = 2 };
	ssize_t n;
	char c;

	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0)
		return false;
	n = recv(fd, &c, 1, 0);
	if (n >= 0)
		return n > 0;
	/* a timeout: someone holds it but is slow; call that live */
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

int control_listen(const char *path, unsigned mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	rc = fs_mkdir_parent(path);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s",
			 path, strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
				 path);
			close(fd);
			return -EEXIST;
		}
		if (socket_is_live(fd, &sa)) {
			snprintf(err, errlen, "%s: another daemon is "
				 "listening there", path);
			close(fd);
			return -EADDRINUSE;
		}
		/* nobody answers: a dead daemon's socket file */
		unlink(path);
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -errno;
		}
	}
	old = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, mode) < 0 || listen(fd, SOMAXCONN) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}
