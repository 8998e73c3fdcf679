/* The engine's parts in the order they depend on one another: the loop
 * first, then the record writer, the scheduler writing through it, body
 * storage and metrics reading the scheduler. */
#include "app/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/job.h"
#include "front/metrics.h"
#include "front/redis_out.h"
#include "net/conn.h"
#include "net/redis.h"
#include "net/workers.h"
#include "output/bodies.h"
#include "output/jobnum.h"

enum {
	UP_LOOP = 1u << 0,
	UP_RESULTS = 1u << 1,
	UP_SCHED = 1u << 2,
};

#define RING_ENTRIES 4096

static void write_record(struct sched_observer *o, const struct job *j)
{
	struct engine *e = container_of(o, struct engine, rec);

	/* A record that cannot be written stays buffered and blocks new
	 * fetches (results_blocked); one over the buffer's ceiling is
	 * logged by results.c. Either way the job has ended. */
	(void)results_write(&e->results, j);
}

static void publish_record(struct sched_observer *o, const struct job *j)
{
	struct engine *e = container_of(o, struct engine, pub);

	(void)j;
	if (e->results.last.len)
		redis_out_record(e->rout, e->results.last.p,
				 e->results.last.len);
}

static bool published(void *arg)
{
	return redis_out_idle(arg);
}

static bool redis_gone(void *arg)
{
	(void)arg;
	return redis_draining() == 0;
}

static void observe_metrics(struct sched_observer *o, const struct job *j)
{
	struct engine *e = container_of(o, struct engine, met);

	metrics_observe(e->metrics, j);
}

static void wait_results(struct engine *e)
{
	uint64_t until = loop_update_clock(&e->loop) + 10000;

	e->loop.stop = true;	/* zero-wait turns: nothing else to sleep on */
	while (!results_idle(&e->results) &&
	       loop_update_clock(&e->loop) < until &&
	       loop_run_once(&e->loop) >= 0)
		;
}

static bool results_hold(void *arg)
{
	return results_blocked(arg);
}

int engine_init(struct engine *e, struct config *cfg, const char *out_dir,
		char *err, size_t errlen)
{
	uint64_t last_job;
	unsigned n_workers;
	int rc;

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	e->out_dir = strdup(out_dir);
	if (!e->out_dir) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* before results_open() touches results.jsonl */
	last_job = jobnum_load(e->out_dir);
	rc = loop_init(&e->loop, RING_ENTRIES, err, errlen);
	if (rc < 0)
		goto out_fail;
	e->up |= UP_LOOP;
	/* First, while nothing is in flight: its probe waits on the ring.
	 * Without the pool conns receive into buffers of their own. Worker
	 * rings have pools of their own, and this loop receives no body. */
	n_workers = workers_wanted(cfg->limits.workers);
	if (n_workers == 1)
		loop_bufs_init(&e->loop, CONN_RBUF, CONN_POOL_BYTES);
	rc = results_open(&e->results, &e->loop, cfg, e->out_dir, err, errlen);
	if (rc < 0)
		goto out_fail;
	e->up |= UP_RESULTS;
	rc = sched_init(&e->sched, &e->loop, cfg, err, errlen);
	if (rc < 0)
		goto out_fail;
	e->up |= UP_SCHED;
	if (n_workers > 1) {
		rc = workers_start(&e->workers, n_workers, &e->sched.env, err,
				   errlen);
		if (rc < 0)
			goto out_fail;
	}
	/* the daemon says it at info level; a batch crawl's stderr is its
	 * progress and summary */
	log_debug("fetching on %u worker ring%s (limits.workers)", n_workers,
		  n_workers > 1 ? "s" : "");
	/* SPEC: job numbers never repeat within an output directory */
	e->sched.next_job_num = last_job + 1;
	if (last_job)
		log_info("%s: job numbers go on from %llu", e->out_dir,
			 (unsigned long long)last_job + 1);
	e->rec.finished = write_record;
	sched_observe(&e->sched, &e->rec);
	e->sched.held = results_hold;
	e->sched.held_arg = &e->results;
	if (cfg->output.bodies != BODIES_NONE) {
		e->bodies = bodies_new(cfg, e->out_dir, err, errlen);
		if (!e->bodies) {
			rc = -EINVAL;
			goto out_fail;
		}
		e->sched.bodies = e->bodies;
		e->sched.body_ops = &bodies_sched_ops;
	}
	e->metrics = metrics_new(&e->loop, &e->sched, cfg, err, errlen);
	if (!e->metrics) {
		rc = -EINVAL;
		goto out_fail;
	}
	e->met.finished = observe_metrics;
	sched_observe(&e->sched, &e->met);
	if (cfg->output.redis.url[0]) {
		e->rout = redis_out_new(&e->loop, cfg, err, errlen);
		if (!e->rout) {
			rc = -EINVAL;
			goto out_fail;
		}
		e->results.keep_last = true;
		e->pub.finished = publish_record;
		sched_observe(&e->sched, &e->pub);
		metrics_add_extra(e->metrics, redis_out_metrics, e->rout);
	}
	return 0;
out_fail:
	engine_fini(e);
	return rc;
}

void engine_pause(struct engine *e)
{
	if (e->workers)
		workers_pause(e->workers);
}

void engine_resume(struct engine *e)
{
	if (e->workers)
		workers_resume(e->workers);
}

void engine_stop(struct engine *e)
{
	if (e->up & UP_SCHED)
		sched_close_idle(&e->sched);
	if (e->metrics) {
		sched_unobserve(&e->sched, &e->met);
		metrics_free(e->metrics);
		e->metrics = NULL;
	}
}

bool engine_drain(struct engine *e, bool (*done)(void *arg), void *arg,
		  uint64_t max_ms)
{
	uint64_t until = loop_update_clock(&e->loop) + max_ms;
	bool ok;

	/* stop makes every turn's wait zero: cancelled operations answer
	 * at once, and nothing here may sleep on the peer. */
	e->loop.stop = true;
	for (;;) {
		ok = (!(e->up & UP_SCHED) || e->sched.conns.open == 0) &&
		     (!done || done(arg));
		if (ok || loop_update_clock(&e->loop) >= until ||
		    loop_run_once(&e->loop) < 0)
			return ok;
	}
}

/* A few zero-wait turns: what the last frees cancelled (dns_free()'s poll,
 * a metrics scraper) completes before the ring goes. */
static void settle(struct engine *e)
{
	e->loop.stop = true;
	for (int i = 0; i < 4; i++)
		loop_run_once(&e->loop);
}

int engine_fini(struct engine *e)
{
	int rc = 0;

	engine_stop(e);		/* metrics (which read rout) go first */
	if (e->rout) {
		/* what was written is published before the connection goes;
		 * Redis being away costs this wait at most */
		engine_drain(e, published, e->rout, 3000);
		sched_unobserve(&e->sched, &e->pub);
		redis_out_free(e->rout);
		e->rout = NULL;
		engine_drain(e, redis_gone, NULL, 1000);
	}
	if (e->up & UP_RESULTS) {
		/* a sync in flight completes into e->results: wait for it
		 * (and for nothing else: open conns are not its business) */
		wait_results(e);
		rc = results_close(&e->results);
		if (rc < 0)
			log_error("%s/results.jsonl: records were lost: a write "
				  "failed: %s", e->out_dir, strerror(-rc));
	}
	/* After the last record: a mark older than results.jsonl means a
	 * run that did not end, and the next one reads the records. */
	if ((e->up & UP_SCHED) && e->sched.next_job_num > 1) {
		int mrc = jobnum_save(e->out_dir, e->sched.next_job_num - 1);

		if (mrc < 0)
			log_warn("%s/.jobnum: %s: the next run reads the "
				 "records to number on", e->out_dir,
				 strerror(-mrc));
	}
	/* every conn is closed by now: the workers have nothing left */
	workers_stop(e->workers);
	if (e->up & UP_SCHED)
		sched_fini(&e->sched);
	if (e->up & UP_LOOP)
		settle(e);
	bodies_free(e->bodies);
	if (e->up & UP_LOOP)
		loop_fini(&e->loop);
	workers_free(e->workers);
	e->workers = NULL;
	free(e->out_dir);
	e->out_dir = NULL;
	e->bodies = NULL;
	e->up = 0;
	return rc;
}
