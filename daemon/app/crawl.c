/* The batch crawl: wire loop, scheduler, results and the URL-file reader
 * together, run until every line has its record, then report. */
#include "app/crawl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "front/batch.h"
#include "output/bodies.h"
#include "base/log.h"
#include "event/loop.h"
#include "front/metrics.h"
#include "front/progress.h"
#include "output/results.h"
#include "engine/sched.h"
#include "front/summary.h"

struct run {
	struct loop loop;
	struct sched sched;
	struct results results;
	struct batch batch;
	struct progress progress;
	struct summary summary;
	struct metrics *metrics;	/* exports only when metrics.* is set */
	struct loop_hook stop_hook;
	struct io_op op_sig;
	struct signalfd_siginfo si;
	int sigfd;
	bool interrupted;		/* by SIGINT/SIGTERM */
	struct timer t_grace;		/* then: daemon.shutdown_grace */
	char why[64];			/* the cancelled records' detail */
};

static void read_signal(struct run *r)
{
	io_uring_prep_read(loop_sqe(&r->loop, &r->op_sig), r->sigfd, &r->si,
			   sizeof(r->si), 0);
}

static void check_done(struct loop_hook *h)
{
	struct run *r = container_of(h, struct run, stop_hook);

	/* Interrupted, nothing may start again: a retry or a redirect that
	 * would queue its job once more ends it cancelled instead. */
	if (r->interrupted)
		sched_cancel_all(&r->sched, false, r->why);
	r->sched.input_done = r->batch.done;
	/* records kept by a failed write must reach the disk first */
	if (r->batch.done && sched_idle(&r->sched) &&
	    results_flush(&r->results) == 0) {
		loop_timer_cancel(&r->loop, &r->t_grace);
		r->loop.stop = true;
	}
}

static void on_grace(struct timer *t)
{
	struct run *r = container_of(t, struct run, t_grace);

	progress_clear(&r->progress);
	log_warn("daemon.shutdown_grace (%llu ms) over: cancelling the %u "
		 "jobs still running",
		 (unsigned long long)r->sched.cfg->daemon.shutdown_grace_ms,
		 r->sched.in_flight);
	sched_cancel_all(&r->sched, true, r->why);
}

/* The first SIGINT/SIGTERM stops reading URLs, ends the queued jobs with
 * cancelled records and gives the running ones daemon.shutdown_grace; a
 * second cancels them at once. Every line read still gets its record. */
static void on_signal(struct io_op *op, int res, unsigned flags)
{
	struct run *r = container_of(op, struct run, op_sig);

	(void)flags;
	if (res <= 0)
		return;
	progress_clear(&r->progress);
	if (r->interrupted) {
		log_warn("signal %u again: cancelling the %u jobs still running",
			 r->si.ssi_signo, r->sched.in_flight);
		loop_timer_cancel(&r->loop, &r->t_grace);
		sched_cancel_all(&r->sched, true, r->why);
		return;
	}
	r->interrupted = true;
	r->summary.signo = (int)r->si.ssi_signo;
	snprintf(r->why, sizeof(r->why), "crawl interrupted by signal %u",
		 r->si.ssi_signo);
	log_warn("signal %u: stopping after %llu URLs read; %u queued jobs are "
		 "cancelled, %u running get up to %llu ms "
		 "(daemon.shutdown_grace; a second signal cuts them off)",
		 r->si.ssi_signo, (unsigned long long)r->batch.lines,
		 r->sched.waiting, r->sched.in_flight,
		 (unsigned long long)r->sched.cfg->daemon.shutdown_grace_ms);
	batch_stop(&r->batch);
	sched_cancel_all(&r->sched, false, r->why);
	loop_timer_arm(&r->loop, &r->t_grace, loop_now_ms(&r->loop) +
		       r->sched.cfg->daemon.shutdown_grace_ms, on_grace);
	read_signal(r);
}

static void on_finish(struct sched *s, const struct job *j, void *arg)
{
	struct run *r = arg;

	(void)s;
	summary_note(&r->summary, j);
	metrics_observe(r->metrics, j);
}

static void watch_signals(struct run *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (r->sigfd < 0)
		return;
	r->op_sig.done = on_signal;
	read_signal(r);
}

/* The account of the crawl on stderr (unless quiet) and in --summary-json;
 * the progress line is already gone, so the summary starts on a clean line. */
static void report(struct run *r, const struct crawl_opts *o,
		   uint64_t elapsed_ms)
{
	int rc;

	if (!o->quiet)
		summary_print(stderr, &r->summary, &r->sched.st, elapsed_ms);
	if (!o->summary_json)
		return;
	rc = summary_write_json(o->summary_json, &r->summary, &r->sched.st,
				elapsed_ms);
	if (rc < 0)
		log_error("%s: cannot write the summary: %s", o->summary_json,
			  strerror(-rc));
}

int crawl_run(struct config *c, struct crawl_opts *o)
{
	static struct run r;
	char err[512];
	const char *dir = c->output.dir[0] ? c->output.dir : "./ringfetch-out";
	uint64_t t0, elapsed_ms;
	int rc;

	if (!o->n_files) {
		o->files = c->batch.urls.v;
		o->n_files = c->batch.urls.n;
	}
	if (!o->n_files) {
		fprintf(stderr, "ringfetchd: --batch needs URL files (or batch.urls)\n");
		return EXIT_USAGE;
	}
	if (loop_init(&r.loop, 4096, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	if (results_open(&r.results, &r.loop, c, dir, err,
			 sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	if (sched_init(&r.sched, &r.loop, c, &r.results, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	if (c->output.bodies != BODIES_NONE &&
	    !(r.sched.bodies = bodies_new(c, dir, err, sizeof(err)))) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	r.sched.body_ops = &bodies_sched_ops;
	r.metrics = metrics_new(&r.loop, &r.sched, c, err, sizeof(err));
	if (!r.metrics) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	if (batch_open(&r.batch, &r.sched, &r.loop, o->files, o->n_files, err,
		       sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_USAGE;
	}
	summary_init(&r.summary);
	r.sched.on_finish = on_finish;
	r.sched.on_finish_arg = &r;
	r.stop_hook.fn = check_done;
	loop_add_hook(&r.loop, &r.stop_hook);
	watch_signals(&r);
	t0 = loop_update_clock(&r.loop);
	progress_start(&r.progress, &r.loop, &r.sched, &r.batch, o->quiet);
	rc = loop_run(&r.loop);
	elapsed_ms = loop_now_ms(&r.loop) - t0;
	progress_stop(&r.progress);
	if (rc < 0) {
		/* Skip the orderly close: unfinished jobs get no record. */
		log_error("event loop: %s", strerror(-rc));
		results_close(&r.results);
		return EXIT_FATAL;
	}
	sched_close_idle(&r.sched);
	while (r.sched.conns.open && loop_run_once(&r.loop) == 0)
		;
	report(&r, o, elapsed_ms);
	metrics_free(r.metrics);
	if (results_close(&r.results) < 0) {
		log_error("%s/results.jsonl: write failed", dir);
		return EXIT_FATAL;
	}
	rc = r.sched.st.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
	/* A URL file that failed mid-read left lines without records, and
	 * an interrupted crawl lines unread. */
	if (r.batch.error || r.interrupted)
		rc = EXIT_FATAL;
	batch_close(&r.batch);
	bodies_free(r.sched.bodies);
	sched_fini(&r.sched);
	/* dns_free() may leave a cancelled poll to complete: drain without
	 * blocking (stop makes every turn's wait zero). */
	r.loop.stop = true;
	for (int i = 0; i < 4; i++)
		loop_run_once(&r.loop);
	loop_fini(&r.loop);
	return rc;
}
