/* End-of-crawl summary, text and JSON, from the scheduler's counters. */
#include "summary.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"

static double rate(const struct sched_stats *st, uint64_t elapsed_ms)
{
	return elapsed_ms ? (double)st->done * 1000.0 / (double)elapsed_ms : 0;
}

static double ratio(const struct sched_stats *st)
{
	return st->done ? (double)st->ok / (double)st->done : 1.0;
}

void summary_print(FILE *f, const struct sched_stats *st, uint64_t elapsed_ms)
{
	fprintf(f, "ringfetchd: %llu total, %llu ok, %llu failed, %llu retried, "
		"%llu redirects, %llu bytes in %.3f s (%.1f requests/s, "
		"success ratio %.4f)\n",
		(unsigned long long)st->done, (unsigned long long)st->ok,
		(unsigned long long)st->failed, (unsigned long long)st->retried,
		(unsigned long long)st->redirects, (unsigned long long)st->bytes,
		(double)elapsed_ms / 1000.0, rate(st, elapsed_ms), ratio(st));
	for (int e = 1; e < RF_ERR_COUNT; e++)
		if (st->failed_by[e])
			fprintf(f, "ringfetchd:   failed %s: %llu\n",
				rf_err_name((enum rf_err)e),
				(unsigned long long)st->failed_by[e]);
}

int summary_write_json(const char *path, const struct sched_stats *st,
		       uint64_t elapsed_ms)
{
	struct buf b;
	char num[64];
	bool first = true;
	FILE *f;
	int rc = 0;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "{\"total\":%llu,\"ok\":%llu,\"failed\":%llu,"
		   "\"failed_by_class\":{", (unsigned long long)st->done,
		   (unsigned long long)st->ok, (unsigned long long)st->failed);
	for (int e = 1; e < RF_ERR_COUNT; e++) {
		if (!st->failed_by[e])
			continue;
		if (!first)
			buf_putc(&b, ',');
		first = false;
		json_put_str(&b, rf_err_name((enum rf_err)e));
		buf_printf(&b, ":%llu", (unsigned long long)st->failed_by[e]);
	}
	snprintf(num, sizeof(num), "%.3f", (double)elapsed_ms / 1000.0);
	buf_printf(&b, "},\"retried\":%llu,\"redirects\":%llu,\"bytes\":%llu,"
		   "\"elapsed_s\":%s,", (unsigned long long)st->retried,
		   (unsigned long long)st->redirects,
		   (unsigned long long)st->bytes, num);
	buf_printf(&b, "\"requests_per_s\":%.1f,\"success_ratio\":%.4f}\n",
		   rate(st, elapsed_ms), ratio(st));
	f = fopen(path, "w");
	if (!f) {
		rc = -errno;
	} else {
		if (fwrite(b.p, 1, b.len, f) != b.len)
			rc = -EIO;
		if (fclose(f) != 0 && !rc)
			rc = -errno;
	}
	buf_fini(&b);
	return rc;
}
