/* submit --redis: one blocking connection to Redis, XADDs pipelined in
 * batches (write a batch, then read its replies), an answer line per URL
 * in input order. The partition is computed from the host as url.h
 * parses it, the same parser the daemon uses, so producer and fleet
 * always agree on where a host's jobs live. */
#include "submit_redis.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "urlline.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/redis_url.h"
#include "base/resp.h"
#include "http/url.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_CONN = 3 };

#define BATCH 1000			/* XADDs a flush */
#define REPLY_MAX (1u << 20)		/* replies here are small */
#define CONNECT_TIMEOUT_S 10
#define REPLY_TIMEOUT_S 30

/* A URL of the batch, in input order: answered in the same order. */
struct pend {
	char *url;		/* owned copy of the URL as given */
	char *bad;		/* owned: why it does not parse; no XADD sent */
	unsigned part;
};

struct rsub {
	const struct submit_redis_opts *o;
	struct redis_target t;
	int fd;
	struct buf out;		/* the batch's commands */
	struct buf in;		/* replies received */
	size_t in_off;		/* bytes of in already parsed */
	struct resp_arena arena;
	struct buf line;	/* one answer line */
	struct pend pend[BATCH];
	unsigned n_pend;
	int rc;
};

static void lost(struct rsub *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* The connection is unusable: say why, and stop (lines printed so far
 * stand: those URLs are in Redis). */
static void lost(struct rsub *s, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "ringfetch: Redis at %s: ", s->t.where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EX_CONN);
}

static void dial(struct rsub *s)
{
	struct timeval snd = { .tv_sec = CONNECT_TIMEOUT_S };
	struct timeval rcv = { .tv_sec = REPLY_TIMEOUT_S };

	s->fd = socket(s->t.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		lost(s, "socket: %s", strerror(errno));
	/* SO_SNDTIMEO bounds connect() too, on Linux */
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
	if (connect(s->fd, (struct sockaddr *)&s->t.addr, s->t.addrlen) < 0) {
		fflush(stdout);
		fprintf(stderr, "ringfetch: cannot reach Redis at %s: %s "
			"(see --redis)\n", s->t.where,
			errno == EINPROGRESS ? "connect timed out" :
			strerror(errno));
		exit(EX_CONN);
	}
}

static void send_out(struct rsub *s)
{
	if (fs_write_all(s->fd, s->out.p, s->out.len, NULL) < 0)
		lost(s, "send failed: %s", strerror(errno));
	buf_reset(&s->out);
}

/* The next reply; valid until the next call. */
static const struct resp_reply *next_reply(struct rsub *s)
{
	struct resp_reply *r;
	ssize_t rc, n;

	resp_arena_reset(&s->arena);
	for (;;) {
		rc = resp_parse(s->in.p + s->in_off, s->in.len - s->in_off,
				&s->arena, &r);
		if (rc > 0) {
			s->in_off += (size_t)rc;
			return r;
		}
		if (rc < 0)
			lost(s, "protocol error: %s", rc == -E2BIG ?
			     "a reply is too large" : "not RESP2");
		buf_consume(&s->in, s->in_off);
		s->in_off = 0;
		if (buf_reserve(&s->in, 65536) < 0)
			lost(s, "a reply is too large");
		do {
			n = recv(s->fd, s->in.p + s->in.len,
				 s->in.cap - s->in.len - 1, 0);
		} while (n < 0 && errno == EINTR);
		if (n == 0)
			lost(s, "the server closed the connection");
		if (n < 0)
			lost(s, "%s", errno == EAGAIN || errno == EWOULDBLOCK ?
			     "no reply within 30 s" : strerror(errno));
		s->in.len += (size_t)n;
		s->in.p[s->in.len] = '\0';
	}
}

/* AUTH and SELECT as the URL asks, and a PING: a server that refuses
 * us is one clear error, not one per URL. */
static void handshake(struct rsub *s)
{
	const char *what[3];
	unsigned n = 0;

	if (s->t.pass) {
		resp_begin(&s->out, s->t.user ? 3 : 2);
		resp_arg_str(&s->out, "AUTH");
		if (s->t.user)
			resp_arg_str(&s->out, s->t.user);
		resp_arg_str(&s->out, s->t.pass);
		what[n++] = "AUTH";
	}
	if (s->t.db) {
		resp_begin(&s->out, 2);
		resp_arg_str(&s->out, "SELECT");
		resp_arg_u64(&s->out, s->t.db);
		what[n++] = "SELECT";
	}
	resp_begin(&s->out, 1);
	resp_arg_str(&s->out, "PING");
	what[n++] = "PING";
	send_out(s);
	for (unsigned i = 0; i < n; i++) {
		const struct resp_reply *r = next_reply(s);

		if (r->type == RESP_ERROR)
			lost(s, "%s failed: %.*s", what[i], (int)r->len, r->str);
	}
}

static void print_line(struct rsub *s)
{
	buf_puts(&s->line, "}\n");
	fwrite(s->line.p, 1, s->line.len, stdout);
	buf_reset(&s->line);
}

/* {"ok":B,"url":U,"stream":S: the start of every answer line. */
static void line_start(struct rsub *s, bool ok, const char *url, size_t n,
		       const unsigned *part)
{
	char name[1024];

	buf_puts(&s->line, ok ? "{\"ok\":true,\"url\":" :
		 "{\"ok\":false,\"url\":");
	json_put_strn(&s->line, url, n);
	if (part) {
		snprintf(name, sizeof(name), "%s:%u", s->o->stream, *part);
		buf_puts(&s->line, ",\"stream\":");
		json_put_str(&s->line, name);
	}
}

static void refuse(struct rsub *s, const char *url, size_t n,
		   const unsigned *part, const char *cls, const char *detail,
		   size_t dlen)
{
	line_start(s, false, url, n, part);
	buf_printf(&s->line, ",\"error\":\"%s\",\"detail\":", cls);
	json_put_strn(&s->line, detail, dlen);
	print_line(s);
	fprintf(stderr, "ringfetch: %.*s: %s: %.*s\n", (int)n, url, cls,
		(int)dlen, detail);
	s->rc = EX_REFUSED;
}

/* Send the batch, then read its replies in order. */
static void flush_batch(struct rsub *s)
{
	if (!s->n_pend)
		return;
	send_out(s);
	for (unsigned i = 0; i < s->n_pend; i++) {
		struct pend *p = &s->pend[i];
		const struct resp_reply *r = p->bad ? NULL : next_reply(s);
		size_t n = strlen(p->url);

		if (!r) {
			refuse(s, p->url, n, NULL, "invalid_url", p->bad,
			       strlen(p->bad));
			free(p->bad);
		} else if (r->type == RESP_BULK) {
			line_start(s, true, p->url, n, &p->part);
			buf_puts(&s->line, ",\"entry\":");
			json_put_strn(&s->line, r->str, r->len);
			buf_puts(&s->line, ",\"id\":");
			json_put_str_or_null(&s->line, s->o->id);
			print_line(s);
		} else if (r->type == RESP_ERROR) {
			refuse(s, p->url, n, &p->part, "redis", r->str, r->len);
		} else {
			lost(s, "XADD answered with something not an entry id");
		}
		free(p->url);
	}
	s->n_pend = 0;
}

static void add_pend(struct rsub *s, const char *u, size_t n, char *bad,
		     unsigned part)
{
	struct pend *p = &s->pend[s->n_pend++];

	p->url = strndup(u, n);
	p->bad = bad;
	p->part = part;
	if (!p->url)
		lost(s, "out of memory");
	if (s->n_pend == BATCH)
		flush_batch(s);
}

static void add_url(struct rsub *s, const char *u, size_t n)
{
	const char *argv[7];
	size_t lens[7];
	char key[1024], err[256];
	struct url parsed;
	unsigned part;
	int argc = 0;

	if (!url_line(&u, &n))
		return;
	if (url_parse(&parsed, u, n, err, sizeof(err)) != URL_OK) {
		char *why = strdup(err);

		if (!why)
			lost(s, "out of memory");
		add_pend(s, u, n, why, 0);
		return;
	}
	part = hash_fnv1a32_lower(parsed.host, strlen(parsed.host)) %
	       s->o->partitions;
	url_fini(&parsed);
	snprintf(key, sizeof(key), "%s:%u", s->o->stream, part);
	argv[argc] = "XADD", lens[argc++] = 4;
	argv[argc] = key, lens[argc++] = strlen(key);
	argv[argc] = "*", lens[argc++] = 1;
	argv[argc] = "url", lens[argc++] = 3;
	argv[argc] = u, lens[argc++] = n;
	if (s->o->id) {
		argv[argc] = "id", lens[argc++] = 2;
		argv[argc] = s->o->id, lens[argc++] = strlen(s->o->id);
	}
	if (resp_cmd(&s->out, argc, argv, lens) < 0)
		lost(s, "out of memory building the commands");
	add_pend(s, u, n, NULL, part);
}

static void read_stdin(struct rsub *s)
{
	char *l = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&l, &cap, stdin)) >= 0)
		add_url(s, l, (size_t)n - (n && l[n - 1] == '\n'));
	free(l);
}

int submit_redis(const struct submit_redis_opts *o)
{
	static struct rsub s;
	char err[256];

	s.o = o;
	if (redis_url_parse(&s.t, o->url, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetch: --redis: %s\n", err);
		return EX_USAGE;
	}
	buf_init(&s.out, 64u << 20);
	buf_init(&s.in, REPLY_MAX + 65536);
	buf_init(&s.line, 1u << 20);
	resp_arena_init(&s.arena, REPLY_MAX);
	dial(&s);
	handshake(&s);
	if (o->urls) {
		for (int i = 0; i < o->n_urls; i++)
			add_url(&s, o->urls[i], strlen(o->urls[i]));
	} else {
		read_stdin(&s);
	}
	flush_batch(&s);
	fflush(stdout);
	close(s.fd);
	buf_fini(&s.out);
	buf_fini(&s.in);
	buf_fini(&s.line);
	resp_arena_fini(&s.arena);
	redis_url_fini(&s.t);
	return s.rc;
}
