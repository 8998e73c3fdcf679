/* The scheduler: accepts jobs into the bounded queue, starts them within the
 * global and per-host caps, and decides in one place (attempt_done)
 * whether an attempt's outcome is a redirect, a retry after backoff, or the
 * job's one final record. */
#ifndef RF_SCHED_H
#define RF_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "net/cidr.h"
#include "config/config.h"
#include "base/err.h"
#include "engine/host.h"
#include "event/loop.h"
#include "net/conn.h"

struct job;
struct conn;
struct dns;
struct results;
struct bodies;
struct body_sink;

/* Body storage, as function pointers so that engine/ needs no output/ (its
 * owner sets them; output/bodies.h has them as bodies_sched_ops). Called
 * with sched.bodies as store. */
struct sched_body_ops {
	/* A sink for the response to the len request bytes at req, or NULL
	 * (the body is then not kept). */
	struct body_sink *(*start)(struct bodies *store, const char *req,
				   size_t len);
	/* Whether sinks take raw response bytes (else decoded body). */
	bool (*wants_raw)(const struct bodies *store);
	void (*body)(void *sink, const char *p, size_t n);
	void (*raw)(void *sink, const char *p, size_t n);
	/* The attempt of j succeeded (j's record fields set): store the body
	 * and set j->body_path; frees the sink. */
	void (*commit)(struct body_sink *sink, struct job *j);
	/* Drop the sink and what it spooled. */
	void (*abort)(struct body_sink *sink);
};

/* How sched starts and stops attempts: conn.c's functions, unless a test
 * substitutes its own (each as the conn.h function of that name). */
struct sched_conn_ops {
	int (*open)(struct conn_env *env, const struct conn_req *req,
		    struct slot slot, void *home, struct conn **cp);
	void (*reuse)(struct conn *c, const struct conn_req *req,
		      struct slot slot);
	void (*abort)(struct conn *c, int err, const char *detail);
	void (*detach)(struct conn *c, struct slot *slot, void **sink);
	void (*close_idle)(struct conn *c);
};

struct sched_stats {
	uint64_t accepted, done, ok, failed;
	uint64_t failed_by[RF_ERR_COUNT];
	uint64_t retried;		/* jobs that needed more than one attempt */
	uint64_t retries;		/* attempts beyond the first */
	uint64_t redirects;
	uint64_t bytes;
};

struct sched {
	struct loop *loop;
	const struct config *cfg;	/* borrowed */
	struct dns *dns;
	struct results *results;
	struct bodies *bodies;		/* output.bodies store, or NULL; set
					 * after sched_init by its owner */
	const struct sched_body_ops *body_ops; /* how to use bodies; set
					 * with it */
	const struct sched_conn_ops *conn_ops; /* conn.c's, or a test's */
	struct conn_env env;		/* what sched's conns see */
	struct host_table hosts;
	struct netguard guard;		/* network.deny / network.allow */
	struct loop_hook pump_hook;
	uint32_t in_flight;		/* slots taken, <= limits.concurrency */
	uint32_t waiting;		/* queued + backoff: the bounded queue */
	uint32_t backoff;		/* of which waiting to retry */
	uint32_t live;			/* accepted, not yet finished */
	struct job *all;		/* the live jobs, newest first */
	bool input_done;		/* no job will be submitted any more (a
					 * batch read to the end): idle conns of
					 * hosts with nothing queued close */
	struct conn_counters conns;	/* open, idle, opened, reused */
	uint64_t next_job_num;
	uint64_t rng;			/* backoff jitter */
	struct sched_stats st;
	/* Called whenever queue room may have appeared (a producer resumes). */
	void (*on_room)(struct sched *s, void *arg);
	void *on_room_arg;
	/* Called for every finished job after its record is written. */
	void (*on_finish)(struct sched *s, const struct job *j, void *arg);
	void *on_finish_arg;
};

/* Set up s over loop l with configuration cfg (borrowed; must outlive s) and
 * a results writer. Returns 0, or -errno with a sentence in err. */
int sched_init(struct sched *s, struct loop *l, const struct config *cfg,
	       struct results *r, char *err, size_t errlen);
/* Free everything; every job must be finished and every conn closed. */
void sched_fini(struct sched *s);

/* Room left in the queue (jobs that may be submitted now). */
uint32_t sched_room(const struct sched *s);

/* Accept one URL (len bytes, as read) with an optional submitter id.
 * Always accepts: an unparseable URL ends at once in an invalid_url record.
 * The caller respects sched_room(). Returns the job number, or 0 when out
 * of memory (nothing accepted). */
uint64_t sched_submit(struct sched *s, const char *url, size_t len,
		      const char *id);

/* Whether nothing is queued, waiting, running or closing. */
bool sched_idle(const struct sched *s);

/* Close every idle pooled connection (at exit). */
void sched_close_idle(struct sched *s);

/* ---- daemon mode: jobs addressed one by one ---- */

/* As sched_submit() for a URL that the caller has checked parses
 * (url_parse() == URL_OK): num is the job number to use (one taken back
 * from the spill file) or 0 for the next one. Returns the queued job, which
 * sched owns but the caller may decorate (job.h's daemon fields) before the
 * next loop turn starts it; NULL when out of memory or the URL does not
 * parse (nothing accepted, no record). */
struct job *sched_submit_job(struct sched *s, const char *url, size_t len,
			     const char *id, uint64_t num);

/* End j with error cancelled and detail, whatever its state: queued or
 * waiting to retry, it is finished at once; running, its conn is aborted
 * and reports. Either way on_finish runs before this returns. Returns 0,
 * or -EBUSY for a running job without a conn (nothing done). */
int sched_cancel(struct sched *s, struct job *j, const char *detail);

/* sched_cancel() every job that is not running, or every job when
 * running is set (the batch crawl's SIGINT and its grace running out). */
void sched_cancel_all(struct sched *s, bool running, const char *detail);

/* Take j out of the scheduler without a record (the caller has saved it,
 * e.g. to the spill file) and free it; a running attempt is cut off and
 * its conn closes. The caller frees j's daemon fields first. on_finish and
 * on_room are not called. */
void sched_drop(struct sched *s, struct job *j);

/* Apply a reloaded configuration (same struct, new values): the per-host
 * cap now; other limits and timeouts are read at their next use. */
void sched_apply_config(struct sched *s);

#endif
