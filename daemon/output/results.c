/* JSONL result records. Records are appended to a buffer and written in
 * 64 KiB batches of whole lines, so a reader never sees half a record, and
 * the write cost is amortised over ~150 records.
 *
 * Every write is a span of whole lines; when one fails part-way the file is
 * cut back to where the span began, so the file holds whole lines only and
 * the span stays buffered for the retry. Rotation happens between spans:
 * a span never crosses output.rotate_size unless one record alone does.
 *
 * Rotated files go to rotated.c's helper thread, which compresses and
 * prunes them; results_close() joins it. */
#include "output/results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "base/fsutil.h"
#include "engine/job.h"
#include "base/json.h"
#include "base/log.h"
#include "event/loop.h"
#include "output/rotated.h"

#define RESULTS_BATCH (64 * 1024)
#define RESULTS_MAX (64 * 1024 * 1024)	/* buffered while writes fail */
#define RESULTS_RETRY_MS 1000		/* retry period while blocked */

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
	json_put_str(b, j->tls_version ? j->tls_version : "");
	buf_puts(b, ",\"cipher\":");
	json_put_str(b, j->tls_cipher ? j->tls_cipher : "");
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
	json_put_strn(b, j->url_text, j->url_len);
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
	put_key(b, "wire_bytes");
	json_put_u64(b, j->wire_bytes);
	put_str_field(b, "content_encoding", j->content_encoding);
	put_str_field(b, "sha256", j->sha256);
	put_str_field(b, "etag", j->etag);
	put_str_field(b, "last_modified", j->last_modified);
	put_str_field(b, "ip", j->ip);
	put_tls(b, j);
	put_timings(b, j);
	put_str_field(b, "body_path", j->body_path);
	put_key(b, "duplicate_of");
	if (j->duplicate_of)
		json_put_u64(b, j->duplicate_of);
	else
		json_put_null(b);
	if (j->source) {
		put_key(b, "source");
		json_put_str(b, j->source);
	}
	if (buf_puts(b, "}\n") < 0) {
		b->len = start;		/* never leave half a record */
		return -ENOBUFS;
	}
	return 0;
}

/* ---- durability ------------------------------------------------------ */

static size_t count_lines(const char *p, size_t n)
{
	size_t lines = 0;
	const char *nl, *end = p + n;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p = nl + 1;
	}
	return lines;
}

static void tell_durable(struct results *r, uint64_t n)
{
	if (n <= r->synced)
		return;
	r->synced = n;
	if (r->durable)
		r->durable(r->owner, n);
}

static bool sync_batch(const struct results *r)
{
	return !r->cfg || r->cfg->output.sync == SYNC_BATCH;
}

static void on_sync_timer(struct timer *t);

/* Records wait for their sync: have one run within output.sync_interval
 * of the last one's start. */
static void sync_arm(struct results *r)
{
	uint64_t at;

	if (!r->loop || !sync_batch(r) || r->sync_busy ||
	    timer_armed(&r->t_sync) || r->records <= r->synced)
		return;
	at = r->sync_last_ms + (r->cfg ? r->cfg->output.sync_interval_ms : 200);
	if (at < loop_now_ms(r->loop))
		at = loop_now_ms(r->loop);
	loop_timer_arm(r->loop, &r->t_sync, at, on_sync_timer);
}

static void on_sync(struct io_op *op, int res, unsigned flags)
{
	struct results *r = container_of(op, struct results, op_sync);

	(void)flags;
	r->sync_busy = false;
	close(r->sync_fd);
	r->sync_fd = -1;
	if (res < 0) {
		if (!r->sync_err)
			log_error("results: fdatasync of %s failed: %s; done "
				  "marks wait, tried again every %llu ms",
				  r->path, strerror(-res), (unsigned long long)
				  r->cfg->output.sync_interval_ms);
		r->sync_err = res;
	} else {
		if (r->sync_err)
			log_info("results: %s syncs again", r->path);
		r->sync_err = 0;
		tell_durable(r, r->sync_target);
	}
	sync_arm(r);
}

/* Through the ring, on a dup of the fd: a rotation may close r->fd while
 * the sync is in flight. */
static void sync_start(struct results *r)
{
	struct io_uring_sqe *sqe;

	r->sync_fd = dup(r->fd);
	if (r->sync_fd < 0) {
		/* out of descriptors: sync in place, blocking, this once */
		if (fdatasync(r->fd) == 0)
			tell_durable(r, r->written);
		return;
	}
	r->sync_busy = true;
	r->sync_target = r->written;
	r->sync_last_ms = loop_now_ms(r->loop);
	sqe = loop_sqe(r->loop, &r->op_sync);
	io_uring_prep_fsync(sqe, r->sync_fd, IORING_FSYNC_DATASYNC);
}

static int flush_now(struct results *r);

static void on_sync_timer(struct timer *t)
{
	struct results *r = container_of(t, struct results, t_sync);

	if (!r->blocked)
		flush_now(r);
	if (r->written > r->synced && !r->sync_busy)
		sync_start(r);
	else if (!r->sync_busy)	/* blocked: nothing written to sync */
		loop_timer_arm(r->loop, &r->t_sync, loop_now_ms(r->loop) +
			       r->cfg->output.sync_interval_ms, on_sync_timer);
}

/* Blocking: every written record durable now (before a rename). */
static int catch_up(struct results *r)
{
	if (r->written <= r->synced)
		return 0;
	if (sync_batch(r) && fdatasync(r->fd) < 0) {
		log_error("results: fdatasync of %s failed: %s", r->path,
			  strerror(errno));
		return -errno;
	}
	tell_durable(r, r->written);
	return 0;
}

int results_sync_now(struct results *r)
{
	int rc = results_flush(r);

	if (rc < 0)
		return rc;
	return catch_up(r);
}

bool results_idle(const struct results *r)
{
	return !r->sync_busy;
}

bool results_line_job(const char *p, size_t n, uint64_t *num)
{
	static const char key[] = ",\"job\":";
	const char *k = memmem(p, n < 64 ? n : 64, key, sizeof(key) - 1);
	const char *end = p + n;
	uint64_t v = 0;

	if (n < 2 || p[0] != '{' || !k)
		return false;
	k += sizeof(key) - 1;
	if (k >= end || *k < '1' || *k > '9')
		return false;
	for (; k < end && *k >= '0' && *k <= '9'; k++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*k - '0');
	}
	if (k >= end || (*k != ',' && *k != '}'))
		return false;
	*num = v;
	return true;
}

/* ---- the log file ---------------------------------------------------- */

/* A crash or power cut can leave the file ending in part of a record:
 * cut it back to the last newline, so the next record starts a line of
 * its own and a reader never takes half a record for one. */
static uint64_t cut_torn_tail(int fd, const char *path, uint64_t size)
{
	char tail[4096];
	uint64_t end = size;

	while (end > 0) {
		size_t n = end < sizeof(tail) ? (size_t)end : sizeof(tail);
		ssize_t r = pread(fd, tail, n, (off_t)(end - n));
		const char *nl;

		if (r != (ssize_t)n)
			return size;	/* unreadable: leave it alone */
		nl = memrchr(tail, '\n', n);
		if (nl) {
			end = end - n + (uint64_t)(nl - tail) + 1;
			break;
		}
		end -= n;
	}
	if (end == size)
		return size;
	log_warn("results: %s ends in a torn record (%llu bytes); cut off",
		 path, (unsigned long long)(size - end));
	if (ftruncate(fd, (off_t)end) < 0) {
		log_error("results: %s: cannot cut the torn record: %s", path,
			  strerror(errno));
		return size;
	}
	return end;
}

static int open_log(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	*size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (*size)
		*size = cut_torn_tail(fd, path, *size);
	return fd;
}

static void on_rotate_timer(struct timer *t);
static void on_retry_timer(struct timer *t);

static void arm_interval(struct results *r)
{
	uint64_t ms = r->cfg ? r->cfg->output.rotate_interval_ms : 0;

	r->opened_ms = r->loop ? loop_now_ms(r->loop) : 0;
	if (!r->loop)
		return;
	if (ms)
		loop_timer_arm(r->loop, &r->t_rotate, r->opened_ms + ms,
			       on_rotate_timer);
	else
		loop_timer_cancel(r->loop, &r->t_rotate);
}

int results_open(struct results *r, struct loop *l, const struct config *cfg,
		 const char *dir, char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->sync_fd = -1;
	r->ts_sec = -1;
	r->loop = l;
	r->op_sync.done = on_sync;
	r->cfg = cfg;
	buf_init(&r->out, RESULTS_MAX);
	buf_init(&r->last, 1 << 20);
	rc = fs_mkdir_p(dir);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create directory: %s", dir,
			 strerror(-rc));
		return rc;
	}
	r->dir = strdup(dir);
	if (!r->dir || asprintf(&r->path, "%s/results.jsonl", dir) < 0) {
		free(r->dir);
		r->dir = NULL;
		r->path = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->fd = open_log(r->path, &r->size);
	if (r->fd < 0) {
		rc = r->fd;
		snprintf(err, errlen, "%s: %s", r->path, strerror(-rc));
		free(r->path);
		free(r->dir);
		r->path = r->dir = NULL;
		return rc;
	}
	arm_interval(r);
	return 0;
}

/* Give the open file a free rotated name: renameat2 with RENAME_NOREPLACE
 * refuses to overwrite, so a name taken by another process (or a rotation
 * earlier in the same second) moves on to the next -N. */
static int rotate_rename(struct results *r, char *dst, size_t cap)
{
	char stamp[20], alt[4300];
	time_t now = (time_t)(loop_wall_ms() / 1000);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (strcmp(stamp, r->last_stamp)) {
		memcpy(r->last_stamp, stamp, sizeof(stamp));
		r->last_seq = 0;
	} else {
		r->last_seq++;
	}
	for (int tries = 0; tries < 10000; tries++, r->last_seq++) {
		if (r->last_seq)
			snprintf(dst, cap, "%s/results-%s-%u.jsonl", r->dir,
				 stamp, r->last_seq);
		else
			snprintf(dst, cap, "%s/results-%s.jsonl", r->dir,
				 stamp);
		snprintf(alt, sizeof(alt), "%s.gz", dst);
		if (access(alt, F_OK) == 0)
			continue;
		snprintf(alt, sizeof(alt), "%s.zst", dst);
		if (access(alt, F_OK) == 0)
			continue;
		if (renameat2(AT_FDCWD, r->path, AT_FDCWD, dst,
			      RENAME_NOREPLACE) == 0)
			return 0;
		/* no RENAME_NOREPLACE on this file system: link refuses too */
		if (errno == EINVAL) {
			if (link(r->path, dst) == 0)
				return unlink(r->path) < 0 ? -errno : 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Close the current file under a rotated name and start a new one. On
 * failure the current file stays open (under its old name). */
static int rotate(struct results *r)
{
	char dst[4200];
	uint64_t size;
	int rc, fd;

	if (catch_up(r) < 0)
		return -EAGAIN;
	if (r->may_rotate && !r->may_rotate(r->owner))
		return -EAGAIN;
	rc = rotate_rename(r, dst, sizeof(dst));
	if (rc < 0) {
		if (!r->rotate_failed)
			log_error("results: cannot rotate %s: %s; writing on",
				  r->path, strerror(-rc));
		r->rotate_failed = true;
		return rc;
	}
	fd = open_log(r->path, &size);
	if (fd < 0) {
		if (!r->rotate_failed)
			log_error("results: cannot start a new %s: %s",
				  r->path, strerror(-fd));
		r->rotate_failed = true;
		if (rename(dst, r->path) < 0)
			log_error("results: records go on into %s", dst);
		return fd;
	}
	r->rotate_failed = false;
	close(r->fd);
	r->fd = fd;
	r->size = size;
	arm_interval(r);
	rotated_push(&r->worker, r->dir, dst, r->cfg->output.compress,
		     r->cfg->output.rotate_keep);
	return 0;
}

/* Bytes at the front of the buffer to write now: whole lines that keep the
 * file within rotate_size; 0 when the file must rotate first. */
static size_t fit(const struct results *r)
{
	uint64_t lim = r->cfg ? r->cfg->output.rotate_size : 0;
	size_t room;
	const char *nl;

	if (!lim || r->size + r->out.len <= lim)
		return r->out.len;
	room = lim > r->size ? (size_t)(lim - r->size) : 0;
	if (room > r->out.len)
		room = r->out.len;
	nl = room ? memrchr(r->out.p, '\n', room) : NULL;
	if (nl)
		return (size_t)(nl - r->out.p) + 1;
	if (r->size)
		return 0;
	/* one record longer than rotate_size gets a file of its own */
	nl = memchr(r->out.p, '\n', r->out.len);
	return nl ? (size_t)(nl - r->out.p) + 1 : r->out.len;
}

/* Write len bytes of whole lines, or nothing: a partial write is cut off
 * again, so no half record is ever left in the file. */
static int write_span(struct results *r, const char *p, size_t len)
{
	size_t off;
	int rc = fs_write_all(r->fd, p, len, &off);

	if (rc < 0) {
		if (off && ftruncate(r->fd, (off_t)r->size) < 0)
			log_error("results: %s: cannot cut a partial write back: %s",
				  r->path, strerror(errno));
		return rc;
	}
	r->size += len;
	return 0;
}

static void block(struct results *r, int rc)
{
	if (!r->blocked)
		log_error("results: writing %s failed: %s; new fetches wait, "
			  "%zu bytes of records are kept and retried every %d ms",
			  r->path, strerror(-rc), r->out.len, RESULTS_RETRY_MS);
	r->blocked = rc;
	if (r->loop)
		loop_timer_arm(r->loop, &r->t_retry,
			       loop_now_ms(r->loop) + RESULTS_RETRY_MS,
			       on_retry_timer);
}

static int flush_now(struct results *r)
{
	size_t n;
	int rc;

	while (r->out.len) {
		n = fit(r);
		if (n == 0) {
			rc = rotate(r);
			if (rc == 0)
				continue;
			if (rc == -EAGAIN)
				break;	/* the next flush tries again */
			n = r->out.len;
		}
		rc = write_span(r, r->out.p, n);
		if (rc < 0) {
			block(r, rc);
			return rc;
		}
		r->written += count_lines(r->out.p, n);
		buf_consume(&r->out, n);
	}
	/* Records pile up while a write fails or a rotation waits; once
	 * out, the room they took goes back (a batch keeps its size). */
	buf_shrink(&r->out, 2 * RESULTS_BATCH);
	if (r->cfg && r->cfg->output.sync == SYNC_NONE)
		tell_durable(r, r->written);
	if (r->blocked) {
		log_info("results: %s is writable again; fetches resume",
			 r->path);
		r->blocked = 0;
		if (r->loop)
			loop_timer_cancel(r->loop, &r->t_retry);
	}
	return 0;
}

static void on_retry_timer(struct timer *t)
{
	struct results *r = container_of(t, struct results, t_retry);

	flush_now(r);
}

/* output.rotate_interval: rotate what was written since the last one. */
static void on_rotate_timer(struct timer *t)
{
	struct results *r = container_of(t, struct results, t_rotate);

	int rc = -EAGAIN;

	if (!r->blocked && flush_now(r) == 0 && r->size > 0)
		rc = rotate(r);
	if (rc == 0)
		return;
	if (rc == -EAGAIN && r->loop)	/* the owner's marks are on the way */
		loop_timer_arm(r->loop, &r->t_rotate, loop_now_ms(r->loop) + 10,
			       on_rotate_timer);
	else
		arm_interval(r);
}

int results_flush(struct results *r)
{
	if (r->blocked && r->loop)
		return r->blocked;
	return flush_now(r);
}

bool results_blocked(const struct results *r)
{
	return r->blocked != 0;
}

int results_write(struct results *r, const struct job *j)
{
	size_t at = r->out.len;
	int rc = results_format(&r->out, j, loop_wall_ms(), r);

	r->last_lost = rc < 0;
	if (r->keep_last) {
		buf_reset(&r->last);
		if (rc == 0 && buf_append(&r->last, r->out.p + at,
					  r->out.len - at) < 0)
			buf_reset(&r->last);
	}
	if (rc < 0) {
		if (!r->err)
			log_error("results: record of job %llu lost: %s",
				  (unsigned long long)j->num, strerror(-rc));
		r->err = r->err ? r->err : rc;
		return rc;
	}
	r->records++;
	sync_arm(r);
	if (r->out.len >= RESULTS_BATCH)
		return results_flush(r);
	return 0;
}

int results_reopen(struct results *r, const char *dir, char *err,
		   size_t errlen)
{
	char *ndir = NULL, *npath = NULL;
	uint64_t size;
	int rc, fd;

	rc = fs_mkdir_p(dir);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create directory: %s", dir,
			 strerror(-rc));
		return rc;
	}
	ndir = strdup(dir);
	if (!ndir || asprintf(&npath, "%s/results.jsonl", dir) < 0) {
		free(ndir);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fd = open_log(npath, &size);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", npath, strerror(-fd));
		free(ndir);
		free(npath);
		return fd;
	}
	/* what the old file can take goes there; the rest to the new one */
	if (!r->blocked)
		flush_now(r);
	/* an external rotation renamed it: its records must be durable and
	 * their owner's marks asked for before records go elsewhere (a busy
	 * journal cannot be waited for here: rare, and logged) */
	if (catch_up(r) < 0 || (r->may_rotate && !r->may_rotate(r->owner)))
		log_warn("results: %s reopened before every record's done "
			 "mark was on the disk", r->path);
	close(r->fd);
	free(r->dir);
	free(r->path);
	r->fd = fd;
	r->dir = ndir;
	r->path = npath;
	r->size = size;
	arm_interval(r);
	return 0;
}

int results_close(struct results *r)
{
	if (r->fd >= 0) {
		flush_now(r);
		catch_up(r);
		if (r->out.len && !r->err)
			r->err = r->blocked ? r->blocked : -EIO;
		if (r->out.len)
			log_error("results: %zu bytes of records could not be written to %s",
				  r->out.len, r->path);
		if (close(r->fd) < 0 && !r->err)
			r->err = -errno;
		r->fd = -1;
	}
	if (r->loop) {
		loop_timer_cancel(r->loop, &r->t_retry);
		loop_timer_cancel(r->loop, &r->t_rotate);
		loop_timer_cancel(r->loop, &r->t_sync);
	}
	rotated_stop(r->worker);
	r->worker = NULL;
	buf_fini(&r->out);
	buf_fini(&r->last);
	free(r->path);
	free(r->dir);
	r->path = r->dir = NULL;
	return r->err;
}
