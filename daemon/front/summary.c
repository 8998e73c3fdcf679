/* End-of-crawl summary, text and JSON, from the scheduler's counters and a
 * bounded table of failing hosts. */
#include "front/summary.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "engine/job.h"
#include "base/json.h"

void summary_init(struct summary *sm)
{
	memset(sm, 0, sizeof(*sm));
}

static struct summary_host *least_failed(struct summary *sm)
{
	struct summary_host *min = &sm->hosts[0];

	for (unsigned i = 1; i < sm->n_hosts; i++)
		if (sm->hosts[i].failed < min->failed)
			min = &sm->hosts[i];
	return min;
}

/* Whether j failed for its host's sake: the host (or the way to it) did
 * not answer, answered badly, or answered 5xx. A 404, a redirect loop, a
 * body over http.max_body or a rule of ours is not the host failing. */
static bool host_failure(const struct job *j)
{
	switch (j->err) {
	case RF_DNS:
	case RF_CONNECT:
	case RF_CONNECT_TIMEOUT:
	case RF_TLS_HANDSHAKE:
	case RF_TLS_VERIFY:
	case RF_TIMEOUT:
	case RF_DEADLINE:
	case RF_RESET:
	case RF_PROTOCOL:
		return true;
	case RF_HTTP_STATUS:
		return j->status >= 500;
	default:
		return false;
	}
}

uint64_t summary_failed(const struct summary *sm, const struct sched_stats *st)
{
	return st->failed - sm->cancelled - sm->duplicates;
}

void summary_note(struct summary *sm, const struct job *j)
{
	const struct url *u = &j->url;
	struct summary_host *h;
	char name[sizeof(h->name)];
	uint32_t hash;

	if (j->err == RF_CANCELLED)
		sm->cancelled++;
	if (j->err == RF_OK && j->status == 304)
		sm->not_modified++;
	if (j->err == RF_DUPLICATE)
		sm->duplicates++;
	if (!host_failure(j) || !u->href || !u->host[0])
		return;
	snprintf(name, sizeof(name), u->ipv6 ? "[%s]:%u" : "%s:%u", u->host,
		 (unsigned)u->port);
	hash = hash_fnv1a_str(name);
	for (unsigned i = 0; i < sm->n_hosts; i++) {
		h = &sm->hosts[i];
		if (h->hash == hash && strcmp(h->name, name) == 0) {
			h->failed++;
			return;
		}
	}
	if (sm->n_hosts < SUMMARY_HOSTS) {
		h = &sm->hosts[sm->n_hosts++];
		h->failed = 0;
	} else {
		h = least_failed(sm);
		sm->approximate = true;
	}
	memcpy(h->name, name, sizeof(name));
	h->hash = hash;
	h->failed++;
}

/* The indices of up to SUMMARY_TOP hosts, most failures first, ties by
 * name so that output does not depend on arrival order. Returns how many. */
static unsigned top_hosts(const struct summary *sm, unsigned *top)
{
	bool taken[SUMMARY_HOSTS] = {false};
	unsigned n = 0;

	while (n < SUMMARY_TOP && n < sm->n_hosts) {
		int best = -1;

		for (unsigned i = 0; i < sm->n_hosts; i++) {
			const struct summary_host *h = &sm->hosts[i];

			if (taken[i])
				continue;
			if (best < 0 || h->failed > sm->hosts[best].failed ||
			    (h->failed == sm->hosts[best].failed &&
			     strcmp(h->name, sm->hosts[best].name) < 0))
				best = (int)i;
		}
		taken[best] = true;
		top[n++] = (unsigned)best;
	}
	return n;
}

/* Jobs that were fetched to an end: ok or failed, not cancelled. */
static uint64_t fetched(const struct summary *sm, const struct sched_stats *st)
{
	return st->ok + summary_failed(sm, st);
}

static double rate(const struct summary *sm, const struct sched_stats *st,
		   uint64_t elapsed_ms)
{
	return elapsed_ms ? (double)fetched(sm, st) * 1000.0 /
				    (double)elapsed_ms : 0;
}

/* An empty crawl failed nothing: 1, so that scripts comparing the ratio
 * with a threshold see no failure. */
static double ratio(const struct summary *sm, const struct sched_stats *st)
{
	uint64_t n = fetched(sm, st);

	return n ? (double)st->ok / (double)n : 1.0;
}

/* The classes counted as failures: every one but cancelled. */
static bool failure_class(const struct sched_stats *st, int e)
{
	return e != RF_CANCELLED && e != RF_DUPLICATE && st->failed_by[e];
}

static const char *human_bytes(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(out, len, "%llu B", (unsigned long long)n);
		return out;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", v, units[u]);
	return out;
}

#define ULL(x) ((unsigned long long)(x))

static void print_hosts(FILE *f, const struct summary *sm)
{
	unsigned top[SUMMARY_TOP], n = top_hosts(sm, top);

	if (!n)
		return;
	fprintf(f, "  top failing hosts%s\n",
		sm->approximate ? " (approximate: many hosts failed)" : "");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "    %-32s %llu\n", sm->hosts[top[i]].name,
			ULL(sm->hosts[top[i]].failed));
}

/* The width of the label column: the labels below, or a class name
 * (indented two more) when one is longer, so that the figures stay in one
 * column whatever the classes. */
static int label_width(const struct sched_stats *st)
{
	int w = (int)strlen("success ratio");

	for (int e = 1; e < RF_ERR_COUNT; e++) {
		int n = (int)strlen(rf_err_name((enum rf_err)e)) + 2;

		if (failure_class(st, e) && n > w)
			w = n;
	}
	return w + 2;
}

void summary_print(FILE *f, const struct summary *sm,
		   const struct sched_stats *st, uint64_t elapsed_ms)
{
	int w = label_width(st);
	char hb[32];

	if (sm->signo)
		fprintf(f, "ringfetchd: crawl interrupted by signal %d; lines "
			"not started have no record\n", sm->signo);
	else
		fprintf(f, "ringfetchd: crawl finished\n");
	fprintf(f, "  %-*s %llu\n", w, "total", ULL(st->done));
	if (sm->already_done)
		fprintf(f, "  %-*s %llu (--resume: lines with a record from "
			"before)\n", w, "already done", ULL(sm->already_done));
	fprintf(f, "  %-*s %llu\n", w, "ok", ULL(st->ok));
	if (sm->not_modified)
		fprintf(f, "    %-*s %llu\n", w - 2, "not modified",
			ULL(sm->not_modified));
	fprintf(f, "  %-*s %llu\n", w, "failed", ULL(summary_failed(sm, st)));
	for (int e = 1; e < RF_ERR_COUNT; e++)
		if (failure_class(st, e))
			fprintf(f, "    %-*s %llu\n", w - 2,
				rf_err_name((enum rf_err)e),
				ULL(st->failed_by[e]));
	if (sm->duplicates)
		fprintf(f, "  %-*s %llu\n", w, "duplicates",
			ULL(sm->duplicates));
	if (sm->signo || sm->cancelled) {
		fprintf(f, "  %-*s %llu\n", w, "cancelled", ULL(sm->cancelled));
		fprintf(f, "  %-*s %llu\n", w, "not started",
			ULL(sm->not_started));
	}
	if (sm->parked_peak)
		fprintf(f, "  %-*s %llu (lines on disk at once: their host "
			"held its share)\n", w, "parked peak",
			ULL(sm->parked_peak));
	fprintf(f, "  %-*s %llu (%llu more attempts)\n", w, "retried",
		ULL(st->retried), ULL(st->retries));
	fprintf(f, "  %-*s %llu\n", w, "redirects", ULL(st->redirects));
	fprintf(f, "  %-*s %llu (%s)\n", w, "bytes", ULL(st->bytes),
		human_bytes(st->bytes, hb, sizeof(hb)));
	fprintf(f, "  %-*s %.3f s\n", w, "elapsed",
		(double)elapsed_ms / 1000.0);
	fprintf(f, "  %-*s %.1f\n", w, "requests/s",
		rate(sm, st, elapsed_ms));
	fprintf(f, "  %-*s %.4f\n", w, "success ratio", ratio(sm, st));
	print_hosts(f, sm);
	if (sm->n_parked_top)
		fprintf(f, "  most parked hosts\n");
	for (unsigned i = 0; i < sm->n_parked_top; i++)
		fprintf(f, "    %-32s %llu\n", sm->parked_top[i].name,
			ULL(sm->parked_top[i].parked));
}

static void json_failed_by(struct buf *b, const struct sched_stats *st)
{
	bool first = true;

	buf_puts(b, "\"failed_by_class\":{");
	for (int e = 1; e < RF_ERR_COUNT; e++) {
		if (!failure_class(st, e))
			continue;
		if (!first)
			buf_putc(b, ',');
		first = false;
		json_put_str(b, rf_err_name((enum rf_err)e));
		buf_printf(b, ":%llu", ULL(st->failed_by[e]));
	}
	buf_puts(b, "},");
}

static void json_hosts(struct buf *b, const struct summary *sm)
{
	unsigned top[SUMMARY_TOP], n = top_hosts(sm, top);

	buf_puts(b, "\"top_failing_hosts\":[");
	for (unsigned i = 0; i < n; i++) {
		buf_puts(b, i ? ",{\"host\":" : "{\"host\":");
		json_put_str(b, sm->hosts[top[i]].name);
		buf_printf(b, ",\"failed\":%llu}",
			   ULL(sm->hosts[top[i]].failed));
	}
	buf_printf(b, "],\"top_failing_hosts_exact\":%s",
		   sm->approximate ? "false" : "true");
}

/* The file was opened at the crawl's start (so a bad path is found before
 * anything is fetched) and may hold an older summary: replace it all. */
static int write_file(int fd, const struct buf *b)
{
	size_t off = 0;

	if (ftruncate(fd, 0) < 0 && errno != EINVAL)
		return -errno;	/* EINVAL: not a regular file (a pipe) */
	while (off < b->len) {
		ssize_t n = pwrite(fd, b->p + off, b->len - off, (off_t)off);

		if (n < 0 && errno == ESPIPE)
			n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

int summary_write_json(int fd, const struct summary *sm,
		       const struct sched_stats *st, uint64_t elapsed_ms)
{
	struct buf b;
	int rc;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "{\"total\":%llu,\"ok\":%llu,\"failed\":%llu,"
		   "\"cancelled\":%llu,\"not_started\":%llu,"
		   "\"not_modified\":%llu,\"duplicates\":%llu,"
		   "\"interrupted\":%s,", ULL(st->done),
		   ULL(st->ok), ULL(summary_failed(sm, st)), ULL(sm->cancelled),
		   ULL(sm->not_started), ULL(sm->not_modified),
		   ULL(sm->duplicates), sm->signo ? "true" : "false");
	if (sm->signo)
		buf_printf(&b, "\"signal\":%d,", sm->signo);
	json_failed_by(&b, st);
	buf_printf(&b,
		   "\"retried\":%llu,\"retries\":%llu,\"redirects\":%llu,"
		   "\"bytes\":%llu,\"elapsed_s\":%.3f,\"requests_per_s\":%.1f,"
		   "\"success_ratio\":%.4f,",
		   ULL(st->retried), ULL(st->retries), ULL(st->redirects),
		   ULL(st->bytes), (double)elapsed_ms / 1000.0,
		   rate(sm, st, elapsed_ms), ratio(sm, st));
	json_hosts(&b, sm);
	buf_printf(&b, ",\"parked_peak\":%llu,\"most_parked_hosts\":[",
		   ULL(sm->parked_peak));
	for (unsigned i = 0; i < sm->n_parked_top; i++) {
		buf_puts(&b, i ? ",{\"host\":" : "{\"host\":");
		json_put_str(&b, sm->parked_top[i].name);
		buf_printf(&b, ",\"parked\":%llu}",
			   ULL(sm->parked_top[i].parked));
	}
	buf_putc(&b, ']');
	if (sm && sm->already_done)
		buf_printf(&b, ",\"already_done\":%llu", ULL(sm->already_done));
	buf_puts(&b, "}\n");
	rc = write_file(fd, &b);
	buf_fini(&b);
	return rc;
}
