/* metrics.c over a real ring with a scheduler faked by its counters: the
 * page parsed as Prometheus text format, /metrics scraped through a
 * loopback socket, the scraper cap and timeout, the textfile. Only
 * 127.0.0.1 and ::1 are ever used. */
#include "front/metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "config/config.h"
#include "engine/job.h"
#include "event/loop.h"
#include "engine/sched.h"
#include "tap.h"

/* --- fixture: a loop, a sched that is only counters, the metrics ------- */

struct fx {
	struct loop l;
	struct sched s;
	struct config cfg;
	struct metrics *m;
	char err[256];
};

static struct timer tick;

static void on_tick(struct timer *t)
{
	(void)t;
}

/* One loop turn that never sleeps more than 10 ms, so the test can poll
 * its own sockets between turns. */
static void turn(struct loop *l)
{
	loop_timer_arm(l, &tick, loop_now_ms(l) + 10, on_tick);
	loop_run_once(l);
}

static int fx_open(struct fx *f, const char *listen, const char *textfile)
{
	memset(f, 0, sizeof(*f));
	if (loop_init(&f->l, 64, f->err, sizeof(f->err)) < 0)
		return 0;
	f->s.loop = &f->l;
	f->s.cfg = &f->cfg;	/* the snapshot reads queue.capacity */
	/* metrics_new() only reads these two strings. */
	f->cfg.metrics.listen = (char *)listen;
	f->cfg.metrics.textfile = (char *)textfile;
	f->m = metrics_new(&f->l, &f->s, &f->cfg, f->err, sizeof(f->err));
	if (!f->m) {
		printf("# metrics_new: %s\n", f->err);
		loop_fini(&f->l);
	}
	return f->m != NULL;
}

static void fx_close(struct fx *f)
{
	metrics_free(f->m);
	for (int i = 0; i < 4; i++)
		turn(&f->l);
	loop_timer_cancel(&f->l, &tick);
	loop_fini(&f->l);
}

static int render(struct fx *f, struct buf *b)
{
	buf_init(b, METRICS_PAGE_MAX);
	return metrics_render(f->m, b);
}

/* --- the text format --------------------------------------------------- */

/* The value of the sample whose name and labels are exactly series, or NAN
 * when there is no such line. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NAN;
}

static bool is_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || (!first && c >= '0' && c <= '9');
}

/* Length of the metric name at p, 0 when there is none. */
static size_t name_len(const char *p)
{
	size_t n = 0;

	while (is_name_char(p[n], n == 0))
		n++;
	return n;
}

/* Skip {k="v",...} at p; NULL when malformed. */
static const char *skip_labels(const char *p)
{
	if (*p != '{')
		return p;
	p++;
	while (*p != '}') {
		size_t n = name_len(p);

		if (!n || p[n] != '=' || p[n + 1] != '"')
			return NULL;
		p += n + 2;
		while (*p && *p != '"' && *p != '\n')
			p += *p == '\\' ? 2 : 1;
		if (*p != '"')
			return NULL;
		p++;
		if (*p == ',')
			p++;
	}
	return p + 1;
}

/* The family a sample belongs to, given the type last declared. */
static bool in_family(const char *name, size_t n, const char *family,
		      const char *type)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t fl = strlen(family);

	if (n == fl && strncmp(name, family, n) == 0)
		return true;
	if (strcmp(type, "histogram") != 0 || n <= fl ||
	    strncmp(name, family, fl) != 0)
		return false;
	for (size_t i = 0; i < 3; i++)
		if (n - fl == strlen(sfx[i]) &&
		    strncmp(name + fl, sfx[i], n - fl) == 0)
			return true;
	return false;
}

static bool check_sample(const char *p, const char *family,
			 const char *type)
{
	size_t n = name_len(p);
	const char *v;
	char *end;

	if (!n || strncmp(p, "ringfetch_", 10) != 0 ||
	    !in_family(p, n, family, type)) {
		printf("#   sample outside family %s: %.50s\n", family, p);
		return false;
	}
	v = skip_labels(p + n);
	if (!v || *v != ' ')
		return false;
	strtod(v + 1, &end);
	return end != v + 1 && *end == '\n';
}

/* Every line is HELP, TYPE or a sample of the family just declared; names
 * start ringfetch_, counters end in _total, each family is declared once,
 * HELP right before TYPE. Returns the number of families, -1 if bad. */
static int check_exposition(const char *text)
{
	char family[128] = "", type[16] = "", seen[4096] = " ";
	int families = 0;

	for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
		char name[128], key[140];

		if (!strchr(p, '\n'))
			return -1;	/* a last line without its newline */
		if (strncmp(p, "# HELP ", 7) == 0) {
			if (sscanf(p + 7, "%127s", name) != 1)
				return -1;
			snprintf(family, sizeof(family), "%s", name);
			type[0] = '\0';
			continue;
		}
		if (strncmp(p, "# TYPE ", 7) == 0) {
			if (sscanf(p + 7, "%127s %15s", name, type) != 2 ||
			    strcmp(name, family) != 0)
				return -1;
			if (strcmp(type, "counter") && strcmp(type, "gauge") &&
			    strcmp(type, "histogram"))
				return -1;
			if (!strcmp(type, "counter") &&
			    strcmp(name + strlen(name) - 6, "_total"))
				return -1;
			snprintf(key, sizeof(key), " %s ", name);
			if (strstr(seen, key))
				return -1;
			strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
			families++;
			continue;
		}
		if (!type[0] || !check_sample(p, family, type))
			return -1;
	}
	return families;
}

/* Buckets of phase are cumulative, end in +Inf == _count. */
static bool histogram_ok(const char *text, const char *phase)
{
	static const char *const le[] = {
		"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
		"0.5", "1", "2.5", "5", "10", "+Inf",
	};
	char series[160];
	double prev = 0, v = 0;

	for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		snprintf(series, sizeof(series),
			 "ringfetch_phase_duration_seconds_bucket"
			 "{phase=\"%s\",le=\"%s\"}", phase, le[i]);
		v = value_of(text, series);
		if (isnan(v) || v < prev)
			return false;
		prev = v;
	}
	snprintf(series, sizeof(series),
		 "ringfetch_phase_duration_seconds_count{phase=\"%s\"}", phase);
	return value_of(text, series) == v;
}

static double bucket(const char *text, const char *phase, const char *le)
{
	char series[160];

	snprintf(series, sizeof(series),
		 "ringfetch_phase_duration_seconds_bucket"
		 "{phase=\"%s\",le=\"%s\"}", phase, le);
	return value_of(text, series);
}

static double phase_value(const char *text, const char *what,
			  const char *phase)
{
	char series[160];

	snprintf(series, sizeof(series),
		 "ringfetch_phase_duration_seconds_%s{phase=\"%s\"}", what,
		 phase);
	return value_of(text, series);
}

/* --- a scraper over a plain socket ------------------------------------- */

struct answer {
	int status;
	char head[1024];
	struct buf body;
};

static int dial(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -1;
	/* The kernel completes the handshake from the backlog: no turn of
	 * our loop is needed for connect() to return. */
	if (family == AF_INET6)
		rc = connect(fd, (struct sockaddr *)&a6, sizeof(a6));
	else
		rc = connect(fd, (struct sockaddr *)&a4, sizeof(a4));
	if (rc < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read fd to EOF while turning the loop, at most max_turns turns. Returns
 * 0 at EOF or reset, -1 when time ran out. */
static int drain(struct loop *l, int fd, struct buf *out, int max_turns)
{
	char chunk[4096];

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (int i = 0; i < max_turns; i++) {
		ssize_t n;

		turn(l);
		while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
			if (out && buf_append(out, chunk, (size_t)n) < 0)
				return -1;
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return 0;
	}
	return -1;
}

static bool parse_answer(struct buf *raw, struct answer *a)
{
	const char *end = strstr(raw->p ? raw->p : "", "\r\n\r\n");
	size_t hl;

	if (!end || sscanf(raw->p, "HTTP/1.1 %d ", &a->status) != 1)
		return false;
	hl = (size_t)(end - raw->p) + 4;
	snprintf(a->head, sizeof(a->head), "%.*s", (int)hl, raw->p);
	buf_init(&a->body, METRICS_PAGE_MAX);
	return buf_append(&a->body, raw->p + hl, raw->len - hl) == 0;
}

/* Send req on a fresh connection and read the answer. */
static bool scrape_on(struct fx *f, int family, const char *req,
		      struct answer *a)
{
	struct buf raw;
	bool ok;
	int fd = dial(family, metrics_port(f->m));

	memset(a, 0, sizeof(*a));
	buf_init(&raw, METRICS_PAGE_MAX * 2);
	if (fd < 0)
		return false;
	ok = send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req) &&
	     drain(&f->l, fd, &raw, 300) == 0 && parse_answer(&raw, a);
	close(fd);
	buf_fini(&raw);
	return ok;
}

static bool scrape(struct fx *f, const char *req, struct answer *a)
{
	return scrape_on(f, AF_INET, req, a);
}

static size_t content_length(const struct answer *a)
{
	const char *p = strstr(a->head, "Content-Length: ");

	return p ? strtoul(p + 16, NULL, 10) : (size_t)-1;
}

/* --- cases ------------------------------------------------------------- */

static int test_page_format(void)
{
	struct fx f;
	struct buf b;
	int ok;

	if (!fx_open(&f, "", ""))
		return 0;
	ok = TAP_CHECK(render(&f, &b) == 0) &&
	     TAP_CHECK(check_exposition(b.p) >= 20) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_uptime_seconds") >= 0) &&
	     TAP_CHECK(strstr(b.p, "ringfetch_build_info{version=") != NULL) &&
	     TAP_CHECK(metrics_port(f.m) == 0);
	for (const char *ph = "dns\0connect\0tls\0ttfb\0total\0"; *ph;
	     ph += strlen(ph) + 1)
		ok = ok && TAP_CHECK(histogram_ok(b.p, ph)) &&
		     TAP_CHECK(phase_value(b.p, "count", ph) == 0);
	buf_fini(&b);
	fx_close(&f);
	return ok;
}

static int test_requests_by_class(void)
{
	struct fx f;
	struct buf b;
	int ok, lines = 0;

	if (!fx_open(&f, "", ""))
		return 0;
	f.s.st.ok = 7;
	f.s.st.failed_by[RF_DNS] = 2;
	f.s.st.failed_by[RF_HTTP_STATUS] = 3;
	f.s.st.failed_by[RF_CANCELLED] = 1;
	ok = TAP_CHECK(render(&f, &b) == 0) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_requests_total{result=\"ok\"}")
		       == 7) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_requests_total{result=\"dns\"}")
		       == 2) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_requests_total"
				"{result=\"http_status\"}") == 3) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_requests_total"
				"{result=\"cancelled\"}") == 1) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_requests_total"
				"{result=\"connect_timeout\"}") == 0);
	for (const char *p = b.p;
	     (p = strstr(p, "\nringfetch_requests_total{")); p++)
		lines++;
	ok = ok && TAP_CHECK(lines == RF_ERR_COUNT);	/* ok + each class */
	buf_fini(&b);
	fx_close(&f);
	return ok;
}

static int test_counters_and_gauges(void)
{
	static const struct { const char *name; double want; } want[] = {
		{ "ringfetch_jobs_accepted_total", 40 },
		{ "ringfetch_bytes_total", 123456789012 },
		{ "ringfetch_retries_total", 6 },
		{ "ringfetch_jobs_retried_total", 4 },
		{ "ringfetch_redirects_total", 8 },
		{ "ringfetch_connections_opened_total", 9 },
		{ "ringfetch_connections_reused_total", 10 },
		{ "ringfetch_in_flight", 3 },
		{ "ringfetch_queued", 5 },
		{ "ringfetch_backoff", 1 },
		{ "ringfetch_connections_open", 4 },
		{ "ringfetch_connections_idle", 2 },
		{ "ringfetch_dns_cache_hits_total", 0 },
		{ "ringfetch_dns_queries_total", 0 },
		{ "ringfetch_tls_resumptions_total", 0 },
	};
	struct fx f;
	struct buf b;
	int ok;

	if (!fx_open(&f, "", ""))
		return 0;
	f.s.st.accepted = 40;
	f.s.st.bytes = 123456789012ull;
	f.s.st.retries = 6;
	f.s.st.retried = 4;
	f.s.st.redirects = 8;
	f.s.conns.opened = 9;
	f.s.conns.reused = 10;
	f.s.in_flight = 3;
	f.s.waiting = 5;
	f.s.backoff = 1;
	f.s.conns.open = 4;
	f.s.conns.idle = 2;
	ok = TAP_CHECK(render(&f, &b) == 0);
	for (size_t i = 0; ok && i < sizeof(want) / sizeof(want[0]); i++) {
		ok = value_of(b.p, want[i].name) == want[i].want;
		if (!ok)
			printf("#   %s = %g, want %g\n", want[i].name,
			       value_of(b.p, want[i].name), want[i].want);
	}
	buf_fini(&b);
	fx_close(&f);
	return ok;
}

static void job_times(struct job *j, uint32_t dns, uint32_t connect,
		      uint32_t tls, uint32_t ttfb, uint32_t total)
{
	memset(j, 0, sizeof(*j));
	j->ms_dns = dns;
	j->ms_connect = connect;
	j->ms_tls = tls;
	j->ms_ttfb = ttfb;
	j->ms_total = total;
}

static int test_histograms(void)
{
	struct fx f;
	struct job j;
	struct buf b;
	int ok;

	if (!fx_open(&f, "", ""))
		return 0;
	job_times(&j, 3, 0, 0, 20, 30);		/* plain, pooled DNS */
	metrics_observe(f.m, &j);
	job_times(&j, 0, 7, 120, 600, 12000);	/* over the last bound */
	j.tls_used = j.tls_resumed = true;
	metrics_observe(f.m, &j);
	job_times(&j, 0, 0, 0, 0, 0);		/* invalid_url: no attempt */
	j.err = RF_INVALID_URL;
	metrics_observe(f.m, &j);
	job_times(&j, 1, 1, 0, 0, 5);		/* edges land in their le */
	metrics_observe(f.m, &j);
	metrics_observe(NULL, &j);		/* harmless */
	ok = TAP_CHECK(render(&f, &b) == 0) &&
	     TAP_CHECK(check_exposition(b.p) > 0) &&
	     TAP_CHECK(bucket(b.p, "dns", "0.001") == 1) &&
	     TAP_CHECK(bucket(b.p, "dns", "0.005") == 2) &&
	     TAP_CHECK(phase_value(b.p, "count", "dns") == 2) &&
	     TAP_CHECK(phase_value(b.p, "sum", "dns") == 0.004) &&
	     TAP_CHECK(phase_value(b.p, "count", "connect") == 2) &&
	     TAP_CHECK(bucket(b.p, "connect", "0.005") == 1) &&
	     TAP_CHECK(bucket(b.p, "connect", "0.01") == 2) &&
	     TAP_CHECK(phase_value(b.p, "count", "tls") == 1) &&
	     TAP_CHECK(bucket(b.p, "tls", "0.1") == 0) &&
	     TAP_CHECK(bucket(b.p, "tls", "0.25") == 1) &&
	     TAP_CHECK(bucket(b.p, "ttfb", "0.5") == 1) &&
	     TAP_CHECK(bucket(b.p, "ttfb", "1") == 2) &&
	     TAP_CHECK(phase_value(b.p, "count", "total") == 4) &&
	     TAP_CHECK(bucket(b.p, "total", "0.001") == 1) &&
	     TAP_CHECK(bucket(b.p, "total", "0.005") == 2) &&
	     TAP_CHECK(bucket(b.p, "total", "0.05") == 3) &&
	     TAP_CHECK(bucket(b.p, "total", "10") == 3) &&
	     TAP_CHECK(bucket(b.p, "total", "+Inf") == 4) &&
	     TAP_CHECK(phase_value(b.p, "sum", "total") == 12.035) &&
	     TAP_CHECK(value_of(b.p, "ringfetch_tls_resumptions_total") == 1);
	for (const char *ph = "dns\0connect\0tls\0ttfb\0total\0"; *ph;
	     ph += strlen(ph) + 1)
		ok = ok && TAP_CHECK(histogram_ok(b.p, ph));
	buf_fini(&b);
	fx_close(&f);
	return ok;
}

static int test_http_get(void)
{
	struct fx f;
	struct answer a;
	int ok;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	f.s.st.ok = 11;
	ok = TAP_CHECK(metrics_port(f.m) != 0) &&
	     TAP_CHECK(scrape(&f, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
			      "Accept: text/plain\r\n\r\n", &a)) &&
	     TAP_CHECK(a.status == 200) &&
	     TAP_CHECK(strstr(a.head, "\r\nContent-Type: text/plain; "
			      "version=0.0.4") != NULL) &&
	     TAP_CHECK(strstr(a.head, "\r\nConnection: close\r\n") != NULL) &&
	     TAP_CHECK(content_length(&a) == a.body.len) &&
	     TAP_CHECK(check_exposition(a.body.p) >= 20) &&
	     TAP_CHECK(value_of(a.body.p, "ringfetch_requests_total"
				"{result=\"ok\"}") == 11);
	buf_fini(&a.body);
	/* A second scrape on a new connection sees the new figure. */
	f.s.st.ok = 12;
	ok = ok && TAP_CHECK(scrape(&f, "GET /metrics?x=1 HTTP/1.0\n\n", &a)) &&
	     TAP_CHECK(a.status == 200) &&
	     TAP_CHECK(value_of(a.body.p, "ringfetch_requests_total"
				"{result=\"ok\"}") == 12);
	buf_fini(&a.body);
	fx_close(&f);
	return ok;
}

static int test_http_errors(void)
{
	static const struct { const char *req; int status; } cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 404 },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", 404 },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405 },
		{ "hello\r\n\r\n", 400 },
		{ "GET /metrics FTP/1.0\r\n\r\n", 400 },
	};
	struct fx f;
	struct answer a;
	int ok = 1;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	for (size_t i = 0; ok && i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok = TAP_CHECK(scrape(&f, cases[i].req, &a)) &&
		     TAP_CHECK(a.status == cases[i].status) &&
		     TAP_CHECK(content_length(&a) == a.body.len);
		if (!ok)
			printf("#   request %zu: status %d\n", i, a.status);
		buf_fini(&a.body);
	}
	ok = ok &&
	     TAP_CHECK(scrape(&f, "HEAD /metrics HTTP/1.1\r\n\r\n", &a)) &&
	     TAP_CHECK(a.status == 200) && TAP_CHECK(a.body.len == 0) &&
	     TAP_CHECK(content_length(&a) > 1000);
	buf_fini(&a.body);
	fx_close(&f);
	return ok;
}

/* A head longer than METRICS_REQUEST_MAX gets 431, not a buffer overrun. */
static int test_http_oversized(void)
{
	char req[METRICS_REQUEST_MAX + 512];
	struct fx f;
	struct answer a;
	int ok;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	memset(req, 'a', sizeof(req) - 1);
	memcpy(req, "GET /metrics HTTP/1.1\r\nX-Long: ", 31);
	req[sizeof(req) - 1] = '\0';
	ok = TAP_CHECK(scrape(&f, req, &a)) && TAP_CHECK(a.status == 431);
	buf_fini(&a.body);
	fx_close(&f);
	return ok;
}

/* The head arrives a few bytes at a time, with turns in between. */
static int test_http_split_request(void)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fx f;
	struct buf raw;
	struct answer a = { 0 };
	int fd, ok = 1;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	buf_init(&raw, METRICS_PAGE_MAX * 2);
	fd = dial(AF_INET, metrics_port(f.m));
	ok = TAP_CHECK(fd >= 0);
	for (size_t off = 0; ok && off < sizeof(req) - 1; off += 3) {
		size_t left = sizeof(req) - 1 - off, n = left < 3 ? left : 3;

		ok = TAP_CHECK(send(fd, req + off, n, MSG_NOSIGNAL) ==
			       (ssize_t)n);
		turn(&f.l);
		turn(&f.l);
	}
	ok = ok && TAP_CHECK(drain(&f.l, fd, &raw, 300) == 0) &&
	     TAP_CHECK(parse_answer(&raw, &a)) && TAP_CHECK(a.status == 200);
	if (fd >= 0)
		close(fd);
	buf_fini(&raw);
	buf_fini(&a.body);
	fx_close(&f);
	return ok;
}

/* METRICS_CLIENTS_MAX silent scrapers fill the slots: one more is closed
 * at once; when two leave, a scrape is answered again. */
static int test_client_cap(void)
{
	int fds[METRICS_CLIENTS_MAX], extra;
	struct fx f;
	struct answer a = { 0 };
	int ok = 1;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++) {
		fds[i] = dial(AF_INET, metrics_port(f.m));
		ok = ok && TAP_CHECK(fds[i] >= 0);
	}
	for (int i = 0; i < 20; i++)
		turn(&f.l);
	extra = dial(AF_INET, metrics_port(f.m));
	ok = ok && TAP_CHECK(extra >= 0) &&
	     TAP_CHECK(drain(&f.l, extra, NULL, 50) == 0);
	if (extra >= 0)
		close(extra);
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
	for (int i = 0; i < 5; i++)
		turn(&f.l);
	ok = ok && TAP_CHECK(scrape(&f, "GET /metrics HTTP/1.1\r\n\r\n", &a)) &&
	     TAP_CHECK(a.status == 200);
	buf_fini(&a.body);
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fx_close(&f);
	return ok;
}

/* A scraper that never finishes its request is closed at the deadline. */
static int test_client_timeout(void)
{
	struct fx f;
	uint64_t t0, waited;
	int fd, ok;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	fd = dial(AF_INET, metrics_port(f.m));
	t0 = loop_update_clock(&f.l);
	ok = TAP_CHECK(fd >= 0) &&
	     TAP_CHECK(send(fd, "GET /metr", 9, MSG_NOSIGNAL) == 9) &&
	     TAP_CHECK(drain(&f.l, fd, NULL, 600) == 0);
	waited = loop_now_ms(&f.l) - t0;
	ok = ok && TAP_CHECK(waited + 50 >= METRICS_CLIENT_TIMEOUT_MS) &&
	     TAP_CHECK(waited < METRICS_CLIENT_TIMEOUT_MS + 1500);
	if (fd >= 0)
		close(fd);
	fx_close(&f);
	return ok;
}

static int test_ipv6(void)
{
	struct fx f;
	struct answer a = { 0 };
	int ok;

	if (!fx_open(&f, "[::1]:0", "")) {
		printf("# skipped: no ::1 here\n");
		return 1;
	}
	ok = TAP_CHECK(scrape_on(&f, AF_INET6, "GET /metrics HTTP/1.1\r\n\r\n",
				 &a)) &&
	     TAP_CHECK(a.status == 200);
	buf_fini(&a.body);
	fx_close(&f);
	return ok;
}

static int test_listen_errors(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct fx f;
	char busy[64];
	int fd, ok;

	ok = TAP_CHECK(!fx_open(&f, "nonsense", "")) &&
	     TAP_CHECK(strstr(f.err, "metrics.listen") != NULL) &&
	     TAP_CHECK(!fx_open(&f, "127.0.0.1:notaport", ""));
	/* A port someone else listens on. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = ok && TAP_CHECK(fd >= 0) &&
	     TAP_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) &&
	     TAP_CHECK(listen(fd, 1) == 0) &&
	     TAP_CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	snprintf(busy, sizeof(busy), "127.0.0.1:%u", ntohs(sa.sin_port));
	ok = ok && TAP_CHECK(!fx_open(&f, busy, "")) &&
	     TAP_CHECK(strstr(f.err, "in use") != NULL);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Freed with a scraper mid-request and the accept in flight: nothing
 * leaks (ASan) and nothing is touched after the last completion. */
static int test_free_busy(void)
{
	struct fx f;
	int fd, ok;

	if (!fx_open(&f, "127.0.0.1:0", ""))
		return 0;
	fd = dial(AF_INET, metrics_port(f.m));
	ok = TAP_CHECK(fd >= 0);
	for (int i = 0; i < 5; i++)
		turn(&f.l);
	fx_close(&f);
	if (fd >= 0)
		close(fd);
	return ok;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = calloc(1, METRICS_PAGE_MAX + 1);

	if (fp && s)
		fread(s, 1, METRICS_PAGE_MAX, fp);
	if (fp)
		fclose(fp);
	return s;
}

/* Files in dir; 2 = "." and "..". */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static double textfile_ok(const char *path)
{
	char *s = slurp(path);
	double v = NAN;

	if (s && check_exposition(s) >= 20)
		v = value_of(s, "ringfetch_requests_total{result=\"ok\"}");
	free(s);
	return v;
}

static int test_textfile(void)
{
	char dir[] = "/tmp/rf-metrics-XXXXXX", path[64];
	struct fx f;
	int ok;

	if (!mkdtemp(dir))
		return 0;
	snprintf(path, sizeof(path), "%s/ringfetch.prom", dir);
	ok = TAP_CHECK(fx_open(&f, "", path));
	if (!ok)
		goto out;
	ok = TAP_CHECK(textfile_ok(path) == 0) &&
	     TAP_CHECK(count_entries(dir) == 3);
	f.s.st.ok = 5;
	ok = ok && TAP_CHECK(metrics_write_textfile(f.m) == 0) &&
	     TAP_CHECK(textfile_ok(path) == 5) &&
	     TAP_CHECK(count_entries(dir) == 3);	/* no .tmp left */
	f.s.st.ok = 6;
	fx_close(&f);				/* writes the last figures */
	ok = ok && TAP_CHECK(textfile_ok(path) == 6);
out:
	unlink(path);
	rmdir(dir);
	return ok;
}

/* Rewritten by the loop's timer, with no call from outside. */
static int test_textfile_periodic(void)
{
	char dir[] = "/tmp/rf-metrics-XXXXXX", path[64];
	struct fx f;
	uint64_t t0;
	int ok;

	if (!mkdtemp(dir))
		return 0;
	snprintf(path, sizeof(path), "%s/ringfetch.prom", dir);
	ok = TAP_CHECK(fx_open(&f, "", path));
	if (!ok)
		goto out;
	f.s.st.ok = 3;
	t0 = loop_update_clock(&f.l);
	while (textfile_ok(path) != 3 &&
	       loop_now_ms(&f.l) - t0 < METRICS_TEXTFILE_PERIOD_MS + 1000)
		turn(&f.l);
	ok = TAP_CHECK(textfile_ok(path) == 3) &&
	     TAP_CHECK(loop_now_ms(&f.l) - t0 + 50 >=
		       METRICS_TEXTFILE_PERIOD_MS);
	fx_close(&f);
out:
	unlink(path);
	rmdir(dir);
	return ok;
}

static int test_textfile_unwritable(void)
{
	struct fx f;

	return TAP_CHECK(!fx_open(&f, "", "/nonexistent-rf/ringfetch.prom")) &&
	       TAP_CHECK(strstr(f.err, "metrics.textfile") != NULL) &&
	       TAP_CHECK(strstr(f.err, "No such file") != NULL);
}

int main(void)
{
	char err[256];
	struct loop l;

	if (loop_init(&l, 8, err, sizeof(err)) < 0) {
		printf("1..0 # skip: %s\n", err);
		return 77;
	}
	loop_fini(&l);
	log_threshold = LOG_ERROR;
	TAP_RUN(test_page_format);
	TAP_RUN(test_requests_by_class);
	TAP_RUN(test_counters_and_gauges);
	TAP_RUN(test_histograms);
	TAP_RUN(test_http_get);
	TAP_RUN(test_http_errors);
	TAP_RUN(test_http_oversized);
	TAP_RUN(test_http_split_request);
	TAP_RUN(test_client_cap);
	TAP_RUN(test_client_timeout);
	TAP_RUN(test_ipv6);
	TAP_RUN(test_listen_errors);
	TAP_RUN(test_free_busy);
	TAP_RUN(test_textfile);
	TAP_RUN(test_textfile_periodic);
	TAP_RUN(test_textfile_unwritable);
	return tap_done();
}
