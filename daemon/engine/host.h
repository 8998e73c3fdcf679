/* Per host (scheme, name, port): the semaphore that caps requests in flight,
 * the queue of jobs waiting for it, and the pool of idle connections. The
 * table also keeps the round-robin ring of hosts that have both waiting
 * jobs and room, so one slow host never starves the others. */
#ifndef RF_HOST_H
#define RF_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"
#include "engine/adapt.h"
#include "event/loop.h"
#include "http/url.h"

struct job;
struct conn;
struct robots_entry;

struct host {
	char name[URL_HOST_MAX + 1];	/* as in struct url */
	uint16_t port;
	bool https;
	uint32_t active;		/* slots taken, <= per_host */
	uint32_t refs;			/* jobs and conns pointing here */
	struct list_node queue;		/* JS_QUEUED jobs by job.qnode, FIFO */
	uint32_t q_len;
	uint32_t held;			/* jobs of h in the bounded queue (queued
					 * or waiting to retry): sched's share
					 * counts these */
	struct list_node idle;		/* idle pooled conns by conn.pool_node,
					 * most recent first */
	uint32_t n_idle;
	uint32_t n_conns;		/* open conns of this host (idle or
					 * busy), each holding one of refs */
	struct host *hnext;		/* hash chain */
	struct list_node rnode;		/* in table.ready while ready */
	double tokens;			/* per_host_rate bucket, 0..1 */
	uint64_t tokens_ms;		/* when tokens was last refilled */
	bool rate_wait;			/* out of tokens: rate_timer refills */
	bool tls_probe;			/* the first TLS conn is fetching a
					 * session the others will resume */
	bool tls_no_resume;		/* a probe got no session: don't wait */
	struct adapt adapt;		/* limits.adaptive: its earned cap */
	struct robots_entry *robots;	/* robots.obey: the rules in use (one
					 * reference, put when h goes), or NULL
					 * until known */
	bool robots_wait;		/* its robots.txt is being fetched: no
					 * job but robots_job may start */
	struct job *robots_job;		/* that fetch while queued here, else
					 * NULL */
	uint64_t delay_ms;		/* Crawl-delay, capped: least time from
					 * one start to the next; 0 = none */
	uint64_t last_start_ms;		/* loop clock of the latest start */
	uint64_t prev_start_ms;		/* the one before, for host_unstart */
	struct timer rate_timer;	/* refills a token, or ends delay_ms */
	struct host_table *table;	/* owner, for rate_timer */
};

struct host_table {
	struct host **buckets;
	uint32_t nbuckets;		/* power of two */
	uint32_t count;
	struct list_node ready;		/* hosts with a job, room and a token,
					 * next to serve first */
	uint32_t per_host;		/* the cap, from limits.per_host */
	bool adaptive;			/* limits.adaptive: hosts earn their cap */
	uint64_t adapt_cuts;		/* times a host's cap was cut */
	double rate;			/* limits.per_host_rate, 0 = none */
	struct loop *loop;		/* clock and timers for the rate */
};

/* Hosts take per_host slots and start at most rate requests a second
 * (0 = no limit), timed on loop l. Returns 0 or -ENOMEM. */
int host_table_init(struct host_table *t, struct loop *l, uint32_t per_host,
		    double rate);
/* Frees every host; the caller has closed all connections first. */
void host_table_fini(struct host_table *t);

/* The host of u, created when new, with one more reference. Returns NULL
 * on out of memory. Release with host_put(). */
struct host *host_get(struct host_table *t, const struct url *u);
/* The host of u when known, else NULL; never creates one nor takes a
 * reference (a producer's cheap look before it submits). */
struct host *host_find(const struct host_table *t, const struct url *u);
/* Drop a reference; a host with no reference, job or connection is freed. */
void host_put(struct host_table *t, struct host *h);

/* Queue j (which holds a reference to h) at the tail, or at the head when
 * front (a retry that must not wait behind newer jobs). */
void host_enqueue(struct host_table *t, struct host *h, struct job *j,
		  bool front);

/* Remove j from h's queue; it must be queued there. */
void host_unqueue(struct host_table *t, struct host *h, struct job *j);

/* Take the next job from the next ready host in round-robin order and take
 * a slot (and a rate token) on its host. Returns NULL when no host has a
 * job, room and a token; a host short of a token leaves the ready ring
 * until its timer refills one. */
struct job *host_next_job(struct host_table *t);

/* Give back a slot taken by host_next_job(); h must hold one. */
void host_release(struct host_table *t, struct host *h);

/* The job host_next_job() just returned did not start a request after all
 * (robots.obey held it back or ended it): give back its slot, its rate
 * token and its place in the Crawl-delay spacing, so the next job of h
 * is not slowed down by it. Call before anything else starts on h. */
void host_unstart(struct host_table *t, struct host *h);

/* robots.obey: fetch, queued on h (its host, or any host after a
 * redirect), fetches h's robots.txt; until host_robots_done() no other job
 * of h starts (h stays out of the ready ring once fetch has started). */
void host_robots_wait(struct host_table *t, struct host *h, struct job *fetch);
/* h's robots.txt is known (or given up on): its jobs may start again. */
void host_robots_done(struct host_table *t, struct host *h);

/* Whether h has jobs waiting for a slot. */
static inline bool host_has_queued(const struct host *h)
{
	return !list_empty(&h->queue);
}

/* A conn to h was opened: it holds a reference until host_conn_closed(). */
void host_conn_opened(struct host *h);
/* That conn is gone (its socket closed); h may be freed. */
void host_conn_closed(struct host_table *t, struct host *h);

/* The keep-alive pool: idle conns of h, of which h is the home. put adds
 * c (not pooled yet) as the most recent; take returns the most recent one,
 * out of the pool, or NULL when none; remove takes c out, harmless when c
 * is not pooled. None of them allocates. */
void host_pool_put(struct host *h, struct conn *c);
struct conn *host_pool_take(struct host *h);
void host_pool_remove(struct host *h, struct conn *c);

/* The https probe: the first conn to h fetches a TLS session while h's
 * other jobs wait out of the ready ring. start marks it; end clears it
 * (and, when h gave no session, stops serialising h's handshakes). */
void host_probe_start(struct host_table *t, struct host *h);
void host_probe_end(struct host_table *t, struct host *h);

/* Walk every host of t: host_first, then host_next until NULL. The walk may
 * free the host it stands on (not others) once it has the next one. */
struct host *host_first(const struct host_table *t);
struct host *host_next(const struct host_table *t, const struct host *h);

/* Requests h may have in flight now: per_host, or under limits.adaptive
 * what h has earned of it. */
uint32_t host_cap(const struct host_table *t, const struct host *h);

/* limits.adaptive: h answered status (0: no answer) after ttfb_ms. */
void host_observe(struct host_table *t, struct host *h, int status,
		  uint64_t ttfb_ms);

/* Recompute whether h belongs in the ready ring (after a change of cap,
 * queue or slots). */
void host_update_ready(struct host_table *t, struct host *h);

#endif
