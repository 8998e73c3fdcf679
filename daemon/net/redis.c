/* A Redis connection on the ring. The state machine: IDLE (waiting out
 * the backoff) -> CONNECT -> HANDSHAKE (AUTH, SELECT, CLIENT SETNAME, PING
 * pipelined) -> UP; any failure -> CLOSING (ops cancelled, pending
 * callbacks told NULL) -> IDLE once the last SQE is back. As conn.c, a
 * struct redis is never freed with an SQE in flight.
 *
 * Output is two buffers: `out` is what the one send SQE points into and
 * stays unmoved while it is in flight; commands queue in `queue` and are
 * swapped in once out is sent, so each send carries everything queued
 * meanwhile. Input accumulates in `in` until whole replies parse; the
 * FIFO of callbacks matches them to commands. */
#include "net/redis.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/redis_url.h"

#define RECV_CHUNK 65536	/* at least this much room for each receive */
#define KEEP_MAX (1u << 20)	/* buffers bigger than this are freed when
				 * empty: one huge reply is not kept for life */
#define LOG_EVERY 10		/* repeated failures: every 10th is logged */

enum redis_state {
	RS_IDLE = 0,		/* no socket; the backoff timer is armed */
	RS_CONNECT,		/* connect SQE in flight; deadline armed */
	RS_HANDSHAKE,		/* handshake commands sent; deadline armed */
	RS_UP,			/* commands accepted */
	RS_CLOSING,		/* SQEs being cancelled; then IDLE or freed */
	RS_COUNT
};

static const char *const rs_name[RS_COUNT] = {
	"idle", "connect", "handshake", "up", "closing",
};

struct redis_cb {
	redis_reply_fn fn;	/* NULL: the reply is dropped */
	void *arg;
};

struct redis {
	struct loop *loop;
	enum redis_state state;
	int fd;				/* -1 when no socket */
	struct redis_target t;		/* resolved once, at redis_new */
	char *name;			/* CLIENT SETNAME, NULL for none */
	struct io_op op_connect, op_send, op_recv;
	unsigned inflight;		/* SQEs of ours the ring holds */
	bool send_armed, recv_armed;
	struct timer timer;		/* backoff (IDLE) or deadline */
	struct loop_hook hook;		/* flushes the queue once a turn */
	struct buf out;			/* in the send SQE; unmoved while armed */
	size_t out_off;			/* bytes of out already sent */
	struct buf queue;		/* commands not yet in out */
	struct buf in;			/* received, not yet parsed */
	struct resp_arena arena;	/* the reply being delivered */
	size_t reply_max;
	struct redis_cb *cbs;		/* FIFO ring of cb_cap, cb_n from head */
	size_t cb_head, cb_n, cb_cap;
	const char *hs_cmd[4];		/* the handshake's commands, in order */
	unsigned hs_n, hs_next;		/* how many; the next to be answered */
	uint32_t backoff_ms;		/* next retry's base delay */
	uint32_t rand;			/* xorshift state for the jitter */
	unsigned fails;			/* failures since last up */
	unsigned depth;			/* callbacks running: no free now */
	bool freeing;			/* redis_free() called */
	void (*state_fn)(void *arg, bool up);
	void *state_arg;
	struct redis_stats st;
	char err[256];
};

static unsigned draining;

static void on_connect(struct io_op *op, int res, unsigned flags);
static void on_send(struct io_op *op, int res, unsigned flags);
static void on_recv(struct io_op *op, int res, unsigned flags);
static void on_timer(struct timer *t);
static void connect_start(struct redis *r);
static void on_handshake(void *arg, const struct resp_reply *rep);

/* ---- small helpers ---- */

static void enter(struct redis *r, enum redis_state to)
{
	log_debug("redis %s: %s -> %s", r->t.where, rs_name[r->state],
		  rs_name[to]);
	r->state = to;
}

static bool live(const struct redis *r)
{
	return r->state == RS_HANDSHAKE || r->state == RS_UP;
}

static uint32_t jitter(struct redis *r, uint32_t n)
{
	r->rand ^= r->rand << 13;
	r->rand ^= r->rand >> 17;
	r->rand ^= r->rand << 5;
	return n ? r->rand % n : 0;
}

static void call_reply(struct redis *r, struct redis_cb cb,
		       const struct resp_reply *rep)
{
	if (!cb.fn)
		return;
	r->depth++;
	cb.fn(cb.arg, rep);
	r->depth--;
}

static void tell_state(struct redis *r, bool up)
{
	if (!r->state_fn || r->freeing)
		return;
	r->depth++;
	r->state_fn(r->state_arg, up);
	r->depth--;
}

static int cb_push(struct redis *r, redis_reply_fn fn, void *arg)
{
	if (r->cb_n == r->cb_cap) {
		size_t cap = r->cb_cap ? r->cb_cap * 2 : 64;
		struct redis_cb *n = malloc(cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		/* unwrap the ring into the new array */
		for (size_t i = 0; i < r->cb_n; i++)
			n[i] = r->cbs[(r->cb_head + i) % r->cb_cap];
		free(r->cbs);
		r->cbs = n;
		r->cb_cap = cap;
		r->cb_head = 0;
	}
	r->cbs[(r->cb_head + r->cb_n) % r->cb_cap] =
		(struct redis_cb){ fn, arg };
	r->cb_n++;
	return 0;
}

static struct redis_cb cb_pop(struct redis *r)
{
	struct redis_cb cb = r->cbs[r->cb_head];

	assert(r->cb_n > 0);
	r->cb_head = (r->cb_head + 1) % r->cb_cap;
	r->cb_n--;
	return cb;
}

/* Every pending command learns it will get no reply. A callback may
 * queue more (refused: not up) or free r (deferred by depth). */
static void fail_pending(struct redis *r)
{
	while (r->cb_n)
		call_reply(r, cb_pop(r), NULL);
}

static void shrink(struct buf *b)
{
	if (b->len == 0 && b->cap > KEEP_MAX)
		buf_fini(b);
	else
		buf_reset(b);
}

/* ---- teardown ---- */

/* The real free: only once nothing is in flight and no callback runs. */
static void release(struct redis *r)
{
	if (!r->freeing || r->depth || r->inflight)
		return;
	if (r->fd >= 0)
		io_uring_prep_close(loop_sqe_noop(r->loop), r->fd);
	buf_fini(&r->out);
	buf_fini(&r->queue);
	buf_fini(&r->in);
	resp_arena_fini(&r->arena);
	free(r->cbs);
	redis_url_fini(&r->t);
	free(r->name);
	free(r);
	__atomic_fetch_sub(&draining, 1, __ATOMIC_RELAXED);
}

/* The socket's SQEs are all back: close it and wait out the backoff. */
static void closed(struct redis *r)
{
	uint32_t base = r->backoff_ms;

	assert(r->inflight == 0);
	if (r->fd >= 0)
		io_uring_prep_close(loop_sqe_noop(r->loop), r->fd);
	r->fd = -1;
	r->out_off = 0;
	shrink(&r->out);
	shrink(&r->queue);
	if (r->freeing)
		return;		/* release() from the caller's settle */
	enter(r, RS_IDLE);
	/* equal jitter: half the delay fixed, half random, so a fleet that
	 * lost Redis at once does not come back at once */
	loop_timer_arm(r->loop, &r->timer, loop_now_ms(r->loop) + base / 2 +
		       jitter(r, base / 2 + 1), on_timer);
	r->backoff_ms = base * 2 < REDIS_BACKOFF_MAX_MS ? base * 2 :
			REDIS_BACKOFF_MAX_MS;
}

static void cancel_io(struct redis *r)
{
	struct io_op *const ops[] = { &r->op_connect, &r->op_send,
				      &r->op_recv };

	if (r->inflight)
		loop_cancel_fd(r->loop, r->fd, ops, 3);
}

/* The first failure of a run and every LOG_EVERY-th after it reach the
 * log; the rest only r->err. */
static void log_failure(struct redis *r, bool was_up)
{
	r->fails++;
	if (was_up)
		log_warn("redis: connection lost: %s; reconnecting", r->err);
	else if (r->fails == 1 || r->fails % LOG_EVERY == 0)
		log_warn("redis: %s (failure %u in a row; retrying with "
			 "backoff up to %u ms)", r->err, r->fails,
			 REDIS_BACKOFF_MAX_MS);
}

static void fail(struct redis *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Drop the connection: record why, tell everyone, cancel, retry later. */
static void fail(struct redis *r, const char *fmt, ...)
{
	bool was_up = r->state == RS_UP;
	va_list ap;

	if (r->state == RS_CLOSING || r->state == RS_IDLE)
		return;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	log_failure(r, was_up);
	if (was_up)
		r->st.disconnects++;
	enter(r, RS_CLOSING);
	loop_timer_cancel(r->loop, &r->timer);
	cancel_io(r);
	fail_pending(r);
	if (was_up)
		tell_state(r, false);
	if (r->inflight == 0)
		closed(r);
}

/* The end of every entry from the loop: finish a free asked for meanwhile.
 * Returns true when r may be gone. */
static bool settle(struct redis *r)
{
	if (!r->freeing)
		return false;
	release(r);
	return true;
}

/* A completion of ours: one fewer in flight. Returns false when r is
 * closing (or freed) and the completion must do nothing more. */
static bool landed(struct redis *r, bool *armed)
{
	r->inflight--;
	if (armed)
		*armed = false;
	if (r->state != RS_CLOSING)
		return true;
	if (r->inflight == 0) {
		if (r->freeing)
			release(r);
		else
			closed(r);
	}
	return false;
}

/* ---- output ---- */

static void flush(struct redis *r)
{
	struct io_uring_sqe *sqe;
	struct buf t;

	if (!live(r) || r->send_armed)
		return;
	if (r->out_off == r->out.len) {
		if (r->queue.len == 0)
			return;
		t = r->out;
		r->out = r->queue;
		r->queue = t;
		buf_reset(&r->queue);
		r->out_off = 0;
	}
	sqe = loop_sqe(r->loop, &r->op_send);
	io_uring_prep_send(sqe, r->fd, r->out.p + r->out_off,
			   r->out.len - r->out_off, MSG_NOSIGNAL);
	r->inflight++;
	r->send_armed = true;
}

static void on_hook(struct loop_hook *h)
{
	flush(container_of(h, struct redis, hook));
}

static void on_send(struct io_op *op, int res, unsigned flags)
{
	struct redis *r = container_of(op, struct redis, op_send);

	(void)flags;
	if (!landed(r, &r->send_armed))
		return;
	if (res < 0) {
		fail(r, "send to %s: %s", r->t.where, strerror(-res));
		settle(r);
		return;
	}
	r->out_off += (size_t)res;
	if (r->out_off == r->out.len) {
		r->out_off = 0;
		shrink(&r->out);
	}
	flush(r);	/* a short send's rest, or what queued meanwhile */
}

/* Queue a command on the connection, whatever the state (the handshake's
 * own commands go before UP). */
static int enqueue(struct redis *r, const struct buf *cmd, redis_reply_fn fn,
		   void *arg)
{
	size_t waiting = r->queue.len + (r->out.len - r->out_off);
	int rc;

	if (cmd->len > REDIS_QUEUE_MAX - waiting || waiting > REDIS_QUEUE_MAX)
		return -ENOBUFS;
	rc = buf_append(&r->queue, cmd->p, cmd->len);
	if (rc < 0)
		return rc;
	rc = cb_push(r, fn, arg);
	if (rc < 0) {
		buf_truncate(&r->queue, r->queue.len - cmd->len);
		return rc;
	}
	return 0;
}

int redis_send(struct redis *r, struct buf *cmd, redis_reply_fn fn,
	       void *arg)
{
	int rc;

	if (r->freeing || r->state != RS_UP)
		return -ENOTCONN;
	if (!cmd->len || resp_cmd_check(cmd->p, cmd->len) != 1)
		return -EINVAL;
	rc = enqueue(r, cmd, fn, arg);
	if (rc == 0)
		r->st.commands++;
	return rc;
}

/* ---- input ---- */

static void arm_recv(struct redis *r)
{
	struct io_uring_sqe *sqe;
	size_t room = r->in.max - r->in.len;

	if (r->recv_armed)
		return;
	if (room == 0 || buf_reserve(&r->in, room < RECV_CHUNK ? room :
				     RECV_CHUNK) < 0) {
		fail(r, "a reply from %s exceeds %zu bytes (the reply limit) "
		     "or memory ran out", r->t.where, r->reply_max);
		return;
	}
	sqe = loop_sqe(r->loop, &r->op_recv);
	io_uring_prep_recv(sqe, r->fd, r->in.p + r->in.len,
			   r->in.cap - r->in.len - 1, 0);
	r->inflight++;
	r->recv_armed = true;
}

static void parse_failed(struct redis *r, ssize_t rc, size_t off)
{
	if (rc == -E2BIG)
		fail(r, "a reply from %s exceeds the reply limit (%zu bytes, "
		     "or nesting deeper than %d)", r->t.where, r->reply_max,
		     RESP_DEPTH_MAX);
	else if (rc == -ENOMEM)
		fail(r, "out of memory parsing a reply from %s", r->t.where);
	else
		fail(r, "protocol error: %s sent bytes that are not RESP2 "
		     "(reply starting at byte %zu of the buffer)", r->t.where,
		     off);
}

/* Hand every whole reply in `in` to its callback. Returns false when the
 * connection failed or r is being freed: `in` is then left alone. */
static bool deliver(struct redis *r)
{
	struct resp_reply *rep;
	struct redis_cb cb;
	size_t off = 0;
	ssize_t rc;

	while (off < r->in.len) {
		rc = resp_parse(r->in.p + off, r->in.len - off, &r->arena,
				&rep);
		if (rc == 0)
			break;
		if (rc < 0 || r->cb_n == 0) {
			if (rc < 0)
				parse_failed(r, rc, off);
			else
				fail(r, "%s sent a reply to no command",
				     r->t.where);
			return false;
		}
		cb = cb_pop(r);
		/* the stats count the owner's commands, not the handshake */
		if (cb.fn != on_handshake) {
			r->st.replies++;
			r->st.errors += rep->type == RESP_ERROR;
		}
		call_reply(r, cb, rep);
		resp_arena_reset(&r->arena);
		off += (size_t)rc;
		if (r->freeing || !live(r))
			return false;
	}
	buf_consume(&r->in, off);
	if (r->in.len == 0)
		shrink(&r->in);
	return true;
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
	struct redis *r = container_of(op, struct redis, op_recv);

	(void)flags;
	if (!landed(r, &r->recv_armed))
		return;
	if (res <= 0) {
		if (res == 0)
			fail(r, "%s closed the connection", r->t.where);
		else
			fail(r, "receive from %s: %s", r->t.where,
			     strerror(-res));
		settle(r);
		return;
	}
	r->in.len += (size_t)res;
	r->in.p[r->in.len] = '\0';
	if (deliver(r))
		arm_recv(r);
	settle(r);
}

/* ---- connecting ---- */

static void go_up(struct redis *r)
{
	if (r->fails)
		log_info("redis %s: connected after %u failed attempts",
			 r->t.where, r->fails);
	else
		log_info("redis %s: connected", r->t.where);
	r->fails = 0;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	loop_timer_cancel(r->loop, &r->timer);
	enter(r, RS_UP);
	r->st.connects++;
	tell_state(r, true);
}

/* A handshake reply: all must succeed before UP. */
static void on_handshake(void *arg, const struct resp_reply *rep)
{
	struct redis *r = arg;
	const char *cmd = r->hs_cmd[r->hs_next++];

	if (!rep)
		return;		/* the connection failed meanwhile */
	if (rep->type == RESP_ERROR) {
		fail(r, "%s failed: %.*s", cmd, (int)rep->len, rep->str);
		return;
	}
	if (r->hs_next == r->hs_n)
		go_up(r);
}

static void handshake_cmd(struct redis *r, struct buf *b, const char *what)
{
	/* the check catches a failed encoding, as for redis_send() */
	if (resp_cmd_check(b->p, b->len) != 1 ||
	    enqueue(r, b, on_handshake, r) < 0) {
		fail(r, "out of memory queueing %s", what);
		return;
	}
	r->hs_cmd[r->hs_n++] = what;
	buf_reset(b);
}

/* Pipeline AUTH, SELECT and CLIENT SETNAME (those that apply) and a PING
 * that shows the server answers commands. */
static void start_handshake(struct redis *r)
{
	struct buf b;

	enter(r, RS_HANDSHAKE);
	r->hs_n = r->hs_next = 0;
	buf_init(&b, 1 << 16);
	if (r->t.pass) {
		resp_begin(&b, r->t.user ? 3 : 2);
		resp_arg_str(&b, "AUTH");
		if (r->t.user)
			resp_arg_str(&b, r->t.user);
		resp_arg_str(&b, r->t.pass);
		handshake_cmd(r, &b, "AUTH");
	}
	if (r->t.db && live(r)) {
		resp_begin(&b, 2);
		resp_arg_str(&b, "SELECT");
		resp_arg_u64(&b, r->t.db);
		handshake_cmd(r, &b, "SELECT");
	}
	if (r->name && live(r)) {
		resp_begin(&b, 3);
		resp_arg_str(&b, "CLIENT");
		resp_arg_str(&b, "SETNAME");
		resp_arg_str(&b, r->name);
		handshake_cmd(r, &b, "CLIENT SETNAME");
	}
	if (live(r)) {
		resp_begin(&b, 1);
		resp_arg_str(&b, "PING");
		handshake_cmd(r, &b, "PING");
	}
	buf_fini(&b);
	if (live(r)) {
		flush(r);
		arm_recv(r);
	}
}

static void on_connect(struct io_op *op, int res, unsigned flags)
{
	struct redis *r = container_of(op, struct redis, op_connect);

	(void)flags;
	if (!landed(r, NULL))
		return;
	if (res < 0) {
		fail(r, "connect to %s: %s", r->t.where, strerror(-res));
		settle(r);
		return;
	}
	start_handshake(r);
	settle(r);
}

static void connect_start(struct redis *r)
{
	struct io_uring_sqe *sqe;
	int one = 1;

	/* a new connection starts clean: nothing of the last one is left */
	buf_fini(&r->in);
	buf_init(&r->in, r->reply_max + RECV_CHUNK);
	resp_arena_reset(&r->arena);
	r->arena.len_max = r->reply_max;
	r->fd = socket(r->t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, 0);
	enter(r, RS_CONNECT);
	loop_timer_arm(r->loop, &r->timer, loop_now_ms(r->loop) +
		       REDIS_CONNECT_TIMEOUT_MS, on_timer);
	if (r->fd < 0) {
		fail(r, "socket: %s", strerror(errno));
		return;
	}
	if (r->t.addr.ss_family != AF_UNIX) {
		setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(r->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	sqe = loop_sqe(r->loop, &r->op_connect);
	io_uring_prep_connect(sqe, r->fd, (struct sockaddr *)&r->t.addr,
			      r->t.addrlen);
	r->inflight++;
}

static void on_timer(struct timer *t)
{
	struct redis *r = container_of(t, struct redis, timer);

	if (r->state == RS_IDLE) {
		connect_start(r);
		return;
	}
	fail(r, "%s did not %s within %u ms", r->t.where,
	     r->state == RS_CONNECT ? "accept the connection" :
	     "answer the handshake", REDIS_CONNECT_TIMEOUT_MS);
	settle(r);
}

/* ---- the object ---- */

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int redis_new(struct redis **rp, struct loop *l, const char *url,
	      const char *client_name, char *err, size_t errlen)
{
	struct redis *r = calloc(1, sizeof(*r));
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->loop = l;
	r->fd = -1;
	r->reply_max = REDIS_REPLY_MAX;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	r->rand = ((uint32_t)(uintptr_t)r ^ (uint32_t)loop_wall_ms()) | 1;
	r->op_connect.done = on_connect;
	r->op_send.done = on_send;
	r->op_recv.done = on_recv;
	r->hook.fn = on_hook;
	buf_init(&r->out, REDIS_QUEUE_MAX);
	buf_init(&r->queue, REDIS_QUEUE_MAX);
	buf_init(&r->in, r->reply_max + RECV_CHUNK);
	resp_arena_init(&r->arena, r->reply_max);
	rc = redis_url_parse(&r->t, url, err, errlen);
	if (rc == 0 && client_name && *client_name) {
		if (!name_ok(client_name)) {
			snprintf(err, errlen, "the Redis client name '%s' holds "
				 "a space or control byte", client_name);
			rc = -EINVAL;
		} else if (!(r->name = strdup(client_name))) {
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		redis_url_fini(&r->t);
		free(r->name);
		buf_fini(&r->in);
		free(r);
		return rc;
	}
	loop_add_hook(l, &r->hook);
	connect_start(r);
	*rp = r;
	return 0;
}

void redis_set_state_cb(struct redis *r, void (*fn)(void *arg, bool up),
			void *arg)
{
	r->state_fn = fn;
	r->state_arg = arg;
}

void redis_set_reply_max(struct redis *r, size_t bytes)
{
	r->reply_max = bytes;
	if (r->state == RS_CONNECT || r->state == RS_IDLE) {
		buf_fini(&r->in);
		buf_init(&r->in, bytes + RECV_CHUNK);
		r->arena.len_max = bytes;
	}
}

bool redis_up(const struct redis *r)
{
	return r->state == RS_UP && !r->freeing;
}

size_t redis_pending(const struct redis *r)
{
	return r->cb_n;
}

const char *redis_last_error(const struct redis *r)
{
	return r->err;
}

void redis_stats(const struct redis *r, struct redis_stats *s)
{
	*s = r->st;
}

unsigned redis_draining(void)
{
	return __atomic_load_n(&draining, __ATOMIC_RELAXED);
}

void redis_free(struct redis *r)
{
	if (!r || r->freeing)
		return;
	r->freeing = true;
	__atomic_fetch_add(&draining, 1, __ATOMIC_RELAXED);
	loop_remove_hook(r->loop, &r->hook);
	loop_timer_cancel(r->loop, &r->timer);
	if (r->state != RS_IDLE && r->state != RS_CLOSING) {
		enter(r, RS_CLOSING);
		cancel_io(r);
	}
	fail_pending(r);
	release(r);
}
