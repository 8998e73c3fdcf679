/* Body storage: spool, then rename (files) or archive (WARC). Spool files
 * are DIR/bodies/.tmp/PID-N.part (or DIR/warc/.tmp/): on the same file
 * system as their destination, so the final rename is atomic and a reader
 * never sees a body file that is not whole. */
#include "output/bodies.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "config/config.h"
#include "engine/job.h"
#include "engine/sched.h"
#include "base/err.h"
#include "base/log.h"
#include "event/loop.h"
#include "base/sha256.h"
#include "output/warc.h"

#define BODIES_MAX_OPEN 64	/* spool files held open at once */
/* In files mode a body up to this size stays in memory until its hash is
 * known: one already stored then costs a stat() instead of a spool file
 * created, written and renamed over the old one (inode churn that made
 * storing 4x slower than not). Bounded by the requests in flight. */
#define BODIES_MEM (32 * 1024)

struct bodies {
	enum config_bodies mode;	/* FILES or WARC */
	char *dir;			/* owned: the output directory */
	char *tmpdir;			/* owned: where spool files go */
	struct warc *warc;		/* owned, WARC mode only */
	/* The three below are touched by sinks on worker threads while the
	 * main thread commits others: only through __atomic. The rest of
	 * the store is read-only once bodies_new() returns. */
	unsigned n_open;		/* spool fds held, about BODIES_MAX_OPEN
					 * at most (several threads may each
					 * be one over for a moment) */
	uint64_t seq;			/* next spool file number */
	bool warned;			/* a storage failure was logged */
};

struct body_sink {
	struct bodies *b;
	int fd;				/* spool fd, -1 when not held */
	bool created;			/* the spool file exists */
	bool failed;			/* nothing will be stored */
	bool fd_short;			/* failed: no descriptor left */
	uint64_t len;			/* bytes spooled */
	char *mem;			/* files mode: the body while small */
	size_t mem_len, mem_cap;
	struct sha256 sha;		/* of the spooled bytes (WARC) */
	char *tmp;			/* owned: spool path */
	size_t req_len;
	char req[];			/* the request (WARC), req_len */
};

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* Spool files a killed run left behind are garbage: remove them. */
static void clear_spool(const char *tmpdir)
{
	char path[4400];
	struct dirent *e;
	DIR *d = opendir(tmpdir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n > 5 && strcmp(e->d_name + n - 5, ".part") == 0) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir,
				 e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

struct bodies *bodies_new(const struct config *cfg, const char *dir,
			  char *err, size_t errlen)
{
	struct bodies *b = calloc(1, sizeof(*b));
	const char *sub = cfg->output.bodies == BODIES_WARC ? "warc" :
			  "bodies";
	char top[4200];
	int rc = -ENOMEM;

	snprintf(top, sizeof(top), "%s/%s", dir, sub);
	if (!b || !(b->dir = strdup(dir)) ||
	    asprintf(&b->tmpdir, "%s/.tmp", top) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	b->mode = cfg->output.bodies;
	if ((rc = mkdir_ok(dir)) < 0 || (rc = mkdir_ok(top)) < 0 ||
	    (rc = mkdir_ok(b->tmpdir)) < 0) {
		snprintf(err, errlen, "%s: cannot create directory: %s", top,
			 rf_strerror(-rc));
		goto out_free;
	}
	clear_spool(b->tmpdir);
	if (b->mode == BODIES_WARC) {
		b->warc = warc_new(cfg, top, err, errlen);
		if (!b->warc)
			goto out_free;
	}
	return b;
out_free:
	bodies_free(b);
	return NULL;
}

void bodies_free(struct bodies *b)
{
	if (!b)
		return;
	warc_free(b->warc);
	free(b->tmpdir);
	free(b->dir);
	free(b);
}

bool bodies_wants_raw(const struct bodies *b)
{
	return b->mode == BODIES_WARC;
}

struct body_sink *bodies_start(struct bodies *b, const char *req,
			       size_t len)
{
	size_t keep = b->mode == BODIES_WARC ? len : 0;
	struct body_sink *s = malloc(sizeof(*s) + keep);

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	if (asprintf(&s->tmp, "%s/%d-%llu.part", b->tmpdir, (int)getpid(),
		     (unsigned long long)__atomic_fetch_add(&b->seq, 1,
							     __ATOMIC_RELAXED))
	    < 0) {
		free(s);
		return NULL;
	}
	s->b = b;
	s->fd = -1;
	s->req_len = keep;
	memcpy(s->req, req, keep);
	if (keep)
		sha256_init(&s->sha);
	return s;
}

static void sink_close(struct body_sink *s)
{
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	__atomic_fetch_sub(&s->b->n_open, 1, __ATOMIC_RELAXED);
}

static void sink_fail(struct body_sink *s, const char *what, int err)
{
	/* EMFILE/ENFILE: ours, not the body's; the job is fetched again
	 * (bodies_commit() says so) and sched logs the shortage */
	s->fd_short = err == EMFILE || err == ENFILE;
	if (!s->fd_short && !__atomic_exchange_n(&s->b->warned, true,
						 __ATOMIC_RELAXED))
		log_warn("output.bodies: %s %s: %s; bodies that fail are not "
			 "stored (body_path null)", what, s->tmp,
			 rf_strerror(err));
	s->failed = true;
	sink_close(s);
	if (s->created)
		unlink(s->tmp);
}

static void spool(struct body_sink *s, const char *p, size_t n)
{
	int flags = O_RDWR | O_CLOEXEC | (s->created ? O_APPEND :
					  O_CREAT | O_EXCL);
	size_t done;
	int rc;

	if (s->failed)
		return;
	if (s->fd < 0) {
		s->fd = open(s->tmp, flags, 0644);
		if (s->fd < 0) {
			sink_fail(s, "cannot open", errno);
			return;
		}
		s->created = true;
		__atomic_fetch_add(&s->b->n_open, 1, __ATOMIC_RELAXED);
	}
	rc = fs_write_all(s->fd, p, n, &done);
	s->len += done;
	if (rc < 0) {
		sink_fail(s, "cannot write", -rc);
		return;
	}
	if (__atomic_load_n(&s->b->n_open, __ATOMIC_RELAXED) > BODIES_MAX_OPEN)
		sink_close(s);
}

/* Keep n more bytes in memory; false when they do not fit BODIES_MEM
 * (or memory is short), and the body goes to a spool file instead. */
static bool hold(struct body_sink *s, const char *p, size_t n)
{
	size_t need = s->mem_len + n, cap = s->mem_cap;
	char *m;

	if (s->created || need > BODIES_MEM)
		return false;
	if (need > cap) {
		cap = cap ? cap : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > BODIES_MEM)
			cap = BODIES_MEM;
		if (!(m = realloc(s->mem, cap)))
			return false;
		s->mem = m;
		s->mem_cap = cap;
	}
	memcpy(s->mem + s->mem_len, p, n);
	s->mem_len += n;
	return true;
}

/* What was held goes to the spool file first. */
static void spill_held(struct body_sink *s)
{
	char *m = s->mem;
	size_t n = s->mem_len;

	s->mem = NULL;
	s->mem_len = s->mem_cap = 0;
	if (m) {
		spool(s, m, n);
		free(m);
	}
}

void bodies_body(void *arg, const char *p, size_t n)
{
	struct body_sink *s = arg;

	if (s->failed || hold(s, p, n))
		return;
	spill_held(s);
	spool(s, p, n);
}

void bodies_raw(struct body_sink *s, const char *p, size_t n)
{
	if (s->failed)
		return;
	sha256_update(&s->sha, p, n);
	spool(s, p, n);
}

void bodies_abort(struct body_sink *s)
{
	if (!s)
		return;
	free(s->mem);
	sink_close(s);
	if (s->created)
		unlink(s->tmp);
	free(s->tmp);
	free(s);
}

/* Rename the spool to bodies/ab/cd/SHA256, making the two levels on
 * demand (a rename that finds them is the common case). A body already
 * stored under its hash is the same bytes: it is not written again. */
/* j's body_path becomes prefix + rel (owned; the old one freed). Out of
 * memory leaves it NULL: the record then says no body was kept. */
static void set_path(struct job *j, const char *prefix, const char *rel)
{
	free(j->body_path);
	if (asprintf(&j->body_path, "%s%s", prefix, rel) < 0)
		j->body_path = NULL;
}

static void commit_file(struct body_sink *s, struct job *j)
{
	struct bodies *b = s->b;
	const char *h = j->sha256;
	char rel[96], path[4400];
	struct stat st;
	int rc;

	if (s->failed || strlen(h) != 64) {
		sink_close(s);
		return;
	}
	snprintf(rel, sizeof(rel), "bodies/%.2s/%.2s/%s", h, h + 2, h);
	snprintf(path, sizeof(path), "%s/%s", b->dir, rel);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		sink_close(s);	/* bodies_abort() drops the spool, if any */
		set_path(j, "", rel);
		return;
	}
	spill_held(s);
	if (!s->created)
		spool(s, "", 0);	/* an empty body is a body too */
	sink_close(s);
	if (s->failed)
		return;
	rc = rename(s->tmp, path) < 0 ? -errno : 0;
	if (rc == -ENOENT) {
		snprintf(path, sizeof(path), "%s/bodies/%.2s", b->dir, h);
		mkdir_ok(path);
		snprintf(path, sizeof(path), "%s/bodies/%.2s/%.2s", b->dir, h,
			 h + 2);
		mkdir_ok(path);
		snprintf(path, sizeof(path), "%s/%s", b->dir, rel);
		rc = rename(s->tmp, path) < 0 ? -errno : 0;
	}
	if (rc < 0) {
		sink_fail(s, "cannot rename", -rc);
		return;
	}
	s->created = false;	/* it is the stored body now */
	set_path(j, "", rel);
}

static int unhex(const char *h, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void commit_warc(struct body_sink *s, struct job *j)
{
	uint8_t raw[32], payload[32];
	char where[96];
	struct warc_exchange x = {
		.target_uri = j->url.href,
		.ip = j->ip,
		.wall_ms = loop_wall_ms(),
		.job = j->num,
		.req = s->req,
		.req_len = s->req_len,
		.resp_len = s->len,
		.resp_sha256 = raw,
		.payload_sha256 = payload,
	};
	int rc;

	if (s->failed || (j->sha256[0] && unhex(j->sha256, payload) < 0))
		return;
	if (!j->sha256[0])
		x.payload_sha256 = NULL;	/* output.hash: none */
	if (s->fd < 0 && (s->fd = open(s->tmp, O_RDONLY | O_CLOEXEC)) >= 0)
		__atomic_fetch_add(&s->b->n_open, 1, __ATOMIC_RELAXED);
	if (s->fd < 0) {
		sink_fail(s, "cannot reopen", errno);
		return;
	}
	sha256_final(&s->sha, raw);
	x.resp_fd = s->fd;
	rc = warc_write(s->b->warc, &x, where, sizeof(where));
	if (rc < 0) {
		sink_fail(s, "cannot archive", -rc);
		return;
	}
	set_path(j, "warc/", where);
}

int bodies_commit(struct body_sink *s, struct job *j)
{
	int rc;

	free(j->body_path);
	j->body_path = NULL;
	if (s->b->mode == BODIES_WARC)
		commit_warc(s, j);
	else
		commit_file(s, j);
	rc = s->fd_short ? -EMFILE : 0;
	bodies_abort(s);
	return rc;
}

/* bodies_raw for a sink the caller holds as void *. */
static void raw_piece(void *arg, const char *p, size_t n)
{
	bodies_raw(arg, p, n);
}

const struct sched_body_ops bodies_sched_ops = {
	.start = bodies_start,
	.wants_raw = bodies_wants_raw,
	.body = bodies_body,
	.raw = raw_piece,
	.commit = bodies_commit,
	.abort = bodies_abort,
};
