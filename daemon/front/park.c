/* Parked lines: a hash of hosts, each with a journal file of "NUM LINE"
 * lines and a read offset into it. A host that has taken every line back
 * empties its file, so the disk in use is what is parked now. */
#include "front/park.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"

#define PARK_BLOCK (128 * 1024)	/* a read back: longer than any line */
#define PARK_BUCKETS 64		/* to start with; doubles with the hosts */

static uint32_t hash_of(const char *name, uint16_t port, bool https)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ port) * 16777619u;
	return (h ^ https) * 16777619u;
}

/* Remove dir and the files in it (no subdirectories: park makes none). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove: %s", dir, strerror(errno));
}

int park_init(struct park *p, struct loop *l, const char *out_dir,
	      void (*written)(void *arg), void *arg, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->loop = l;
	p->written = written;
	p->arg = arg;
	list_init(&p->ready);
	p->nbuckets = PARK_BUCKETS;
	p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
	if (!p->buckets || asprintf(&p->dir, "%s/.frontier", out_dir) < 0) {
		free(p->buckets);
		p->buckets = NULL;
		p->dir = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	remove_dir(p->dir);	/* a crawl killed with -9 left it */
	if (mkdir(p->dir, 0700) < 0) {
		int rc = -errno;

		snprintf(err, errlen, "%s: cannot create: %s", p->dir,
			 strerror(errno));
		free(p->dir);
		free(p->buckets);
		p->dir = NULL;
		p->buckets = NULL;
		return rc;
	}
	return 0;
}

static struct park_host *find(const struct park *p, const struct url *u)
{
	uint32_t k = hash_of(u->host, u->port, u->https) & (p->nbuckets - 1);

	for (struct park_host *h = p->buckets[k]; h; h = h->hnext)
		if (h->port == u->port && h->https == u->https &&
		    strcmp(h->name, u->host) == 0)
			return h;
	return NULL;
}

static void grow(struct park *p)
{
	uint32_t n = p->nbuckets * 2;
	struct park_host **b = calloc(n, sizeof(*b));

	if (!b)
		return;		/* longer chains, still right */
	for (uint32_t i = 0; i < p->nbuckets; i++)
		for (struct park_host *h = p->buckets[i], *next; h; h = next) {
			uint32_t k = hash_of(h->name, h->port, h->https) &
				     (n - 1);

			next = h->hnext;
			h->hnext = b[k];
			b[k] = h;
		}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = n;
}

static void on_written(struct journal_wait *w, int err)
{
	struct park_host *h = container_of(w, struct park_host, jw);

	if (!err)
		h->park->written(h->park->arg);
}

/* A new host: its file, opened to append and to read back. */
static struct park_host *add(struct park *p, const struct url *u)
{
	struct park_host *h = calloc(1, sizeof(*h));
	char path[4096], err[256];
	uint32_t k;

	if (!h)
		return NULL;
	snprintf(path, sizeof(path), "%s/%u.lines", p->dir, p->next_id++);
	if (journal_open(&h->jr, p->loop, path, false, err, sizeof(err)) < 0) {
		log_error("park: %s", err);
		free(h);
		return NULL;
	}
	h->rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->rfd < 0) {
		log_error("park: %s: %s", path, strerror(errno));
		journal_close(&h->jr);
		free(h);
		return NULL;
	}
	memcpy(h->name, u->host, sizeof(h->name));
	h->port = u->port;
	h->https = u->https;
	h->park = p;
	h->jw.durable = on_written;
	k = hash_of(h->name, h->port, h->https) & (p->nbuckets - 1);
	h->hnext = p->buckets[k];
	p->buckets[k] = h;
	if (++p->count > p->nbuckets)
		grow(p);
	return h;
}

bool park_holds(const struct park *p, const struct url *u)
{
	const struct park_host *h;

	if (!p->lines)
		return false;
	h = find(p, u);
	return h && h->lines;
}

int park_put(struct park *p, const struct url *u, uint64_t num,
	     const char *line, size_t n)
{
	struct park_host *h = find(p, u);
	char rec[24 + PARK_LINE_MAX];
	int len;

	free(p->spent);
	p->spent = NULL;
	if (!h && !(h = add(p, u)))
		return -ENOMEM;
	if (n > PARK_LINE_MAX)
		return -E2BIG;
	len = snprintf(rec, sizeof(rec), "%" PRIu64 " ", num);
	memcpy(rec + len, line, n);
	if (journal_append(&h->jr, rec, (size_t)len + n) < 0)
		return -ENOBUFS;
	if (!h->lines++) {
		list_push_back(&p->ready, &h->node);
		p->hosts_parked++;
	}
	h->bytes += (uint64_t)len + n + 1;
	h->total++;
	p->bytes += (uint64_t)len + n + 1;
	if (++p->lines > p->peak_lines)
		p->peak_lines = p->lines;
	return 0;
}

static void on_read(struct io_op *op, int res, unsigned flags)
{
	struct park_host *h = container_of(op, struct park_host, op_read);

	(void)flags;
	h->read_busy = false;
	if (h->orphan) {
		/* park_fini() ran while this read was in flight */
		free(h->rbuf);
		if (journal_idle(&h->jr))
			free(h);
		return;
	}
	if (res <= 0) {
		/* 0: the file is shorter than what was written to it */
		h->read_err = res < 0 ? res : -EIO;
	} else {
		h->rlen += (size_t)res;
		h->rd_off += (uint64_t)res;
	}
	h->park->written(h->park->arg);
}

/* Start reading the next block of h's file (what is written of it) after
 * what rbuf holds, through the ring: one read a block, never one a line;
 * park.written is called when it is in. Returns 1 when a read is on its
 * way, 0 when nothing more is written yet, -errno. */
static int read_block(struct park_host *h)
{
	size_t room;

	if (!h->rbuf && !(h->rbuf = malloc(PARK_BLOCK)))
		return -ENOMEM;
	if (h->rpos) {
		memmove(h->rbuf, h->rbuf + h->rpos, h->rlen - h->rpos);
		h->rlen -= h->rpos;
		h->rpos = 0;
	}
	room = PARK_BLOCK - h->rlen;
	if (h->jr.size - h->rd_off < room)
		room = (size_t)(h->jr.size - h->rd_off);
	if (!room)
		return 0;
	h->op_read.done = on_read;
	io_uring_prep_read(loop_sqe(h->park->loop, &h->op_read), h->rfd,
			   h->rbuf + h->rlen, (unsigned)room, h->rd_off);
	h->read_busy = true;
	return 1;
}

/* h took its last line back: its file is emptied, its block freed. */
static void drained(struct park *p, struct park_host *h)
{
	list_remove(&h->node);
	p->hosts_parked--;
	p->spent = h->rbuf;
	h->rbuf = NULL;
	h->rpos = h->rlen = 0;
	if (journal_empty(&h->jr) == 0)
		h->rd_off = 0;
}

int park_take(struct park *p, struct park_host *h, uint64_t *num,
	      const char **line, size_t *n)
{
	char *nl, *sp, *start;
	ssize_t r;

	free(p->spent);
	p->spent = NULL;
	if (!h->lines)
		return 0;
	while (!(nl = h->rbuf ? memchr(h->rbuf + h->rpos, '\n',
				       h->rlen - h->rpos) : NULL)) {
		if (h->read_busy)
			return 0;	/* park.written comes with it */
		r = h->read_err ? h->read_err : read_block(h);
		if (r < 0) {
			log_error("%s: cannot read parked lines back: %s",
				  h->jr.path, strerror((int)-r));
			return (int)r;
		}
		if (r == 0 && !journal_pending(&h->jr)) {
			/* counted, yet neither in the file nor on its way:
			 * our bug; never wait for a write that won't come */
			log_error("%s: %llu parked lines missing", h->jr.path,
				  (unsigned long long)h->lines);
			return -EIO;
		}
		if (r == 0) {
			/* appended, not written yet: wait for the write */
			if (!list_linked(&h->jw.node))
				journal_wait(&h->jr, &h->jw);
			return 0;
		}
		return 0;		/* a read is on its way */
	}
	start = h->rbuf + h->rpos;
	*num = strtoull(start, &sp, 10);
	sp++;			/* the space */
	*line = sp;
	*n = (size_t)(nl - sp);
	h->rpos = (size_t)(nl - h->rbuf) + 1;
	h->lines--;
	h->bytes -= (uint64_t)(nl - start) + 1;
	p->lines--;
	p->bytes -= (uint64_t)(nl - start) + 1;
	if (!h->lines)
		drained(p, h);
	return 1;
}

void park_host_url(const struct park_host *h, struct url *u)
{
	memset(u, 0, sizeof(*u));
	memcpy(u->host, h->name, sizeof(u->host));
	u->port = h->port;
	u->https = h->https;
}

unsigned park_top(const struct park *p, const struct park_host **top)
{
	unsigned n = 0;

	for (uint32_t i = 0; p->buckets && i < p->nbuckets; i++)
		for (const struct park_host *h = p->buckets[i]; h;
		     h = h->hnext) {
			unsigned k;

			if (!h->total)
				continue;
			if (n < PARK_TOP)
				k = n++;
			else if (h->total <= top[n - 1]->total)
				continue;
			else
				k = n - 1;
			while (k && top[k - 1]->total < h->total) {
				top[k] = top[k - 1];
				k--;
			}
			top[k] = h;
		}
	return n;
}

void park_fini(struct park *p)
{
	if (!p->dir)
		return;
	for (uint32_t i = 0; i < p->nbuckets; i++)
		for (struct park_host *h = p->buckets[i], *next; h; h = next) {
			next = h->hnext;
			journal_unwait(&h->jw);
			journal_close(&h->jr);
			close(h->rfd);	/* a read in flight holds its own */
			if (h->read_busy) {
				h->orphan = true;	/* on_read frees */
				continue;
			}
			free(h->rbuf);
			/* a write still in flight completes into jr: keep h */
			if (journal_idle(&h->jr))
				free(h);
		}
	free(p->buckets);
	p->buckets = NULL;
	free(p->spent);
	p->spent = NULL;
	remove_dir(p->dir);
	free(p->dir);
	p->dir = NULL;
}
