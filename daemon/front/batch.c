/* Lazy URL-file reader. One 64 KiB buffer per crawl: lines are submitted
 * while the queue has room; when it is full the reader simply stops asking
 * for more bytes, and the loop hook picks up again once jobs finish. */
#include "front/batch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/sched.h"
#include "http/url.h"

#define FEED_TURN 64	/* lines parsed per loop turn */

static void on_read(struct io_op *op, int res, unsigned flags);
static void on_room(struct sched_room_wait *w);
static void feed_hook(struct loop_hook *h);

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
		int fd = strcmp(names[i], "-") == 0 ? dup(0) :
			open(names[i], O_RDONLY | O_CLOEXEC);

		struct stat st;

		/* A directory opens fine and fails only at the first read:
		 * refuse it here, before anything is fetched. */
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			fd = -1;
			errno = EISDIR;
		}
		if (fd < 0) {
			int rc = -errno;

			snprintf(err, errlen, "%s: %s", names[i], strerror(errno));
			b->n = i;
			batch_close(b);
			return rc;
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
	if (!sched_submit_num(b->s, p, n, NULL, b->first + i)) {
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
			pos += n + 1;
			continue;
		}
		if (b->eof && b->len > pos) {
			/* the last line had no newline */
			if (!b->skip_rest)
				submit_line(b, b->buf + pos, b->len - pos);
			b->skip_rest = false;
			pos = b->len;
		}
		if (b->eof) {
			next_file(b);
			if (b->cur == b->n)
				b->done = true;
			continue;
		}
		if (pos == 0 && b->len == sizeof(b->buf)) {
			/* a line longer than the buffer: record its head */
			submit_line(b, b->buf, b->len);
			b->skip_rest = true;
			pos = b->len;
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
