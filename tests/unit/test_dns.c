/* dns.c against a dnsmasq this test starts on 127.0.0.1 (never anything
 * else: every resolver is configured to loopback before the first query). */
#include "net/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "event/loop.h"
#include "tap.h"

static struct loop L;
static pid_t dnsmasq_pid = -1;
static unsigned dnsmasq_port;
static int silent_fd = -1;		/* UDP socket that never answers */
static unsigned silent_port;

struct res {
	struct dns_req r;
	int called;
	int err;
	char detail[192];
	struct dns_addrs a;
};

static void on_res(struct dns_req *r, int err, const char *detail,
		   const struct dns_addrs *a)
{
	struct res *x = container_of(r, struct res, r);

	x->called++;
	x->err = err;
	snprintf(x->detail, sizeof(x->detail), "%s", detail);
	if (a)
		x->a = *a;
}

static void res_init(struct res *x)
{
	memset(x, 0, sizeof(*x));
	x->r.cb = on_res;
}

/* --- helpers ----------------------------------------------------------- */

static bool guard_fired;

static void on_guard(struct timer *t)
{
	(void)t;
	guard_fired = true;
}

/* Run the loop until *flag is nonzero or ms pass. Returns *flag != 0. */
static bool run_until(const int *flag, uint64_t ms)
{
	struct timer guard = { 0 };

	guard_fired = false;
	loop_update_clock(&L);
	loop_timer_arm(&L, &guard, loop_now_ms(&L) + ms, on_guard);
	while (!(flag && *flag) && !guard_fired)
		if (loop_run_once(&L) < 0)
			break;
	loop_timer_cancel(&L, &guard);
	return flag && *flag;
}

static void run_for(uint64_t ms)
{
	run_until(NULL, ms);
}

static unsigned free_udp_port(int *keep)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("bind");
		exit(1);
	}
	if (keep)
		*keep = fd;
	else
		close(fd);
	return ntohs(sin.sin_port);
}

/* One A query for a.test; true when dnsmasq answers within 200 ms. */
static bool dnsmasq_answers(unsigned port)
{
	static const unsigned char q[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
	};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned char buf[512];
	struct pollfd p;
	bool ok = false;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	p.fd = socket(AF_INET, SOCK_DGRAM, 0);
	p.events = POLLIN;
	if (p.fd < 0)
		return false;
	if (sendto(p.fd, q, sizeof(q), 0, (struct sockaddr *)&sin,
		   sizeof(sin)) == (ssize_t)sizeof(q) &&
	    poll(&p, 1, 200) == 1)
		ok = recv(p.fd, buf, sizeof(buf), 0) > 0;
	close(p.fd);
	return ok;
}

static const char *dnsmasq_path(void)
{
	static const char *const paths[] = {
		"/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq",
		"/usr/bin/dnsmasq",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static bool dnsmasq_start(const char *path)
{
	char portarg[32];

	dnsmasq_port = free_udp_port(NULL);
	snprintf(portarg, sizeof(portarg), "--port=%u", dnsmasq_port);
	dnsmasq_pid = fork();
	if (dnsmasq_pid < 0)
		return false;
	if (dnsmasq_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execl(path, "dnsmasq", "--keep-in-foreground", "--no-resolv",
		      "--no-hosts", "--no-poll", portarg,
		      "--listen-address=127.0.0.1", "--bind-interfaces",
		      "--address=/test/127.0.0.1", "--address=/test/::1",
		      "--address=/nx.test/", "--pid-file=", "--user=root",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 25; i++) {
		if (waitpid(dnsmasq_pid, NULL, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = -1;
			return false;
		}
		if (dnsmasq_answers(dnsmasq_port))
			return true;
	}
	return false;
}

static void dnsmasq_stop(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
}

/* A config whose only resolver is server ("127.0.0.1:PORT"). Only the dns
 * keys are set (zero elsewhere), so config.c's defaults play no part. */
static void cfg_make(struct config *c, const char *server)
{
	memset(c, 0, sizeof(*c));
	c->dns.servers.v = calloc(1, sizeof(char *));
	c->dns.servers.v[0] = strdup(server);
	c->dns.servers.n = 1;
	c->dns.timeout_ms = 300;
	c->dns.attempts = 2;
	c->dns.cache_min_ttl_ms = 1000;
	c->dns.cache_max_ttl_ms = 60000;
}

static void cfg_free(struct config *c)
{
	for (size_t i = 0; i < c->dns.servers.n; i++)
		free(c->dns.servers.v[i]);
	free(c->dns.servers.v);
	c->dns.servers.v = NULL;
	c->dns.servers.n = 0;
}

static struct dns *dns_open(struct config *c, const char *server)
{
	char err[256] = "";
	struct dns *d;

	cfg_make(c, server);
	d = dns_new(&L, c, err, sizeof(err));
	if (!d)
		printf("# dns_new: %s\n", err);
	return d;
}

static struct dns *dns_local(struct config *c)
{
	char server[64];

	snprintf(server, sizeof(server), "127.0.0.1:%u", dnsmasq_port);
	return dns_open(c, server);
}

/* Free d and let its cancelled polls complete. */
static void dns_close(struct dns *d, struct config *c)
{
	dns_free(d);
	run_for(30);
	cfg_free(c);
}

static bool has_addr(const struct dns_addrs *a, int family, const char *ip,
		     uint16_t port)
{
	unsigned char want[16];

	inet_pton(family, ip, want);
	for (unsigned i = 0; i < a->n; i++) {
		const struct sockaddr_in *s4 = (const void *)&a->addr[i];
		const struct sockaddr_in6 *s6 = (const void *)&a->addr[i];

		if (a->addr[i].ss_family != family)
			continue;
		if (family == AF_INET && ntohs(s4->sin_port) == port &&
		    !memcmp(&s4->sin_addr, want, 4))
			return true;
		if (family == AF_INET6 && ntohs(s6->sin6_port) == port &&
		    !memcmp(&s6->sin6_addr, want, 16))
			return true;
	}
	return false;
}

/* --- cases ------------------------------------------------------------- */

static int test_literals(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "127.0.0.1", 80, &a) == 0);
	ok &= TAP_CHECK(a.n == 1 && has_addr(&a, AF_INET, "127.0.0.1", 80));
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "::1", 443, &a) == 0);
	ok &= TAP_CHECK(a.n == 1 && has_addr(&a, AF_INET6, "::1", 443));
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "[2001:db8::5]", 8080, &a) == 0);
	ok &= TAP_CHECK(has_addr(&a, AF_INET6, "2001:db8::5", 8080));
	ok &= TAP_CHECK(dns_stats(d)->queries == 0);
	ok &= TAP_CHECK(dns_stats(d)->literals == 3);
	run_for(10);
	ok &= TAP_CHECK(x.called == 0);
	dns_close(d, &c);
	return ok;
}

static int test_both_families(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "A.Test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(x.called == 0);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	ok &= TAP_CHECK(x.called == 1 && x.err == 0);
	ok &= TAP_CHECK(has_addr(&x.a, AF_INET, "127.0.0.1", 80));
	ok &= TAP_CHECK(has_addr(&x.a, AF_INET6, "::1", 80));
	ok &= TAP_CHECK(dns_stats(d)->queries == 1);
	ok &= TAP_CHECK(dns_stats(d)->failures == 0);
	dns_close(d, &c);
	return ok;
}

static int test_nxdomain(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "nx.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	ok &= TAP_CHECK(x.err == -ENOENT);
	ok &= TAP_CHECK(strstr(x.detail, "no such host 'nx.test'") != NULL);
	ok &= TAP_CHECK(dns_stats(d)->failures == 1);
	/* the failure is cached: answered again without a query */
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "nx.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(x.called == 0);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	ok &= TAP_CHECK(x.err == -ENOENT && x.called == 1);
	ok &= TAP_CHECK(dns_stats(d)->queries == 1);
	ok &= TAP_CHECK(dns_stats(d)->cache_hits == 1);
	dns_close(d, &c);
	return ok;
}

static int test_timeout(void)
{
	struct config c;
	struct dns_addrs a;
	char server[64];
	struct dns *d;
	struct res x;
	uint64_t t0;
	int ok;

	snprintf(server, sizeof(server), "127.0.0.1:%u", silent_port);
	d = dns_open(&c, server);
	ok = TAP_CHECK(d != NULL);
	if (!d)
		return 0;
	res_init(&x);
	t0 = loop_update_clock(&L);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "slow.test", 80, &a) ==
			-EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	printf("# timed out after %llu ms\n",
	       (unsigned long long)(loop_now_ms(&L) - t0));
	ok &= TAP_CHECK(x.err == -ETIMEDOUT);
	ok &= TAP_CHECK(STREQ(x.detail, "DNS timeout for 'slow.test'"));
	/* timeout 300 ms * 2 attempts, plus scheduling slack */
	ok &= TAP_CHECK(loop_now_ms(&L) - t0 >= 550);
	ok &= TAP_CHECK(loop_now_ms(&L) - t0 <= 800);
	ok &= TAP_CHECK(dns_stats(d)->failures == 1);
	dns_close(d, &c);
	return ok;
}

static int test_cache_hit(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "hit.test", 80, &a) ==
			-EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000) && x.err == 0);
	memset(&a, 0, sizeof(a));
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "HIT.test", 8443, &a) == 0);
	ok &= TAP_CHECK(has_addr(&a, AF_INET, "127.0.0.1", 8443));
	ok &= TAP_CHECK(has_addr(&a, AF_INET6, "::1", 8443));
	ok &= TAP_CHECK(dns_stats(d)->cache_hits == 1);
	ok &= TAP_CHECK(dns_stats(d)->queries == 1);
	ok &= TAP_CHECK(dns_stats(d)->cache_entries == 1);
	run_for(10);
	ok &= TAP_CHECK(x.called == 1);
	dns_close(d, &c);
	return ok;
}

static int test_shared_query(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x, y;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	res_init(&x);
	res_init(&y);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "b.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(dns_lookup(d, &y.r, "b.test", 443, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(dns_stats(d)->queries == 1);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	ok &= TAP_CHECK(run_until(&y.called, 5000));
	ok &= TAP_CHECK(x.err == 0 && y.err == 0);
	ok &= TAP_CHECK(has_addr(&x.a, AF_INET, "127.0.0.1", 80));
	ok &= TAP_CHECK(has_addr(&y.a, AF_INET, "127.0.0.1", 443));
	ok &= TAP_CHECK(dns_stats(d)->queries == 1);
	dns_close(d, &c);
	return ok;
}

static int test_cancel(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x, y;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	res_init(&x);
	res_init(&y);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "c.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(dns_lookup(d, &y.r, "c.test", 80, &a) == -EINPROGRESS);
	dns_cancel(d, &x.r);
	dns_cancel(d, &x.r);		/* idle: harmless */
	ok &= TAP_CHECK(run_until(&y.called, 5000) && y.err == 0);
	run_for(50);
	ok &= TAP_CHECK(x.called == 0);
	/* the cancelled-alone query still fills the cache */
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "e.test", 80, &a) == -EINPROGRESS);
	dns_cancel(d, &x.r);
	run_for(300);
	ok &= TAP_CHECK(x.called == 0);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "e.test", 80, &a) == 0);
	dns_close(d, &c);
	return ok;
}

static int test_hosts_file(void)
{
	char path[] = "/tmp/rf-hosts-XXXXXX";
	const char *body = "127.0.0.5 myhost\n";
	struct config c;
	struct dns_addrs a;
	struct dns *d;
	struct res x;
	int fd = mkstemp(path), ok;

	if (fd < 0 || write(fd, body, strlen(body)) != (ssize_t)strlen(body))
		return 0;
	close(fd);
	setenv("RINGFETCH_HOSTS_FILE", path, 1);
	d = dns_local(&c);
	unsetenv("RINGFETCH_HOSTS_FILE");
	ok = TAP_CHECK(d != NULL);
	if (!d)
		goto out;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "MyHost", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(x.called == 0);
	ok &= TAP_CHECK(run_until(&x.called, 5000) && x.err == 0);
	ok &= TAP_CHECK(x.a.n == 1 && has_addr(&x.a, AF_INET, "127.0.0.5", 80));
	/* names not in the file still go to DNS */
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "a.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000) && x.err == 0);
	dns_close(d, &c);
out:
	unlink(path);
	return ok;
}

static int test_ttl_expiry(void)
{
	struct config c;
	struct dns *d = dns_local(&c);
	struct dns_addrs a;
	struct res x;
	int ok = TAP_CHECK(d != NULL);

	if (!d)
		return 0;
	dns_free(d);
	run_for(10);
	c.dns.cache_min_ttl_ms = 50;
	c.dns.cache_max_ttl_ms = 100;
	d = dns_new(&L, &c, x.detail, sizeof(x.detail));
	if (!TAP_CHECK(d != NULL))
		return 0;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "t.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000) && x.err == 0);
	loop_update_clock(&L);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "t.test", 80, &a) == 0);
	run_for(150);
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "t.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000) && x.err == 0);
	ok &= TAP_CHECK(dns_stats(d)->queries == 2);
	ok &= TAP_CHECK(dns_stats(d)->cache_hits == 1);
	dns_close(d, &c);
	return ok;
}

static int test_bad_servers(void)
{
	static const char *const bad[] = {
		"nonsense", "1.2.3.4:0", "1.2.3.4:99999", "[::1", "[::1]x",
		"1.2.3.4:", "example.com:53",
	};
	static const char *const good[] = { "::1", "[::1]:5353", "127.0.0.1" };
	int ok = 1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct config c;
		struct dns *d = dns_open(&c, bad[i]);

		ok &= TAP_CHECK(d == NULL);
		if (d)
			dns_free(d);
		cfg_free(&c);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		struct config c;
		struct dns *d = dns_open(&c, good[i]);

		ok &= TAP_CHECK(d != NULL);
		dns_close(d, &c);
	}
	return ok;
}

/* Nothing listens: the ICMP error fails the query before the deadline, and
 * such a failure is not cached. */
static int test_refused(void)
{
	struct config c;
	struct dns_addrs a;
	char server[64];
	struct dns *d;
	struct res x;
	int ok;

	snprintf(server, sizeof(server), "127.0.0.1:%u", free_udp_port(NULL));
	d = dns_open(&c, server);
	ok = TAP_CHECK(d != NULL);
	if (!d)
		return 0;
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "r.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	printf("# err %d: %s\n", x.err, x.detail);
	ok &= TAP_CHECK(x.err == -ECONNREFUSED);
	res_init(&x);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "r.test", 80, &a) == -EINPROGRESS);
	ok &= TAP_CHECK(run_until(&x.called, 5000));
	ok &= TAP_CHECK(dns_stats(d)->queries == 2);
	ok &= TAP_CHECK(dns_stats(d)->cache_hits == 0);
	dns_close(d, &c);
	return ok;
}

/* Freeing with queries and polls in flight: no callback, no leak. */
static int test_free_pending(void)
{
	struct config c;
	struct dns_addrs a;
	char server[64];
	struct dns *d;
	struct res x, y;
	int ok;

	snprintf(server, sizeof(server), "127.0.0.1:%u", silent_port);
	d = dns_open(&c, server);
	ok = TAP_CHECK(d != NULL);
	if (!d)
		return 0;
	res_init(&x);
	res_init(&y);
	ok &= TAP_CHECK(dns_lookup(d, &x.r, "slow.test", 80, &a) ==
			-EINPROGRESS);
	ok &= TAP_CHECK(dns_lookup(d, &y.r, "slow2.test", 80, &a) ==
			-EINPROGRESS);
	run_for(20);
	dns_close(d, &c);
	run_for(50);
	ok &= TAP_CHECK(x.called == 0 && y.called == 0);
	return ok;
}

int main(void)
{
	const char *path = dnsmasq_path();
	char err[256];
	bool up = false;

	if (!path) {
		printf("1..0 # SKIP dnsmasq not installed\n");
		return 77;
	}
	if (loop_init(&L, 64, err, sizeof(err)) < 0) {
		printf("1..0 # SKIP %s\n", err);
		return 77;
	}
	for (int i = 0; i < 3 && !up; i++) {
		up = dnsmasq_start(path);
		if (!up)
			dnsmasq_stop();
	}
	if (!up) {
		printf("Bail out! dnsmasq did not start\n");
		return 1;
	}
	silent_port = free_udp_port(&silent_fd);
	TAP_RUN(test_literals);
	TAP_RUN(test_both_families);
	TAP_RUN(test_nxdomain);
	TAP_RUN(test_timeout);
	TAP_RUN(test_cache_hit);
	TAP_RUN(test_shared_query);
	TAP_RUN(test_cancel);
	TAP_RUN(test_hosts_file);
	TAP_RUN(test_ttl_expiry);
	TAP_RUN(test_bad_servers);
	TAP_RUN(test_refused);
	TAP_RUN(test_free_pending);
	dnsmasq_stop();
	close(silent_fd);
	loop_fini(&L);
	return tap_done();
}
