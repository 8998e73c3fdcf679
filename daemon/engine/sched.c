/* Scheduling: jobs wait in per-host queues (the bounded queue is their sum
 * plus those waiting to retry); once per loop turn the pump starts as many
 * as the global cap allows, round-robin over hosts with room. Every attempt
 * comes back through sched_attempt_done(), the one place that decides
 * redirect, retry or final record; every job leaves through finish(). */
#include "engine/sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/backoff.h"
#include "http/http.h"
#include "net/conn.h"
#include "net/dns.h"
#include "engine/job.h"
#include "base/log.h"
#include "output/results.h"

static void pump(struct loop_hook *hook);

int sched_init(struct sched *s, struct loop *l, const struct config *cfg,
	       struct results *r, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->cfg = cfg;
	s->results = r;
	s->next_job_num = 1;
	s->rng = loop_wall_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	if (host_table_init(&s->hosts, l, cfg->limits.per_host,
			    cfg->limits.per_host_rate) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->hosts.adaptive = cfg->limits.adaptive;
	if (netguard_init(&s->guard, cfg, err, errlen) < 0) {
		host_table_fini(&s->hosts);
		return -EINVAL;
	}
	s->dns = dns_new(l, cfg, err, errlen);
	if (!s->dns) {
		netguard_fini(&s->guard);
		host_table_fini(&s->hosts);
		return -EINVAL;
	}
	s->pump_hook.fn = pump;
	loop_add_hook(l, &s->pump_hook);
	return 0;
}

void sched_fini(struct sched *s)
{
	dns_free(s->dns);
	netguard_fini(&s->guard);
	host_table_fini(&s->hosts);
}

uint32_t sched_room(const struct sched *s)
{
	uint32_t cap = s->cfg->queue.capacity;

	return s->waiting < cap ? cap - s->waiting : 0;
}

bool sched_idle(const struct sched *s)
{
	return s->live == 0 && s->conns_open == s->conns_idle;
}

static void job_free(struct job *j)
{
	url_fini(&j->url);
	free(j->url_text);
	free(j->id);
	free(j);
}

static void untrack(struct sched *s, struct job *j)
{
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		s->all = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
	s->live--;
}

/* The one exit of every job: exactly one record. */
static void finish(struct sched *s, struct job *j)
{
	s->st.done++;
	if (j->err == RF_OK) {
		s->st.ok++;
		s->st.bytes += j->bytes;
	} else {
		s->st.failed++;
		s->st.failed_by[j->err]++;
		s->st.bytes += j->bytes;
	}
	results_write(s->results, j);
	if (s->on_finish)
		s->on_finish(s, j, s->on_finish_arg);
	if (j->host)
		host_put(&s->hosts, j->host);
	untrack(s, j);
	job_free(j);
	if (s->on_room)
		s->on_room(s, s->on_room_arg);
}

/* A job holding copies of url and id; NULL when out of memory. */
static struct job *job_new(const char *url, size_t len, const char *id)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
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
	j->all_next = s->all;
	if (s->all)
		s->all->all_prev = j;
	s->all = j;
	s->live++;
	s->st.accepted++;
}

static void job_queue(struct sched *s, struct job *j)
{
	j->state = JS_QUEUED;
	s->waiting++;
	host_enqueue(&s->hosts, j->host, j, false);
}

uint64_t sched_submit(struct sched *s, const char *url, size_t len,
		      const char *id)
{
	struct job *j = job_new(url, len, id);
	int rc;

	if (!j)
		return 0;
	job_accept(s, j, 0);
	rc = url_parse(&j->url, url, len, j->detail, sizeof(j->detail));
	if (rc == URL_OK)
		j->host = host_get(&s->hosts, &j->url);
	if (rc != URL_OK || !j->host) {
		uint64_t num = j->num;

		if (rc == URL_OK)
			snprintf(j->detail, sizeof(j->detail), "out of memory");
		j->err = RF_INVALID_URL;
		finish(s, j);
		return num;
	}
	job_queue(s, j);
	return j->num;
}

static void reset_attempt(struct job *j, uint64_t now)
{
	j->err = RF_OK;
	j->detail[0] = '\0';
	j->status = 0;
	j->bytes = 0;
	j->content_type[0] = '\0';
	j->sha256[0] = '\0';
	j->ip[0] = '\0';
	j->ms_dns = j->ms_connect = j->ms_tls = j->ms_ttfb = j->ms_total = 0;
	j->t_attempt_ms = now;
}

static void start(struct sched *s, struct job *j)
{
	uint64_t now = loop_now_ms(s->loop);
	struct host *h = j->host;

	s->in_flight++;
	s->waiting--;
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
		j->err = RF_DEADLINE;
		snprintf(j->detail, sizeof(j->detail),
			 "timeouts.total (%llu ms) passed before the attempt",
			 (unsigned long long)s->cfg->timeouts.total_ms);
		sched_attempt_done(s, j, NULL, true);
		return;
	}
	if (h->idle) {
		struct conn *c = h->idle;

		h->idle = c->next_idle;
		h->n_idle--;
		s->conns_idle--;
		conn_reuse(c, j);
		return;
	}
	if (conn_open(s, j) < 0) {
		j->err = RF_CONNECT;
		snprintf(j->detail, sizeof(j->detail), "out of memory");
		sched_attempt_done(s, j, NULL, true);
	}
}

static void pump(struct loop_hook *hook)
{
	struct sched *s = container_of(hook, struct sched, pump_hook);

	/* A results file that cannot be written holds new fetches back. */
	while (s->in_flight < s->cfg->limits.concurrency &&
	       !results_blocked(s->results)) {
		struct job *j = host_next_job(&s->hosts);

		if (!j)
			break;
		start(s, j);
	}
	/* With many requests in flight, a quarter of them is a batch worth
	 * waking for; with few, wake on each so latency stays low. */
	s->loop->batch_nr = s->in_flight >= 16 ? s->in_flight / 4 : 1;
	if (s->loop->batch_nr > 32)
		s->loop->batch_nr = 32;
}

void sched_slot_release(struct sched *s, struct host *h)
{
	s->in_flight--;
	host_release(&s->hosts, h);
}

static void requeue(struct sched *s, struct job *j, bool front)
{
	j->state = JS_QUEUED;
	s->waiting++;
	host_enqueue(&s->hosts, j->host, j, front);
}

static void on_backoff_done(struct timer *t)
{
	struct job *j = container_of(t, struct job, timer);
	struct sched *s = j->sched;

	s->backoff--;
	s->waiting--;
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
	if (j->attempts == 1)
		s->st.retried++;
	s->st.retries++;
	j->state = JS_BACKOFF;
	j->sched = s;
	s->waiting++;
	s->backoff++;
	loop_timer_arm(s->loop, &j->timer, now + delay, on_backoff_done);
}

/* A 3xx with Location: follow it, or end the job. */
static void redirect(struct sched *s, struct job *j, const char *location)
{
	struct url next;
	struct host *h;

	if (j->redirects >= s->cfg->http.max_redirects) {
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
	s->st.redirects++;
	requeue(s, j, false);
}

void sched_attempt_done(struct sched *s, struct job *j, struct conn *c,
			bool release_slot)
{
	const struct config *cfg = s->cfg;
	bool attempts_left = j->attempts < cfg->retry.attempts;

	if (c && j->status)
		host_observe(&s->hosts, c->host, j->status, j->ms_ttfb);
	if (release_slot)
		sched_slot_release(s, j->host);
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
	    cfg->http.max_redirects > 0 && c && c->resp.location[0]) {
		redirect(s, j, c->resp.location);
		return;
	}
	if (j->status >= 200 && j->status < 300) {
		finish(s, j);
		return;
	}
	j->err = RF_HTTP_STATUS;
	snprintf(j->detail, sizeof(j->detail), "HTTP status %d", j->status);
	if (http_status_is_redirect(j->status) && cfg->http.max_redirects > 0)
		snprintf(j->detail, sizeof(j->detail),
			 "HTTP status %d without a Location header", j->status);
	if (status_retryable(cfg, j->status) && attempts_left) {
		retry_later(s, j, c ? c->resp.retry_after : NULL);
		return;
	}
	if (j->attempts > 1) {
		size_t n = strlen(j->detail);

		snprintf(j->detail + n, sizeof(j->detail) - n,
			 " after %u attempts", j->attempts);
	}
	finish(s, j);
}

void sched_close_idle(struct sched *s)
{
	for (uint32_t i = 0; i < s->hosts.nbuckets; i++) {
		for (struct host *h = s->hosts.buckets[i]; h;) {
			struct host *next = h->hnext;

			/* closing may free h once its last conn is gone */
			while (h->idle) {
				struct conn *c = h->idle;
				bool last = h->n_conns == 1;

				conn_close_idle(c);
				if (last)
					break;
			}
			h = next;
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
	struct conn *c;

	switch (j->state) {
	case JS_QUEUED:
		host_unqueue(&s->hosts, j->host, j);
		s->waiting--;
		break;
	case JS_BACKOFF:
		loop_timer_cancel(s->loop, &j->timer);
		s->backoff--;
		s->waiting--;
		break;
	case JS_RUNNING:
		c = j->conn;
		if (c) {
			c->job = NULL;
			j->conn = NULL;
			conn_abort(c, RF_CANCELLED, "daemon stopping");
		}
		sched_slot_release(s, j->host);
		break;
	}
}

int sched_cancel(struct sched *s, struct job *j, const char *detail)
{
	if (j->state == JS_RUNNING && j->conn) {
		/* the conn reports, and the class is never retried */
		conn_abort(j->conn, RF_CANCELLED, detail);
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
	for (struct job *j = s->all, *next; j; j = next) {
		next = j->all_next;
		if (running || j->state != JS_RUNNING)
			sched_cancel(s, j, detail);
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
	char err[256];

	s->hosts.per_host = s->cfg->limits.per_host;
	s->hosts.adaptive = s->cfg->limits.adaptive;
	s->hosts.rate = s->cfg->limits.per_host_rate;
	/* the new config was validated; should it still fail, keep the old */
	if (netguard_init(&g, s->cfg, err, sizeof(err)) == 0) {
		netguard_fini(&s->guard);
		s->guard = g;
	}
	for (uint32_t i = 0; i < s->hosts.nbuckets; i++)
		for (struct host *h = s->hosts.buckets[i]; h; h = h->hnext)
			host_update_ready(&s->hosts, h);
}
