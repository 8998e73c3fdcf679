/* Lazy URL-file reader. One 64 KiB buffer per crawl: lines are submitted
 * while their host has room; otherwise they park (park.c) and reading goes
 * on, or, without a park, the reader stops asking for more bytes until the
 * queue has room. Parked lines go back in before new ones are read. */
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
static void on_share(struct sched_room_wait *w);
static void feed(struct batch *b);
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
	b->share.room = on_share;
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
	sched_unwait_room(&b->share);
}

void batch_stop(struct batch *b)
{
	b->done = true;
	sched_unwait_room(&b->room);
	sched_unwait_room(&b->share);
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

/* Submit one job line (trimmed) numbered num, now. */
static void submit_now(struct batch *b, const char *p, size_t n, uint64_t num)
{
	if (*p == '{' ? !submit_json_line(b, p, n, num) :
	    !sched_submit_num(b->s, p, n, NULL, num)) {
		/* Nothing was accepted for this line: end the crawl as a
		 * failed read does, so no line is skipped silently. */
		log_error("%s: out of memory after %llu URLs; reading stops",
			  b->names[b->cur < b->n ? b->cur : b->n - 1],
			  (unsigned long long)b->lines);
		b->error = -ENOMEM;
		b->done = true;
		return;
	}
	b->lines++;
}

/* The URL of a job line, to know its host: the line, or a JSON line's
 * "url". Returns false for a line that ends at once in its record
 * (invalid_url): such a line takes no room and never parks. */
static bool line_url(const char *p, size_t n, struct url *u)
{
	struct json_doc doc = { 0 };
	const struct json_val *v = NULL;
	bool ok;

	if (*p != '{')
		return url_parse(u, p, n, NULL, 0) == URL_OK;
	if (json_parse(p, n, &doc, NULL, 0) < 0)
		return false;
	if (doc.root->type == JSON_OBJECT)
		v = json_get(doc.root, "url");
	ok = v && json_as_str(v) && strlen(v->str) == v->len &&
	     url_parse(u, v->str, v->len, NULL, 0) == URL_OK;
	json_doc_free(&doc);
	return ok;
}

/* SPEC Fair intake: park the line when its host has lines parked (file
 * order), is at its share, or the queue is full. Returns whether it was
 * parked (or could not be, which ends reading as a failed read does). */
static bool parked(struct batch *b, const char *p, size_t n, uint64_t num)
{
	struct url u;
	bool park;
	int rc;

	if (!line_url(p, n, &u))
		return false;
	park = park_holds(b->park, &u) || sched_room(b->s) == 0 ||
	       sched_host_room(b->s, &u) == 0;
	if (park) {
		rc = park_put(b->park, &u, num, p, n);
		if (rc < 0) {
			log_error("%s: a line cannot be parked (%s); reading "
				  "stops here (later lines get no record)",
				  b->park->dir, strerror(-rc));
			b->error = rc;
			b->done = true;
		}
	}
	url_fini(&u);
	return park;
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
	if (b->park && parked(b, p, n, b->first + i))
		return;
	submit_now(b, p, n, b->first + i);
}

/* Parked lines back in, host by host in turn, each as far as its share
 * and the queue have room. Returns how many (at most budget). */
static unsigned unpark(struct batch *b, unsigned budget)
{
	struct park *p = b->park;
	uint32_t tries = p->hosts_parked;
	unsigned used = 0;

	while (tries && used < budget && !b->done && sched_room(b->s) > 0) {
		struct park_host *h = list_entry(list_first(&p->ready),
						 struct park_host, node);
		const char *line;
		uint64_t num;
		struct url u;
		size_t n;
		int rc;

		/* to the back: the next host goes first next time */
		list_remove(&h->node);
		list_push_back(&p->ready, &h->node);
		park_host_url(h, &u);
		if (sched_host_room(b->s, &u) == 0) {
			tries--;
			continue;
		}
		rc = park_take(p, h, &num, &line, &n);
		if (rc < 0) {
			b->error = rc;	/* logged; those lines get no record */
			b->done = true;
			break;
		}
		if (rc == 0) {
			tries--;	/* its lines are on their way to disk */
			continue;
		}
		submit_now(b, line, n, num);
		used++;
		tries = p->hosts_parked;
	}
	return used;
}

/* Whether reading may go on: with a park, until park_max bytes are
 * parked; without, while the queue has room. */
static bool may_read(const struct batch *b)
{
	if (b->park)
		return b->park->bytes < b->park_max;
	return sched_room(b->s) > 0;
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

/* Parked lines first, then buffered lines while reading may go on; read
 * more when drained. At most FEED_TURN lines a turn: a 64 KiB read holds
 * thousands, and parsing them all at once would hold back the completions
 * of fetches already under way (the first TLS handshake of a crawl most of
 * all). */
/* The budget ran out with work left: feed_hook goes on next turn. It
 * feeds only a reader that waits for nothing, so a wait for room or a
 * share left from an earlier feed() must go: else, once nothing runs any
 * more to signal it, the reader is stuck with lines in hand (seen as a
 * hung one-host crawl, its queue empty, lines parked and unread). Each
 * feed() that ends waits anew for what it needs. */
static void more_next_turn(struct batch *b)
{
	sched_unwait_room(&b->room);
	sched_unwait_room(&b->share);
	b->loop->busy = true;
}

static void feed(struct batch *b)
{
	size_t pos = b->pos;
	unsigned budget = FEED_TURN;

	if (b->park && b->park->lines && !b->done) {
		budget -= unpark(b, budget);
		b->s->parked = b->park->lines;
		b->s->parked_hosts = b->park->hosts_parked;
		if (!budget) {
			more_next_turn(b);
			return;
		}
	}
	while (!b->done && !b->files_done && may_read(b)) {
		char *nl;

		if (budget-- == 0) {
			/* The rest next turn; no read while lines wait. */
			more_next_turn(b);
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
				b->files_done = true;
			continue;
		}
		break;
	}
	b->pos = pos;
	if (b->park) {
		b->s->parked = b->park->lines;
		b->s->parked_hosts = b->park->hosts_parked;
	}
	if (b->files_done && !(b->park && b->park->lines))
		b->done = true;
	if (b->done)
		return;
	if (b->park && b->park->lines)
		sched_wait_share(b->s, &b->share);
	if (sched_room(b->s) == 0)
		sched_wait_room(b->s, &b->room);
	if (!b->files_done && may_read(b) && !b->reading && !b->eof) {
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

/* The queue had room again, or a parked host dropped below its share
 * (sched's signals), or parked lines reached the disk (park's). */
static void on_room(struct sched_room_wait *w)
{
	struct batch *b = container_of(w, struct batch, room);

	if (!b->done && !b->reading)
		feed(b);
}

static void on_share(struct sched_room_wait *w)
{
	struct batch *b = container_of(w, struct batch, share);

	if (!b->done && !b->reading)
		feed(b);
}

void batch_parked_written(void *arg)
{
	struct batch *b = arg;

	if (!b->done && !b->reading)
		feed(b);
}

/* Lines left over from the last turn's budget (loop.busy was set). */
static void feed_hook(struct loop_hook *h)
{
	struct batch *b = container_of(h, struct batch, hook);

	if (!b->done && !b->reading && !list_linked(&b->room.node) &&
	    !list_linked(&b->share.node))
		feed(b);
}
