/* Scheduling: jobs wait in per-host queues (the bounded queue is their sum
 * plus those waiting to retry); once per loop turn the pump starts as many
 * as the global cap allows, round-robin over hosts with room. Every attempt
 * takes a slot (struct slot) and comes back through on_attempt() with a
 * struct conn_result; attempt_done() is the one place that decides
 * redirect, retry or final record; every job leaves through finish(). */
#include "engine/sched.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/backoff.h"
#include "http/http.h"
#include "net/conn.h"
#include "net/workers.h"
#include "net/dns.h"
#include "net/tls.h"
#include "engine/dedupe.h"
#include "engine/job.h"
#include "base/log.h"

#define SHORTAGE_WAIT_MS 100	/* a job put off for want of a descriptor */
#define SHORTAGE_HOLD_MS 1000	/* then fd_cap rises by a quarter */

static void pump(struct loop_hook *hook);
static void env_init(struct sched *s);

/* SPEC Fair intake: max(host_share x capacity, 4 x per_host). hold() and
 * unhold() count hosts_at_share only as a host's held crosses the share,
 * so a new share (a reload) recounts it: left as it was, a host above a
 * lowered share would be counted down once too often on its way back
 * below. Producers held back by a share look again, as it may have risen. */
static void set_share(struct sched *s)
{
	const struct config *c = s->cfg;
	uint32_t share = (uint32_t)(c->queue.host_share * c->queue.capacity);
	uint32_t floor = c->limits.per_host * 4;
	uint32_t at = 0;

	share = share > floor ? share : floor;
	if (share == 0)
		share = 1;
	if (share == s->share)
		return;
	s->share = share;
	for (struct host *h = host_first(&s->hosts); h;
	     h = host_next(&s->hosts, h))
		at += h->held >= share;
	s->hosts_at_share = at;
	s->share_freed = true;
	s->loop->busy = true;
}

/* j enters the bounded queue (queued, or waiting to retry) on its host. */
static void hold(struct sched *s, struct job *j)
{
	s->waiting++;
	if (++j->host->held == s->share)
		s->hosts_at_share++;
}

/* j leaves it; a host dropping below its share wakes the producers that
 * wait for one (from the next pump). */
static void unhold(struct sched *s, struct job *j)
{
	s->waiting--;
	if (j->host->held-- == s->share) {
		s->hosts_at_share--;
		s->share_freed = true;
		s->loop->busy = true;
	}
}

uint32_t sched_host_room(const struct sched *s, const struct url *u)
{
	const struct host *h = host_find(&s->hosts, u);
	uint32_t held = h ? h->held : 0;

	return held < s->share ? s->share - held : 0;
}

void sched_wait_share(struct sched *s, struct sched_room_wait *w)
{
	if (!list_linked(&w->node))
		list_push_back(&s->share_waits, &w->node);
}

int sched_init(struct sched *s, struct loop *l, const struct config *cfg,
	       char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->cfg = cfg;
	list_init(&s->all);
	list_init(&s->observers);
	list_init(&s->room_waits);
	list_init(&s->share_waits);
	s->next_job_num = 1;
	s->rng = loop_wall_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	if (host_table_init(&s->hosts, l, cfg->limits.per_host,
			    cfg->limits.per_host_rate) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->hosts.adaptive = cfg->limits.adaptive;
	if (robots_gate_init(&s->robots, cfg, &s->hosts) < 0) {
		host_table_fini(&s->hosts);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (netguard_init(&s->guard, cfg, err, errlen) < 0)
		goto out_robots;
	if (proxy_parse(&s->proxy, cfg->network.proxy, cfg->network.no_proxy.v,
			cfg->network.no_proxy.n, err, errlen) < 0)
		goto out_guard;
	s->dns = dns_new(l, cfg, err, errlen);
	if (!s->dns)
		goto out_proxy;
	env_init(s);
	set_share(s);
	s->pump_hook.fn = pump;
	loop_add_hook(l, &s->pump_hook);
	return 0;
out_proxy:
	proxy_fini(&s->proxy);
out_guard:
	netguard_fini(&s->guard);
out_robots:
	host_table_fini(&s->hosts);
	robots_gate_fini(&s->robots);
	return -EINVAL;
}

void sched_fini(struct sched *s)
{
	assert(s->in_flight == 0);
	conn_env_fini(&s->env);
	dns_free(s->dns);
	proxy_fini(&s->proxy);
	netguard_fini(&s->guard);
	host_table_fini(&s->hosts);
	robots_gate_fini(&s->robots);
}

void sched_snapshot(const struct sched *s, struct sched_snapshot *snap)
{
	snap->st = s->st;
	snap->queued = s->waiting - s->backoff;
	snap->retry_waiting = s->backoff;
	snap->in_flight = s->in_flight;
	snap->queue_capacity = s->cfg->queue.capacity;
	snap->conns = s->conns;
	snap->hosts = s->hosts.count;
	snap->adaptive_cuts = s->hosts.adapt_cuts;
	snap->robots_fetches = s->robots.fetches_total;
	snap->robots_cached = s->robots.cache.count;
	snap->hosts_at_share = s->hosts_at_share;
	snap->parked = s->parked;
	snap->parked_hosts = s->parked_hosts;
}

uint32_t sched_room(const struct sched *s)
{
	uint32_t cap = s->cfg->queue.capacity;

	return s->waiting < cap ? cap - s->waiting : 0;
}

void sched_observe(struct sched *s, struct sched_observer *o)
{
	list_push_back(&s->observers, &o->node);
}

void sched_unobserve(struct sched *s, struct sched_observer *o)
{
	(void)s;
	if (list_linked(&o->node))
		list_remove(&o->node);
}

void sched_wait_room(struct sched *s, struct sched_room_wait *w)
{
	if (!list_linked(&w->node))
		list_push_back(&s->room_waits, &w->node);
}

void sched_unwait_room(struct sched_room_wait *w)
{
	if (list_linked(&w->node))
		list_remove(&w->node);
}

/* From the pump, at the start of a turn: never inside a completion that a
 * producer's submit could re-enter. */
static void wake_room_waiters(struct sched *s)
{
	struct list_node *n, now;

	while (sched_room(s) > 0 && (n = list_first(&s->room_waits))) {
		struct sched_room_wait *w =
			list_entry(n, struct sched_room_wait, node);

		list_remove(n);
		w->room(w);
	}
	if (!s->share_freed)
		return;
	s->share_freed = false;
	/* a waiter may wait again at once: wake only those waiting now */
	list_init(&now);
	while ((n = list_first(&s->share_waits))) {
		list_remove(n);
		list_push_back(&now, n);
	}
	while ((n = list_first(&now))) {
		struct sched_room_wait *w =
			list_entry(n, struct sched_room_wait, node);

		list_remove(n);
		w->room(w);
	}
}

struct job *sched_first(const struct sched *s)
{
	struct list_node *n = list_first(&s->all);

	return n ? list_entry(n, struct job, all_node) : NULL;
}

struct job *sched_next(const struct sched *s, const struct job *j)
{
	struct list_node *n = list_next(&s->all, &j->all_node);

	return n ? list_entry(n, struct job, all_node) : NULL;
}

bool sched_idle(const struct sched *s)
{
	return s->live == 0 && s->conns.open == s->conns.idle;
}

/* src (NULL: "") into dst[cap], cut to fit: once per field per attempt,
 * where snprintf's format parsing showed in profiles. */
static void put_text(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

#define PUT_TEXT(field, src) put_text(field, sizeof(field), src)

static void job_free(struct job *j)
{
	free(j->body_path);
	for (size_t i = 0; i < j->n_headers; i++) {
		free(j->headers[i].name);
		free(j->headers[i].value);
	}
	free(j->headers);
	url_fini(&j->url);
	free(j->url_text);
	free(j->id);
	free(j->source);
	free(j);
}

int sched_job_header(struct job *j, const char *name, const char *value)
{
	struct config_header *h = realloc(j->headers,
					  (j->n_headers + 1) * sizeof(*h));
	struct config_header *e;

	if (!h)
		return -ENOMEM;
	j->headers = h;
	e = &h[j->n_headers];
	e->name = strdup(name);
	e->value = strdup(value ? value : "");
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return -ENOMEM;
	}
	j->n_headers++;
	/* validators make a 304 the answer asked for, whoever set them */
	if (!strcasecmp(name, "If-None-Match") ||
	    !strcasecmp(name, "If-Modified-Since"))
		j->conditional = true;
	return 0;
}

static void untrack(struct sched *s, struct job *j)
{
	assert(s->live > 0);
	list_remove(&j->all_node);
	s->live--;
}

/* The end of a robots.txt fetch: no record; its host's jobs go on. */
static void robots_fetched(struct sched *s, struct job *j)
{
	struct host *origin = robots_gate_done(&s->robots, j,
					       loop_now_ms(s->loop));

	host_robots_done(&s->hosts, origin);
	host_put(&s->hosts, origin);
	host_put(&s->hosts, j->host);
	job_free(j);
}

/* The one exit of every job: exactly one record. */
static void finish(struct sched *s, struct job *j)
{
	struct list_node *n;

	if (j->robots) {
		robots_fetched(s, j);
		return;
	}
	if (j->origin && s->keep && !s->keep(s->keep_arg, j)) {
		/* its producer no longer owns it: another fetches it */
		s->st.taken_back++;
		host_put(&s->hosts, j->host);
		untrack(s, j);
		job_free(j);
		return;
	}
	s->st.done++;
	if (j->err == RF_OK) {
		s->st.ok++;
		s->st.bytes += j->bytes;
	} else {
		s->st.failed++;
		s->st.failed_by[j->err]++;
		s->st.bytes += j->bytes;
	}
	list_for_each(n, &s->observers) {
		struct sched_observer *o =
			list_entry(n, struct sched_observer, node);

		o->finished(o, j);
	}
	if (j->host)
		host_put(&s->hosts, j->host);
	untrack(s, j);
	job_free(j);
}

/* A job holding copies of url, id and source; NULL when out of memory. */
static struct job *job_new_src(const char *url, size_t len, const char *id,
			       const char *source, uint64_t origin)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->origin = origin;
	if (source && !(j->source = strdup(source))) {
		free(j);
		return NULL;
	}
	/* memcpy, not strndup: a NUL inside stays in the record's url */
	j->url_text = malloc(len + 1);
	if (j->url_text) {
		memcpy(j->url_text, url, len);
		j->url_text[len] = '\0';
		j->url_len = len;
	}
	j->id = id ? strdup(id) : NULL;
	if (!j->url_text || (id && !j->id)) {
		job_free(j);
		return NULL;
	}
	return j;
}

static struct job *job_new(const char *url, size_t len, const char *id)
{
	return job_new_src(url, len, id, NULL, 0);
}

/* Number j (num, or the next number when 0) and count it as accepted:
 * from here on it owes exactly one record. */
static void job_accept(struct sched *s, struct job *j, uint64_t num)
{
	if (!num)
		num = s->next_job_num;
	j->num = num;
	if (num >= s->next_job_num)
		s->next_job_num = num + 1;
	j->t_accept_ms = loop_now_ms(s->loop);
	list_push_back(&s->all, &j->all_node);
	s->live++;
	s->st.accepted++;
}

static void job_queue(struct sched *s, struct job *j)
{
	j->state = JS_QUEUED;
	hold(s, j);
	host_enqueue(&s->hosts, j->host, j, false);
}

/* batch.dedupe: a URL this crawl has seen ends at once, naming the job
 * that fetches it. Returns whether j ended so. */
static bool ended_duplicate(struct sched *s, struct job *j)
{
	uint64_t first;

	if (!s->dedupe)
		return false;
	first = dedupe_check(s->dedupe, j->url.href, strlen(j->url.href),
			     j->num);
	if (!first)
		return false;
	j->err = RF_DUPLICATE;
	j->duplicate_of = first;
	snprintf(j->detail, sizeof(j->detail), "the same URL as job %llu "
		 "(batch.dedupe)", (unsigned long long)first);
	finish(s, j);
	return true;
}

static struct job *submit(struct sched *s, struct job *j, const char *url,
			  size_t len, uint64_t want, uint64_t *num);

struct job *sched_submit_ex(struct sched *s, const char *url, size_t len,
			    const char *id, uint64_t want, uint64_t *num)
{
	return submit(s, job_new(url, len, id), url, len, want, num);
}

struct job *sched_submit_src(struct sched *s, const char *url, size_t len,
			     const char *id, const char *source,
			     uint64_t origin, uint64_t *num)
{
	return submit(s, job_new_src(url, len, id, source, origin), url, len,
		      0, num);
}

static struct job *submit(struct sched *s, struct job *j, const char *url,
			  size_t len, uint64_t want, uint64_t *num)
{
	int rc;

	*num = 0;
	if (!j)
		return NULL;
	job_accept(s, j, want);
	*num = j->num;
	rc = url_parse(&j->url, url, len, j->detail, sizeof(j->detail));
	if (rc == URL_OK && ended_duplicate(s, j))
		return NULL;
	if (rc == URL_OK)
		j->host = host_get(&s->hosts, &j->url);
	if (rc != URL_OK || !j->host) {
		if (rc == URL_OK)
			snprintf(j->detail, sizeof(j->detail), "out of memory");
		j->err = RF_INVALID_URL;
		finish(s, j);
		return NULL;
	}
	job_queue(s, j);
	return j;
}

uint64_t sched_submit_num(struct sched *s, const char *url, size_t len,
			  const char *id, uint64_t want)
{
	uint64_t num;

	sched_submit_ex(s, url, len, id, want, &num);
	return num;
}

uint64_t sched_submit(struct sched *s, const char *url, size_t len,
		      const char *id)
{
	return sched_submit_num(s, url, len, id, 0);
}

static uint64_t reject(struct sched *s, struct job *j, const char *detail,
		       uint64_t want);

uint64_t sched_reject(struct sched *s, const char *text, size_t len,
		      const char *id, const char *detail, uint64_t want)
{
	return reject(s, job_new(text, len, id), detail, want);
}

uint64_t sched_reject_src(struct sched *s, const char *text, size_t len,
			  const char *id, const char *detail,
			  const char *source, uint64_t origin)
{
	return reject(s, job_new_src(text, len, id, source, origin), detail,
		      0);
}

static uint64_t reject(struct sched *s, struct job *j, const char *detail,
		       uint64_t want)
{
	uint64_t num;

	if (!j)
		return 0;
	job_accept(s, j, want);
	num = j->num;
	j->err = RF_INVALID_URL;
	put_text(j->detail, sizeof(j->detail), detail);
	finish(s, j);
	return num;
}

static void reset_attempt(struct job *j, uint64_t now)
{
	j->err = RF_OK;
	j->detail[0] = '\0';
	j->status = 0;
	j->bytes = 0;
	j->content_type[0] = '\0';
	j->wire_bytes = 0;
	j->content_encoding[0] = '\0';
	j->etag[0] = '\0';
	j->last_modified[0] = '\0';
	j->sha256[0] = '\0';
	j->ip[0] = '\0';
	j->ms_dns = j->ms_connect = j->ms_tls = j->ms_ttfb = j->ms_total = 0;
	j->t_attempt_ms = now;
}

/* A slot on h for one attempt: h's share was taken by host_next_job(),
 * the global one is taken here. */
static struct slot slot_take(struct sched *s, struct host *h)
{
	assert(h->active > 0);
	s->in_flight++;
	return (struct slot){ .home = h };
}

/* Give back sl, which must hold a slot, exactly once. */
static void slot_give(struct sched *s, struct slot *sl)
{
	struct host *h = sl->home;

	assert(h && s->in_flight > 0);
	sl->home = NULL;
	s->in_flight--;
	host_release(&s->hosts, h);
}

static const struct sched_conn_ops real_conn = {
	.open = conn_open,
	.reuse = conn_reuse,
	.abort = conn_abort,
	.detach = conn_detach,
	.close_idle = conn_close_idle,
};

/* limits.workers > 1: the conns run on worker rings */
static const struct sched_conn_ops remote_conn = {
	.open = workers_open,
	.reuse = workers_reuse,
	.abort = workers_abort,
	.detach = workers_detach,
	.close_idle = workers_close_idle,
};

static const struct sched_conn_ops *conn_ops(const struct sched *s)
{
	if (s->conn_ops)
		return s->conn_ops;
	return s->env.workers ? &remote_conn : &real_conn;
}

/* Full handshakes cost both sides far more than resumed ones: the first
 * connection to an https host fetches a session, and the host's other
 * jobs wait for it rather than all shaking hands. */
static void probe_maybe(struct sched *s, struct job *j)
{
	struct host *h = j->host;

	if (!j->url.https || h->tls_probe || h->tls_no_resume ||
	    tls_session_known(j->url.host, j->url.port))
		return;
	j->tls_probe = true;
	host_probe_start(&s->hosts, h);
}

/* The probe has a session for its host, or never will: let the host's
 * other jobs open their connections (and resume). */
static void probe_end(struct sched *s, struct job *j)
{
	if (!j->tls_probe)
		return;
	j->tls_probe = false;
	host_probe_end(&s->hosts, j->host);
}

static void attempt_done(struct sched *s, struct job *j,
			 const char *location, const char *retry_after);

static bool now_before_deadline(const struct sched *s, const struct job *j)
{
	return loop_now_ms(s->loop) + SHORTAGE_WAIT_MS < j->deadline_ms;
}

/* An attempt that ended before reaching a conn: err with detail. */
static void attempt_failed(struct sched *s, struct job *j, struct slot *sl,
			   enum rf_err err, const char *detail)
{
	slot_give(s, sl);
	j->err = err;
	snprintf(j->detail, sizeof(j->detail), "%s", detail);
	attempt_done(s, j, NULL, NULL);
}

/* Run j's attempt on a pooled conn of its host, or on a new one. */
static void attempt(struct sched *s, struct job *j, struct slot sl)
{
	const struct sched_conn_ops *ops = conn_ops(s);
	struct conn_req rq = {
		.url = &j->url,
		.headers = j->headers,
		.n_headers = j->n_headers,
		.deadline_ms = j->deadline_ms,
		.owner = j,
	};
	struct host *h = j->host;
	struct conn *c = host_pool_take(h);

	if (c) {
		j->conn = c;
		ops->reuse(c, &rq, sl);
		return;
	}
	probe_maybe(s, j);
	host_conn_opened(h);
	if (ops->open(&s->env, &rq, sl, h, &j->conn) < 0) {
		host_conn_closed(&s->hosts, h);
		probe_end(s, j);
		attempt_failed(s, j, &sl, RF_CONNECT, "out of memory");
	}
}

static void requeue(struct sched *s, struct job *j, bool front)
{
	j->state = JS_QUEUED;
	hold(s, j);
	host_enqueue(&s->hosts, j->host, j, front);
	/* a robots.txt fetch back on its host goes before those waiting */
	if (j->robots && j->host == j->robots->origin)
		host_robots_wait(&s->hosts, j->host, j);
}

/* robots.obey: whether j, just taken from its host's queue, may start. If
 * not, it waits again behind its host's robots.txt fetch, or has ended
 * with error robots; either way it holds no slot and took no turn. */
static bool robots_pass(struct sched *s, struct job *j, uint64_t now)
{
	struct job *fetch = NULL;

	switch (robots_gate_check(&s->robots, j, now, &fetch)) {
	case ROBOTS_GO:
		return true;
	case ROBOTS_FETCH:
		host_unstart(&s->hosts, j->host);
		host_enqueue(&s->hosts, j->host, j, true);
		requeue(s, fetch, true);
		return false;
	case ROBOTS_DENY:
		host_unstart(&s->hosts, j->host);
		unhold(s, j);
		finish(s, j);
		/* a job ended inside the pump: the hooks that ran before it
		 * this turn (room waiters, a crawl's end) must see it before
		 * the loop sleeps */
		s->loop->busy = true;
		return false;
	}
	return false;
}

static void start(struct sched *s, struct job *j)
{
	uint64_t now = loop_now_ms(s->loop);
	struct slot sl;

	if (s->cfg->robots.obey && !robots_pass(s, j, now))
		return;
	sl = slot_take(s, j->host);
	unhold(s, j);
	j->state = JS_RUNNING;
	if (!j->t_first_ms) {
		j->t_first_ms = now;
		j->deadline_ms = now + s->cfg->timeouts.total_ms;
	}
	if (j->retry_free)
		j->retry_free = false;
	else
		j->attempts++;
	reset_attempt(j, now);
	if (now >= j->deadline_ms) {
		char detail[sizeof(j->detail)];

		snprintf(detail, sizeof(detail),
			 "timeouts.total (%llu ms) passed before the attempt",
			 (unsigned long long)s->cfg->timeouts.total_ms);
		attempt_failed(s, j, &sl, RF_DEADLINE, detail);
		return;
	}
	attempt(s, j, sl);
}

/* limits.concurrency, or less while descriptors run short. */
static uint32_t cap_now(struct sched *s)
{
	uint32_t cap = s->cfg->limits.concurrency;
	uint64_t now = loop_now_ms(s->loop);

	if (!s->fd_cap)
		return cap;
	if (now - s->fd_short_ms >= SHORTAGE_HOLD_MS) {
		s->fd_cap += s->fd_cap / 4 + 1;
		s->fd_short_ms = now;
	}
	if (s->fd_cap >= cap) {
		s->fd_cap = 0;
		log_info("descriptors: back to limits.concurrency (%u)", cap);
		return cap;
	}
	return s->fd_cap;
}

static void pump(struct loop_hook *hook)
{
	struct sched *s = container_of(hook, struct sched, pump_hook);
	uint32_t cap = cap_now(s);

	wake_room_waiters(s);
	/* A results file that cannot be written holds new fetches back. */
	while (s->in_flight < cap &&
	       !(s->held && s->held(s->held_arg))) {
		struct job *j = host_next_job(&s->hosts);

		if (!j)
			break;
		start(s, j);
	}
	/* With many requests in flight, a quarter of them is a batch worth
	 * waking for; with few, wake on each so latency stays low. */
	/* with worker rings this loop's completions are not the fetches' */
	s->loop->batch_nr = s->in_flight >= 16 && !s->env.workers ?
			    s->in_flight / 4 : 1;
	if (s->loop->batch_nr > 32)
		s->loop->batch_nr = 32;
}

static void on_backoff_done(struct timer *t)
{
	struct job *j = container_of(t, struct job, timer);
	struct sched *s = j->sched;

	s->backoff--;
	unhold(s, j);
	requeue(s, j, true);
}

static bool status_retryable(const struct config *cfg, int status)
{
	for (size_t i = 0; i < cfg->retry.n_statuses; i++)
		if (cfg->retry.statuses[i] == status)
			return true;
	return false;
}

/* Wait before the next attempt, or finish when none fits in the deadline. */
static void retry_later(struct sched *s, struct job *j, const char *retry_after)
{
	const struct config *cfg = s->cfg;
	uint64_t now = loop_now_ms(s->loop), delay, ra;

	delay = backoff_delay_ms(j->attempts, cfg->retry.backoff_base_ms,
				 cfg->retry.backoff_max_ms, cfg->retry.jitter,
				 &s->rng);
	if (retry_after && *retry_after &&
	    backoff_parse_retry_after(retry_after, strlen(retry_after),
				      loop_wall_ms(), &ra) == 0)
		delay = ra < cfg->retry.backoff_max_ms ? ra :
			cfg->retry.backoff_max_ms;
	if (now + delay >= j->deadline_ms) {
		size_t n = strlen(j->detail);

		snprintf(j->detail + n, sizeof(j->detail) - n,
			 "%s(no time left in timeouts.total for a retry)",
			 n ? " " : "");
		finish(s, j);
		return;
	}
	if (!j->robots) {	/* a robots.txt fetch is counted apart */
		s->st.retried += j->attempts == 1;
		s->st.retries++;
	}
	j->state = JS_BACKOFF;
	j->sched = s;
	hold(s, j);
	s->backoff++;
	loop_timer_arm(s->loop, &j->timer, now + delay, on_backoff_done);
}

/* Redirects j may follow: a robots.txt fetch follows five (RFC 9309
 * 2.3.1.2), whatever http.max_redirects says. */
static uint32_t redirect_limit(const struct sched *s, const struct job *j)
{
	return j->robots ? ROBOTS_MAX_REDIRECTS : s->cfg->http.max_redirects;
}

/* A 3xx with Location: follow it, or end the job. */
static void redirect(struct sched *s, struct job *j, const char *location)
{
	struct url next;
	struct host *h;

	if (j->redirects >= redirect_limit(s, j)) {
		j->err = RF_TOO_MANY_REDIRECTS;
		snprintf(j->detail, sizeof(j->detail),
			 "more than http.max_redirects (%u) redirects",
			 s->cfg->http.max_redirects);
		finish(s, j);
		return;
	}
	if (url_resolve(&next, &j->url, location, strlen(location), j->detail,
			sizeof(j->detail)) != URL_OK) {
		size_t n = strlen(j->detail);

		snprintf(j->detail + n, sizeof(j->detail) - n,
			 " (in Location of a %d)", j->status);
		j->err = RF_PROTOCOL;
		finish(s, j);
		return;
	}
	h = host_get(&s->hosts, &next);
	if (!h) {
		url_fini(&next);
		j->err = RF_PROTOCOL;
		snprintf(j->detail, sizeof(j->detail), "out of memory");
		finish(s, j);
		return;
	}
	host_put(&s->hosts, j->host);
	url_fini(&j->url);
	j->url = next;
	j->host = h;
	j->redirects++;
	j->attempts = 0;
	s->st.redirects += !j->robots;
	requeue(s, j, false);
}

void sched_fd_shortage(struct sched *s)
{
	if (!s->fd_cap || s->in_flight < s->fd_cap) {
		if (!s->fd_cap)
			log_warn("descriptors: none left (EMFILE); %u requests "
				 "at once until some free",
				 s->in_flight ? s->in_flight : 1);
		s->fd_cap = s->in_flight ? s->in_flight : 1;
		sched_close_idle(s);
	}
	s->fd_short_ms = loop_now_ms(s->loop);
}

/* No descriptor for j's socket (EMFILE, ENFILE): a shortage here, not the
 * host's failure. Fewer requests at once for a while, idle pooled
 * connections closed, and j again shortly, the attempt not counted. */
static void local_shortage(struct sched *s, struct job *j)
{
	uint64_t now = loop_now_ms(s->loop);

	sched_fd_shortage(s);
	s->fd_shortages++;
	j->local_shortage = false;
	j->retry_free = true;		/* start() counts no attempt */
	j->state = JS_BACKOFF;
	j->sched = s;
	hold(s, j);
	s->backoff++;
	loop_timer_arm(s->loop, &j->timer, now + SHORTAGE_WAIT_MS,
		       on_backoff_done);
}

/* After an attempt of j (its slot given back): redirect, retry, or the
 * job's record. location and retry_after are the response's, or NULL. */
static void attempt_done(struct sched *s, struct job *j,
			 const char *location, const char *retry_after)
{
	const struct config *cfg = s->cfg;
	bool attempts_left = j->attempts < cfg->retry.attempts;

	if (j->local_shortage && now_before_deadline(s, j)) {
		local_shortage(s, j);
		return;
	}
	if (j->err != RF_OK) {
		if (j->retry_free && !j->free_retry_used) {
			j->free_retry_used = true;
			requeue(s, j, true);
		} else if (rf_err_retryable(j->err) && attempts_left) {
			j->retry_free = false;
			retry_later(s, j, NULL);
		} else {
			finish(s, j);
		}
		return;
	}
	if (http_status_is_redirect(j->status) &&
	    redirect_limit(s, j) > 0 && location && location[0]) {
		redirect(s, j, location);
		return;
	}
	/* a 304 to our validators: the page is unchanged, and that is what
	 * a re-crawl asked to learn */
	if ((j->status >= 200 && j->status < 300) ||
	    (j->status == 304 && j->conditional)) {
		finish(s, j);
		return;
	}
	j->err = RF_HTTP_STATUS;
	snprintf(j->detail, sizeof(j->detail), "HTTP status %d", j->status);
	if (http_status_is_redirect(j->status) && redirect_limit(s, j) > 0)
		snprintf(j->detail, sizeof(j->detail),
			 "HTTP status %d without a Location header", j->status);
	if (status_retryable(cfg, j->status) && attempts_left) {
		retry_later(s, j, retry_after);
		return;
	}
	if (j->attempts > 1) {
		size_t n = strlen(j->detail);

		snprintf(j->detail + n, sizeof(j->detail) - n,
			 " after %u attempts", j->attempts);
	}
	finish(s, j);
}


/* The attempt's measurements become j's record fields. */
static void take_result(struct job *j, const struct conn_result *r)
{
	j->err = r->err;
	PUT_TEXT(j->detail, r->detail);
	j->status = r->status;
	j->bytes = r->bytes;
	j->wire_bytes = r->wire_bytes;
	PUT_TEXT(j->content_type, r->content_type);
	PUT_TEXT(j->content_encoding, r->content_encoding);
	PUT_TEXT(j->etag, r->etag);
	PUT_TEXT(j->last_modified, r->last_modified);
	memcpy(j->sha256, r->sha256, sizeof(j->sha256));
	PUT_TEXT(j->ip, r->ip);
	j->ms_dns = r->ms_dns;
	j->ms_connect = r->ms_connect;
	j->ms_tls = r->ms_tls;
	j->ms_ttfb = r->ms_ttfb;
	j->ms_total = r->ms_total;
	j->tls_used = r->tls_used;
	j->tls_resumed = r->tls_resumed;
	j->tls_version = r->tls_used ? r->tls_version : NULL;
	j->tls_cipher = r->tls_used ? r->tls_cipher : NULL;
	j->retry_free = r->retry_free;
	j->local_shortage = r->local_shortage;
	free(j->body_path);
	j->body_path = NULL;
}

/* Whether conn c of host h, free again, goes to h's pool: not when
 * nothing could use it any more (input done, nothing queued there). */
static bool pool_or_close(struct sched *s, struct host *h, struct conn *c)
{
	if (s->input_done && !host_has_queued(h))
		return false;
	host_pool_put(h, c);
	return true;
}

/* env.done: conn → sched, once per attempt. */
static bool on_attempt(struct conn_env *env, void *owner,
		       struct conn_result *r)
{
	struct sched *s = container_of(env, struct sched, env);
	struct job *j = owner;
	struct host *h = r->conn->home;

	take_result(j, r);
	j->conn = NULL;
	if (r->sink && !j->robots) {
		if (r->err == RF_OK)
			j->local_shortage |= s->body_ops->commit(r->sink, j) ==
					     -EMFILE;
		else
			s->body_ops->abort(r->sink);
	}
	probe_end(s, j);
	if (j->status)
		host_observe(&s->hosts, h, j->status, j->ms_ttfb);
	if (r->slot.home)
		slot_give(s, &r->slot);
	attempt_done(s, j, r->location, r->retry_after);
	return r->reusable && pool_or_close(s, h, r->conn);
}

static void on_idle_closing(struct conn_env *env, struct conn *c)
{
	(void)env;
	host_pool_remove(c->home, c);
}

static void on_closed(struct conn_env *env, struct conn *c)
{
	struct sched *s = container_of(env, struct sched, env);

	if (c->slot.home)
		slot_give(s, &c->slot);
	host_conn_closed(&s->hosts, c->home);
}

static void on_sink_start(struct conn_env *env, void *owner, const char *req,
			  size_t len, struct conn_sink *out)
{
	struct sched *s = container_of(env, struct sched, env);
	const struct sched_body_ops *ops = s->body_ops;
	struct job *j = owner;

	if (j->robots) {
		robots_gate_sink(j, out);
		return;
	}
	if (!ops || !s->bodies)
		return;
	out->arg = ops->start(s->bodies, req, len);
	if (!out->arg)
		return;
	if (ops->wants_raw(s->bodies))
		out->raw = ops->raw;
	else
		out->body = ops->body;
}

static void env_init(struct sched *s)
{
	s->env = (struct conn_env){
		.loop = s->loop,
		.cfg = s->cfg,
		.dns = s->dns,
		.guard = &s->guard,
		.counters = &s->conns,
		.proxy = &s->proxy,
		.done = on_attempt,
		.idle_closing = on_idle_closing,
		.closed = on_closed,
		.sink_start = on_sink_start,
	};
}

static void robots_cut(struct sched *s, bool running);

void sched_close_idle(struct sched *s)
{
	const struct sched_conn_ops *ops = conn_ops(s);
	struct host *h, *next;
	struct conn *c;

	robots_cut(s, true);
	for (h = host_first(&s->hosts); h; h = next) {
		next = host_next(&s->hosts, h);
		/* closing may free h once its last conn is gone */
		while ((c = host_pool_take(h)) != NULL) {
			bool last = h->n_conns == 1;

			ops->close_idle(c);
			if (last)
				break;
		}
	}
}

/* ---- daemon mode: jobs addressed one by one ---- */

struct job *sched_submit_job(struct sched *s, const char *url, size_t len,
			     const char *id, uint64_t num)
{
	struct job *j = job_new(url, len, id);

	if (!j)
		return NULL;
	if (url_parse(&j->url, url, len, j->detail, sizeof(j->detail)) !=
	    URL_OK || !(j->host = host_get(&s->hosts, &j->url))) {
		job_free(j);
		return NULL;
	}
	job_accept(s, j, num);
	job_queue(s, j);
	return j;
}

/* Take j out of whatever holds it (host queue, backoff timer, conn); a
 * running job's conn closes without reporting and its slot comes back. */
static void unhook(struct sched *s, struct job *j)
{
	struct slot sl = { 0 };
	void *sink = NULL;

	switch (j->state) {
	case JS_QUEUED:
		host_unqueue(&s->hosts, j->host, j);
		unhold(s, j);
		break;
	case JS_BACKOFF:
		loop_timer_cancel(s->loop, &j->timer);
		s->backoff--;
		unhold(s, j);
		break;
	case JS_RUNNING:
		if (!j->conn)
			break;
		conn_ops(s)->detach(j->conn, &sl, &sink);
		j->conn = NULL;
		if (sink && !j->robots)
			s->body_ops->abort(sink);
		probe_end(s, j);
		slot_give(s, &sl);
		break;
	}
}

int sched_cancel(struct sched *s, struct job *j, const char *detail)
{
	if (j->state == JS_RUNNING && j->conn) {
		/* the conn reports, and the class is never retried */
		conn_ops(s)->abort(j->conn, RF_CANCELLED, detail);
		return 0;
	}
	if (j->state == JS_RUNNING)
		return -EBUSY;
	unhook(s, j);
	j->err = RF_CANCELLED;
	snprintf(j->detail, sizeof(j->detail), "%s", detail);
	finish(s, j);
	return 0;
}

void sched_cancel_all(struct sched *s, bool running, const char *detail)
{
	/* Cancelling j finishes and unlinks j alone; running ones may finish
	 * later, from their conn's completions. */
	for (struct job *j = sched_first(s), *next; j; j = next) {
		next = sched_next(s, j);
		if (running || j->state != JS_RUNNING)
			sched_cancel(s, j, detail);
	}
	robots_cut(s, running);
}

/* End robots.txt fetches, without a record: those not running, or all.
 * Their hosts learn nothing and fetch again should a job want to start. */
static void robots_cut(struct sched *s, bool running)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &s->robots.fetches) {
		struct job *j = list_entry(n, struct robots_fetch, node)->job;

		if (j->state == JS_RUNNING && (!running || !j->conn))
			continue;
		unhook(s, j);
		j->err = RF_CANCELLED;
		finish(s, j);
	}
}

void sched_drop(struct sched *s, struct job *j)
{
	unhook(s, j);
	host_put(&s->hosts, j->host);
	untrack(s, j);
	job_free(j);
}

void sched_apply_config(struct sched *s)
{
	struct netguard g;
	struct proxy p;
	char err[256];

	s->hosts.per_host = s->cfg->limits.per_host;
	s->hosts.adaptive = s->cfg->limits.adaptive;
	s->hosts.rate = s->cfg->limits.per_host_rate;
	set_share(s);
	/* the new config was validated; should it still fail, keep the old */
	if (netguard_init(&g, s->cfg, err, sizeof(err)) == 0) {
		netguard_fini(&s->guard);
		s->guard = g;
	}
	/* new connections take the new proxy; pooled ones keep their path */
	if (proxy_parse(&p, s->cfg->network.proxy, s->cfg->network.no_proxy.v,
			s->cfg->network.no_proxy.n, err, sizeof(err)) == 0) {
		proxy_fini(&s->proxy);
		s->proxy = p;
	}
	for (struct host *h = host_first(&s->hosts); h;
	     h = host_next(&s->hosts, h))
		host_update_ready(&s->hosts, h);
	robots_gate_apply_config(&s->robots);
}
