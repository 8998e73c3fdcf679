/* source.redis: partitions leased in Redis, entries read within the
 * queue's room, acknowledged once their records are durable. See fleet.h
 * for the protocol; the Lua scripts below are its compare-and-set steps. */
#include "front/fleet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/json.h"
#include "base/log.h"
#include "base/resp.h"
#include "config/config.h"
#include "engine/job.h"
#include "front/jobspec.h"
#include "net/redis.h"
#include "output/results.h"

enum part_state {
	P_FREE = 0,	/* another daemon's, or nobody's */
	P_ACQUIRING,	/* SET NX in flight */
	P_OWNED,	/* ours: read it */
	P_DRAINING,	/* ours, not read: released once nothing is held */
	P_RELEASING,	/* the compare-and-delete is in flight */
};

struct fleet_part {
	struct fleet *f;
	enum part_state state;
	uint32_t epoch;		/* lease taken this many times: tags jobs */
	char token[240];	/* the fencing value in the lease key */
	uint64_t valid_until;	/* loop clock: surely ours before this */
	bool renew_busy;
	bool claiming;		/* its pending entries are not all claimed */
	char cursor[48];	/* XAUTOCLAIM's next start */
	uint32_t live;		/* jobs of it in the scheduler */
	uint32_t unacked;	/* records of it not acknowledged yet */
};

/* A record written, to be acknowledged once durable. */
struct fleet_ack {
	uint64_t rec;		/* results' record number */
	uint32_t part;
	char id[40];		/* the entry ID */
};

/* One XACK in flight, kept to be sent again if the connection drops. */
struct ack_batch {
	struct fleet *f;
	uint32_t part, n;
	struct ack_batch *next;	/* in the f->resend list */
	char ids[];		/* n NUL-separated IDs */
};

#define READ_COUNT_MAX 500	/* entries one stream gives per read */
#define CLAIM_COUNT_MAX 500
#define ACK_BATCH_MAX 500
#define POLL_MIN_MS 20		/* an empty read: read again after ... */
#define POLL_MAX_MS 250		/* ... doubling to this */

/* Heartbeat: KEYS[1] members; ARGV consumer, claim_idle ms. Redis's clock,
 * so daemons on machines whose clocks differ agree on who is alive. */
static const char beat_lua[] =
	"local t = redis.call('TIME') "
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
	"redis.call('ZADD', KEYS[1], now, ARGV[1]) "
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2])) "
	"return redis.call('ZCARD', KEYS[1])";
/* Renew: KEYS[1] lease; ARGV token, ms. 1 if still ours, else 0. */
static const char renew_lua[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then "
	"return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/* Release: KEYS[1] lease; ARGV token. */
static const char release_lua[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then "
	"return redis.call('DEL', KEYS[1]) end return 0";

static void kick_read(struct fleet *f, uint64_t at);

static void set_error(struct fleet *f, const char *what,
		      const struct resp_reply *r)
{
	if (r && r->type == RESP_ERROR)
		snprintf(f->last_error, sizeof(f->last_error), "%s: %.*s",
			 what, (int)r->len, r->str);
	else
		snprintf(f->last_error, sizeof(f->last_error), "%s: %s", what,
			 r ? "unexpected reply" : "connection lost");
}

/* One key argument: PREFIX followed by what fmt makes (":3",
 * ":lease:3", ":members"). */
static void __attribute__((format(printf, 2, 3)))
put_key(struct fleet *f, const char *fmt, ...)
{
	char k[512];
	va_list ap;
	size_t n = strlen(f->prefix);	/* <= CONFIG_RKEY_MAX (config) */

	memcpy(k, f->prefix, n);
	va_start(ap, fmt);
	n += (size_t)vsnprintf(k + n, sizeof(k) - n, fmt, ap);
	va_end(ap);
	resp_arg(&f->cmd, k, n);
}

static int rsend(struct fleet *f, redis_reply_fn fn, void *arg)
{
	int rc = redis_send(f->rc, &f->cmd, fn, arg);

	buf_reset(&f->cmd);
	if (rc < 0 && rc != -ENOTCONN)
		snprintf(f->last_error, sizeof(f->last_error),
			 "cannot queue a command: %s", strerror(-rc));
	return rc;
}

/* ---- jobs ------------------------------------------------------------- */

static uint64_t tag_of(uint32_t part, uint32_t epoch)
{
	return (uint64_t)epoch << 32 | (part + 1);
}

static struct fleet_part *part_of(const struct fleet *f, const struct job *j,
				  uint32_t *epoch)
{
	uint32_t idx = (uint32_t)(j->origin & 0xffffffffu) - 1;

	if (!j->source || !j->origin || idx >= f->n)
		return NULL;
	if (epoch)
		*epoch = (uint32_t)(j->origin >> 32);
	return &f->parts[idx];
}

bool fleet_owns_job(const struct job *j)
{
	return j->source && j->origin;
}

static bool lease_valid(const struct fleet *f, const struct fleet_part *p)
{
	return (p->state == P_OWNED || p->state == P_DRAINING ||
		p->state == P_RELEASING) &&
	       loop_now_ms(f->loop) < p->valid_until;
}

/* sched.keep: a job is recorded only while its lease, as taken when it
 * was read, surely holds. */
static bool keep(void *arg, const struct job *j)
{
	struct fleet *f = arg;
	uint32_t epoch;
	struct fleet_part *p = part_of(f, j, &epoch);

	if (!p)
		return true;
	if (p->epoch == epoch && lease_valid(f, p))
		return true;
	p->live--;
	f->st.dropped++;
	return false;
}

void fleet_give_back(struct fleet *f, struct job *j)
{
	struct fleet_part *p = part_of(f, j, NULL);

	if (p)
		p->live--;
	f->st.given_back++;
	sched_drop(f->sched, j);
}

/* Hand back what of partition idx waits in the queue (it is not ours any
 * more, or is going); running jobs end as keep() decides. */
static void give_back_queued(struct fleet *f, uint32_t idx)
{
	struct sched *s = f->sched;

	for (struct job *j = sched_first(s), *next; j; j = next) {
		struct fleet_part *p = part_of(f, j, NULL);

		next = sched_next(s, j);
		if (p == &f->parts[idx] && j->state != JS_RUNNING)
			fleet_give_back(f, j);
	}
}

static int push_ack(struct fleet *f, uint64_t rec, uint32_t part,
		    const char *id)
{
	struct fleet_ack *a;

	if (f->ack_len == f->ack_cap) {
		size_t ncap = f->ack_cap ? 2 * f->ack_cap : 256;
		struct fleet_ack *v = malloc(ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < f->ack_len; i++)
			v[i] = f->acks[(f->ack_head + i) % f->ack_cap];
		free(f->acks);
		f->acks = v;
		f->ack_cap = ncap;
		f->ack_head = 0;
	}
	a = &f->acks[(f->ack_head + f->ack_len) % f->ack_cap];
	a->rec = rec;
	a->part = part;
	snprintf(a->id, sizeof(a->id), "%s", id);
	f->ack_len++;
	return 0;
}

/* After the record writer: the entry is acknowledged once its record is
 * durable (the hook). A lost record gets no acknowledgement: the entry
 * stays pending and is fetched again when its partition changes hands. */
static void on_finished(struct sched_observer *o, const struct job *j)
{
	struct fleet *f = container_of(o, struct fleet, obs);
	struct fleet_part *p = part_of(f, j, NULL);
	const char *id;

	if (!p)
		return;
	p->live--;
	id = strrchr(j->source, '/');
	if (f->results->last_lost || !id)
		return;
	if (push_ack(f, f->results->records, (uint32_t)(p - f->parts),
		     id + 1) < 0) {
		log_error("redis: no memory to remember entry %s; it is "
			  "fetched again when its partition changes hands",
			  j->source);
		return;
	}
	p->unacked++;
}

/* ---- acknowledgements -------------------------------------------------- */

static void on_acked(void *arg, const struct resp_reply *r);

static void send_batch(struct fleet *f, struct ack_batch *b)
{
	const char *id = b->ids;

	resp_begin(&f->cmd, 3 + b->n);
	resp_arg_str(&f->cmd, "XACK");
	put_key(f, ":%u", b->part);
	resp_arg_str(&f->cmd, f->group);
	for (uint32_t i = 0; i < b->n; i++, id += strlen(id) + 1)
		resp_arg_str(&f->cmd, id);
	if (rsend(f, on_acked, b) < 0) {
		b->next = f->resend;
		f->resend = b;
		return;
	}
	f->acks_busy++;
}

static void on_acked(void *arg, const struct resp_reply *r)
{
	struct ack_batch *b = arg;
	struct fleet *f = b->f;

	f->acks_busy--;
	if (!r) {
		/* it may or may not have run; XACK twice is harmless */
		b->next = f->resend;
		f->resend = b;
		return;
	}
	if (r->type == RESP_ERROR)
		set_error(f, "XACK", r);
	f->parts[b->part].unacked -= b->n;
	f->st.acked += b->n;
	free(b);
}

/* Batch the acknowledgements whose records are durable, per partition in
 * runs, oldest first. */
static void flush_acks(struct fleet *f)
{
	uint64_t synced = f->results->synced;

	while (f->resend && redis_up(f->rc)) {
		struct ack_batch *b = f->resend;

		f->resend = b->next;
		send_batch(f, b);
		if (f->resend == b)
			return;		/* could not queue: later */
	}
	while (f->ack_len && redis_up(f->rc)) {
		const struct fleet_ack *a = &f->acks[f->ack_head];
		uint32_t part = a->part, n = 0;
		size_t bytes = 0;
		struct ack_batch *b;
		char *w;

		if (a->rec > synced)
			return;
		for (size_t i = 0; i < f->ack_len && n < ACK_BATCH_MAX; i++) {
			a = &f->acks[(f->ack_head + i) % f->ack_cap];
			if (a->rec > synced || a->part != part)
				break;
			bytes += strlen(a->id) + 1;
			n++;
		}
		b = malloc(sizeof(*b) + bytes);
		if (!b)
			return;
		b->f = f;
		b->part = part;
		b->n = n;
		w = b->ids;
		for (uint32_t i = 0; i < n; i++) {
			a = &f->acks[f->ack_head];
			w = stpcpy(w, a->id) + 1;
			f->ack_head = (f->ack_head + 1) % f->ack_cap;
			f->ack_len--;
		}
		send_batch(f, b);
	}
}

/* ---- entries ------------------------------------------------------------ */

static const struct resp_reply *field(const struct resp_reply *kv,
				      const char *name)
{
	for (size_t i = 0; kv && i + 1 < kv->n; i += 2)
		if (resp_str_eq(&kv->elem[i], name) &&
		    kv->elem[i + 1].type == RESP_BULK)
			return &kv->elem[i + 1];
	return NULL;
}

static char *dup_str(const struct resp_reply *v)
{
	char *s;

	if (!v)
		return NULL;
	s = malloc(v->len + 1);
	if (s) {
		memcpy(s, v->str, v->len);
		s[v->len] = '\0';
	}
	return s;
}

/* The optional fields as a submit's JSON object, checked the way a
 * control-socket submit is. Returns 0 (doc parsed, or nothing to apply
 * when doc->root is NULL) or -1 with why. */
static int entry_spec(const struct resp_reply *kv, struct json_doc *doc,
		      char *why, size_t wl)
{
	const struct resp_reply *h = field(kv, "headers");
	const struct resp_reply *et = field(kv, "etag");
	const struct resp_reply *lm = field(kv, "last_modified");
	struct buf b;
	int rc = 0;

	memset(doc, 0, sizeof(*doc));
	if (!h && !et && !lm)
		return 0;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "{");
	if (h) {
		buf_puts(&b, "\"headers\":");
		buf_append(&b, h->str, h->len);
	}
	if (et) {
		buf_puts(&b, h ? ",\"etag\":" : "\"etag\":");
		json_put_strn(&b, et->str, et->len);
	}
	if (lm) {
		buf_puts(&b, h || et ? ",\"last_modified\":" :
				       "\"last_modified\":");
		json_put_strn(&b, lm->str, lm->len);
	}
	buf_puts(&b, "}");
	if (json_parse(b.p ? b.p : "", b.len, doc, why, wl) < 0 ||
	    jobspec_check(doc->root, why, wl) < 0) {
		if (!doc->root)
			snprintf(why, wl, "the entry's headers field is not a "
				 "JSON object of strings");
		rc = -1;
	}
	buf_fini(&b);
	return rc;
}

/* Turn one entry [ID, [field, value, ...]] of partition idx into a job, or
 * into its record when it is not one. A deleted entry (no fields) is
 * acknowledged at once. */
static void take_entry(struct fleet *f, uint32_t idx,
		       const struct resp_reply *e)
{
	struct fleet_part *p = &f->parts[idx];
	const struct resp_reply *id, *kv, *url;
	char source[600], eid[40], why[256];
	uint64_t tag = tag_of(idx, p->epoch), num = 0;
	struct json_doc doc;
	char *jid = NULL;
	struct job *j;

	if (e->type != RESP_ARRAY || e->n != 2 ||
	    e->elem[0].type != RESP_BULK || e->elem[0].len >= sizeof(eid))
		return;
	id = &e->elem[0];
	kv = e->elem[1].type == RESP_ARRAY ? &e->elem[1] : NULL;
	snprintf(eid, sizeof(eid), "%.*s", (int)id->len, id->str);
	if (!kv) {
		/* record number 0: acknowledged with the next batch */
		if (push_ack(f, 0, idx, eid) == 0)
			p->unacked++;
		return;
	}
	snprintf(source, sizeof(source), "%s:%u/%s", f->prefix, idx, eid);
	url = field(kv, "url");
	jid = dup_str(field(kv, "id"));
	f->st.taken++;
	p->live++;
	if (!url) {
		f->st.invalid++;
		num = sched_reject_src(f->sched, "", 0, jid,
				       "the Redis entry has no url field",
				       source, tag);
	} else if (entry_spec(kv, &doc, why, sizeof(why)) < 0) {
		f->st.invalid++;
		num = sched_reject_src(f->sched, url->str, url->len, jid, why,
				       source, tag);
		json_doc_free(&doc);
	} else {
		j = sched_submit_src(f->sched, url->str, url->len, jid, source,
				     tag, &num);
		if (j && doc.root && jobspec_apply(j, doc.root) < 0)
			log_warn("redis: entry %s: no memory for all its "
				 "headers", source);
		json_doc_free(&doc);
	}
	if (!num) {
		/* out of memory: nothing accepted; it stays pending */
		p->live--;
		log_error("redis: entry %s not taken: out of memory", source);
	}
	free(jid);
}

/* ---- reading ------------------------------------------------------------ */

static void on_read(void *arg, const struct resp_reply *r);
static void on_claimed(void *arg, const struct resp_reply *r);

/* Which partition a stream key names, or -1. */
static int stream_part(const struct fleet *f, const struct resp_reply *k)
{
	size_t pl = strlen(f->prefix);
	unsigned long v = 0;

	if (k->type != RESP_BULK || k->len <= pl + 1 ||
	    memcmp(k->str, f->prefix, pl) != 0 || k->str[pl] != ':')
		return -1;
	for (size_t i = pl + 1; i < k->len; i++) {
		if (k->str[i] < '0' || k->str[i] > '9' || v > f->n)
			return -1;
		v = v * 10 + (unsigned long)(k->str[i] - '0');
	}
	return v < f->n ? (int)v : -1;
}

static bool readable(const struct fleet *f, const struct fleet_part *p)
{
	return p->state == P_OWNED && !p->claiming && lease_valid(f, p);
}

static void claim_next(struct fleet *f, uint32_t room)
{
	for (uint32_t i = 0; i < f->n; i++) {
		struct fleet_part *p = &f->parts[i];
		char cnt[16];

		if (p->state != P_OWNED || !p->claiming)
			continue;
		snprintf(cnt, sizeof(cnt), "%u",
			 room < CLAIM_COUNT_MAX ? room : CLAIM_COUNT_MAX);
		resp_begin(&f->cmd, 8);
		resp_arg_str(&f->cmd, "XAUTOCLAIM");
		put_key(f, ":%u", i);
		resp_arg_str(&f->cmd, f->group);
		resp_arg_str(&f->cmd, f->consumer);
		resp_arg_str(&f->cmd, "0");
		resp_arg_str(&f->cmd, p->cursor);
		resp_arg_str(&f->cmd, "COUNT");
		resp_arg_str(&f->cmd, cnt);
		if (rsend(f, on_claimed, p) == 0)
			f->read_busy = true;
		return;
	}
}

static void read_streams(struct fleet *f, uint32_t room)
{
	uint32_t idx[4096], k = 0, count;
	char cnt[16];

	for (uint32_t i = 0; i < f->n && k < room; i++) {
		uint32_t at = (f->read_from + i) % f->n;

		if (readable(f, &f->parts[at]))
			idx[k++] = at;
	}
	if (!k)
		return;
	f->read_from = (f->read_from + 1) % f->n;
	count = room / k;
	if (count > READ_COUNT_MAX)
		count = READ_COUNT_MAX;
	snprintf(cnt, sizeof(cnt), "%u", count ? count : 1);
	resp_begin(&f->cmd, 7 + 2 * k);
	resp_arg_str(&f->cmd, "XREADGROUP");
	resp_arg_str(&f->cmd, "GROUP");
	resp_arg_str(&f->cmd, f->group);
	resp_arg_str(&f->cmd, f->consumer);
	resp_arg_str(&f->cmd, "COUNT");
	resp_arg_str(&f->cmd, cnt);
	resp_arg_str(&f->cmd, "STREAMS");
	for (uint32_t i = 0; i < k; i++)
		put_key(f, ":%u", idx[i]);
	for (uint32_t i = 0; i < k; i++)
		resp_arg_str(&f->cmd, ">");
	if (rsend(f, on_read, f) == 0)
		f->read_busy = true;
}

static bool any_claiming(const struct fleet *f)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (f->parts[i].state == P_OWNED && f->parts[i].claiming)
			return true;
	return false;
}

static void on_read_timer(struct timer *t)
{
	struct fleet *f = container_of(t, struct fleet, t_read);
	uint32_t room;

	if (!f->up || f->read_busy || f->stopping)
		return;
	room = sched_room(f->sched);
	if (!room) {
		sched_wait_room(f->sched, &f->room);
		return;
	}
	if (any_claiming(f))
		claim_next(f, room);
	else if (loop_now_ms(f->loop) >= f->next_read_ms)
		read_streams(f, room);
	else
		kick_read(f, f->next_read_ms);
}

static void kick_read(struct fleet *f, uint64_t at)
{
	if (!timer_armed(&f->t_read) || f->t_read.at_ms > at)
		loop_timer_arm(f->loop, &f->t_read, at, on_read_timer);
}

static void on_room(struct sched_room_wait *w)
{
	struct fleet *f = container_of(w, struct fleet, room);

	kick_read(f, loop_now_ms(f->loop));
}

static void on_read(void *arg, const struct resp_reply *r)
{
	struct fleet *f = arg;
	size_t got = 0;

	f->read_busy = false;
	if (!r || r->type == RESP_ERROR) {
		set_error(f, "XREADGROUP", r);
		if (r && r->len >= 7 && !memcmp(r->str, "NOGROUP", 7))
			f->up = false;	/* the stream went: make groups */
		return;
	}
	for (size_t i = 0; r->type == RESP_ARRAY && i < r->n; i++) {
		const struct resp_reply *s = &r->elem[i];
		int idx;

		if (s->type != RESP_ARRAY || s->n != 2 ||
		    (idx = stream_part(f, &s->elem[0])) < 0 ||
		    s->elem[1].type != RESP_ARRAY)
			continue;
		for (size_t k = 0; k < s->elem[1].n; k++, got++)
			take_entry(f, (uint32_t)idx, &s->elem[1].elem[k]);
	}
	if (got) {
		f->idle_reads = 0;
		f->next_read_ms = 0;
	} else {
		uint64_t wait = (uint64_t)POLL_MIN_MS << (f->idle_reads < 4 ?
							  f->idle_reads : 4);

		f->idle_reads++;
		f->next_read_ms = loop_now_ms(f->loop) +
				  (wait < POLL_MAX_MS ? wait : POLL_MAX_MS);
	}
	kick_read(f, f->next_read_ms);
}

/* XAUTOCLAIM's reply: [next cursor, [entries], [deleted IDs]]. The
 * entries are the partition's pending ones: a dead owner's, or our own
 * from before the lease was last lost. */
static void on_claimed(void *arg, const struct resp_reply *r)
{
	struct fleet_part *p = arg;
	struct fleet *f = p->f;
	uint32_t idx = (uint32_t)(p - f->parts);

	f->read_busy = false;
	if (!r || r->type != RESP_ARRAY || r->n < 2 ||
	    r->elem[0].type != RESP_BULK || r->elem[1].type != RESP_ARRAY) {
		set_error(f, "XAUTOCLAIM", r);
		if (r && r->type == RESP_ERROR && r->len >= 7 &&
		    !memcmp(r->str, "NOGROUP", 7))
			f->up = false;
		kick_read(f, loop_now_ms(f->loop) + POLL_MAX_MS);
		return;
	}
	if (p->state == P_OWNED) {
		for (size_t k = 0; k < r->elem[1].n; k++) {
			f->st.claimed++;
			take_entry(f, idx, &r->elem[1].elem[k]);
		}
		snprintf(p->cursor, sizeof(p->cursor), "%.*s",
			 (int)r->elem[0].len, r->elem[0].str);
		if (strcmp(p->cursor, "0-0") == 0)
			p->claiming = false;
	}
	kick_read(f, loop_now_ms(f->loop));
}

/* ---- leases ------------------------------------------------------------- */

static void lease_lost(struct fleet *f, uint32_t idx, const char *why)
{
	struct fleet_part *p = &f->parts[idx];

	log_warn("redis: partition %u: lease lost (%s); its jobs here end "
		 "without records and its next owner fetches them", idx, why);
	p->state = P_FREE;
	p->claiming = false;
	f->st.leases_lost++;
	give_back_queued(f, idx);
}

static void on_renewed(void *arg, const struct resp_reply *r)
{
	struct fleet_part *p = arg;
	struct fleet *f = p->f;
	uint32_t idx = (uint32_t)(p - f->parts);

	p->renew_busy = false;
	if (!r || r->type == RESP_ERROR) {
		set_error(f, "lease renewal", r);
		return;			/* valid_until runs out on its own */
	}
	if (p->state != P_OWNED && p->state != P_DRAINING)
		return;
	if (r->type == RESP_INT && r->integer == 1)
		return;			/* valid_until was moved at sending */
	lease_lost(f, idx, "another daemon holds it");
}

/* The time until which a lease set or renewed at sent surely holds: Redis
 * started its TTL after we sent, and a tenth is left for clocks that run
 * at slightly different rates. */
static uint64_t valid_from(const struct fleet *f, uint64_t sent)
{
	return sent + f->claim_idle_ms - f->claim_idle_ms / 10;
}

static void renew(struct fleet *f, uint32_t idx)
{
	struct fleet_part *p = &f->parts[idx];
	uint64_t sent = loop_now_ms(f->loop);

	if (p->renew_busy)
		return;
	resp_begin(&f->cmd, 6);
	resp_arg_str(&f->cmd, "EVAL");
	resp_arg_str(&f->cmd, renew_lua);
	resp_arg_str(&f->cmd, "1");
	put_key(f, ":lease:%u", idx);
	resp_arg_str(&f->cmd, p->token);
	resp_arg_u64(&f->cmd, f->claim_idle_ms);
	if (rsend(f, on_renewed, p) < 0)
		return;
	p->renew_busy = true;
	/* If the answer is 1, the lease holds from now: a later answer
	 * cannot make an earlier send younger. */
	if (lease_valid(f, p))
		p->valid_until = valid_from(f, sent) > p->valid_until ?
					 valid_from(f, sent) : p->valid_until;
}

static void on_acquired(void *arg, const struct resp_reply *r)
{
	struct fleet_part *p = arg;
	struct fleet *f = p->f;
	uint32_t idx = (uint32_t)(p - f->parts);

	if (p->state != P_ACQUIRING)
		return;
	p->state = P_FREE;
	if (!r || r->type == RESP_NIL)
		return;
	if (r->type == RESP_ERROR) {
		set_error(f, "lease", r);
		return;
	}
	p->state = P_OWNED;
	p->epoch++;
	p->claiming = true;
	snprintf(p->cursor, sizeof(p->cursor), "0-0");
	f->st.leases_taken++;
	log_info("redis: partition %u: lease taken; claiming its pending "
		 "entries", idx);
	kick_read(f, loop_now_ms(f->loop));
}

static void acquire(struct fleet *f, uint32_t idx)
{
	struct fleet_part *p = &f->parts[idx];

	snprintf(p->token, sizeof(p->token), "%s:%llu", f->token_base,
		 (unsigned long long)++f->token_seq);
	resp_begin(&f->cmd, 6);
	resp_arg_str(&f->cmd, "SET");
	put_key(f, ":lease:%u", idx);
	resp_arg_str(&f->cmd, p->token);
	resp_arg_str(&f->cmd, "NX");
	resp_arg_str(&f->cmd, "PX");
	resp_arg_u64(&f->cmd, f->claim_idle_ms);
	p->valid_until = valid_from(f, loop_now_ms(f->loop));
	if (rsend(f, on_acquired, p) == 0)
		p->state = P_ACQUIRING;
}

static void on_released(void *arg, const struct resp_reply *r)
{
	struct fleet_part *p = arg;

	(void)r;
	if (p->state == P_RELEASING) {
		p->state = P_FREE;
		p->f->st.leases_released++;
	}
}

static void release(struct fleet *f, uint32_t idx)
{
	struct fleet_part *p = &f->parts[idx];

	resp_begin(&f->cmd, 5);
	resp_arg_str(&f->cmd, "EVAL");
	resp_arg_str(&f->cmd, release_lua);
	resp_arg_str(&f->cmd, "1");
	put_key(f, ":lease:%u", idx);
	resp_arg_str(&f->cmd, p->token);
	if (rsend(f, on_released, p) == 0)
		p->state = P_RELEASING;
}

/* Stop reading idx, hand back what waits, release once nothing of it is
 * held here (the hook checks). */
static void drain(struct fleet *f, uint32_t idx)
{
	f->parts[idx].state = P_DRAINING;
	f->parts[idx].claiming = false;
	give_back_queued(f, idx);
	log_info("redis: partition %u: handing over (the fleet has %u "
		 "members)", idx, f->members);
}

static void on_leases(void *arg, const struct resp_reply *r)
{
	struct fleet *f = arg;
	uint32_t share, owned = 0, start;

	if (!r || r->type != RESP_ARRAY || r->n != f->n) {
		set_error(f, "MGET of the leases", r);
		return;
	}
	share = (f->n + f->members - 1) / (f->members ? f->members : 1);
	for (uint32_t i = 0; i < f->n; i++) {
		struct fleet_part *p = &f->parts[i];
		const struct resp_reply *v = &r->elem[i];

		if ((p->state == P_OWNED || p->state == P_DRAINING) &&
		    !resp_str_eq(v, p->token) && !p->renew_busy)
			lease_lost(f, i, v->type == RESP_NIL ? "it expired" :
				   "another daemon holds it");
		if (p->state == P_OWNED || p->state == P_ACQUIRING)
			owned++;
	}
	for (uint32_t i = f->n; i-- > 0 && owned > share;) {
		if (f->parts[i].state == P_OWNED) {
			drain(f, i);
			owned--;
		}
	}
	if (f->stopping)
		return;
	/* start where this daemon's name points, so joiners spread out */
	start = hash_fnv1a32_lower(f->consumer, strlen(f->consumer)) % f->n;
	for (uint32_t k = 0; k < f->n && owned < share; k++) {
		uint32_t i = (start + k) % f->n;

		if (f->parts[i].state == P_FREE &&
		    r->elem[i].type == RESP_NIL) {
			acquire(f, i);
			owned++;
		}
	}
}

static void on_beat(void *arg, const struct resp_reply *r)
{
	struct fleet *f = arg;

	f->beat_busy = false;
	if (!r || r->type != RESP_INT) {
		set_error(f, "heartbeat", r);
		return;
	}
	f->members = r->integer > 0 ? (uint32_t)r->integer : 1;
	resp_begin(&f->cmd, 1 + f->n);
	resp_arg_str(&f->cmd, "MGET");
	for (uint32_t i = 0; i < f->n; i++)
		put_key(f, ":lease:%u", i);
	rsend(f, on_leases, f);
}

static void beat(struct fleet *f)
{
	resp_begin(&f->cmd, 6);
	resp_arg_str(&f->cmd, "EVAL");
	resp_arg_str(&f->cmd, beat_lua);
	resp_arg_str(&f->cmd, "1");
	put_key(f, ":members");
	resp_arg_str(&f->cmd, f->consumer);
	resp_arg_u64(&f->cmd, f->claim_idle_ms);
	if (rsend(f, on_beat, f) == 0)
		f->beat_busy = true;
}

/* ---- the connection and the tick ---------------------------------------- */

static void on_group(void *arg, const struct resp_reply *r)
{
	struct fleet_part *p = arg;
	struct fleet *f = p->f;

	if (r && r->type == RESP_ERROR && !(r->len >= 9 &&
					    !memcmp(r->str, "BUSYGROUP", 9)))
		set_error(f, "XGROUP CREATE", r);
	if (p != &f->parts[f->n - 1])
		return;
	f->groups_busy = false;
	if (!r || !redis_up(f->rc))
		return;
	f->up = true;
	log_info("redis: connected; %u job streams %s:0..%u, group %s, "
		 "consumer %s", f->n, f->prefix, f->n - 1, f->group,
		 f->consumer);
	kick_read(f, loop_now_ms(f->loop));
}

/* Each stream and its group, made when missing, so jobs pushed before
 * any daemon ran are read from the start. */
static void make_groups(struct fleet *f)
{
	for (uint32_t i = 0; i < f->n; i++) {
		resp_begin(&f->cmd, 6);
		resp_arg_str(&f->cmd, "XGROUP");
		resp_arg_str(&f->cmd, "CREATE");
		put_key(f, ":%u", i);
		resp_arg_str(&f->cmd, f->group);
		resp_arg_str(&f->cmd, "0");
		resp_arg_str(&f->cmd, "MKSTREAM");
		if (rsend(f, on_group, &f->parts[i]) < 0)
			return;
	}
	f->groups_busy = true;
}

static void on_state(void *arg, bool up)
{
	struct fleet *f = arg;

	if (!up) {
		f->up = false;
		snprintf(f->last_error, sizeof(f->last_error), "%s",
			 redis_last_error(f->rc));
		log_warn("redis: disconnected (%s); intake paused, fetching "
			 "goes on", f->last_error);
		return;
	}
	make_groups(f);
}

static void on_tick(struct timer *t)
{
	struct fleet *f = container_of(t, struct fleet, t_tick);
	uint64_t now = loop_now_ms(f->loop);

	loop_timer_arm(f->loop, &f->t_tick, now + f->tick_ms, on_tick);
	for (uint32_t i = 0; i < f->n; i++) {
		struct fleet_part *p = &f->parts[i];

		if ((p->state == P_OWNED || p->state == P_DRAINING) &&
		    now >= p->valid_until)
			lease_lost(f, i, "not renewed within claim_idle");
	}
	if (!redis_up(f->rc))
		return;
	if (!f->up) {
		if (!f->groups_busy)
			make_groups(f);
		return;
	}
	for (uint32_t i = 0; i < f->n; i++)
		if (f->parts[i].state == P_OWNED ||
		    f->parts[i].state == P_DRAINING)
			renew(f, i);
	if (!f->beat_busy && !f->stopping)
		beat(f);
	kick_read(f, now);
}

/* Each turn: acknowledge what became durable, release drained leases. */
static void on_hook(struct loop_hook *h)
{
	struct fleet *f = container_of(h, struct fleet, hook);

	flush_acks(f);
	if (!redis_up(f->rc))
		return;
	for (uint32_t i = 0; i < f->n; i++) {
		struct fleet_part *p = &f->parts[i];

		if (p->state == P_DRAINING && !p->live && !p->unacked)
			release(f, i);
	}
}

static void make_names(struct fleet *f)
{
	char host[128] = "localhost";
	uint64_t rnd = 0;

	if (f->cfg->source.redis.consumer[0]) {
		snprintf(f->consumer, sizeof(f->consumer), "%s",
			 f->cfg->source.redis.consumer);
	} else {
		gethostname(host, sizeof(host) - 1);
		snprintf(f->consumer, sizeof(f->consumer), "%s-%ld", host,
			 (long)getpid());
	}
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint64_t)getpid() << 32 ^ loop_wall_ms();
	snprintf(f->token_base, sizeof(f->token_base), "%s:%016llx",
		 f->consumer, (unsigned long long)rnd);
}

int fleet_open(struct fleet *f, struct loop *l, struct sched *s,
	       const struct results *r, const struct config *cfg, char *err,
	       size_t errlen)
{
	char name[200];
	int rc;

	memset(f, 0, sizeof(*f));
	f->loop = l;
	f->sched = s;
	f->results = r;
	f->cfg = cfg;
	f->n = cfg->source.redis.partitions;
	f->claim_idle_ms = cfg->source.redis.claim_idle_ms;
	f->tick_ms = f->claim_idle_ms / 4 < 1000 ? f->claim_idle_ms / 4 : 1000;
	f->members = 1;
	buf_init(&f->cmd, REDIS_QUEUE_MAX);
	f->prefix = strdup(cfg->source.redis.stream);
	f->group = strdup(cfg->source.redis.group);
	f->parts = calloc(f->n, sizeof(*f->parts));
	if (!f->prefix || !f->group || !f->parts) {
		snprintf(err, errlen, "source.redis: out of memory");
		fleet_fini(f);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < f->n; i++)
		f->parts[i].f = f;
	make_names(f);
	/* CLIENT SETNAME takes no spaces */
	snprintf(name, sizeof(name), "ringfetchd-%s", f->consumer);
	for (char *c = name; *c; c++)
		if (*c <= ' ')
			*c = '_';
	rc = redis_new(&f->rc, l, cfg->source.redis.url, name, err, errlen);
	if (rc < 0) {
		fleet_fini(f);
		return rc;
	}
	redis_set_state_cb(f->rc, on_state, f);
	f->room.room = on_room;
	f->obs.finished = on_finished;
	sched_observe(s, &f->obs);
	s->keep = keep;
	s->keep_arg = f;
	f->hook.fn = on_hook;
	loop_add_hook(l, &f->hook);
	loop_timer_arm(l, &f->t_tick, loop_now_ms(l) + f->tick_ms, on_tick);
	return 0;
}

void fleet_stop(struct fleet *f)
{
	f->stopping = true;
	sched_unwait_room(&f->room);
	loop_timer_cancel(f->loop, &f->t_read);
}

void fleet_release_all(struct fleet *f)
{
	fleet_stop(f);
	loop_timer_cancel(f->loop, &f->t_tick);
	flush_acks(f);
	if (!redis_up(f->rc))
		return;
	for (uint32_t i = 0; i < f->n; i++) {
		struct fleet_part *p = &f->parts[i];

		if ((p->state == P_OWNED || p->state == P_DRAINING) &&
		    !p->live)
			release(f, i);
	}
	resp_begin(&f->cmd, 3);
	resp_arg_str(&f->cmd, "ZREM");
	put_key(f, ":members");
	resp_arg_str(&f->cmd, f->consumer);
	rsend(f, NULL, NULL);
}

bool fleet_idle(const struct fleet *f)
{
	return !f->rc || !redis_up(f->rc) || redis_pending(f->rc) == 0;
}

static uint32_t held(const struct fleet *f)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->n; i++)
		n += f->parts[i].live + f->parts[i].unacked;
	return n;
}

int fleet_status(const struct fleet *f, struct buf *b)
{
	bool first = true;

	buf_printf(b, "{\"connected\":%s,\"consumer\":",
		   f->up ? "true" : "false");
	json_put_str(b, f->consumer);
	buf_puts(b, ",\"partitions\":[");
	for (uint32_t i = 0; i < f->n; i++) {
		if (f->parts[i].state != P_OWNED &&
		    f->parts[i].state != P_DRAINING)
			continue;
		buf_printf(b, first ? "%u" : ",%u", i);
		first = false;
	}
	buf_printf(b, "],\"members\":%u,\"pending\":%u,\"taken\":%llu,"
		   "\"acked\":%llu,\"dropped\":%llu,\"last_error\":",
		   f->members, held(f), (unsigned long long)f->st.taken,
		   (unsigned long long)f->st.acked,
		   (unsigned long long)f->st.dropped);
	json_put_str_or_null(b, f->last_error[0] ? f->last_error : NULL);
	return buf_puts(b, "}");
}

int fleet_metrics(const void *arg, struct buf *b)
{
	const struct fleet *f = arg;
	uint32_t owned = 0;

	for (uint32_t i = 0; i < f->n; i++)
		owned += f->parts[i].state == P_OWNED ||
			 f->parts[i].state == P_DRAINING;
	buf_printf(b,
		"# HELP ringfetch_redis_connected Whether source.redis is connected.\n"
		"# TYPE ringfetch_redis_connected gauge\n"
		"ringfetch_redis_connected %d\n"
		"# HELP ringfetch_redis_partitions Job stream partitions this daemon leases.\n"
		"# TYPE ringfetch_redis_partitions gauge\n"
		"ringfetch_redis_partitions %u\n"
		"# HELP ringfetch_redis_members Daemons in the fleet at the last heartbeat.\n"
		"# TYPE ringfetch_redis_members gauge\n"
		"ringfetch_redis_members %u\n"
		"# HELP ringfetch_redis_pending Entries taken and not acknowledged yet.\n"
		"# TYPE ringfetch_redis_pending gauge\n"
		"ringfetch_redis_pending %u\n",
		f->up, owned, f->members, held(f));
	return buf_printf(b,
		"# HELP ringfetch_redis_entries_total Entries taken from the job streams.\n"
		"# TYPE ringfetch_redis_entries_total counter\n"
		"ringfetch_redis_entries_total %llu\n"
		"# HELP ringfetch_redis_acked_total Entries acknowledged after their record was durable.\n"
		"# TYPE ringfetch_redis_acked_total counter\n"
		"ringfetch_redis_acked_total %llu\n"
		"# HELP ringfetch_redis_dropped_total Jobs ended without a record because their lease was lost.\n"
		"# TYPE ringfetch_redis_dropped_total counter\n"
		"ringfetch_redis_dropped_total %llu\n"
		"# HELP ringfetch_redis_leases_lost_total Partition leases lost while held.\n"
		"# TYPE ringfetch_redis_leases_lost_total counter\n"
		"ringfetch_redis_leases_lost_total %llu\n",
		(unsigned long long)f->st.taken,
		(unsigned long long)f->st.acked,
		(unsigned long long)f->st.dropped,
		(unsigned long long)f->st.leases_lost);
}

void fleet_fini(struct fleet *f)
{
	struct ack_batch *b;

	if (f->loop) {
		loop_timer_cancel(f->loop, &f->t_tick);
		loop_timer_cancel(f->loop, &f->t_read);
		loop_remove_hook(f->loop, &f->hook);
	}
	if (f->sched && f->obs.finished) {
		sched_unobserve(f->sched, &f->obs);
		sched_unwait_room(&f->room);
		f->sched->keep = NULL;
	}
	redis_free(f->rc);	/* callbacks get NULL: batches go to resend */
	f->rc = NULL;
	while ((b = f->resend)) {
		f->resend = b->next;
		free(b);
	}
	free(f->acks);
	free(f->parts);
	free(f->prefix);
	free(f->group);
	buf_fini(&f->cmd);
	memset(f, 0, sizeof(*f));
}
