/* The batch crawl: an engine fed by the URL-file reader, run until every
 * line has its record, then report. */
#include "app/crawl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "app/engine.h"
#include "engine/dedupe.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "engine/job.h"
#include "front/batch.h"
#include "front/progress.h"
#include "front/summary.h"
#include "output/resume.h"

struct run {
	struct engine e;
	struct batch batch;
	struct park park;		/* lines parked under OUT/.frontier */
	struct progress progress;
	struct summary summary;
	struct sched_observer obs;	/* the summary's count */
	struct dedupe dedupe;		/* batch.dedupe's set */
	struct loop_hook stop_hook;
	struct io_op op_sig;
	struct signalfd_siginfo si;
	int sigfd;
	int summary_fd;			/* --summary-json, opened at start; -1 */
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

/* Whether j is a line that no attempt has touched yet. A job waiting to
 * retry, or queued again for a redirect's next hop, has been fetched: it
 * ends cancelled, with its record, and is not counted here. */
static bool never_started(const struct job *j)
{
	return j->state == JS_QUEUED && j->attempts == 0 && j->redirects == 0;
}

/* SPEC: on an interrupt the lines not yet started get no record (so a
 * later --resume or a re-run fetches them) and are counted as not_started;
 * the rest of what waits has been tried, and ends cancelled. Returns how
 * many were dropped. */
static uint64_t drop_unstarted(struct run *r)
{
	struct sched *s = &r->e.sched;
	uint64_t n = 0;

	for (struct job *j = sched_first(s), *next; j; j = next) {
		next = sched_next(s, j);
		if (never_started(j)) {
			sched_drop(s, j);
			n++;
		}
	}
	return n;
}

/* The first SIGINT/SIGTERM stops reading URLs, drops the queued jobs that
 * never started (no record), cancels those waiting to retry and gives the
 * running ones daemon.shutdown_grace; a second signal cancels them at
 * once. Every job that was tried still gets its record. */
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
	batch_stop(&r->batch);
	/* parked lines were never started either: --resume fetches them */
	r->summary.not_started = drop_unstarted(r) + r->park.lines;
	log_warn("signal %u: stopping after %llu URLs read; %llu not started "
		 "(no record), %u waiting to retry are cancelled, %u running "
		 "get up to %llu ms (daemon.shutdown_grace; a second signal "
		 "cuts them off)",
		 r->si.ssi_signo, (unsigned long long)r->batch.lines,
		 (unsigned long long)r->summary.not_started, s->waiting,
		 s->in_flight,
		 (unsigned long long)r->e.cfg->daemon.shutdown_grace_ms);
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
 * the progress line is already gone, so the summary starts on a clean line.
 * Returns 0, or -errno when the JSON could not be written (logged). */
static int report(struct run *r, const struct crawl_opts *o,
		  uint64_t elapsed_ms)
{
	const struct sched_stats *st = &r->e.sched.st;
	int rc;

	if (!o->quiet)
		summary_print(stderr, &r->summary, st, elapsed_ms);
	if (r->summary_fd < 0)
		return 0;
	rc = summary_write_json(r->summary_fd, &r->summary, st, elapsed_ms);
	if (close(r->summary_fd) < 0 && !rc)
		rc = -errno;
	r->summary_fd = -1;
	if (rc < 0)
		log_error("%s: cannot write the summary: %s", o->summary_json,
			  strerror(-rc));
	return rc;
}

/* Whether the directory that holds path (or path itself, when dir is set)
 * can take new files; else a sentence in err. */
static bool writable_dir(const char *path, bool dir, char *err, size_t len)
{
	char copy[4096];
	const char *d = path;

	if (!dir) {
		snprintf(copy, sizeof(copy), "%s", path);
		d = dirname(copy);
	}
	if (access(d, W_OK | X_OK) == 0)
		return true;
	snprintf(err, len, "%s: cannot write there: %s", d, strerror(errno));
	return false;
}

/* Every path the crawl writes, tried before anything is fetched, so that a
 * mistake in one is found at once (exit 2) rather than after the crawl:
 * the output directory is made, the --summary-json file opened (and
 * written at the end through that descriptor), metrics.textfile's
 * directory checked. Returns 0, or -1 with a sentence in err. */
static int check_outputs(struct run *r, const struct config *c,
			 const struct crawl_opts *o, const char *dir,
			 char *err, size_t len)
{
	int rc = fs_mkdir_p(dir);

	if (rc < 0) {
		snprintf(err, len, "%s: cannot create the output directory: %s",
			 dir, strerror(-rc));
		return -1;
	}
	if (!writable_dir(dir, true, err, len))
		return -1;
	if (c->metrics.textfile && c->metrics.textfile[0] &&
	    !writable_dir(c->metrics.textfile, false, err, len))
		return -1;
	if (!o->summary_json)
		return 0;
	r->summary_fd = open(o->summary_json, O_WRONLY | O_CREAT | O_CLOEXEC,
			     0666);
	if (r->summary_fd < 0) {
		snprintf(err, len, "--summary-json %s: %s", o->summary_json,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The summary's account of parking: the peak and the most parked hosts. */
static void note_parked(struct summary *sm, const struct park *p)
{
	const struct park_host *top[PARK_TOP];
	unsigned n = park_top(p, top);

	sm->parked_peak = p->peak_lines;
	if (n > SUMMARY_PARKED_TOP)
		n = SUMMARY_PARKED_TOP;
	for (unsigned i = 0; i < n; i++) {
		snprintf(sm->parked_top[i].name, sizeof(sm->parked_top[i].name),
			 "%s:%u", top[i]->name, top[i]->port);
		sm->parked_top[i].parked = top[i]->total;
	}
	sm->n_parked_top = n;
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
		/* a new crawl without its manifest (a full disk): it runs,
		 * as fetches wait out a full disk, but cannot be resumed */
		log_warn("%s; --resume will not continue this crawl", err);
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

	if (check_outputs(r, c, o, dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s (nothing was fetched)\n", err);
		return EXIT_USAGE;
	}
	if (engine_init(&r->e, c, dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return EXIT_FATAL;
	}
	if (c->source.redis.url[0])
		log_warn("source.redis is for the daemon: a batch crawl reads "
			 "only its URL files");
	/* the files first: one that cannot be read is a usage error */
	if (batch_open(&r->batch, &r->e.sched, &r->e.loop, o->files,
		       o->n_files, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		engine_fini(&r->e);
		return EXIT_USAGE;
	}
	first = r->e.sched.next_job_num;	/* after the records in dir */
	rc = begin(r, o, &first);
	if (rc) {
		batch_stop(&r->batch);	/* its hook must read no more */
		batch_close(&r->batch);
		engine_fini(&r->e);
		return rc;
	}
	dedupe_init(&r->dedupe, c->batch.dedupe_memory);
	if (c->batch.dedupe)
		r->e.sched.dedupe = &r->dedupe;
	/* Without .frontier (a full disk) the crawl still runs, reading as
	 * the queue has room, one host's backlog holding up the others. */
	if (park_init(&r->park, &r->e.loop, r->e.out_dir, batch_parked_written,
		      &r->batch, err, sizeof(err)) < 0) {
		log_warn("%s: lines are not parked; reading pauses while the "
			 "queue is full", err);
	} else {
		r->batch.park = &r->park;
		r->batch.park_max = c->queue.park_max;
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
	r.summary_fd = -1;
	rc = start(&r, c, o);
	if (rc) {
		if (r.summary_fd >= 0)
			close(r.summary_fd);
		return rc;
	}
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
		note_parked(&r.summary, &r.park);
		bool lost = report(&r, o, elapsed_ms) < 0;

		/* every line read: the next crawl numbers on after them */
		if (r.batch.done && !r.batch.error && !r.interrupted &&
		    crawl_end(r.e.out_dir, r.batch.index) < 0)
			log_warn("%s/.crawl: cannot note the crawl's end",
				 r.e.out_dir);
		rc = summary_failed(&r.summary, &r.e.sched.st) ?
			     EXIT_SOME_FAILED : EXIT_ALL_OK;
		/* A URL file that failed mid-read left lines without
		 * records, a summary that could not be written is lost;
		 * an interrupted crawl says which signal, as a shell does
		 * (130 after SIGINT, 143 after SIGTERM). */
		if (r.batch.error || lost)
			rc = EXIT_FATAL;
		else if (r.interrupted)
			rc = EXIT_SIGNAL + r.summary.signo;
	}
	batch_close(&r.batch);
	park_fini(&r.park);	/* however the crawl ended: no .frontier */
	crawl_bits_free(&r.done_before);
	if (engine_fini(&r.e) < 0)
		rc = EXIT_FATAL;
	dedupe_fini(&r.dedupe);
	if (r.sigfd >= 0)
		close(r.sigfd);
	if (r.summary_fd >= 0)
		close(r.summary_fd);	/* the loop failed before report() */
	return rc;
}
