/* ringfetch: the client of a running ringfetchd. Speaks only the control
 * socket's line protocol: submit, status, watch, cancel.
 * Standard output carries the daemon's answer lines as they came, one JSON
 * object a line, so it pipes into jq; what is said to a person (errors,
 * submit --wait's summary) goes to standard error.
 * Exit status: 0 done, 1 the daemon refused a request or a waited job
 * failed, 2 usage, 3 the daemon is not there or the connection broke. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "config/config.h"
#include "base/json.h"
#include "submit_redis.h"
#include "urlline.h"
#include "version.h"	/* generated: RF_VERSION */

#define DEFAULT_SOCKET "/run/ringfetch/ringfetch.sock"
#define DEFAULT_CONFIG "/etc/ringfetch/ringfetch.yaml"
#define LINE_MAX_IN (16 * 1024 * 1024)	/* a response line, generously */
#define PENDING_MAX (256 * 1024)	/* requests built ahead of the socket */

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_CONN = 3 };

struct opts {
	const char *socket, *config, *id, *cmd;
	const char *redis, *stream, *partitions;	/* submit --redis */
	bool wait, nowait;
	char **args;		/* operands after the command */
	int n_args;
};

struct conn {
	int fd;
	const char *path;
	struct buf in;		/* bytes received, not yet split in lines */
	bool heard;		/* a byte has come from the daemon */
	bool eof;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ringfetch [--socket PATH] submit [--wait] [--id ID] [--nowait]\n"
"                                        [URL...]\n"
"       ringfetch submit --redis URL [--stream PREFIX] [--partitions N]\n"
"                        [--id ID] [URL...]\n"
"       ringfetch [--socket PATH] status\n"
"       ringfetch [--socket PATH] watch\n"
"       ringfetch [--socket PATH] cancel JOB | --id ID\n"
"\n"
"  submit   submit the URLs (or, without any, one a line from stdin; blank\n"
"           lines and # comments skipped); prints one answer line per URL;\n"
"           --wait also prints each job's record and a summary on stderr\n"
"  status   the daemon's counters: {\"ok\":true,\"status\":{...}}\n"
"  watch    print every result record as jobs finish, until interrupted\n"
"  cancel   cancel a queued or running job by number, or every job with ID\n"
"\n"
"Standard output holds the daemon's answers as sent, one JSON object a line\n"
"(records as {\"result\":{...}}), for jq; see ringfetch(1).\n"
"\n"
"  --socket PATH   control socket (default: daemon.socket of the config,\n"
"                  else " DEFAULT_SOCKET ")\n"
"  -c, --config F  read daemon.socket from F (default " DEFAULT_CONFIG ")\n"
"  --wait          wait for the jobs' records\n"
"  --id ID         the submitter id of every URL submitted\n"
"  --nowait        answer queue_full instead of waiting for queue room\n"
"                  or for the URL's host to drop below its share\n"
"  --redis URL     submit: XADD the jobs to the fleet's Redis streams\n"
"                  (redis://[[USER]:PASS@]HOST[:PORT][/DB], unix:///PATH)\n"
"                  instead of a daemon; one answer line per URL with the\n"
"                  stream and entry id\n"
"  --stream PREFIX the job streams PREFIX:0..N-1 (default: the config's\n"
"                  source.redis.stream, else " SUBMIT_REDIS_STREAM ")\n"
"  --partitions N  N streams; a URL goes to FNV-1a(host) mod N (default:\n"
"                  the config's source.redis.partitions, else %d)\n"
"  -h, --help      this help;  --version  the version\n"
"\n"
"Exit status: 0 done, 1 a request was refused or a waited job failed,\n"
"2 usage error, 3 the daemon (or Redis) is not there or the connection\n"
"broke.\n", SUBMIT_REDIS_PARTITIONS);
}

static int need_arg(int argc, char **argv, int i)
{
	if (i + 1 >= argc) {
		fprintf(stderr, "ringfetch: %s needs a value\n", argv[i]);
		exit(EX_USAGE);
	}
	return i + 1;
}

/* Options may come before or after the command. */
static void parse_args(int argc, char **argv, struct opts *o)
{
	bool dashdash = false;

	o->args = calloc((size_t)argc, sizeof(char *));
	if (!o->args)
		exit(EX_CONN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (dashdash || a[0] != '-' || !a[1]) {
			if (!o->cmd)
				o->cmd = a;
			else
				o->args[o->n_args++] = argv[i];
		} else if (!strcmp(a, "--")) {
			dashdash = true;
		} else if (!strcmp(a, "--socket")) {
			i = need_arg(argc, argv, i);
			o->socket = argv[i];
		} else if (!strncmp(a, "--socket=", 9)) {
			o->socket = a + 9;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			i = need_arg(argc, argv, i);
			o->config = argv[i];
		} else if (!strcmp(a, "--id")) {
			i = need_arg(argc, argv, i);
			o->id = argv[i];
		} else if (!strcmp(a, "--redis")) {
			i = need_arg(argc, argv, i);
			o->redis = argv[i];
		} else if (!strcmp(a, "--stream")) {
			i = need_arg(argc, argv, i);
			o->stream = argv[i];
		} else if (!strcmp(a, "--partitions")) {
			i = need_arg(argc, argv, i);
			o->partitions = argv[i];
		} else if (!strcmp(a, "--wait")) {
			o->wait = true;
		} else if (!strcmp(a, "--nowait")) {
			o->nowait = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(EX_OK);
		} else if (!strcmp(a, "--version")) {
			printf("ringfetch %s (%s)\n", RF_VERSION, RF_COMMIT);
			exit(EX_OK);
		} else {
			fprintf(stderr, "ringfetch: unknown option %s\n", a);
			usage(stderr);
			exit(EX_USAGE);
		}
	}
}

/* The config file (-c, else the default one when it is there) into c.
 * Returns whether one was read; a broken -c file ends the program. */
static bool read_config(const struct opts *o, struct config *c)
{
	const char *file = o->config ? o->config : DEFAULT_CONFIG;
	char err[512];

	config_init(c);
	if (!o->config && access(file, R_OK) < 0)
		return false;
	if (config_load_file(c, file, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetch: %s\n", err);
		if (o->config)
			exit(EX_USAGE);
		return false;
	}
	return true;
}

/* --socket, else the config's daemon.socket, else the default. */
static char *socket_path(const struct opts *o)
{
	struct config c;
	char *path;

	if (o->socket)
		return strdup(o->socket);
	path = strdup(read_config(o, &c) ? c.daemon.socket : DEFAULT_SOCKET);
	config_fini(&c);
	return path;
}

static void conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	c->path = path;
	buf_init(&c->in, LINE_MAX_IN);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ringfetch: %s: socket path too long\n", path);
		exit(EX_USAGE);
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ringfetch: cannot reach the daemon at %s: %s "
			"(is ringfetchd running? see --socket)\n", path,
			strerror(errno));
		exit(EX_CONN);
	}
}

static void conn_lost(const struct conn *c)
{
	if (!c->heard)
		fprintf(stderr, "ringfetch: the daemon at %s closed the "
			"connection without answering (too many clients? see "
			"daemon.max_clients and clients_refused in status)\n",
			c->path);
	else
		fprintf(stderr, "ringfetch: the daemon at %s closed the "
			"connection before answering everything\n", c->path);
	exit(EX_CONN);
}

/* SIGPIPE is ignored (main), so a closed peer is EPIPE here. */
static void send_all(struct conn *c, const char *p, size_t n)
{
	if (fs_write_all(c->fd, p, n, NULL) < 0)
		conn_lost(c);
}

/* Receive what is there (blocking when block). Returns false at EOF. */
static bool fill(struct conn *c, bool block)
{
	ssize_t n;

	if (c->eof)
		return false;
	if (buf_reserve(&c->in, 65536) < 0) {
		fprintf(stderr, "ringfetch: response line too long\n");
		exit(EX_CONN);
	}
	do {
		n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1,
			 block ? 0 : MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (n <= 0) {
		c->eof = true;
		return false;
	}
	c->in.len += (size_t)n;
	c->in.p[c->in.len] = '\0';
	c->heard = true;
	return true;
}

/* The next complete line (NUL-terminated in place, without its newline),
 * or NULL when none is buffered. Consume it with take_line(). */
static char *peek_line(struct conn *c, size_t *len)
{
	char *nl = c->in.len ? memchr(c->in.p, '\n', c->in.len) : NULL;

	if (!nl)
		return NULL;
	*nl = '\0';
	*len = (size_t)(nl - c->in.p);
	return c->in.p;
}

static void take_line(struct conn *c, size_t len)
{
	buf_consume(&c->in, len + 1);
}

/* Block for one line; exits when the connection ends first. */
static char *read_line(struct conn *c, size_t *len)
{
	char *l;

	while (!(l = peek_line(c, len)))
		if (!fill(c, true))
			conn_lost(c);
	return l;
}

static bool is_result(const char *l)
{
	return !strncmp(l, "{\"result\":", 10);
}

/* Whether a {"result":{...}} line holds a record with "ok":true. */
static bool record_ok(const char *l, size_t len)
{
	struct json_doc doc = { 0 };
	const struct json_val *ok;
	bool yes = false;

	if (json_parse(l, len, &doc, NULL, 0) == 0) {
		ok = json_get(json_get(doc.root, "result"), "ok");
		yes = ok && ok->type == JSON_BOOL && ok->b;
	}
	json_doc_free(&doc);
	return yes;
}

static bool response_ok(const char *l)
{
	return !strncmp(l, "{\"ok\":true", 10);
}

/* Print one answer line as the daemon sent it. */
static void print_line(const char *l, size_t len)
{
	fwrite(l, 1, len, stdout);
	putchar('\n');
}

/* A refused request: its answer on stdout like any other, and the class
 * and detail on stderr for a person. */
static void print_refused(const char *what, const char *l, size_t len)
{
	struct json_doc doc = { 0 };
	const char *cls = NULL, *detail = NULL;

	print_line(l, len);
	if (json_parse(l, len, &doc, NULL, 0) == 0) {
		cls = json_as_str(json_get(doc.root, "error"));
		detail = json_as_str(json_get(doc.root, "detail"));
	}
	if (cls)
		fprintf(stderr, "ringfetch: %s: %s: %s\n", what, cls,
			detail ? detail : "");
	else
		fprintf(stderr, "ringfetch: %s: unexpected answer: %.*s\n",
			what, (int)len, l);
	json_doc_free(&doc);
}

static int cmd_status(struct conn *c)
{
	static const char req[] = "{\"op\":\"status\"}\n";
	size_t len;
	char *l;

	send_all(c, req, sizeof(req) - 1);
	l = read_line(c, &len);
	if (!response_ok(l)) {
		print_refused("status", l, len);
		return EX_REFUSED;
	}
	print_line(l, len);
	return EX_OK;
}

static int cmd_watch(struct conn *c)
{
	static const char req[] = "{\"op\":\"watch\"}\n";
	size_t len;
	char *l;

	setvbuf(stdout, NULL, _IOLBF, 0);
	send_all(c, req, sizeof(req) - 1);
	l = read_line(c, &len);
	if (!response_ok(l)) {
		print_refused("watch", l, len);
		return EX_REFUSED;
	}
	/* the {"ok":true} too: a reader knows when the watch has begun */
	for (;;) {
		print_line(l, len);
		take_line(c, len);
		l = read_line(c, &len);
	}
}

static int cmd_cancel(struct conn *c, const struct opts *o)
{
	struct buf b;
	char *end, *l;
	size_t len;

	buf_init(&b, 1 << 20);
	if (o->id && !o->n_args) {
		buf_puts(&b, "{\"op\":\"cancel\",\"id\":");
		json_put_str(&b, o->id);
	} else if (!o->id && o->n_args == 1) {
		unsigned long long n = strtoull(o->args[0], &end, 10);

		if (*end || !*o->args[0] || !n) {
			fprintf(stderr, "ringfetch: cancel: %s is not a job "
				"number\n", o->args[0]);
			return EX_USAGE;
		}
		buf_printf(&b, "{\"op\":\"cancel\",\"job\":%llu", n);
	} else {
		fprintf(stderr, "ringfetch: cancel needs one JOB or --id ID\n");
		return EX_USAGE;
	}
	buf_puts(&b, "}\n");
	send_all(c, b.p, b.len);
	buf_fini(&b);
	while (is_result(l = read_line(c, &len)))
		take_line(c, len);
	if (!response_ok(l)) {
		print_refused("cancel", l, len);
		return EX_REFUSED;
	}
	print_line(l, len);
	return EX_OK;
}

/* ---- submit: requests stream out while answers stream in ---- */

struct submit {
	const struct opts *o;
	struct conn *c;
	struct buf req;		/* request lines not yet sent */
	struct buf stdin_buf;	/* partial line from stdin */
	int next_arg;
	bool input_done;	/* every URL is in req */
	bool shut;		/* write side shut after the last request */
	uint64_t sent, acked, accepted;	/* URLs asked for; answers; ok ones */
	uint64_t results, results_ok;	/* records received; of which ok */
	int rc;
};

static void add_url(struct submit *s, const char *u, size_t n)
{
	if (!url_line(&u, &n))
		return;
	buf_puts(&s->req, "{\"op\":\"submit\",\"url\":");
	json_put_strn(&s->req, u, n);
	if (s->o->id) {
		buf_puts(&s->req, ",\"id\":");
		json_put_str(&s->req, s->o->id);
	}
	if (s->o->wait)
		buf_puts(&s->req, ",\"wait\":true");
	if (s->o->nowait)
		buf_puts(&s->req, ",\"nowait\":true");
	buf_puts(&s->req, "}\n");
	s->sent++;
}

/* Build requests up to PENDING_MAX from the arguments or stdin. */
static void refill(struct submit *s, bool stdin_ready)
{
	char chunk[65536];
	ssize_t n;

	if (s->o->n_args) {
		while (s->next_arg < s->o->n_args && s->req.len < PENDING_MAX) {
			const char *u = s->o->args[s->next_arg++];

			add_url(s, u, strlen(u));
		}
		s->input_done = s->next_arg == s->o->n_args;
		return;
	}
	if (!stdin_ready || s->input_done || s->req.len >= PENDING_MAX)
		return;
	n = read(0, chunk, sizeof(chunk));
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		add_url(s, s->stdin_buf.p ? s->stdin_buf.p : "",
			s->stdin_buf.len);
		s->input_done = true;
		return;
	}
	for (char *p = chunk, *e = chunk + n; p < e;) {
		char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t k = nl ? (size_t)(nl - p) : (size_t)(e - p);

		if (buf_append(&s->stdin_buf, p, k) < 0) {
			fprintf(stderr, "ringfetch: an input line is longer "
				"than 64 KiB\n");
			exit(EX_USAGE);
		}
		if (!nl)
			break;
		add_url(s, s->stdin_buf.p, s->stdin_buf.len);
		buf_reset(&s->stdin_buf);
		p = nl + 1;
	}
}

static void submit_answers(struct submit *s)
{
	size_t len;
	char *l;

	while ((l = peek_line(s->c, &len))) {
		print_line(l, len);
		if (is_result(l)) {
			s->results++;
			if (record_ok(l, len))
				s->results_ok++;
			else
				s->rc = EX_REFUSED;
		} else {
			s->acked++;
			if (response_ok(l))
				s->accepted++;
			else
				s->rc = EX_REFUSED;
		}
		take_line(s->c, len);
	}
}

/* The summary on stderr: always with --wait, else when some URL was
 * refused (the answers on stdout say which and why). */
static void submit_summary(const struct submit *s)
{
	unsigned long long refused = s->acked - s->accepted;

	if (!s->o->wait && !refused)
		return;
	fprintf(stderr, "ringfetch: %llu submitted", (unsigned long long)s->sent);
	if (refused)
		fprintf(stderr, ", %llu refused", refused);
	if (s->o->wait)
		fprintf(stderr, ", %llu done: %llu ok, %llu failed",
			(unsigned long long)s->results,
			(unsigned long long)s->results_ok,
			(unsigned long long)(s->results - s->results_ok));
	fputc('\n', stderr);
}

static bool submit_done(const struct submit *s)
{
	return s->input_done && !s->req.len && s->acked == s->sent &&
	       (!s->o->wait || s->results == s->accepted);
}

static int cmd_submit(struct conn *c, const struct opts *o)
{
	struct submit s = { .o = o, .c = c };
	struct pollfd p[2];

	buf_init(&s.req, PENDING_MAX + 2 * 65536 * 6);
	buf_init(&s.stdin_buf, 65536);
	refill(&s, false);
	while (!submit_done(&s)) {
		p[0] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		if (s.req.len)
			p[0].events |= POLLOUT;
		p[1] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (poll(p, !o->n_args && !s.input_done &&
			 s.req.len < PENDING_MAX ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLOUT) {
			ssize_t w = send(c->fd, s.req.p, s.req.len,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w < 0 && errno != EAGAIN && errno != EINTR)
				conn_lost(c);
			if (w > 0)
				buf_consume(&s.req, (size_t)w);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!fill(c, false) && !submit_done(&s)) {
				submit_answers(&s);
				if (!submit_done(&s))
					conn_lost(c);
			}
			submit_answers(&s);
		}
		refill(&s, !o->n_args && (p[1].revents & (POLLIN | POLLHUP)));
		if (s.input_done && !s.req.len && !s.shut) {
			shutdown(c->fd, SHUT_WR);
			s.shut = true;
		}
	}
	fflush(stdout);
	if (submit_done(&s))
		submit_summary(&s);
	buf_fini(&s.req);
	buf_fini(&s.stdin_buf);
	return s.rc;
}

/* submit --redis: check its options, then no daemon is involved. */
static int run_submit_redis(const struct opts *o)
{
	struct submit_redis_opts ro = {
		.url = o->redis,
		.id = o->id,
		.urls = o->n_args ? o->args : NULL,
		.n_urls = o->n_args,
	};
	struct config c;
	char *end;
	int rc;

	/* the fleet's stream and partitions, as its daemons are told */
	read_config(o, &c);
	ro.stream = o->stream ? o->stream : c.source.redis.stream;
	ro.partitions = c.source.redis.partitions;

	if (strcmp(o->cmd, "submit") || o->wait || o->nowait) {
		fprintf(stderr, "ringfetch: --redis goes with submit, without "
			"--wait or --nowait\n");
		config_fini(&c);
		return EX_USAGE;
	}
	if (o->partitions) {
		unsigned long n = strtoul(o->partitions, &end, 10);

		if (*end || !*o->partitions || o->partitions[0] == '-' ||
		    n < 1 || n > 65536) {
			fprintf(stderr, "ringfetch: --partitions: '%s' is not "
				"a number from 1 to 65536\n", o->partitions);
			config_fini(&c);
			return EX_USAGE;
		}
		ro.partitions = (unsigned)n;
	}
	if (!*ro.stream || strlen(ro.stream) > CONFIG_RKEY_MAX) {
		fprintf(stderr, "ringfetch: --stream: the prefix must have 1 "
			"to %d bytes\n", CONFIG_RKEY_MAX);
		config_fini(&c);
		return EX_USAGE;
	}
	rc = submit_redis(&ro);
	config_fini(&c);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct conn c = { 0 };
	char *path;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv, &o);
	if (!o.cmd) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(o.cmd, "submit") && strcmp(o.cmd, "status") &&
	    strcmp(o.cmd, "watch") && strcmp(o.cmd, "cancel")) {
		fprintf(stderr, "ringfetch: unknown command %s\n", o.cmd);
		usage(stderr);
		return EX_USAGE;
	}
	if ((strcmp(o.cmd, "submit") && strcmp(o.cmd, "cancel") &&
	     (o.n_args || o.id)) || (strcmp(o.cmd, "submit") &&
				    (o.wait || o.nowait))) {
		fprintf(stderr, "ringfetch: %s: unexpected arguments\n", o.cmd);
		return EX_USAGE;
	}
	if (o.redis) {
		rc = run_submit_redis(&o);
		free(o.args);
		return rc;
	}
	if (o.stream || o.partitions) {
		fprintf(stderr, "ringfetch: --stream and --partitions go with "
			"submit --redis\n");
		free(o.args);
		return EX_USAGE;
	}
	path = socket_path(&o);
	if (!path)
		return EX_CONN;
	conn_open(&c, path);
	if (!strcmp(o.cmd, "status"))
		rc = cmd_status(&c);
	else if (!strcmp(o.cmd, "watch"))
		rc = cmd_watch(&c);
	else if (!strcmp(o.cmd, "cancel"))
		rc = cmd_cancel(&c, &o);
	else
		rc = cmd_submit(&c, &o);
	close(c.fd);
	buf_fini(&c.in);
	free(path);
	free(o.args);
	return rc;
}
