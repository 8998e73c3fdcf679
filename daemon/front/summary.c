/* End-of-crawl summary, text and JSON, from the scheduler's counters and a
 * bounded table of failing hosts. */
#include "front/summary.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

void summary_note(struct summary *sm, const struct job *j)
{
	const struct url *u = &j->url;
	struct summary_host *h;
	char name[sizeof(h->name)];
	uint32_t hash;

	if (j->err == RF_OK || !u->href || !u->host[0])
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

static double rate(const struct sched_stats *st, uint64_t elapsed_ms)
{
	return elapsed_ms ? (double)st->done * 1000.0 / (double)elapsed_ms : 0;
}

/* An empty crawl failed nothing: 1, so that scripts comparing the ratio
 * with a threshold see no failure. */
static double ratio(const struct sched_stats *st)
{
	return st->done ? (double)st->ok / (double)st->done : 1.0;
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

void summary_print(FILE *f, const struct summary *sm,
		   const struct sched_stats *st, uint64_t elapsed_ms)
{
	char hb[32];

	if (sm && sm->signo)
		fprintf(f, "ringfetchd: crawl interrupted by signal %d; URLs "
			"not yet read have no record\n", sm->signo);
	else
		fprintf(f, "ringfetchd: crawl finished\n");
	fprintf(f, "  %-15s %llu\n", "total", ULL(st->done));
	if (sm && sm->already_done)
		fprintf(f, "  %-15s %llu (--resume: lines with a record from "
			"before)\n", "already done", ULL(sm->already_done));
	fprintf(f, "  %-15s %llu\n", "ok", ULL(st->ok));
	fprintf(f, "  %-15s %llu\n", "failed", ULL(st->failed));
	for (int e = 1; e < RF_ERR_COUNT; e++)
		if (st->failed_by[e])
			fprintf(f, "    %-13s %llu\n",
				rf_err_name((enum rf_err)e),
				ULL(st->failed_by[e]));
	fprintf(f, "  %-15s %llu (%llu more attempts)\n", "retried",
		ULL(st->retried), ULL(st->retries));
	fprintf(f, "  %-15s %llu\n", "redirects", ULL(st->redirects));
	fprintf(f, "  %-15s %llu (%s)\n", "bytes", ULL(st->bytes),
		human_bytes(st->bytes, hb, sizeof(hb)));
	fprintf(f, "  %-15s %.3f s\n", "elapsed", (double)elapsed_ms / 1000.0);
	fprintf(f, "  %-15s %.1f\n", "requests/s", rate(st, elapsed_ms));
	fprintf(f, "  %-15s %.4f\n", "success ratio", ratio(st));
	if (sm)
		print_hosts(f, sm);
}

static void json_failed_by(struct buf *b, const struct sched_stats *st)
{
	bool first = true;

	buf_puts(b, "\"failed_by_class\":{");
	for (int e = 1; e < RF_ERR_COUNT; e++) {
		if (!st->failed_by[e])
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
	unsigned top[SUMMARY_TOP], n = sm ? top_hosts(sm, top) : 0;

	buf_puts(b, "\"top_failing_hosts\":[");
	for (unsigned i = 0; i < n; i++) {
		buf_puts(b, i ? ",{\"host\":" : "{\"host\":");
		json_put_str(b, sm->hosts[top[i]].name);
		buf_printf(b, ",\"failed\":%llu}",
			   ULL(sm->hosts[top[i]].failed));
	}
	buf_printf(b, "],\"top_failing_hosts_exact\":%s",
		   sm && sm->approximate ? "false" : "true");
}

static int write_file(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -errno;
	if (fwrite(b->p, 1, b->len, f) != b->len)
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	return rc;
}

int summary_write_json(const char *path, const struct summary *sm,
		       const struct sched_stats *st, uint64_t elapsed_ms)
{
	struct buf b;
	int rc;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "{\"total\":%llu,\"ok\":%llu,\"failed\":%llu,"
		   "\"interrupted\":%s,", ULL(st->done), ULL(st->ok),
		   ULL(st->failed), sm && sm->signo ? "true" : "false");
	json_failed_by(&b, st);
	buf_printf(&b,
		   "\"retried\":%llu,\"retries\":%llu,\"redirects\":%llu,"
		   "\"bytes\":%llu,\"elapsed_s\":%.3f,\"requests_per_s\":%.1f,"
		   "\"success_ratio\":%.4f,",
		   ULL(st->retried), ULL(st->retries), ULL(st->redirects),
		   ULL(st->bytes), (double)elapsed_ms / 1000.0,
		   rate(st, elapsed_ms), ratio(st));
	json_hosts(&b, sm);
	if (sm && sm->already_done)
		buf_printf(&b, ",\"already_done\":%llu", ULL(sm->already_done));
	buf_puts(&b, "}\n");
	rc = write_file(path, &b);
	buf_fini(&b);
	return rc;
}
