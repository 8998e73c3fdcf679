/* The batch crawl: an engine fed by the URL-file reader, run until every
 * line has its record, then report. */
#include "app/crawl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "app/engine.h"
#include "base/log.h"
#include "front/batch.h"
#include "front/progress.h"
#include "front/summary.h"
#include "output/resume.h"

struct run {
	struct engine e;
	struct batch batch;
	struct progress progress;
	struct summary summary;
	struct sched_observer obs;	/* the summary's count */
	struct loop_hook stop_hook;
	struct io_op op_sig;
	struct signalfd_siginfo si;
	int sigfd;
	bool interrupted;		/* by SIGINT/SIGTERM */
	struct timer t_grace;		/* then: daemon.shutdown_grace */
	struct crawl_bits done_before;	/* --resume: lines with a record */
	char why[64];			/* the cancelled records' detail */
};

static void read_signal(struct run *r)
{
	io_uring_prep_read(loop_sqe(&r->e.loop, &r->op_sig), r->sigfd, &r->si,
			   sizeof(r->si), 0);
}

static void check_done(struct loop_hook *h)
{
	struct run *r = container_of(h, struct run, stop_hook);
	struct sched *s = &r->e.sched;

	/* Interrupted, nothing may start again: a retry or a redirect that
	 * would queue its job once more ends it cancelled instead. */
	if (r->interrupted)
		sched_cancel_all(s, false, r->why);
	s->input_done = r->batch.done;
	/* records kept by a failed write must reach the disk first */
	if (r->batch.done && sched_idle(s) &&
	    results_flush(&r->e.results) == 0) {
		loop_timer_cancel(&r->e.loop, &r->t_grace);
		r->e.loop.stop = true;
	}
}

static void on_grace(struct timer *t)
{
	struct run *r = container_of(t, struct run, t_grace);

	progress_clear(&r->progress);
	log_warn("daemon.shutdown_grace (%llu ms) over: cancelling the %u "
		 "jobs still running",
		 (unsigned long long)r->e.cfg->daemon.shutdown_grace_ms,
		 r->e.sched.in_flight);
	sched_cancel_all(&r->e.sched, true, r->why);
}

/* The first SIGINT/SIGTERM stops reading URLs, ends the queued jobs with
 * cancelled records and gives the running ones daemon.shutdown_grace; a
 * second cancels them at once. Every line read still gets its record. */
static void on_signal(struct io_op *op, int res, unsigned flags)
{
	struct run *r = container_of(op, struct run, op_sig);
	struct sched *s = &r->e.sched;

	(void)flags;
	if (res <= 0)
		return;
	progress_clear(&r->progress);
	if (r->interrupted) {
		log_warn("signal %u again: cancelling the %u jobs still running",
			 r->si.ssi_signo, s->in_flight);
		loop_timer_cancel(&r->e.loop, &r->t_grace);
		sched_cancel_all(s, true, r->why);
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
		 s->waiting, s->in_flight,
		 (unsigned long long)r->e.cfg->daemon.shutdown_grace_ms);
	batch_stop(&r->batch);
	sched_cancel_all(s, false, r->why);
	loop_timer_arm(&r->e.loop, &r->t_grace, loop_now_ms(&r->e.loop) +
		       r->e.cfg->daemon.shutdown_grace_ms, on_grace);
	read_signal(r);
}

static void count_finished(struct sched_observer *o, const struct job *j)
{
	struct run *r = container_of(o, struct run, obs);

	summary_note(&r->summary, j);
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
	if (r->sigfd < 0) {
		/* The crawl still runs; a signal then ends it at once. */
		log_warn("signalfd: %s: SIGINT/SIGTERM will not drain the "
			 "crawl", strerror(errno));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		return;
	}
	r->op_sig.done = on_signal;
	read_signal(r);
}

/* The account of the crawl on stderr (unless quiet) and in --summary-json;
 * the progress line is already gone, so the summary starts on a clean line. */
static void report(struct run *r, const struct crawl_opts *o,
		   uint64_t elapsed_ms)
{
	const struct sched_stats *st = &r->e.sched.st;
	int rc;

	if (!o->quiet)
		summary_print(stderr, &r->summary, st, elapsed_ms);
	if (!o->summary_json)
		return;
	rc = summary_write_json(o->summary_json, &r->summary, st, elapsed_ms);
	if (rc < 0)
		log_error("%s: cannot write the summary: %s", o->summary_json,
			  strerror(-rc));
}

static bool line_done(void *arg, uint64_t i)
{
	return crawl_bits_test(arg, i);
}

/* The crawl's numbers (and with --resume, which lines are done) from the
 * output directory's manifest. Returns 0 or the exit status. */
static int begin(struct run *r, struct crawl_opts *o, uint64_t *first)
{
	char err[512];
	int rc;

	rc = crawl_begin(r->e.out_dir, o->files, o->n_files, o->resume, first,
			 &r->done_before, err, sizeof(err));
	if (rc < 0 && !o->resume && rc != -EINVAL) {
		/* a full disk, say: the crawl runs, but cannot be resumed */
		log_warn("%s; --resume will not be able to continue this "
			 "crawl", err);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FATAL;
	}
	if (o->resume && !o->quiet)
		fprintf(stderr, "ringfetchd: --resume: %llu lines of the crawl "
			"have their record already; fetching the rest\n",
			(unsigned long long)r->done_before.set);
	return 0;
}

/* Engine, URL files and signals up. Returns 0 or the exit status. */
static int start(struct run *r, struct config *c, struct crawl_opts *o)
{
	const char *dir = c->output.dir[0] ? c->output.dir : "./ringfetch-out";
	uint64_t first = 1;
	char err[512];
	int rc;

	if (engine_init(&r->e, c, dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	if (batch_open(&r->batch, &r->e.sched, &r->e.loop, o->files,
		       o->n_files, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		engine_fini(&r->e);
		return EXIT_USAGE;
	}
	/* before the loop's first turn reads a line */
	rc = begin(r, o, &first);
	if (rc) {
		batch_stop(&r->batch);	/* its hook must read no more */
		batch_close(&r->batch);
		engine_fini(&r->e);
		return rc;
	}
	r->batch.first = first;
	if (o->resume) {
		r->batch.done_before = line_done;
		r->batch.done_arg = &r->done_before;
	}
	summary_init(&r->summary);
	r->obs.finished = count_finished;
	sched_observe(&r->e.sched, &r->obs);
	r->stop_hook.fn = check_done;
	loop_add_hook(&r->e.loop, &r->stop_hook);
	watch_signals(r);
	return 0;
}

int crawl_run(struct config *c, struct crawl_opts *o)
{
	static struct run r;
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
	memset(&r, 0, sizeof(r));
	r.sigfd = -1;
	rc = start(&r, c, o);
	if (rc)
		return rc;
	t0 = loop_update_clock(&r.e.loop);
	progress_start(&r.progress, &r.e.loop, &r.e.sched, &r.batch, o->quiet);
	rc = loop_run(&r.e.loop);
	elapsed_ms = loop_now_ms(&r.e.loop) - t0;
	progress_stop(&r.progress);
	if (rc < 0) {
		/* Unfinished jobs get no record: say so, and stop. */
		log_error("event loop: %s; %u jobs end without a record",
			  strerror(-rc), r.e.sched.live);
		rc = EXIT_FATAL;
	} else {
		engine_stop(&r.e);
		engine_drain(&r.e, NULL, NULL, 2000);
		r.summary.already_done = r.batch.skipped;
		report(&r, o, elapsed_ms);
		/* every line read: the next crawl numbers on after them */
		if (r.batch.done && !r.batch.error && !r.interrupted &&
		    crawl_end(r.e.out_dir, r.batch.index) < 0)
			log_warn("%s/.crawl: cannot note the crawl's end",
				 r.e.out_dir);
		rc = r.e.sched.st.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
		/* A URL file that failed mid-read left lines without
		 * records, and an interrupted crawl lines unread. */
		if (r.batch.error || r.interrupted)
			rc = EXIT_FATAL;
	}
	batch_close(&r.batch);
	crawl_bits_free(&r.done_before);
	if (engine_fini(&r.e) < 0)
		rc = EXIT_FATAL;
	if (r.sigfd >= 0)
		close(r.sigfd);
	return rc;
}
