/* JSONL result records. Records are appended to a buffer and written in
 * 64 KiB batches of whole lines, so a reader never sees half a record from
 * a healthy daemon, and the write cost is amortised over ~150 records. */
#include "results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "json.h"
#include "loop.h"

#define RESULTS_BATCH (64 * 1024)
#define RESULTS_MAX (64 * 1024 * 1024)	/* buffered while writes fail */

static int mkdir_p(const char *dir)
{
	char tmp[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int results_open(struct results *r, const char *dir, char *err,
		 size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->ts_sec = -1;
	buf_init(&r->out, RESULTS_MAX);
	rc = mkdir_p(dir);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create directory: %s", dir,
			 strerror(-rc));
		return rc;
	}
	if (asprintf(&r->path, "%s/results.jsonl", dir) < 0)
		return -ENOMEM;
	r->fd = open(r->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (r->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", r->path, strerror(errno));
		free(r->path);
		r->path = NULL;
		return rc;
	}
	return 0;
}

static void put_ts(struct buf *b, uint64_t wall_ms, struct results *cache)
{
	int64_t sec = (int64_t)(wall_ms / 1000);
	char tail[7] = { '.', 0, 0, 0, 'Z', '"', 0 };
	unsigned ms = (unsigned)(wall_ms % 1000);

	if (sec != cache->ts_sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(cache->ts_text, sizeof(cache->ts_text),
			 "%Y-%m-%dT%H:%M:%S", &tm);
		cache->ts_sec = sec;
	}
	buf_puts(b, "{\"ts\":\"");
	buf_puts(b, cache->ts_text);
	tail[1] = (char)('0' + ms / 100);
	tail[2] = (char)('0' + ms / 10 % 10);
	tail[3] = (char)('0' + ms % 10);
	buf_append(b, tail, 6);
}

static void put_key(struct buf *b, const char *key)
{
	buf_putc(b, ',');
	buf_putc(b, '"');
	buf_puts(b, key);
	buf_puts(b, "\":");
}

static void put_str_field(struct buf *b, const char *key, const char *v)
{
	put_key(b, key);
	if (v && *v)
		json_put_str(b, v);
	else
		json_put_null(b);
}

/* {"version","cipher","resumed"} once a handshake completed, else null. */
static void put_tls(struct buf *b, const struct job *j)
{
	put_key(b, "tls");
	if (!j->tls_used) {
		json_put_null(b);
		return;
	}
	buf_puts(b, "{\"version\":");
	json_put_str(b, j->tls_version);
	buf_puts(b, ",\"cipher\":");
	json_put_str(b, j->tls_cipher);
	buf_puts(b, ",\"resumed\":");
	json_put_bool(b, j->tls_resumed);
	buf_putc(b, '}');
}

static void put_timings(struct buf *b, const struct job *j)
{
	uint64_t queued = j->t_first_ms ? j->t_first_ms - j->t_accept_ms : 0;

	put_key(b, "timings_ms");
	buf_puts(b, "{\"queued\":");
	json_put_u64(b, queued);
	buf_puts(b, ",\"dns\":");
	json_put_u64(b, j->ms_dns);
	buf_puts(b, ",\"connect\":");
	json_put_u64(b, j->ms_connect);
	buf_puts(b, ",\"tls\":");
	json_put_u64(b, j->ms_tls);
	buf_puts(b, ",\"ttfb\":");
	json_put_u64(b, j->ms_ttfb);
	buf_puts(b, ",\"total\":");
	json_put_u64(b, j->ms_total);
	buf_putc(b, '}');
}

int results_format(struct buf *b, const struct job *j, uint64_t wall_ms,
		   struct results *cache)
{
	size_t start = b->len;
	bool ok = j->err == RF_OK;

	put_ts(b, wall_ms, cache);
	put_key(b, "job");
	json_put_u64(b, j->num);
	put_key(b, "id");
	json_put_str_or_null(b, j->id);
	put_key(b, "url");
	json_put_str(b, j->url_text);
	put_str_field(b, "final_url", j->url.href);
	put_key(b, "ok");
	json_put_bool(b, ok);
	put_key(b, "status");
	if (j->status)
		json_put_i64(b, j->status);
	else
		json_put_null(b);
	put_str_field(b, "error", ok ? NULL : rf_err_name(j->err));
	put_str_field(b, "error_detail", ok ? NULL : j->detail);
	put_key(b, "attempts");
	json_put_u64(b, j->attempts);
	put_key(b, "redirects");
	json_put_u64(b, j->redirects);
	put_key(b, "bytes");
	json_put_u64(b, j->bytes);
	put_str_field(b, "content_type", j->content_type);
	put_str_field(b, "sha256", j->sha256);
	put_str_field(b, "ip", j->ip);
	put_tls(b, j);
	put_timings(b, j);
	put_key(b, "body_path");
	json_put_null(b);
	if (buf_puts(b, "}\n") < 0) {
		b->len = start;		/* never leave half a record */
		return -ENOBUFS;
	}
	return 0;
}

int results_flush(struct results *r)
{
	while (r->out.len) {
		ssize_t n = write(r->fd, r->out.p, r->out.len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (!r->err)
				r->err = -errno;
			return -errno;
		}
		buf_consume(&r->out, (size_t)n);
	}
	return 0;
}

int results_write(struct results *r, const struct job *j)
{
	int rc = results_format(&r->out, j, loop_wall_ms(), r);

	if (rc < 0)
		return rc;
	r->records++;
	if (r->out.len >= RESULTS_BATCH)
		return results_flush(r);
	return 0;
}

int results_close(struct results *r)
{
	int rc = 0;

	if (r->fd >= 0) {
		results_flush(r);
		if (close(r->fd) < 0 && !r->err)
			r->err = -errno;
		r->fd = -1;
	}
	rc = r->err;
	buf_fini(&r->out);
	free(r->path);
	r->path = NULL;
	return rc;
}
