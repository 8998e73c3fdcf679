/* Parked lines of a batch crawl (SPEC: Fair intake): the URL-file lines a
 * host cannot take yet wait on disk, one append-only file per host under
 * OUT/.frontier/, in file order, each with its job number. Memory per
 * parked line is nothing: a host keeps its file, a read offset and counts,
 * and while it has lines one block read back. Appends go through the
 * journal's group commit (one write a turn per host, through the ring);
 * reads back are ring reads of a 128 KiB block at a time, so no syscall is
 * made per line either way.
 * The directory is the crawl's alone: a stale one is removed at start, and
 * park_fini() removes it however the crawl ends. */
#ifndef RF_PARK_H
#define RF_PARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "event/loop.h"
#include "http/url.h"
#include "output/journal.h"

#define PARK_TOP 5		/* most parked hosts the summary names */
#define PARK_LINE_MAX (64 * 1024) /* a URL-file line, at most (BATCH_BUF) */

struct park;

struct park_host {
	char name[URL_HOST_MAX + 1];	/* as in struct url */
	uint16_t port;
	bool https;
	struct park_host *hnext;	/* hash chain */
	struct list_node node;		/* in park.ready while lines > 0 */
	struct park *park;
	struct journal jr;		/* the appends (its file) */
	struct journal_wait jw;		/* lines parked, not yet written */
	int rfd;			/* the same file, to read back */
	uint64_t rd_off;		/* file bytes read back so far */
	char *rbuf;			/* a block read back; NULL while
					 * lines == 0 */
	struct io_op op_read;		/* the read of the next block */
	bool read_busy;			/* op_read is in flight */
	bool orphan;			/* park_fini() ran: op_read frees */
	int read_err;			/* -errno of a failed read, or 0 */
	size_t rpos, rlen;		/* rbuf[rpos..rlen) not yet taken */
	uint64_t lines;			/* parked, not yet taken back */
	uint64_t bytes;			/* their bytes in the file */
	uint64_t total;			/* lines parked, all time */
};

struct park {
	char *dir;			/* owned: OUT/.frontier */
	struct loop *loop;		/* borrowed */
	struct park_host **buckets;
	uint32_t nbuckets;		/* power of two */
	uint32_t count;			/* hosts that ever parked */
	uint32_t next_id;		/* names the next host's file */
	struct list_node ready;		/* hosts with lines, served in turn */
	uint64_t lines, bytes;		/* parked now, over every host */
	uint64_t peak_lines;		/* the most parked at once */
	uint32_t hosts_parked;		/* hosts with lines now */
	char *spent;			/* a drained host's block, freed at
					 * the next call (its last line is
					 * still in the caller's hands) */
	void (*written)(void *arg);	/* lines waited for are readable */
	void *arg;
};

/* Remove a stale OUT/.frontier (a crawl killed with -9), make a new one.
 * Returns 0, or -errno with a sentence in err. */
int park_init(struct park *p, struct loop *l, const char *out_dir,
	      void (*written)(void *arg), void *arg, char *err, size_t errlen);

/* Whether u's host has parked lines (its later lines must park too, to
 * keep file order). */
bool park_holds(const struct park *p, const struct url *u);

/* Park line (n bytes, no newline) of u's host with job number num.
 * Returns 0, or -errno (-ENOBUFS: too much waits for the disk; -ENOMEM;
 * a file that cannot be made), nothing parked. */
int park_put(struct park *p, const struct url *u, uint64_t num,
	     const char *line, size_t n);

/* The next parked line of h, in its file's order: 1 with *num, and *line
 * (n bytes, valid until the next park call), 0 when h's next lines are not
 * written yet (p->written is called once they are), -errno on a read
 * failure (logged). Taking h's last line takes h out of p->ready. */
int park_take(struct park *p, struct park_host *h, uint64_t *num,
	      const char **line, size_t *n);

/* h's host as a struct url for sched_host_room() (host, port, https set;
 * no href). */
void park_host_url(const struct park_host *h, struct url *u);

/* The hosts that parked most, most first, into top (up to PARK_TOP).
 * Returns how many. */
unsigned park_top(const struct park *p, const struct park_host **top);

/* Close every file and remove OUT/.frontier. Appends in flight are
 * written first (blocking); harmless twice. */
void park_fini(struct park *p);

#endif
