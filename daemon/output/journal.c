/* Group commit: appends collect in pend during a turn; the hook swaps pend
 * into wire and submits one write at the file's end, linked to an
 * fdatasync, and the waiters whose lines the wire covered are told once
 * the sync completes. One batch is in flight at a time; what is appended
 * meanwhile rides the next one. */
#include "output/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"

/* What pend and wire keep between batches: a burst of submits (while a
 * sync is slow) grows them up to JOURNAL_PEND_MAX; kept, that would be
 * the daemon's size from then on. */
#define JOURNAL_KEEP (64u << 10)

static void submit(struct journal *jr);
static void on_retry(struct timer *t);

static void tell_waiters(struct journal *jr, int err)
{
	struct list_node *n;

	while ((n = list_first(&jr->waits))) {
		struct journal_wait *w = list_entry(n, struct journal_wait,
						    node);

		if (!err && w->seq > jr->durable)
			break;
		list_remove(n);
		w->durable(w, err);
	}
}

static void finish_close(struct journal *jr);

static void failed(struct journal *jr, int err, const char *what)
{
	if (jr->closing) {
		finish_close(jr);	/* one blocking try, then give up */
		return;
	}
	if (!jr->error)
		log_error("%s: %s failed: %s; accepted work waits and the "
			  "write is tried again every %u ms", jr->path, what,
			  strerror(-err), JOURNAL_RETRY_MS);
	jr->error = err;
	loop_timer_arm(jr->loop, &jr->t_retry,
		       loop_now_ms(jr->loop) + JOURNAL_RETRY_MS, on_retry);
}

static void batch_done(struct journal *jr)
{
	jr->busy = false;
	if (jr->error)
		log_info("%s: writing again", jr->path);
	jr->error = 0;
	jr->durable = jr->wire_seq;
	buf_reset(&jr->wire);
	buf_shrink(&jr->wire, JOURNAL_KEEP);
	jr->wire_off = 0;
	tell_waiters(jr, 0);
	if (jr->closing) {
		finish_close(jr);
		return;
	}
	/* Lines appended while this batch was out go at once: their
	 * waiters have waited a whole sync already. */
	if (jr->pend.len)
		submit(jr);
}

static void on_sync(struct io_op *op, int res, unsigned flags)
{
	struct journal *jr = container_of(op, struct journal, op_sync);

	(void)flags;
	jr->syncs++;
	if (res == -ECANCELED && !jr->write_err) {
		/* a short write cut the link: write the rest now */
		jr->busy = false;
		submit(jr);
		return;
	}
	if (res < 0) {
		/* The write may sit in the page cache only: report nothing
		 * durable, try again later. */
		jr->busy = false;
		if (jr->write_err)
			failed(jr, jr->write_err, "write");
		else
			failed(jr, res, "fdatasync");
		return;
	}
	batch_done(jr);
}

static void on_write(struct io_op *op, int res, unsigned flags)
{
	struct journal *jr = container_of(op, struct journal, op_write);

	(void)flags;
	jr->writes++;
	if (res > 0) {
		jr->wire_off += (size_t)res;
		jr->size += (uint64_t)res;
	}
	jr->write_err = res < 0 ? res : 0;
	if (jr->sync)
		return;		/* on_sync ends the batch, or retries */
	jr->busy = false;
	if (res < 0)
		failed(jr, res, "write");
	else if (jr->wire_off < jr->wire.len)
		submit(jr);	/* a short write: the rest */
	else
		batch_done(jr);
}

/* Hand wire[wire_off..] to the ring: a write at the end of the file and,
 * with sync, an fdatasync that runs only if the write completed whole. */
static void submit_wire(struct journal *jr)
{
	struct io_uring_sqe *sqe;

	jr->busy = true;
	sqe = loop_sqe(jr->loop, &jr->op_write);
	io_uring_prep_write(sqe, jr->fd, jr->wire.p + jr->wire_off,
			    (unsigned)(jr->wire.len - jr->wire_off), jr->size);
	if (!jr->sync)
		return;
	sqe->flags |= IOSQE_IO_LINK;
	sqe = loop_sqe(jr->loop, &jr->op_sync);
	io_uring_prep_fsync(sqe, jr->fd, IORING_FSYNC_DATASYNC);
}

static void submit(struct journal *jr)
{
	struct buf t;

	if (jr->busy || jr->fd < 0)
		return;
	if (jr->closing) {
		finish_close(jr);
		return;
	}
	if (jr->wire.len == jr->wire_off) {
		if (!jr->pend.len) {
			/* a failed sync with nothing new: sync alone */
			if (jr->durable == jr->wire_seq)
				return;
		} else {
			t = jr->wire;
			jr->wire = jr->pend;
			jr->pend = t;
			buf_reset(&jr->pend);
			jr->wire_off = 0;
			jr->wire_seq = jr->appended;
		}
	}
	submit_wire(jr);
}

static void on_retry(struct timer *t)
{
	struct journal *jr = container_of(t, struct journal, t_retry);

	submit(jr);
}

static void hook(struct loop_hook *h)
{
	struct journal *jr = container_of(h, struct journal, hook);

	if (!jr->error && (jr->pend.len || jr->wire_off < jr->wire.len))
		submit(jr);
}

int journal_open(struct journal *jr, struct loop *l, const char *path,
		 bool sync, char *err, size_t errlen)
{
	struct stat st;

	memset(jr, 0, sizeof(*jr));
	jr->loop = l;
	jr->sync = sync;
	list_init(&jr->waits);
	buf_init(&jr->pend, JOURNAL_PEND_MAX);
	buf_init(&jr->wire, JOURNAL_PEND_MAX);
	jr->path = strdup(path);
	jr->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (!jr->path || jr->fd < 0 || fstat(jr->fd, &st) < 0) {
		int rc = jr->path ? -errno : -ENOMEM;

		snprintf(err, errlen, "%s: cannot open the journal: %s", path,
			 strerror(-rc));
		if (jr->fd >= 0)
			close(jr->fd);
		free(jr->path);
		buf_fini(&jr->pend);
		buf_fini(&jr->wire);
		return rc;
	}
	jr->size = (uint64_t)st.st_size;
	jr->op_write.done = on_write;
	jr->op_sync.done = on_sync;
	jr->t_retry.fire = on_retry;
	jr->hook.fn = hook;
	loop_add_hook(l, &jr->hook);
	return 0;
}

int64_t journal_append(struct journal *jr, const char *line, size_t n)
{
	if (jr->pend.len + n + 1 > JOURNAL_PEND_MAX)
		return -ENOBUFS;
	if (buf_append(&jr->pend, line, n) < 0 || buf_putc(&jr->pend, '\n') < 0)
		return -ENOBUFS;
	return (int64_t)++jr->appended;
}

void journal_wait(struct journal *jr, struct journal_wait *w)
{
	w->seq = jr->appended;
	if (w->seq <= jr->durable) {
		w->durable(w, 0);
		return;
	}
	list_push_back(&jr->waits, &w->node);
}

void journal_unwait(struct journal_wait *w)
{
	if (list_linked(&w->node))
		list_remove(&w->node);
}

size_t journal_pending(const struct journal *jr)
{
	return jr->pend.len + (jr->wire.len - jr->wire_off);
}

size_t journal_mem_bytes(const struct journal *jr)
{
	return jr->pend.cap + jr->wire.cap;
}

/* Blocking: the wire's rest, then pend, then one fdatasync. */
int journal_flush_now(struct journal *jr)
{
	int rc;

	if (jr->busy)
		return -EBUSY;
	rc = fs_pwrite_all(jr->fd, jr->wire.p + jr->wire_off,
			   jr->wire.len - jr->wire_off, jr->size);
	if (rc < 0)
		return rc;
	jr->size += jr->wire.len - jr->wire_off;
	jr->wire_off = jr->wire.len;
	rc = fs_pwrite_all(jr->fd, jr->pend.p, jr->pend.len, jr->size);
	if (rc < 0)
		return rc;
	jr->size += jr->pend.len;
	buf_reset(&jr->pend);
	buf_reset(&jr->wire);
	buf_shrink(&jr->pend, JOURNAL_KEEP);
	buf_shrink(&jr->wire, JOURNAL_KEEP);
	jr->wire_off = 0;
	if (jr->sync && fdatasync(jr->fd) < 0)
		return -errno;
	jr->wire_seq = jr->durable = jr->appended;
	jr->error = 0;
	tell_waiters(jr, 0);
	return 0;
}

int journal_rewrite(struct journal *jr, const char *p, size_t n)
{
	char *tmp;
	int fd, rc;

	if (jr->busy || journal_pending(jr))
		return -EBUSY;
	if (asprintf(&tmp, "%s.tmp", jr->path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = fs_pwrite_all(fd, p, n, 0);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, jr->path) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		unlink(tmp);
		goto out_free;
	}
	close(jr->fd);
	jr->fd = fd;
	jr->size = n;
	/* the rename itself reaches the disk with the directory */
	fs_sync_dir_of(jr->path);
out_free:
	free(tmp);
	return rc;
}

int journal_empty(struct journal *jr)
{
	if (jr->busy || journal_pending(jr))
		return -EBUSY;
	if (ftruncate(jr->fd, 0) < 0)
		return -errno;
	jr->size = 0;
	return 0;
}

/* The end of journal_close(), once nothing is in flight. */
static void finish_close(struct journal *jr)
{
	int rc = journal_flush_now(jr);

	if (rc < 0)
		log_error("%s: the last write failed: %s", jr->path,
			  strerror(-rc));
	tell_waiters(jr, -ECANCELED);
	close(jr->fd);
	jr->fd = -1;
	buf_fini(&jr->pend);
	buf_fini(&jr->wire);
	free(jr->path);
	jr->path = NULL;
}

void journal_close(struct journal *jr)
{
	if (jr->fd < 0 || jr->closing)
		return;
	jr->closing = true;
	loop_timer_cancel(jr->loop, &jr->t_retry);
	loop_remove_hook(jr->loop, &jr->hook);
	if (!jr->busy)
		finish_close(jr);
}

bool journal_idle(const struct journal *jr)
{
	return !jr->busy;
}

int64_t journal_read(const char *path,
		     void (*fn)(void *arg, const char *line, size_t n),
		     void *arg, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t cap = 1 << 16, len = 0;
	uint64_t done_off = 0;		/* file offset of buf[0] */
	int64_t lines = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;
		size_t start = 0;
		char *nl;

		if (len == cap) {
			/* one line fills the buffer: grow (lines are
			 * bounded by what the daemon accepts) */
			char *b = realloc(buf, cap * 2);

			if (!b) {
				lines = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			buf = b;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lines = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			if (len) {
				log_warn("%s: a torn last line (%zu bytes) is "
					 "cut off", path, len);
				if (ftruncate(fd, (off_t)done_off) < 0)
					log_warn("%s: cannot truncate: %s", path,
						 strerror(errno));
			}
			break;
		}
		len += (size_t)r;
		while ((nl = memchr(buf + start, '\n', len - start))) {
			fn(arg, buf + start, (size_t)(nl - buf - start));
			lines++;
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		done_off += start;
	}
	free(buf);
	close(fd);
	return lines;
}
