/* Unit test for conn.c on several threads at once, as worker rings will
 * run it: each thread has its own loop, resolver and conn_env, and all of
 * them fetch from one loopback server at the same time, over plain HTTP
 * and over TLS with session resumption, so tls.c's context, its lazy
 * set-up and its session cache are used from every thread while the main
 * thread asks tls_session_known(). Built with ThreadSanitizer by
 * `make tsan`, under ASan by `make check`. */
#include <wolfssl/options.h>	/* first: the package's build options */
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/list.h"
#include "config/config.h"
#include "event/loop.h"
#include "net/cidr.h"
#include "net/conn.h"
#include "net/dns.h"
#include "net/tls.h"
#include "tap.h"

#define WORKERS 4
#define ROUNDS 6		/* each a plain and a TLS fetch, per worker */
#define FETCH_MS 10000		/* one fetch, at most */

/* sha256("hello") */
#define HELLO_SHA \
	"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

#define BUMP(x) __atomic_fetch_add(&(x), 1, __ATOMIC_SEQ_CST)
#define DROP(x) __atomic_fetch_sub(&(x), 1, __ATOMIC_SEQ_CST)
#define READ(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)

static char g_dir[] = "/tmp/rf-test-conn-threads.XXXXXX";
static char g_cert[80], g_key[80];

/* ---- the server: one for all, a thread per connection ---- */

#define SERVERS (2 * WORKERS)	/* threads a listener serves with */

struct listener {
	int fd;
	uint16_t port;
	bool tls;
	pthread_t thread[SERVERS];
};

static struct listener plain_l, tls_l;
static WOLFSSL_CTX *srv_ctx;
static int srv_live;			/* connection threads running */
static int srv_requests;

/* Read from the client: plain read(), or wolfSSL over the socket. */
static int srv_read(int fd, WOLFSSL *ssl, char *buf, int cap)
{
	return ssl ? wolfSSL_read(ssl, buf, cap) : (int)read(fd, buf, (size_t)cap);
}

static int srv_write(int fd, WOLFSSL *ssl, const char *p, int n)
{
	return ssl ? wolfSSL_write(ssl, p, n) : (int)write(fd, p, (size_t)n);
}

/* Answer "hello" to every request on the connection until the client
 * closes it (keep-alive; the client does not pool, so one request). */
static void serve(int fd, WOLFSSL *ssl)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 5\r\n\r\nhello";
	char buf[4096];
	int len = 0, n;

	while ((n = srv_read(fd, ssl, buf + len, (int)sizeof(buf) - 1 - len)) > 0) {
		len += n;
		buf[len] = '\0';
		if (!strstr(buf, "\r\n\r\n")) {
			if (len == (int)sizeof(buf) - 1)
				return;
			continue;
		}
		BUMP(srv_requests);
		if (srv_write(fd, ssl, resp, (int)sizeof(resp) - 1) <= 0)
			return;
		len = 0;
	}
}

static void serve_one(int fd, bool tls)
{
	WOLFSSL *ssl;

	if (!tls) {
		serve(fd, NULL);
		return;
	}
	ssl = wolfSSL_new(srv_ctx);
	if (ssl && wolfSSL_set_fd(ssl, fd) == WOLFSSL_SUCCESS &&
	    wolfSSL_accept(ssl) == WOLFSSL_SUCCESS)
		serve(fd, ssl);
	wolfSSL_free(ssl);
}

/* One of a listener's SERVERS threads, each taking a connection at a
 * time: a fixed set, joined at the end (no thread per connection, whose
 * quick turnover of thread ids TSan's bookkeeping does not take). */
static void *server_thread(void *arg)
{
	struct listener *l = arg;
	int fd;

	while ((fd = accept(l->fd, NULL, NULL)) >= 0) {
		BUMP(srv_live);
		serve_one(fd, l->tls);
		close(fd);
		DROP(srv_live);
	}
	if (l->tls) {
		wc_ecc_fp_free();	/* this thread's ECC cache */
		wolfSSL_ERR_remove_thread_state(NULL);
	}
	return NULL;			/* shut down */
}

/* Listen on 127.0.0.1 and a port of the kernel's choosing. */
static bool listen_start(struct listener *l, bool tls)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	l->tls = tls;
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l->fd, 64) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)&a, &len) < 0)
		return false;
	l->port = ntohs(a.sin_port);
	for (int i = 0; i < SERVERS; i++)
		if (pthread_create(&l->thread[i], NULL, server_thread, l) != 0)
			return false;
	return true;
}

/* After every client has closed: the server threads finish their
 * connection, then accept() fails and they end. */
static void listen_stop(struct listener *l)
{
	shutdown(l->fd, SHUT_RDWR);
	for (int i = 0; i < SERVERS; i++)
		pthread_join(l->thread[i], NULL);
	close(l->fd);
}

static bool server_start(char *err, size_t errlen)
{
	srv_ctx = wolfSSL_CTX_new(wolfTLS_server_method());
	if (!srv_ctx ||
	    wolfSSL_CTX_use_certificate_file(srv_ctx, g_cert,
					     WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(srv_ctx, g_key,
					    WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot set up the TLS server");
		return false;
	}
	if (!listen_start(&plain_l, false) || !listen_start(&tls_l, true)) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1");
		return false;
	}
	return true;
}

/* ---- a worker: its own loop, resolver and env ---- */

struct worker {
	int id;
	struct loop loop;
	struct dns *dns;
	struct netguard guard;
	struct conn_counters counters;
	struct conn_env env;
	struct timer tick;
	int home;			/* what our slots and conns belong to */
	/* the current fetch */
	int done, closed, slots_out;
	enum rf_err err;
	int status;
	char sha256[65], detail[192];
	char body[16];
	size_t body_len;
	bool tls_used, tls_resumed;
	/* totals */
	int ok_plain, ok_tls, resumed;
	char why[512];			/* the first failure */
};

static struct config cfg;		/* shared, read-only while workers run */
static pthread_barrier_t go;
static int workers_running;

static struct worker *worker_of(struct conn_env *e)
{
	return container_of(e, struct worker, env);
}

static bool w_done(struct conn_env *e, void *owner, struct conn_result *r)
{
	struct worker *w = worker_of(e);

	TAP_CHECK(owner == w);
	w->done++;
	w->err = r->err;
	w->status = r->status;
	snprintf(w->sha256, sizeof(w->sha256), "%s", r->sha256);
	snprintf(w->detail, sizeof(w->detail), "%s", r->detail);
	w->tls_used = r->tls_used;
	w->tls_resumed = r->tls_resumed;
	if (r->slot.home)
		w->slots_out--;
	return false;		/* never pooled: every fetch opens anew */
}

static void w_idle_closing(struct conn_env *e, struct conn *c)
{
	(void)e;
	(void)c;
}

static void w_closed(struct conn_env *e, struct conn *c)
{
	struct worker *w = worker_of(e);

	w->closed++;
	if (c->slot.home)
		w->slots_out--;
}

static void w_body(void *arg, const char *p, size_t n)
{
	struct worker *w = arg;

	if (w->body_len + n < sizeof(w->body)) {
		memcpy(w->body + w->body_len, p, n);
		w->body_len += n;
	}
}

static void w_sink_start(struct conn_env *e, void *owner, const char *req,
			 size_t len, struct conn_sink *out)
{
	(void)owner;
	(void)req;
	(void)len;
	out->arg = worker_of(e);
	out->body = w_body;
}

static void on_tick(struct timer *t)
{
	(void)t;
}

/* Turn w's loop until *flag reaches want or ms pass. */
static bool run_until(struct worker *w, int *flag, int want, uint64_t ms)
{
	uint64_t end = loop_update_clock(&w->loop) + ms;

	while (*flag < want && loop_now_ms(&w->loop) < end) {
		loop_timer_arm(&w->loop, &w->tick, loop_now_ms(&w->loop) + 50,
			       on_tick);
		if (loop_run_once(&w->loop) < 0)
			return false;
	}
	loop_timer_cancel(&w->loop, &w->tick);
	return *flag >= want;
}

static void fail_why(struct worker *w, const char *href, const char *what)
{
	if (!w->why[0])
		snprintf(w->why, sizeof(w->why), "worker %d, %s: %s (%s)",
			 w->id, href, what, w->detail);
}

/* One GET of href on a new conn; true when "hello" came back whole. */
static bool fetch(struct worker *w, const char *href, bool tls)
{
	struct url u;
	struct conn_req rq;
	struct conn *c = NULL;
	char err[128];
	int closed = w->closed;
	bool ok;

	memset(&u, 0, sizeof(u));
	if (url_parse(&u, href, strlen(href), err, sizeof(err)) < 0) {
		fail_why(w, href, err);
		return false;
	}
	rq = (struct conn_req){ .url = &u, .owner = w };
	w->done = 0;
	w->body_len = 0;
	w->detail[0] = '\0';
	w->slots_out++;
	if (conn_open(&w->env, &rq, (struct slot){ .home = &w->home },
		      &w->home, &c) < 0) {
		w->slots_out--;
		url_fini(&u);
		fail_why(w, href, "conn_open");
		return false;
	}
	ok = run_until(w, &w->done, 1, FETCH_MS);
	/* the conn borrows u until it is freed, not only until done() */
	ok &= run_until(w, &w->closed, closed + 1, FETCH_MS);
	url_fini(&u);
	if (!ok) {
		fail_why(w, href, "no result in time");
		return false;
	}
	if (w->err != RF_OK || w->status != 200 || w->body_len != 5 ||
	    memcmp(w->body, "hello", 5) != 0 ||
	    strcmp(w->sha256, HELLO_SHA) != 0 || w->tls_used != tls) {
		fail_why(w, href, rf_err_name(w->err));
		return false;
	}
	w->resumed += w->tls_resumed;
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char plain[64], tls[64];

	snprintf(plain, sizeof(plain), "http://localhost:%u/p%d", plain_l.port,
		 w->id);
	snprintf(tls, sizeof(tls), "https://localhost:%u/t%d", tls_l.port,
		 w->id);
	pthread_barrier_wait(&go);	/* all start at once */
	for (int i = 0; i < ROUNDS; i++) {
		/* odd workers start with TLS, so handshakes overlap plain
		 * fetches as well as each other */
		bool tls_first = (w->id + i) & 1;

		if (tls_first)
			w->ok_tls += fetch(w, tls, true);
		w->ok_plain += fetch(w, plain, false);
		if (!tls_first)
			w->ok_tls += fetch(w, tls, true);
	}
	DROP(workers_running);
	return NULL;
}

static bool worker_init(struct worker *w, int id, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	if (loop_init(&w->loop, 64, err, errlen) < 0)
		return false;
	loop_bufs_init(&w->loop, CONN_RBUF, CONN_POOL_BYTES);
	w->dns = dns_new(&w->loop, &cfg, err, errlen);
	if (!w->dns || netguard_init(&w->guard, &cfg, err, errlen) < 0)
		return false;
	w->env = (struct conn_env){
		.loop = &w->loop,
		.cfg = &cfg,
		.dns = w->dns,
		.guard = &w->guard,
		.counters = &w->counters,
		.done = w_done,
		.idle_closing = w_idle_closing,
		.closed = w_closed,
		.sink_start = w_sink_start,
	};
	return true;
}

static void worker_fini(struct worker *w)
{
	conn_env_fini(&w->env);
	netguard_fini(&w->guard);
	dns_free(w->dns);
	/* dns_free() may leave a cancelled poll: drain without blocking */
	w->loop.stop = true;
	for (int i = 0; i < 4; i++)
		loop_run_once(&w->loop);
	loop_fini(&w->loop);
}

/* Each worker set up on its own thread, as a worker ring would be: its
 * resolver's c-ares channel and its ring belong to that thread. */
struct start {
	struct worker *w;
	int id;
	bool ok;
	char err[256];
};

static void *worker_thread(void *arg)
{
	struct start *s = arg;

	s->ok = worker_init(s->w, s->id, s->err, sizeof(s->err));
	if (!s->ok) {
		pthread_barrier_wait(&go);
		DROP(workers_running);
		return NULL;
	}
	worker_main(s->w);
	worker_fini(s->w);
	tls_thread_fini();	/* as a worker ring must before it ends */
	return NULL;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int test_threads(void)
{
	static struct worker w[WORKERS];
	static struct start st[WORKERS];
	pthread_t tid[WORKERS];
	int ok = 1, ok_plain = 0, ok_tls = 0, resumed = 0, asked = 0;

	pthread_barrier_init(&go, NULL, WORKERS + 1);
	workers_running = WORKERS;
	for (int i = 0; i < WORKERS; i++) {
		st[i] = (struct start){ .w = &w[i], .id = i };
		if (pthread_create(&tid[i], NULL, worker_thread,
				   &st[i]) != 0) {
			printf("# cannot start worker %d\n", i);
			return 0;
		}
	}
	pthread_barrier_wait(&go);
	/* The scheduler's question, from the main thread, while workers
	 * fill and read the cache. */
	while (READ(workers_running) > 0) {
		tls_session_known("localhost", tls_l.port);
		asked++;
		usleep(200);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(tid[i], NULL);
		if (!st[i].ok)
			printf("# worker %d: %s\n", i, st[i].err);
		ok &= TAP_CHECK(st[i].ok);
		if (w[i].why[0])
			printf("# %s\n", w[i].why);
		ok &= TAP_CHECK(w[i].ok_plain == ROUNDS);
		ok &= TAP_CHECK(w[i].ok_tls == ROUNDS);
		ok &= TAP_CHECK(w[i].slots_out == 0);
		ok &= TAP_CHECK(w[i].counters.open == 0);
		ok_plain += w[i].ok_plain;
		ok_tls += w[i].ok_tls;
		resumed += w[i].resumed;
	}
	printf("# %d plain, %d TLS (%d resumed) fetches on %d threads; "
	       "%d session lookups from the main thread\n",
	       ok_plain, ok_tls, resumed, WORKERS, asked);
	/* Every worker's first TLS fetch may find the cache empty (they
	 * start together); each later one finds a session some thread
	 * saved. */
	ok &= TAP_CHECK(resumed >= WORKERS * (ROUNDS - 1));
	ok &= TAP_CHECK(tls_session_known("localhost", tls_l.port));
	ok &= TAP_CHECK(READ(srv_requests) == 2 * WORKERS * ROUNDS);
	pthread_barrier_destroy(&go);
	return ok;
}

int main(void)
{
	char cmd[512], err[256], yerr[256];
	int rc;

	alarm(100);		/* run.sh gives 120 s: fail before that */
	if (!mkdtemp(g_dir))
		return 1;
	snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", g_dir);
	snprintf(g_key, sizeof(g_key), "%s/key.pem", g_dir);
	if (run("openssl version >/dev/null 2>&1") != 0) {
		rmdir(g_dir);
		printf("1..0 # SKIP no openssl(1) to make a certificate\n");
		return 77;
	}
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
		 g_key, g_cert);
	if (run(cmd) != 0) {
		printf("1..0 # SKIP openssl cannot make a certificate\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	config_init(&cfg);
	cfg.timeouts.connect_ms = FETCH_MS;
	cfg.timeouts.first_byte_ms = FETCH_MS;
	cfg.timeouts.idle_ms = FETCH_MS;
	free(cfg.tls.ca_file);
	cfg.tls.ca_file = strdup(g_cert);
	/* "localhost" comes from /etc/hosts; should it not, DNS goes to a
	 * closed loopback port, never to resolv.conf's server */
	if (config_set(&cfg, "dns.servers", "[\"127.0.0.1:9\"]", yerr,
		       sizeof(yerr)) < 0) {
		printf("# %s\n", yerr);
		return 1;
	}
	/* the server's wolfSSL; the client side is set up by the workers'
	 * first TLS conns, racing (tls_global_init() is lazy in conn.c) */
	wolfSSL_Init();
	if (!server_start(err, sizeof(err))) {
		printf("1..0 # SKIP %s\n", err);
		return 77;
	}
	TAP_RUN(test_threads);
	listen_stop(&plain_l);
	listen_stop(&tls_l);
	TAP_CHECK(READ(srv_live) == 0);
	wolfSSL_CTX_free(srv_ctx);
	tls_global_fini();
	wolfSSL_Cleanup();
	config_fini(&cfg);
	unlink(g_cert);
	unlink(g_key);
	rmdir(g_dir);
	rc = tap_done();
	return rc;
}
