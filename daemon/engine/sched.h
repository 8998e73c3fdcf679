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
#include "base/list.h"
#include "engine/host.h"
#include "engine/robots_gate.h"
#include "event/loop.h"
#include "http/proxy.h"
#include "net/conn.h"

struct job;
struct conn;
struct dns;
struct bodies;
struct dedupe;
struct sched;

/* Told of every job that ends, in the order observers were added: the
 * first is the record writer, so the others see a job whose record is
 * written (control's waiters and watchers, metrics, the summary). j is
 * borrowed for the call; an observer must not submit or cancel. */
struct sched_observer {
	void (*finished)(struct sched_observer *o, const struct job *j);
	struct list_node node;		/* in sched.observers */
};

/* A producer waiting for room in the bounded queue. */
struct sched_room_wait {
	void (*room)(struct sched_room_wait *w); /* called once, from the
						  * loop's turn, with room > 0 */
	struct list_node node;		/* in sched.room_waits while waiting */
};

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
	 * and set j->body_path; frees the sink. Returns 0, or -EMFILE when
	 * no descriptor was left to store it: the attempt is then a local
	 * shortage (retried, not charged). */
	int (*commit)(struct body_sink *sink, struct job *j);
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
	uint64_t taken_back;		/* ended without a record: their
					 * producer's keep() said no */
};

/* What status, metrics and the progress line show, read in one go. */
struct sched_snapshot {
	struct sched_stats st;		/* counters since start */
	uint32_t queued;		/* waiting for a slot, not to retry */
	uint32_t retry_waiting;		/* waiting out a backoff */
	uint32_t in_flight;		/* holding a slot */
	uint32_t queue_capacity;	/* queue.capacity now */
	struct conn_counters conns;	/* open, idle, opened, reused */
	uint32_t hosts;			/* hosts known (any state) */
	uint64_t adaptive_cuts;		/* limits.adaptive's cuts */
	uint64_t robots_fetches;	/* robots.txt fetches started */
	uint32_t robots_cached;		/* hosts with robots.txt rules cached */
	uint32_t hosts_at_share;	/* hosts holding queue.host_share */
	uint64_t parked;		/* jobs parked outside the queue */
	uint32_t parked_hosts;		/* hosts with jobs parked */
};

struct sched {
	struct loop *loop;
	const struct config *cfg;	/* borrowed */
	struct dns *dns;
	struct bodies *bodies;		/* output.bodies store, or NULL; set
					 * after sched_init by its owner */
	const struct sched_body_ops *body_ops; /* how to use bodies; set
					 * with it */
	const struct sched_conn_ops *conn_ops; /* conn.c's, or a test's */
	struct conn_env env;		/* what sched's conns see */
	struct host_table hosts;
	struct robots_gate robots;	/* robots.obey: rules and fetches */
	struct netguard guard;		/* network.deny / network.allow */
	struct proxy proxy;		/* network.proxy / no_proxy */
	struct dedupe *dedupe;		/* batch.dedupe's set, set by the batch
					 * crawl; NULL: no duplicate check */
	struct loop_hook pump_hook;
	uint32_t in_flight;		/* slots taken, <= limits.concurrency */
	uint32_t waiting;		/* queued + backoff: the bounded queue */
	uint32_t backoff;		/* of which waiting to retry */
	uint32_t live;			/* accepted, not yet finished */
	struct list_node all;		/* the live jobs (job.all_node), oldest
					 * first */
	bool input_done;		/* no job will be submitted any more (a
					 * batch read to the end): idle conns of
					 * hosts with nothing queued close */
	struct conn_counters conns;	/* open, idle, opened, reused */
	uint64_t next_job_num;
	uint32_t fd_cap;		/* 0, or requests in flight allowed while
					 * descriptors ran short (EMFILE) */
	uint64_t fd_short_ms;		/* last shortage, or fd_cap's last rise */
	uint64_t fd_shortages;		/* attempts put off for want of one */
	uint64_t rng;			/* backoff jitter */
	struct sched_stats st;
	struct list_node observers;	/* struct sched_observer, in order */
	struct list_node room_waits;	/* struct sched_room_wait, FIFO */
	struct list_node share_waits;	/* struct sched_room_wait: woken when
					 * a host at its share drops below */
	uint32_t share;			/* jobs one host may hold in the bounded
					 * queue (queue.host_share) */
	uint32_t hosts_at_share;	/* hosts with held >= share */
	bool share_freed;		/* one did since the last wake */
	uint64_t parked;		/* jobs a producer holds parked outside
					 * the queue (the batch crawl's park),
					 * as it reports them: for status */
	uint32_t parked_hosts;		/* hosts those belong to */
	/* While held(held_arg) is true no attempt starts: the record writer
	 * holds new fetches back while it cannot write. NULL: never held. */
	bool (*held)(void *arg);
	void *held_arg;
	/* Asked, as a job with an origin tag ends and before its record,
	 * whether its producer still owns it: false drops it without a
	 * record or observers (the fleet lost the partition's lease: the
	 * new owner fetches it). NULL: always kept. */
	bool (*keep)(void *arg, const struct job *j);
	void *keep_arg;
};

/* Set up s over loop l with configuration cfg (borrowed; must outlive s).
 * Returns 0, or -errno with a sentence in err (nothing is left to free). */
int sched_init(struct sched *s, struct loop *l, const struct config *cfg,
	       char *err, size_t errlen);
/* Free everything; every job must be finished and every conn closed. */
void sched_fini(struct sched *s);

/* Add a request header name: value (copied) to j, before it starts.
 * Returns 0 or -ENOMEM (nothing added). */
int sched_job_header(struct job *j, const char *name, const char *value);

/* Fill snap with s's figures now. Never fails. */
void sched_snapshot(const struct sched *s, struct sched_snapshot *snap);

/* Room left in the queue (jobs that may be submitted now). */
uint32_t sched_room(const struct sched *s);

/* Add o (embedded in its owner, which outlives s or removes it with
 * sched_unobserve) after the observers added before it. Never fails. */
void sched_observe(struct sched *s, struct sched_observer *o);
void sched_unobserve(struct sched *s, struct sched_observer *o);

/* Have w->room called once there is room in the queue: at the start of a
 * later loop turn, waiters in the order they began to wait, each while room
 * lasts. Harmless when w already waits. The one way a producer (URL files,
 * the control socket) learns that it may submit again. */
void sched_wait_room(struct sched *s, struct sched_room_wait *w);
/* Stop waiting; harmless when w does not wait. */
void sched_unwait_room(struct sched_room_wait *w);

/* Fair intake: how many more jobs u's host may hold in the bounded queue
 * (queued or waiting to retry) before it is at its share, max(host_share
 * x capacity, 4 x per_host); the whole share for a host not known yet
 * (nothing is created). Whether the queue has room is sched_room()'s. */
uint32_t sched_host_room(const struct sched *s, const struct url *u);

/* Have w->room called once, from the loop's turn, after a host that held
 * its share drops below it (a job of it started or ended); w is the same
 * kind as sched_wait_room()'s but sits in its own list (a producer held
 * back by a share, not by a full queue). Harmless when waiting already;
 * sched_unwait_room() takes it out. */
void sched_wait_share(struct sched *s, struct sched_room_wait *w);

/* The live jobs, oldest first: for (j = sched_first(s); j; j =
 * sched_next(s, j)). Cancelling or dropping the current job is allowed
 * when the next one was fetched before. */
struct job *sched_first(const struct sched *s);
struct job *sched_next(const struct sched *s, const struct job *j);

/* As sched_submit(), giving the job to its caller: the queued job, which
 * the caller may decorate (headers) before the next loop turn starts it,
 * or NULL when it ended at once in its record (invalid_url, duplicate) or
 * nothing was accepted (out of memory: *num is then 0). *num is the job
 * number: want, or the next one when want is 0. */
struct job *sched_submit_ex(struct sched *s, const char *url, size_t len,
			    const char *id, uint64_t want, uint64_t *num);

/* Accept text (len bytes, as read; the record's url) with an optional id
 * only to end it at once in an invalid_url record with detail: a line
 * that is not a job at all (a URL-file line that is bad JSON). Returns the
 * job number (want, or the next one when 0), or 0 when out of memory
 * (nothing accepted). */
uint64_t sched_reject(struct sched *s, const char *text, size_t len,
		      const char *id, const char *detail, uint64_t want);

/* As sched_submit_ex() for a job another system handed over: source
 * (copied; the record's "source") and origin (the producer's tag, not 0,
 * for keep()) are set before the job can end, so even an invalid_url
 * record carries them. */
struct job *sched_submit_src(struct sched *s, const char *url, size_t len,
			     const char *id, const char *source,
			     uint64_t origin, uint64_t *num);

/* As sched_reject() with source and origin, as sched_submit_src() sets
 * them. */
uint64_t sched_reject_src(struct sched *s, const char *text, size_t len,
			  const char *id, const char *detail,
			  const char *source, uint64_t origin);

/* Accept one URL (len bytes, as read) with an optional submitter id.
 * Always accepts: an unparseable URL ends at once in an invalid_url record.
 * The caller respects sched_room(). Returns the job number, or 0 when out
 * of memory (nothing accepted). */
uint64_t sched_submit(struct sched *s, const char *url, size_t len,
		      const char *id);

/* As sched_submit() with job number want (0: the next one): a batch
 * crawl numbers its lines, so that --resume gives a line the number it
 * had. */
uint64_t sched_submit_num(struct sched *s, const char *url, size_t len,
			  const char *id, uint64_t want);

/* Whether nothing is queued, waiting, running or closing. */
bool sched_idle(const struct sched *s);

/* Close every idle pooled connection and end every robots.txt fetch (at
 * exit). */
void sched_close_idle(struct sched *s);

/* The process ran out of descriptors (a socket, an accepted client): hold
 * requests in flight at what runs now for a while, and close idle pooled
 * connections, so fetches and control clients share what there is. */
void sched_fd_shortage(struct sched *s);

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
 * and reports. Either way the observers run before this returns. Returns 0,
 * or -EBUSY for a running job without a conn (nothing done). */
int sched_cancel(struct sched *s, struct job *j, const char *detail);

/* sched_cancel() every job that is not running, or every job when
 * running is set (the batch crawl's SIGINT and its grace running out);
 * robots.txt fetches in the same states end too, without a record. */
void sched_cancel_all(struct sched *s, bool running, const char *detail);

/* Take j out of the scheduler without a record (the caller has saved it,
 * e.g. to the spill file) and free it; a running attempt is cut off and
 * its conn closes. The caller frees j's daemon fields first. Neither the
 * observers nor the room waiters are called. */
void sched_drop(struct sched *s, struct job *j);

/* Apply a reloaded configuration (same struct, new values): the per-host
 * cap now; other limits and timeouts are read at their next use; a changed
 * http.user_agent forgets the cached robots.txt rules. */
void sched_apply_config(struct sched *s);

#endif
