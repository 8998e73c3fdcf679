/* The journal of accepted jobs, on top of output/journal.c's group commit.
 *
 * A done mark waits in a FIFO of (job, record count) until results.c says
 * the records up to that count are durable; only then is {"done":N}
 * appended. At a start, an accepted job without a done line may still
 * have its record in results.jsonl (the window between the record's sync
 * and its mark's): the scan of that file counts it as done, so it is not
 * fetched again. A record leaves results.jsonl only by a rename, and
 * results.c asks may_rotate() first, which makes the marks durable. */
#include "app/durable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "engine/job.h"

static int append_done(struct durable *du, uint64_t num);

/* ---- start: what the journal and results.jsonl say ---------------------- */

struct rentry {
	uint64_t num;
	size_t off, len;		/* the accept line, in replay.lines */
	bool live;
	bool found;			/* its record is in results.jsonl */
};

struct replay {
	const char *path;
	struct buf lines;		/* accept lines, newline-terminated */
	struct rentry *v;
	size_t n, cap;
	uint64_t *keys;			/* num -> v index + 1, open addressing */
	size_t *idx;
	size_t hcap;			/* power of two, >= 2 n */
	uint64_t max_num;		/* highest number seen anywhere */
	uint64_t bad;			/* lines skipped */
	uint64_t in_results;		/* live jobs found with a record */
	int err;			/* -ENOMEM once memory ran out */
};

static size_t slot_of(const struct replay *r, uint64_t num)
{
	size_t i = (size_t)(num * 0x9e3779b97f4a7c15ULL) & (r->hcap - 1);

	while (r->keys[i] && r->keys[i] != num)
		i = (i + 1) & (r->hcap - 1);
	return i;
}

static struct rentry *find(const struct replay *r, uint64_t num)
{
	size_t i;

	if (!r->hcap)
		return NULL;
	i = slot_of(r, num);
	return r->keys[i] ? &r->v[r->idx[i]] : NULL;
}

static int grow(struct replay *r)
{
	size_t ncap = r->hcap ? r->hcap * 2 : 1024;
	uint64_t *ok = r->keys;
	size_t *oi = r->idx, ocap = r->hcap;

	r->keys = calloc(ncap, sizeof(*r->keys));
	r->idx = calloc(ncap, sizeof(*r->idx));
	if (!r->keys || !r->idx) {
		free(r->keys);
		free(r->idx);
		r->keys = ok;
		r->idx = oi;
		return -ENOMEM;
	}
	r->hcap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (ok[i]) {
			size_t s = slot_of(r, ok[i]);

			r->keys[s] = ok[i];
			r->idx[s] = oi[i];
		}
	}
	free(ok);
	free(oi);
	return 0;
}

static int add_accept(struct replay *r, uint64_t num, const char *p,
		      size_t n)
{
	struct rentry *old = find(r, num);
	size_t s;

	if (old)
		old->live = false;	/* accepted twice: the later one */
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 1024;
		struct rentry *v = realloc(r->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = ncap;
	}
	if ((r->n + 1) * 2 > r->hcap && grow(r) < 0)
		return -ENOMEM;
	r->v[r->n] = (struct rentry){ num, r->lines.len, n, true, false };
	if (buf_append(&r->lines, p, n) < 0 || buf_putc(&r->lines, '\n') < 0)
		return -ENOMEM;
	s = slot_of(r, num);
	r->keys[s] = num;
	r->idx[s] = r->n++;
	return 0;
}

static void note_num(struct replay *r, uint64_t num)
{
	if (num > r->max_num)
		r->max_num = num;
}

static void journal_line(void *arg, const char *p, size_t n)
{
	struct replay *r = arg;
	struct json_doc doc = { 0 };
	struct spill_entry e;
	struct rentry *x;
	uint64_t num;
	char err[160];

	switch (spill_parse(p, n, &doc, &e, &num, err, sizeof(err))) {
	case SPILL_JOB:
		note_num(r, e.num);
		if (!r->err && add_accept(r, e.num, p, n) < 0)
			r->err = -ENOMEM;
		break;
	case SPILL_DONE:
		x = find(r, num);
		if (x)
			x->live = false;
		break;
	case SPILL_NEXT:
		if (num > 1)
			note_num(r, num - 1);
		break;
	case SPILL_BAD:
		if (!r->bad++)
			log_error("journal: %s: a line is skipped: %s", r->path,
				  err);
		break;
	}
	json_doc_free(&doc);
}

static void record_line(void *arg, const char *p, size_t n)
{
	struct replay *r = arg;
	struct rentry *x;
	uint64_t num;

	if (!results_line_job(p, n, &num))
		return;
	note_num(r, num);
	x = find(r, num);
	if (x && x->live) {
		x->live = false;
		x->found = true;
		r->in_results++;
	}
}

static void replay_free(struct replay *r)
{
	buf_fini(&r->lines);
	free(r->v);
	free(r->keys);
	free(r->idx);
}

/* Every live job back into the scheduler, in journal order. */
static uint64_t resubmit(struct durable *du, struct replay *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct rentry *x = &r->v[i];
		struct json_doc doc = { 0 };
		struct spill_entry e;
		struct job *j;
		uint64_t num;
		char err[160];

		if (!x->live)
			continue;
		if (spill_parse(r->lines.p + x->off, x->len, &doc, &e, &num, err,
				sizeof(err)) == SPILL_JOB &&
		    (j = du->take(du->take_arg, &e))) {
			j->journaled = true;
			n++;
		}
		json_doc_free(&doc);
	}
	return n;
}

/* The journal's new content: the counter, then the live accept lines. */
static int compacted(struct buf *b, const struct replay *r, uint64_t next)
{
	buf_printf(b, "{\"next_job\":%llu}\n", (unsigned long long)next);
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].live &&
		    buf_append(b, r->lines.p + r->v[i].off, r->v[i].len + 1) < 0)
			return -ENOMEM;
	return b->len ? 0 : -ENOMEM;
}

static int replay(struct durable *du, char *err, size_t errlen)
{
	struct sched *s = &du->e->sched;
	struct replay r = { .path = du->path };
	struct buf out;
	uint64_t next, taken;
	int64_t rc;
	int ret = 0;

	buf_init(&r.lines, SIZE_MAX / 2);
	buf_init(&out, SIZE_MAX / 2);
	rc = journal_read(du->path, journal_line, &r, err, errlen);
	if (rc >= 0 && !r.err)
		rc = journal_read(du->e->results.path, record_line, &r, err,
				  errlen);
	if (rc < 0 || r.err) {
		if (r.err)
			snprintf(err, errlen, "journal %s: out of memory while "
				 "reading it", du->path);
		ret = rc < 0 ? (int)rc : r.err;
		goto out;
	}
	taken = resubmit(du, &r);
	next = r.max_num + 1 > s->next_job_num ? r.max_num + 1 :
		s->next_job_num;
	s->next_job_num = next;
	if (taken || r.in_results)
		log_info("journal: %llu accepted jobs taken back from %s (%llu "
			 "more had their record already); jobs number on from "
			 "%llu", (unsigned long long)taken, du->path,
			 (unsigned long long)r.in_results,
			 (unsigned long long)next);
	ret = journal_open(&du->jr, &du->e->loop, du->path,
			   du->e->cfg->output.sync == SYNC_BATCH, err, errlen);
	if (ret < 0)
		goto out;
	if (compacted(&out, &r, next) == 0 &&
	    journal_rewrite(&du->jr, out.p, out.len) == 0)
		goto out;
	/* Not compacted: the old lines stay, so the jobs found in
	 * results.jsonl need their done marks there. */
	log_warn("journal: %s could not be compacted at start; it grows "
		 "until the next start", du->path);
	for (size_t i = 0; i < r.n; i++)
		if (r.v[i].found)
			append_done(du, r.v[i].num);
	if (journal_flush_now(&du->jr) < 0)
		log_warn("journal: %s: the done marks of jobs found in "
			 "results.jsonl wait for the disk", du->path);
	ret = 0;
out:
	replay_free(&r);
	buf_fini(&out);
	return ret;
}

/* ---- running: done marks ---------------------------------------------- */

static int append_done(struct durable *du, uint64_t num)
{
	char line[40];
	int n = snprintf(line, sizeof(line), "{\"done\":%llu}",
			 (unsigned long long)num);

	return journal_append(&du->jr, line, (size_t)n) < 0 ? -ENOBUFS : 0;
}

/* Append the marks whose records are durable, oldest first. */
static void release(struct durable *du)
{
	uint64_t synced = du->e->results.synced;

	while (du->len && du->fifo[du->head].rec <= synced) {
		if (append_done(du, du->fifo[du->head].num) < 0)
			return;		/* the journal is full: next turn */
		du->head = (du->head + 1) % du->cap;
		du->len--;
	}
}

static int push(struct durable *du, uint64_t num, uint64_t rec)
{
	if (du->len == du->cap) {
		size_t ncap = du->cap ? du->cap * 2 : 1024;
		struct durable_mark *f = malloc(ncap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		for (size_t i = 0; i < du->len; i++)
			f[i] = du->fifo[(du->head + i) % du->cap];
		free(du->fifo);
		du->fifo = f;
		du->cap = ncap;
		du->head = 0;
	}
	du->fifo[(du->head + du->len) % du->cap] =
		(struct durable_mark){ num, rec };
	du->len++;
	return 0;
}

/* After the record writer: the job's mark waits for its record's sync. A
 * job whose record was lost gets no mark: the next start fetches it. */
static void on_finished(struct sched_observer *o, const struct job *j)
{
	struct durable *du = container_of(o, struct durable, obs);
	const struct results *r = &du->e->results;

	if (!j->journaled || r->last_lost)
		return;
	if (!du->len && r->records <= r->synced && append_done(du, j->num) == 0)
		return;
	if (push(du, j->num, r->records) < 0)
		log_error("journal: job %llu: no memory for its done mark; the "
			  "next start finds its record instead",
			  (unsigned long long)j->num);
}

static void on_durable(void *arg, uint64_t n)
{
	(void)n;
	release(arg);
}

/* Before results.jsonl is renamed: its records are durable (results.c
 * synced them), so their marks must be too. */
static bool may_rotate(void *arg)
{
	struct durable *du = arg;

	release(du);
	if (du->jr.durable == du->jr.appended && !du->len)
		return true;
	if (du->jr.error) {
		/* A duplicate after a crash is possible; holding records
		 * until they are lost is worse. */
		if (!du->rotate_warned)
			log_warn("journal: results.jsonl rotates while done "
				 "marks cannot be written; a crash now could "
				 "fetch some jobs twice");
		du->rotate_warned = true;
		return true;
	}
	if (du->len && du->fifo[du->head].rec <= du->e->results.synced)
		return false;		/* marks not appended yet */
	if (!journal_idle(&du->jr))
		return false;		/* its completion comes in a moment */
	return journal_flush_now(&du->jr) == 0;
}

/* ---- running: compaction ------------------------------------------------ */

static int live_lines(struct durable *du, struct buf *b)
{
	struct sched *s = &du->e->sched;

	buf_printf(b, "{\"next_job\":%llu}\n",
		   (unsigned long long)s->next_job_num);
	for (struct job *j = sched_first(s); j; j = sched_next(s, j))
		if (j->journaled && spill_format(b, j) < 0)
			return -ENOMEM;
	return 0;
}

/* When the journal, size bytes now, is next compacted. */
static uint64_t next_compaction(uint64_t size)
{
	const char *env = getenv("RINGFETCH_JOURNAL_COMPACT");
	uint64_t grow = size * DURABLE_COMPACT_FACTOR;

	if (env)
		return size + strtoull(env, NULL, 10);
	return size + (grow > DURABLE_COMPACT_MIN ? grow : DURABLE_COMPACT_MIN);
}

/* Blocking, and rare (see DURABLE_COMPACT_FACTOR): records
 * synced and their marks written first, so what the new file leaves out
 * is exactly the finished jobs. */
static void compact(struct durable *du)
{
	struct buf b;
	uint64_t before = du->jr.size;
	int rc;

	buf_init(&b, SIZE_MAX / 2);
	rc = results_sync_now(&du->e->results);
	release(du);
	if (rc == 0)
		rc = journal_flush_now(&du->jr);
	if (rc == 0)
		rc = live_lines(du, &b);
	if (rc == 0)
		rc = journal_rewrite(&du->jr, b.p, b.len);
	buf_fini(&b);
	du->compact_at = next_compaction(du->jr.size);
	if (rc < 0) {
		log_warn("journal: compacting %s failed: %s; tried again "
			 "later", du->path, strerror(-rc));
		return;
	}
	du->compactions++;
	log_info("journal: %s compacted from %llu to %llu bytes", du->path,
		 (unsigned long long)before, (unsigned long long)du->jr.size);
}

void durable_tick(struct durable *du)
{
	if (!du->on)
		return;
	release(du);
	buf_shrink(&du->line, 64 << 10);	/* one huge job's line */
	if (du->jr.size >= du->compact_at && journal_idle(&du->jr) &&
	    !journal_pending(&du->jr) && !du->jr.error)
		compact(du);
}

/* ---- the rest ----------------------------------------------------------- */

int durable_accept(struct durable *du, struct job *j, char *why,
		   size_t whylen)
{
	if (!du->on)
		return 0;
	buf_reset(&du->line);
	if (spill_format(&du->line, j) < 0 ||
	    journal_append(&du->jr, du->line.p, du->line.len - 1) < 0) {
		du->refused++;
		snprintf(why, whylen, "the journal cannot be written: %s",
			 du->jr.error ? strerror(-du->jr.error) :
			 "too much waits for the disk");
		return -ENOBUFS;
	}
	j->journaled = true;
	return 0;
}

void durable_gate(struct durable *du, struct journal_wait *w)
{
	if (!du->on) {
		w->durable(w, 0);
		return;
	}
	journal_unwait(w);
	journal_wait(&du->jr, w);
}

int durable_open(struct durable *du, struct engine *e, bool on,
		 const char *state_dir, char *err, size_t errlen)
{
	int rc;

	du->e = e;
	du->on = on;
	if (!on)
		return 0;
	buf_init(&du->line, SIZE_MAX / 2);
	if (asprintf(&du->path, "%s/journal.jsonl", state_dir) < 0) {
		du->path = NULL;
		du->on = false;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = replay(du, err, errlen);
	if (rc < 0) {
		du->on = false;
		return rc;
	}
	du->compact_at = next_compaction(du->jr.size);
	du->obs.finished = on_finished;
	sched_observe(&e->sched, &du->obs);
	e->results.durable = on_durable;
	e->results.may_rotate = may_rotate;
	e->results.owner = du;
	return 0;
}

int durable_close(struct durable *du)
{
	int rc;

	if (!du->on)
		return 0;
	/* What fails here is not lost: a job without its done mark is
	 * found in results.jsonl, or fetched again, at the next start. */
	rc = results_sync_now(&du->e->results);
	release(du);
	if (rc < 0 || du->len)
		log_warn("journal: %zu finished jobs have no done mark (%s); "
			 "the next start finds their records or fetches them "
			 "again", du->len, rc < 0 ? strerror(-rc) :
			 "the journal is full");
	journal_close(&du->jr);
	return 0;
}

bool durable_idle(const struct durable *du)
{
	return !du->on || journal_idle(&du->jr);
}

void durable_fini(struct durable *du)
{
	if (du->e) {
		sched_unobserve(&du->e->sched, &du->obs);
		du->e->results.durable = NULL;
		du->e->results.may_rotate = NULL;
	}
	buf_fini(&du->line);
	free(du->path);
	free(du->fifo);
	memset(du, 0, sizeof(*du));
}
