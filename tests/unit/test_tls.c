/* Unit tests for tls.c: the helpers, context set-up, and the memory-buffer
 * client driven over a blocking socket against `openssl s_server` (the
 * shape conn.c gives it over the ring), including session resumption. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "tap.h"
#include "net/tls.h"

extern char **environ;

static char g_dir[] = "/tmp/rf-test-tls.XXXXXX";
static char g_cert[64], g_key[64];

static int test_ipv6_expand(void)
{
	char out[48];
	int ok = 1;

	ok &= TAP_CHECK(tls_ipv6_expand("::1", out, sizeof(out)) == 0);
	ok &= TAP_CHECK(STREQ(out, "0000:0000:0000:0000:0000:0000:0000:0001"));
	ok &= TAP_CHECK(tls_ipv6_expand("2001:DB8::ff00:42:8329", out,
					sizeof(out)) == 0);
	ok &= TAP_CHECK(STREQ(out, "2001:0db8:0000:0000:0000:ff00:0042:8329"));
	ok &= TAP_CHECK(tls_ipv6_expand("::ffff:1.2.3.4", out,
					sizeof(out)) == 0);
	ok &= TAP_CHECK(STREQ(out, "0000:0000:0000:0000:0000:ffff:0102:0304"));
	ok &= TAP_CHECK(tls_ipv6_expand("1.2.3.4", out, sizeof(out)) == -EINVAL);
	ok &= TAP_CHECK(tls_ipv6_expand("zz::1", out, sizeof(out)) == -EINVAL);
	ok &= TAP_CHECK(tls_ipv6_expand("::1", out, 10) == -EINVAL);
	return ok;
}

static int test_map_error(void)
{
	char d[160];
	int ok = 1;

	/* wolfSSL 5.5.4's codes, as measured (research/deps.md 2). */
	ok &= TAP_CHECK(tls_map_error(-188, "h", d, sizeof(d)) == RF_TLS_VERIFY);
	ok &= TAP_CHECK(STREQ(d, "unknown issuer (unable to get local issuer certificate)"));
	ok &= TAP_CHECK(tls_map_error(-151, "h", d, sizeof(d)) == RF_TLS_VERIFY);
	ok &= TAP_CHECK(STREQ(d, "certificate has expired"));
	ok &= TAP_CHECK(tls_map_error(-150, "h", d, sizeof(d)) == RF_TLS_VERIFY);
	ok &= TAP_CHECK(strstr(d, "not yet valid") != NULL);
	ok &= TAP_CHECK(tls_map_error(-322, "x.test", d, sizeof(d)) ==
			RF_TLS_VERIFY);
	ok &= TAP_CHECK(STREQ(d, "host name mismatch: certificate is not valid for 'x.test'"));
	ok &= TAP_CHECK(tls_map_error(-325, "::1", d, sizeof(d)) ==
			RF_TLS_VERIFY);
	ok &= TAP_CHECK(strstr(d, "'::1'") != NULL);
	ok &= TAP_CHECK(tls_map_error(-326, "h", d, sizeof(d)) ==
			RF_TLS_HANDSHAKE);
	ok &= TAP_CHECK(strstr(d, "protocol version") != NULL);
	ok &= TAP_CHECK(tls_map_error(-501, "h", d, sizeof(d)) ==
			RF_TLS_HANDSHAKE);
	ok &= TAP_CHECK(tls_map_error(-12345, "h", d, sizeof(d)) ==
			RF_TLS_HANDSHAKE);
	ok &= TAP_CHECK(strstr(d, "-12345") != NULL);
	return ok;
}

static int test_init_bad_ca(void)
{
	struct config c;
	char err[256] = "";
	int ok = 1;

	config_init(&c);
	free(c.tls.ca_file);
	c.tls.ca_file = strdup("/nonexistent/ca.pem");
	ok &= TAP_CHECK(tls_global_init(&c, err, sizeof(err)) == -EINVAL);
	ok &= TAP_CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
	ok &= TAP_CHECK(tls_new("localhost", 443, false, false) == NULL);
	c.tls.verify = false;	/* no CA needed then */
	ok &= TAP_CHECK(tls_global_init(&c, err, sizeof(err)) == 0);
	tls_free(tls_new("localhost", 443, false, false));
	tls_global_fini();
	tls_global_fini();	/* harmless twice */
	config_fini(&c);
	return ok;
}

/* ---- against openssl s_server ---- */

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		port = -1;
	else
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	for (int i = 0; i < 100; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		usleep(50 * 1000);
	}
	return -1;
}

static pid_t start_s_server(int port)
{
	char accept[32];
	char *argv[] = { "openssl", "s_server", "-accept", accept, "-cert",
			 g_cert, "-key", g_key, "-www", "-quiet", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;

	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static int flush(int fd, struct tls *t)
{
	size_t len;
	const char *p = tls_out(t, &len);

	if (len && write(fd, p, len) != (ssize_t)len)
		return -1;
	tls_out_sent(t, len);
	return 0;
}

/* One GET / over a fresh connection: the loop conn.c runs, blocking. */
static int fetch(int port, const char *host, char *page, size_t cap,
		 struct tls **out)
{
	static char rbuf[16384];
	struct tls *t = tls_new(host, (uint16_t)port, false, false);
	size_t got = 0;
	int fd = dial(port), rc;
	ssize_t n;

	*out = t;
	if (!t || fd < 0)
		return -1;
	while ((rc = tls_handshake(t)) == TLS_WANT) {
		if (flush(fd, t) < 0 || (n = read(fd, rbuf, sizeof(rbuf))) <= 0)
			break;
		tls_feed(t, rbuf, (size_t)n);
	}
	if (rc != TLS_DONE) {
		printf("# handshake: %d %s\n", rc, t->detail);
		close(fd);
		return -1;
	}
	if (tls_write(t, "GET / HTTP/1.0\r\n\r\n", 18) < 0 || flush(fd, t) < 0)
		rc = -1;
	while (rc == 0 && !t->eof && (n = read(fd, rbuf, sizeof(rbuf))) > 0) {
		tls_feed(t, rbuf, (size_t)n);
		while ((rc = tls_read(t, page + got, cap - got - 1)) > 0)
			got += (size_t)rc;
		flush(fd, t);
	}
	page[got] = '\0';
	close(fd);
	return rc < 0 ? -1 : (int)got;
}

static int test_s_server(void)
{
	char cmd[512], page[65536], err[256];
	struct config c;
	struct tls *t1 = NULL, *t2 = NULL;
	int port = free_port(), ok = 1;
	pid_t pid;

	if (run("openssl version >/dev/null 2>&1") != 0) {
		printf("# SKIP: no openssl(1)\n");
		return 1;
	}
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
		 g_key, g_cert);
	if (!TAP_CHECK(run(cmd) == 0))
		return 0;
	pid = start_s_server(port);
	if (!TAP_CHECK(pid > 0))
		return 0;
	config_init(&c);
	free(c.tls.ca_file);
	c.tls.ca_file = strdup(g_cert);
	ok &= TAP_CHECK(tls_global_init(&c, err, sizeof(err)) == 0);
	ok &= TAP_CHECK(fetch(port, "localhost", page, sizeof(page), &t1) > 0);
	ok &= TAP_CHECK(strstr(page, "200 ok") != NULL);
	ok &= TAP_CHECK(t1 && STREQ(tls_version(t1), "TLSv1.3"));
	ok &= TAP_CHECK(t1 && strncmp(tls_cipher(t1), "TLS_", 4) == 0);
	ok &= TAP_CHECK(t1 && !tls_resumed(t1));
	ok &= TAP_CHECK(t1 && t1->session_saved);
	ok &= TAP_CHECK(fetch(port, "localhost", page, sizeof(page), &t2) > 0);
	ok &= TAP_CHECK(t2 && tls_resumed(t2));
	tls_free(t1);
	tls_free(t2);
	/* A name the certificate does not carry. */
	ok &= TAP_CHECK(fetch(port, "127.0.0.2", page, sizeof(page), &t1) < 0);
	ok &= TAP_CHECK(t1 && t1->err == RF_TLS_VERIFY);
	tls_free(t1);
	tls_global_fini();
	config_fini(&c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return ok;
}

int main(void)
{
	if (!mkdtemp(g_dir))
		return 1;
	snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", g_dir);
	snprintf(g_key, sizeof(g_key), "%s/key.pem", g_dir);
	TAP_RUN(test_ipv6_expand);
	TAP_RUN(test_map_error);
	TAP_RUN(test_init_bad_ca);
	TAP_RUN(test_s_server);
	unlink(g_cert);
	unlink(g_key);
	rmdir(g_dir);
	return tap_done();
}
