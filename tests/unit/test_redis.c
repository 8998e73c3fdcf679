/* Unit tests for redis.c against a real redis-server the test starts on
 * 127.0.0.1 (a free port) and a unix socket in a temporary directory, with
 * no persistence, stopped by PID at the end; the whole run is bounded by
 * alarm(). Without redis-server the program is one skip. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "event/loop.h"
#include "net/redis.h"
#include "base/redis_url.h"
#include "tap.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define BIG_BYTES (5u << 20)

struct server {
	pid_t pid;
	uint16_t port;
	const char *pass;	/* requirepass, or NULL */
	char sock[160];		/* unix socket path */
};

static struct loop L;
static char dir[64] = "/tmp/rf-redis-XXXXXX";
static struct server plain, authed;

/* ---- the server ---- */

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool accepts(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static bool server_start(struct server *s)
{
	char port[8];
	int null;

	snprintf(port, sizeof(port), "%u", s->port);
	s->pid = fork();
	if (s->pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execl(REDIS_SERVER, REDIS_SERVER, "--port", port, "--bind",
		      "127.0.0.1", "--save", "", "--appendonly", "no",
		      "--dir", dir, "--unixsocket", s->sock,
		      "--requirepass", s->pass ? s->pass : "", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (accepts(s->port))
			return true;
		usleep(25000);
	}
	return false;
}

static void server_stop(struct server *s, int sig)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static void stop_all(void)
{
	server_stop(&plain, SIGTERM);
	server_stop(&authed, SIGTERM);
}

static void on_alarm(int sig)
{
	(void)sig;
	stop_all();
	static const char m[] = "not ok - timed out\n";
	(void)!write(1, m, sizeof(m) - 1);
	_exit(1);
}

/* ---- driving the loop ---- */

static void tick_fn(struct timer *t)
{
	(void)t;
}

/* Turn the loop until *flag is true or ms pass. Returns *flag. */
static bool run_until(const bool *flag, unsigned ms)
{
	uint64_t end = loop_update_clock(&L) + ms;

	while (!*flag && loop_now_ms(&L) < end) {
		struct timer tick = { 0 };

		/* wake at least every 20 ms to look at the flag */
		loop_timer_arm(&L, &tick, loop_now_ms(&L) + 20, tick_fn);
		loop_run_once(&L);
		loop_timer_cancel(&L, &tick);
	}
	return *flag;
}

static void drain(void)
{
	bool never = false;

	for (int i = 0; i < 100 && redis_draining(); i++)
		run_until(&never, 10);
}

struct state {
	bool up, down;
	unsigned ups, downs;
};

static void on_state(void *arg, bool up)
{
	struct state *s = arg;

	s->up = up;
	s->down = !up;
	if (up)
		s->ups++;
	else
		s->downs++;
}

/* One command's outcome. */
struct answer {
	bool done, lost;
	enum resp_type type;
	long long integer;
	char str[128];
	size_t len;
	const char *expect;	/* a bulk's expected bytes, checked in place */
	bool match;
};

static void on_answer(void *arg, const struct resp_reply *r)
{
	struct answer *a = arg;

	a->done = true;
	if (!r) {
		a->lost = true;
		return;
	}
	a->type = r->type;
	a->integer = r->integer;
	a->len = r->len;
	if (r->str)
		snprintf(a->str, sizeof(a->str), "%.*s",
			 (int)(r->len < 127 ? r->len : 127), r->str);
	if (a->expect)
		a->match = r->str && memcmp(r->str, a->expect, r->len) == 0;
}

static struct redis *open_up(const char *url, struct state *st)
{
	struct redis *r = NULL;
	char err[256];

	memset(st, 0, sizeof(*st));
	if (redis_new(&r, &L, url, "rf-test", err, sizeof(err)) < 0) {
		printf("# redis_new(%s): %s\n", url, err);
		return NULL;
	}
	redis_set_state_cb(r, on_state, st);
	if (!run_until(&st->up, 3000))
		printf("# %s not up: %s\n", url, redis_last_error(r));
	return r;
}

static int send1(struct redis *r, struct answer *a, int argc, ...)
{
	struct buf b;
	va_list ap;
	int rc;

	memset(a, 0, sizeof(*a));
	buf_init(&b, 1 << 20);
	resp_begin(&b, (unsigned)argc);
	va_start(ap, argc);
	while (argc--)
		resp_arg_str(&b, va_arg(ap, const char *));
	va_end(ap);
	rc = redis_send(r, &b, on_answer, a);
	buf_fini(&b);
	return rc;
}

/* Send and wait for the answer. */
static bool ask(struct redis *r, struct answer *a, int argc, const char *c0,
		const char *c1, const char *c2)
{
	if (send1(r, a, argc, c0, c1, c2) != 0)
		return false;
	return run_until(&a->done, 3000) && !a->lost;
}

static char url_buf[256];

static const char *url_of(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(url_buf, sizeof(url_buf), fmt, ap);
	va_end(ap);
	return url_buf;
}

/* ---- cases ---- */

static int test_url(void)
{
	struct redis_target t;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&t.addr;
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&t.addr;
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(redis_url_parse(&t, "redis://u%40x:p%3Aw@[::1]:7000/5",
					err, sizeof(err)) == 0);
	ok &= TAP_CHECK(STREQ(t.user, "u@x") && STREQ(t.pass, "p:w"));
	ok &= TAP_CHECK(t.addr.ss_family == AF_INET6 &&
			ntohs(v6->sin6_port) == 7000 && t.db == 5);
	ok &= TAP_CHECK(STREQ(t.where, "[::1]:7000"));
	redis_url_fini(&t);
	ok &= TAP_CHECK(redis_url_parse(&t, "redis://:pw@localhost", err,
					sizeof(err)) == 0);
	ok &= TAP_CHECK(!t.user && STREQ(t.pass, "pw") && t.db == 0);
	ok &= TAP_CHECK(ntohl(v4->sin_addr.s_addr) == INADDR_LOOPBACK &&
			ntohs(v4->sin_port) == 6379);
	redis_url_fini(&t);
	ok &= TAP_CHECK(redis_url_parse(&t, "redis://pw@127.0.0.2:1/", err,
					sizeof(err)) == 0);
	ok &= TAP_CHECK(!t.user && STREQ(t.pass, "pw") && t.db == 0);
	redis_url_fini(&t);
	ok &= TAP_CHECK(redis_url_parse(&t, "unix:///run/redis.sock", err,
					sizeof(err)) == 0);
	ok &= TAP_CHECK(t.addr.ss_family == AF_UNIX &&
			STREQ(t.where, "/run/redis.sock"));
	redis_url_fini(&t);
	ok &= TAP_CHECK(redis_url_parse(&t, "unix://rel.sock", err,
					sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_url_parse(&t, "redis://:%zz@localhost", err,
					sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_url_parse(&t, "redis://localhost:65536", err,
					sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_url_parse(&t, "redis://[::1]x", err,
					sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_url_parse(&t, "redis://", err,
					sizeof(err)) == -EINVAL);
	return ok;
}

static int test_ping_and_name(void)
{
	struct state st;
	struct redis *r = open_up(url_of("redis://127.0.0.1:%u", plain.port),
				  &st);
	struct answer a;
	struct redis_stats s;
	int ok = 1;

	if (!r)
		return 0;
	ok &= TAP_CHECK(st.up && st.ups == 1 && redis_up(r));
	ok &= TAP_CHECK(ask(r, &a, 1, "PING", NULL, NULL));
	ok &= TAP_CHECK(a.type == RESP_STRING && STREQ(a.str, "PONG"));
	ok &= TAP_CHECK(ask(r, &a, 2, "CLIENT", "GETNAME", NULL));
	ok &= TAP_CHECK(a.type == RESP_BULK && STREQ(a.str, "rf-test"));
	ok &= TAP_CHECK(ask(r, &a, 1, "NOSUCHCOMMAND", NULL, NULL));
	ok &= TAP_CHECK(a.type == RESP_ERROR && strstr(a.str, "unknown"));
	redis_stats(r, &s);
	ok &= TAP_CHECK(s.commands == 3 && s.replies == 3 && s.errors == 1 &&
			s.connects == 1 && s.disconnects == 0);
	ok &= TAP_CHECK(STREQ(redis_last_error(r), ""));
	redis_free(r);
	drain();
	return ok;
}

static int test_refused_send(void)
{
	struct redis *r = NULL;
	struct answer a;
	struct buf b;
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(redis_new(&r, &L, url_of("redis://127.0.0.1:%u",
			plain.port), NULL, err, sizeof(err)) == 0);
	/* not up before the loop turned */
	ok &= TAP_CHECK(send1(r, &a, 1, "PING") == -ENOTCONN);
	ok &= TAP_CHECK(redis_pending(r) == 0);
	ok &= TAP_CHECK(run_until(&(bool){ false }, 300) == false);
	ok &= TAP_CHECK(redis_up(r));
	buf_init(&b, 64);
	buf_puts(&b, "*2\r\n$4\r\nPING\r\n");	/* one argument short */
	ok &= TAP_CHECK(redis_send(r, &b, on_answer, &a) == -EINVAL);
	buf_fini(&b);
	redis_free(r);
	drain();
	ok &= TAP_CHECK(redis_new(&r, &L, "http://x", NULL, err,
				  sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_new(&r, &L, "redis://127.0.0.1:0", NULL, err,
				  sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_new(&r, &L, "redis://[::1", NULL, err,
				  sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_new(&r, &L, "redis://localhost/x", NULL, err,
				  sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(redis_new(&r, &L, "redis://localhost", "a b", err,
				  sizeof(err)) == -EINVAL);
	return ok;
}

static int test_connect_refused(void)
{
	uint16_t port = free_port();
	struct redis *r = NULL;
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(redis_new(&r, &L, url_of("redis://localhost:%u", port),
				  NULL, err, sizeof(err)) == 0);
	run_until(&(bool){ false }, 400);
	ok &= TAP_CHECK(!redis_up(r));
	ok &= TAP_CHECK(strstr(redis_last_error(r), "refused") != NULL);
	printf("# %s\n", redis_last_error(r));
	redis_free(r);
	drain();
	return ok;
}

struct incr {
	long long next;		/* the INCR answer expected next */
	long long bad;		/* answers out of order */
	bool done;
};

static void on_incr(void *arg, const struct resp_reply *r)
{
	struct incr *in = arg;

	if (!r || r->type != RESP_INT || r->integer != in->next)
		in->bad++;
	if (in->next++ == 10000)
		in->done = true;
}

static int test_pipeline(void)
{
	struct state st;
	struct redis *r = open_up(url_of("redis://127.0.0.1:%u", plain.port),
				  &st);
	struct incr in = { .next = 1 };
	struct answer a;
	struct buf b;
	int ok = 1, refused = 0;

	if (!r)
		return 0;
	ok &= TAP_CHECK(ask(r, &a, 2, "DEL", "counter", NULL));
	buf_init(&b, 1024);
	for (int i = 0; i < 10000; i++) {
		buf_reset(&b);
		resp_begin(&b, 2);
		resp_arg_str(&b, "INCR");
		resp_arg_str(&b, "counter");
		refused += redis_send(r, &b, on_incr, &in) != 0;
	}
	buf_fini(&b);
	ok &= TAP_CHECK(refused == 0);
	ok &= TAP_CHECK(redis_pending(r) == 10000);
	ok &= TAP_CHECK(run_until(&in.done, 10000));
	ok &= TAP_CHECK(in.bad == 0 && in.next == 10001);
	ok &= TAP_CHECK(redis_pending(r) == 0);
	redis_free(r);
	drain();
	return ok;
}

static int test_auth(void)
{
	struct state st;
	struct redis *r = open_up(url_of("redis://:s3cret@127.0.0.1:%u",
					 authed.port), &st);
	struct answer a;
	int ok = 1;

	if (!r)
		return 0;
	ok &= TAP_CHECK(st.up);
	ok &= TAP_CHECK(ask(r, &a, 1, "PING", NULL, NULL));
	ok &= TAP_CHECK(STREQ(a.str, "PONG"));
	redis_free(r);
	drain();
	/* user "default" with the password: AUTH default s3cret */
	r = open_up(url_of("redis://default:s3cret@127.0.0.1:%u",
			   authed.port), &st);
	ok &= TAP_CHECK(r && st.up);
	redis_free(r);
	drain();
	return ok;
}

static int test_auth_wrong(void)
{
	struct state st = { 0 };
	struct redis *r = NULL;
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(redis_new(&r, &L, url_of("redis://:wrong@127.0.0.1:%u",
			authed.port), NULL, err, sizeof(err)) == 0);
	redis_set_state_cb(r, on_state, &st);
	run_until(&st.up, 600);
	ok &= TAP_CHECK(!st.up && st.ups == 0 && !redis_up(r));
	ok &= TAP_CHECK(strstr(redis_last_error(r), "AUTH") != NULL);
	ok &= TAP_CHECK(strstr(redis_last_error(r), "WRONGPASS") != NULL);
	printf("# %s\n", redis_last_error(r));
	redis_free(r);
	drain();
	/* and no password at all: the PING is refused */
	ok &= TAP_CHECK(redis_new(&r, &L, url_of("redis://127.0.0.1:%u",
			authed.port), NULL, err, sizeof(err)) == 0);
	run_until(&(bool){ false }, 300);
	ok &= TAP_CHECK(!redis_up(r));
	ok &= TAP_CHECK(strstr(redis_last_error(r), "NOAUTH") != NULL);
	redis_free(r);
	drain();
	return ok;
}

static int test_unix(void)
{
	struct state st;
	struct redis *r = open_up(url_of("unix://%s", plain.sock), &st);
	struct answer a;
	int ok = 1;

	if (!r)
		return 0;
	ok &= TAP_CHECK(st.up);
	ok &= TAP_CHECK(ask(r, &a, 1, "PING", NULL, NULL));
	ok &= TAP_CHECK(STREQ(a.str, "PONG"));
	redis_free(r);
	drain();
	return ok;
}

static int test_select(void)
{
	struct state st3, st0;
	struct redis *r3 = open_up(url_of("redis://127.0.0.1:%u/3",
					  plain.port), &st3);
	struct redis *r0 = open_up(url_of("redis://127.0.0.1:%u/",
					  plain.port), &st0);
	struct answer a;
	int ok = 1;

	if (!r3 || !r0)
		return 0;
	ok &= TAP_CHECK(ask(r3, &a, 3, "SET", "where", "db3"));
	ok &= TAP_CHECK(ask(r3, &a, 2, "GET", "where", NULL));
	ok &= TAP_CHECK(STREQ(a.str, "db3"));
	ok &= TAP_CHECK(ask(r0, &a, 2, "GET", "where", NULL));
	ok &= TAP_CHECK(a.type == RESP_NIL);
	redis_free(r3);
	redis_free(r0);
	drain();
	return ok;
}

static int test_restart(void)
{
	struct state st;
	struct redis *r = open_up(url_of("redis://127.0.0.1:%u", plain.port),
				  &st);
	struct answer blocked, a;
	struct redis_stats s;
	int ok = 1;

	if (!r)
		return 0;
	/* a command the server holds: in flight when it dies */
	ok &= TAP_CHECK(send1(r, &blocked, 3, "BLPOP", "nothing", "0") == 0);
	run_until(&(bool){ false }, 100);
	ok &= TAP_CHECK(!blocked.done && redis_pending(r) == 1);
	server_stop(&plain, SIGKILL);
	ok &= TAP_CHECK(run_until(&st.down, 3000));
	ok &= TAP_CHECK(blocked.done && blocked.lost);
	ok &= TAP_CHECK(redis_pending(r) == 0 && !redis_up(r));
	ok &= TAP_CHECK(send1(r, &a, 1, "PING") == -ENOTCONN);
	run_until(&(bool){ false }, 500);	/* a few refused retries */
	printf("# while down: %s\n", redis_last_error(r));
	ok &= TAP_CHECK(server_start(&plain));
	ok &= TAP_CHECK(run_until(&st.up, 8000));
	ok &= TAP_CHECK(ask(r, &a, 1, "PING", NULL, NULL));
	ok &= TAP_CHECK(STREQ(a.str, "PONG"));
	redis_stats(r, &s);
	ok &= TAP_CHECK(s.connects == 2 && s.disconnects == 1 &&
			st.ups == 2 && st.downs == 1);
	redis_free(r);
	drain();
	return ok;
}

static int set_big(struct redis *r, char *big)
{
	struct answer a = { 0 };
	struct buf b;
	int ok = 1;

	buf_init(&b, BIG_BYTES + 1024);
	resp_begin(&b, 3);
	resp_arg_str(&b, "SET");
	resp_arg_str(&b, "big");
	resp_arg(&b, big, BIG_BYTES);
	ok &= TAP_CHECK(redis_send(r, &b, on_answer, &a) == 0);
	buf_fini(&b);
	ok &= TAP_CHECK(run_until(&a.done, 5000) && STREQ(a.str, "OK"));
	return ok;
}

static int test_big_reply(void)
{
	struct state st;
	struct redis *r = open_up(url_of("redis://127.0.0.1:%u", plain.port),
				  &st);
	char *big = malloc(BIG_BYTES);
	struct answer a;
	int ok = 1;

	if (!r || !big)
		return 0;
	for (size_t i = 0; i < BIG_BYTES; i++)
		big[i] = (char)('a' + i % 26);
	ok &= set_big(r, big);
	ok &= TAP_CHECK(send1(r, &a, 2, "GET", "big") == 0);
	a.expect = big;
	ok &= TAP_CHECK(run_until(&a.done, 5000));
	ok &= TAP_CHECK(a.type == RESP_BULK && a.len == BIG_BYTES && a.match);
	redis_free(r);
	drain();
	free(big);
	return ok;
}

static int test_reply_limit(void)
{
	struct redis *r = NULL;
	struct state st = { 0 };
	struct answer a;
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(redis_new(&r, &L, url_of("redis://127.0.0.1:%u",
			plain.port), NULL, err, sizeof(err)) == 0);
	redis_set_reply_max(r, 1 << 20);
	redis_set_state_cb(r, on_state, &st);
	ok &= TAP_CHECK(run_until(&st.up, 3000));
	ok &= TAP_CHECK(send1(r, &a, 2, "GET", "big") == 0);
	ok &= TAP_CHECK(run_until(&a.done, 5000) && a.lost);
	ok &= TAP_CHECK(strstr(redis_last_error(r), "reply limit") != NULL);
	printf("# %s\n", redis_last_error(r));
	/* it comes back, and small replies still work */
	ok &= TAP_CHECK(run_until(&st.up, 3000));
	ok &= TAP_CHECK(ask(r, &a, 1, "PING", NULL, NULL));
	redis_free(r);
	drain();
	return ok;
}

static int test_free_in_flight(void)
{
	struct state st;
	struct redis *r = open_up(url_of("redis://127.0.0.1:%u", plain.port),
				  &st);
	struct answer blocked, pings[100];
	int ok = 1, lost = 0;

	if (!r)
		return 0;
	ok &= TAP_CHECK(send1(r, &blocked, 3, "BLPOP", "nothing", "0") == 0);
	run_until(&(bool){ false }, 50);	/* sent: the server holds it */
	for (int i = 0; i < 100; i++)
		ok &= TAP_CHECK(send1(r, &pings[i], 1, "PING") == 0);
	redis_free(r);			/* the pings are not even sent */
	ok &= TAP_CHECK(blocked.done && blocked.lost);
	for (int i = 0; i < 100; i++)
		lost += pings[i].done && pings[i].lost;
	ok &= TAP_CHECK(lost == 100);
	ok &= TAP_CHECK(redis_draining() == 1);	/* the recv is cancelled */
	drain();
	ok &= TAP_CHECK(redis_draining() == 0);
	return ok;
}

/* A callback that frees its own connection, and one that sends more. */
struct reentry {
	struct redis *r;
	unsigned seen, lost;
	bool freed;
};

static void on_free_me(void *arg, const struct resp_reply *rep)
{
	struct reentry *re = arg;

	re->seen++;
	if (!rep) {
		re->lost++;
		return;
	}
	if (!re->freed) {
		re->freed = true;
		redis_free(re->r);
	}
}

static void on_send_more(void *arg, const struct resp_reply *rep)
{
	struct reentry *re = arg;

	if (!rep)
		return;
	if (re->seen++ == 0) {
		struct buf b;

		buf_init(&b, 64);
		resp_begin(&b, 1);
		resp_arg_str(&b, "PING");
		redis_send(re->r, &b, on_send_more, re);
		buf_fini(&b);
	}
}

static int test_reentrant_callbacks(void)
{
	struct state st;
	struct reentry re = { 0 }, more = { 0 };
	struct buf b;
	int ok = 1;

	re.r = open_up(url_of("redis://127.0.0.1:%u", plain.port), &st);
	if (!re.r)
		return 0;
	buf_init(&b, 64);
	resp_begin(&b, 1);
	resp_arg_str(&b, "PING");
	for (int i = 0; i < 5; i++)
		redis_send(re.r, &b, on_free_me, &re);
	more.r = open_up(url_of("redis://127.0.0.1:%u", plain.port), &st);
	ok &= TAP_CHECK(more.r != NULL);
	redis_send(more.r, &b, on_send_more, &more);
	buf_fini(&b);
	ok &= TAP_CHECK(run_until(&re.freed, 3000));
	/* the first answer freed it: the other four were told NULL */
	ok &= TAP_CHECK(re.seen == 5 && re.lost == 4);
	run_until(&(bool){ false }, 200);
	ok &= TAP_CHECK(more.seen == 2);
	redis_free(more.r);
	drain();
	ok &= TAP_CHECK(redis_draining() == 0);
	return ok;
}

int main(void)
{
	char err[256];
	int rc;

	if (access(REDIS_SERVER, X_OK) != 0) {
		printf("1..0 # SKIP redis-server not installed\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(100);
	log_threshold = getenv("RF_TEST_LOG") ? LOG_DEBUG : LOG_ERROR;
	if (!mkdtemp(dir)) {
		printf("not ok 1 - mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	plain.port = free_port();
	snprintf(plain.sock, sizeof(plain.sock), "%s/plain.sock", dir);
	authed.port = free_port();
	authed.pass = "s3cret";
	snprintf(authed.sock, sizeof(authed.sock), "%s/authed.sock", dir);
	if (!server_start(&plain) || !server_start(&authed)) {
		stop_all();
		printf("not ok 1 - redis-server did not start\n1..1\n");
		return 1;
	}
	if (loop_init(&L, 256, err, sizeof(err)) < 0) {
		stop_all();
		printf("not ok 1 - loop_init: %s\n1..1\n", err);
		return 1;
	}
	TAP_RUN(test_url);
	TAP_RUN(test_ping_and_name);
	TAP_RUN(test_refused_send);
	TAP_RUN(test_connect_refused);
	TAP_RUN(test_pipeline);
	TAP_RUN(test_auth);
	TAP_RUN(test_auth_wrong);
	TAP_RUN(test_unix);
	TAP_RUN(test_select);
	TAP_RUN(test_big_reply);
	TAP_RUN(test_reply_limit);
	TAP_RUN(test_restart);
	TAP_RUN(test_free_in_flight);
	TAP_RUN(test_reentrant_callbacks);
	stop_all();
	loop_fini(&L);
	unlink(plain.sock);
	unlink(authed.sock);
	rmdir(dir);
	rc = tap_done();
	return rc;
}
