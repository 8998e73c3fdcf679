/* Lazy URL-file reader. One 64 KiB buffer per crawl: lines are submitted
 * while the queue has room; when it is full the reader simply stops asking
 * for more bytes, and the loop hook picks up again once jobs finish. */
#include "front/batch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/json.h"
#include "engine/job.h"
#include "engine/sched.h"
#include "front/jobspec.h"
#include "http/url.h"

#define FEED_TURN 64	/* lines parsed per loop turn */
#define FIFO_QUIET_MS 1000	/* wait this long for a FIFO before saying so */

static void on_read(struct io_op *op, int res, unsigned flags);
static void on_room(struct sched_room_wait *w);
static void feed_hook(struct loop_hook *h);

/* Block until the FIFO fd (opened O_NONBLOCK) has input or its writer has
 * come and gone. An open without O_NONBLOCK would block as well, but
 * silently: past a second, say what the start is waiting for. */
static void wait_fifo_writer(int fd, const char *name)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int timeout_ms = FIFO_QUIET_MS;

	for (;;) {
		int n = poll(&p, 1, timeout_ms);

		if (n > 0 || (n < 0 && errno != EINTR))
			return;	/* a failure shows at the first read */
		if (n == 0) {
			log_warn("%s: waiting for a writer on this FIFO",
				 name);
			timeout_ms = -1;
		}
	}
}

/* Open one URL file for blocking reads without blocking in open(2) (a
 * FIFO without a writer would). Returns the fd or -errno. */
static int open_url_file(const char *name)
{
	struct stat st;
	int fd, fl;

	if (strcmp(name, "-") == 0) {
		fd = dup(0);
		return fd < 0 ? -errno : fd;
	}
	fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		goto out_close;
	/* A directory opens fine and fails only at the first read:
	 * refuse it here, before anything is fetched. */
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto out_close;
	}
	if (S_ISFIFO(st.st_mode))
		wait_fifo_writer(fd, name);
	/* reads go through the ring and expect to wait for their bytes */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto out_close;
	return fd;
out_close:
	fl = -errno;
	close(fd);
	return fl;
}

int batch_open(struct batch *b, struct sched *s, struct loop *l,
	       char **names, size_t n, char *err, size_t errlen)
{
	memset(b, 0, offsetof(struct batch, buf));
	b->s = s;
	b->loop = l;
	b->first = 1;
	b->names = names;
	b->n = n;
	b->fds = calloc(n ? n : 1, sizeof(*b->fds));
	if (!b->fds) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int fd = open_url_file(names[i]);

		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", names[i], strerror(-fd));
			b->n = i;
			batch_close(b);
			return fd;
		}
		b->fds[i] = fd;
	}
	b->op_read.done = on_read;
	b->room.room = on_room;
	b->hook.fn = feed_hook;
	loop_add_hook(l, &b->hook);
	return 0;
}

void batch_close(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->fds[i] >= 0)
			close(b->fds[i]);
	free(b->fds);
	b->fds = NULL;
	b->n = 0;
	sched_unwait_room(&b->room);
}

void batch_stop(struct batch *b)
{
	b->done = true;
	sched_unwait_room(&b->room);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* One line (without its newline): skip blanks and comments, submit. */
/* A line that is a JSON object: url, and optionally id, headers, etag and
 * last_modified (so a result log is a URL file, and crawling it again asks
 * only for what changed). Anything else that starts with '{' is one
 * invalid_url record saying why. The job is numbered want. Returns the
 * job number, 0 on OOM. */
static uint64_t submit_json_line(struct batch *b, const char *p, size_t n,
				 uint64_t want)
{
	struct json_doc doc = { 0 };
	const struct json_val *u = NULL;
	char why[192];
	uint64_t num = 0;
	struct job *j;

	if (json_parse(p, n, &doc, why, sizeof(why)) < 0) {
		num = sched_reject(b->s, p, n, NULL, why, want);
		goto out;
	}
	if (doc.root->type == JSON_OBJECT)
		u = json_get(doc.root, "url");
	if (!u || !json_as_str(u) || strlen(u->str) != u->len) {
		num = sched_reject(b->s, p, n, NULL, "a JSON line needs \"url\" "
				   "(a string)", want);
		goto out;
	}
	if (jobspec_check(doc.root, why, sizeof(why)) < 0) {
		num = sched_reject(b->s, u->str, u->len, NULL, why, want);
		goto out;
	}
	/* a URL that does not parse, or one seen before, ends in its
	 * record at once (j NULL) */
	j = sched_submit_ex(b->s, u->str, u->len, jobspec_id(doc.root), want,
			    &num);
	if (j && jobspec_apply(j, doc.root) < 0)
		log_error("job %llu: out of memory for its headers; sent "
			  "without some", (unsigned long long)num);
out:
	json_doc_free(&doc);
	return num;
}

static void submit_line(struct batch *b, const char *p, size_t n)
{
	uint64_t i;

	while (n && is_space(*p)) {
		p++;
		n--;
	}
	while (n && is_space(p[n - 1]))
		n--;
	if (n == 0 || *p == '#')
		return;
	if (n > URL_MAX + 1)
		n = URL_MAX + 1;	/* still too long: an invalid_url record */
	i = b->index++;
	if (b->done_before && b->done_before(b->done_arg, i)) {
		b->skipped++;
		return;
	}
	if (*p == '{' ? !submit_json_line(b, p, n, b->first + i) :
	    !sched_submit_num(b->s, p, n, NULL, b->first + i)) {
		/* Nothing was accepted for this line: end the crawl as a
		 * failed read does, so no line is skipped silently. */
		log_error("%s: out of memory after %llu URLs; reading stops",
			  b->names[b->cur], (unsigned long long)b->lines);
		b->error = -ENOMEM;
		b->done = true;
		return;
	}
	b->lines++;
}

static void next_file(struct batch *b)
{
	if (b->fds[b->cur] >= 0)
		close(b->fds[b->cur]);
	b->fds[b->cur] = -1;
	b->cur++;
	b->eof = false;
	b->skip_rest = false;
	b->long_bytes = 0;
}

/* A line past BATCH_JUNK_LINE: no URL file holds one (this is a binary
 * file, or /dev/zero, which would be read for ever). Stop reading it, and
 * end the crawl as a failed read does, for its later lines get no record. */
static void give_up_file(struct batch *b)
{
	log_error("%s: a line longer than %d MiB: not a URL file; reading it "
		  "stops here (its later lines get no record)",
		  b->names[b->cur], BATCH_JUNK_LINE / (1024 * 1024));
	b->error = -EFBIG;
	b->eof = true;
}

/* Submit buffered lines while there is room; read more when drained. At
 * most FEED_TURN lines a turn: a 64 KiB read holds thousands, and parsing
 * them all at once would hold back the completions of fetches already
 * under way (the first TLS handshake of a crawl most of all). */
static void feed(struct batch *b)
{
	size_t pos = b->pos;
	unsigned budget = FEED_TURN;

	while (!b->done && sched_room(b->s) > 0) {
		char *nl;

		if (budget-- == 0) {
			/* The rest next turn; no read while lines wait. */
			b->loop->busy = true;
			b->pos = pos;
			return;
		}
		nl = memchr(b->buf + pos, '\n', b->len - pos);
		if (nl) {
			size_t n = (size_t)(nl - (b->buf + pos));

			if (!b->skip_rest)
				submit_line(b, b->buf + pos, n);
			b->skip_rest = false;
			b->long_bytes = 0;
			pos += n + 1;
			continue;
		}
		if (b->skip_rest) {
			/* the over-long line goes on: drop what came of it */
			b->long_bytes += b->len - pos;
			pos = b->len;
			if (b->long_bytes > BATCH_JUNK_LINE)
				give_up_file(b);
		} else if (pos == 0 && b->len == sizeof(b->buf)) {
			/* A line longer than the buffer: one record for its
			 * head, however long the rest, which is dropped. */
			submit_line(b, b->buf, b->len);
			b->skip_rest = true;
			b->long_bytes = b->len;
			pos = b->len;
		} else if (b->eof && b->len > pos) {
			/* the last line had no newline */
			submit_line(b, b->buf + pos, b->len - pos);
			pos = b->len;
		}
		if (b->eof) {
			next_file(b);
			if (b->cur == b->n)
				b->done = true;
			continue;
		}
		break;
	}
	b->pos = pos;
	if (!b->done && sched_room(b->s) == 0) {
		sched_wait_room(b->s, &b->room);
		return;
	}
	if (!b->done && !b->reading && !b->eof) {
		/* Compact only when about to read, not on every turn. */
		if (pos) {
			memmove(b->buf, b->buf + pos, b->len - pos);
			b->len -= pos;
			b->pos = 0;
		}
		if (b->len == sizeof(b->buf))
			return;
		struct io_uring_sqe *sqe = loop_sqe(b->loop, &b->op_read);

		io_uring_prep_read(sqe, b->fds[b->cur], b->buf + b->len,
				   (unsigned)(sizeof(b->buf) - b->len), (uint64_t)-1);
		b->reading = true;
	}
}

static void on_read(struct io_op *op, int res, unsigned flags)
{
	struct batch *b = container_of(op, struct batch, op_read);

	(void)flags;
	b->reading = false;
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		log_error("%s: read failed: %s", b->names[b->cur],
			  strerror(-res));
		b->error = res;
		b->eof = true;
	} else if (res == 0) {
		b->eof = true;
	} else if (res > 0) {
		b->len += (size_t)res;
	}
	feed(b);
}

/* The queue had room again (sched's room signal). */
static void on_room(struct sched_room_wait *w)
{
	struct batch *b = container_of(w, struct batch, room);

	if (!b->done && !b->reading)
		feed(b);
}

/* Lines left over from the last turn's budget (loop.busy was set). */
static void feed_hook(struct loop_hook *h)
{
	struct batch *b = container_of(h, struct batch, hook);

	if (!b->done && !b->reading && !list_linked(&b->room.node))
		feed(b);
}
