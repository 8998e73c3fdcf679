/* robots.obey: the gate every job passes at its start. A host's first job
 * makes an internal job that fetches the host's /robots.txt (RFC 9309)
 * through the scheduler like any other, with no record of its own, while
 * the host's jobs wait; its outcome, kept in robots_cache, then lets each
 * job start or ends it with error robots. sched.c calls in at a job's
 * start, when a fetch's response body starts, and when a fetch ends. */
#ifndef RF_ROBOTS_GATE_H
#define RF_ROBOTS_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "config/config.h"
#include "engine/host.h"
#include "engine/robots_cache.h"
#include "net/conn.h"

struct job;

#define ROBOTS_MAX_REDIRECTS 5		/* RFC 9309 2.3.1.2: at least five */
#define ROBOTS_UNREACHABLE_TTL_MS (10 * 60 * 1000) /* an unreachable
					 * robots.txt disallows for at most
					 * this long, never for cache_ttl */
#define ROBOTS_MIN_TTL_MS 1000		/* a shorter cache_ttl counts as this,
					 * so the jobs that waited for a fetch
					 * can use its outcome */

/* One robots.txt fetch: what an internal job carries in job.robots.
 * body, len and cap belong to whichever thread runs the fetch's attempt
 * (a worker ring, from robots_gate_sink() to the attempt's result) and
 * to the main thread only after that result has crossed to it; the
 * other fields are the main thread's, and the worker never touches them. */
struct robots_fetch {
	struct job *job;		/* the internal job carrying it */
	struct host *origin;		/* whose robots.txt; one reference,
					 * which robots_gate_done() hands over */
	char *body;			/* owned: the response body so far */
	size_t len, cap;		/* len <= cap <= ROBOTS_MAX_BYTES */
	struct list_node node;		/* in robots_gate.fetches */
};

struct robots_gate {
	struct robots_cache cache;
	const struct config *cfg;	/* borrowed */
	struct host_table *hosts;	/* borrowed: where fetch jobs queue */
	char *user_agent;		/* owned: http.user_agent the cache
					 * was filled for */
	struct list_node fetches;	/* live struct robots_fetch, by node */
	uint64_t fetches_total;		/* robots.txt fetches started */
};

/* Set up g for cfg and hosts (both borrowed, outliving g). Returns 0 or
 * -ENOMEM (nothing to free then). */
int robots_gate_init(struct robots_gate *g, const struct config *cfg,
		     struct host_table *hosts);
/* Free the cache; every fetch has ended and every host was freed. */
void robots_gate_fini(struct robots_gate *g);

/* After a reload: a changed http.user_agent forgets every cached outcome
 * (hosts fetch their robots.txt again at their next start). */
void robots_gate_apply_config(struct robots_gate *g);

enum robots_verdict {
	ROBOTS_GO,	/* j may start */
	ROBOTS_DENY,	/* j must end: j->err is RF_ROBOTS, j->detail why */
	ROBOTS_FETCH,	/* j's host has no fresh rules: *fetch is a new
			 * internal job for its robots.txt, which the caller
			 * queues (then host_robots_wait()); j waits */
};

/* May user job j (taken from its host's queue, j->host set) start at
 * now_ms? See enum robots_verdict. A fetch job (j->robots) always may. */
enum robots_verdict robots_gate_check(struct robots_gate *g, struct job *j,
				      uint64_t now_ms, struct job **fetch);

/* The response body of fetch job j starts: capture it into j->robots
 * (at most ROBOTS_MAX_BYTES; the rest is ignored, RFC 9309 2.5). Runs,
 * with the body callback it installs, on the thread running the attempt
 * (a worker ring): it reads j->robots (set before the job was queued,
 * freed only by robots_gate_done() after the fetch ended) and writes only
 * that fetch's body, len and cap, which the main thread must not read
 * until the attempt's result has reached it. No gate or cache state. */
void robots_gate_sink(struct job *j, struct conn_sink *out);

/* Fetch job j ended (j->err, j->status final; RF_CANCELLED when cut off):
 * cache what it means for its origin host (RFC 9309 2.3.1) and give the
 * host its rules. Frees j->robots (not j). Returns the origin host, whose
 * reference passes to the caller, which lets it go on with
 * host_robots_done() and host_put(). */
struct host *robots_gate_done(struct robots_gate *g, struct job *j,
			      uint64_t now_ms);

#endif
