/* Unit tests for sched.c with a fake conn (sched.conn_ops): each attempt
 * completes on a short timer with a result scripted by its URL's path, so
 * the scheduler's decisions are seen without a socket: one record per job,
 * retry with backoff then success, a redirect followed, a non-retryable
 * error ending at once, the per-host and global caps, and every slot back
 * at the end; with robots.obey, a host's robots.txt fetched once first,
 * disallowed paths never requested, and the answers of RFC 9309 2.3.1. */
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "engine/job.h"
#include "engine/sched.h"
#include "event/loop.h"
#include "tap.h"

#define FAKE_MS 5		/* how long a fake attempt takes */
#define MAX_JOBS 64

static struct loop L;
static struct config cfg;
static struct sched S;

/* ---- the fake conn ---- */

struct fake {
	struct conn c;		/* only home and slot are used */
	struct conn_env *env;
	struct conn_req req;
	struct conn_sink sink;	/* as the owner set it up */
	struct timer t;
};

static struct {
	int running, max_running;
	int per_host[2], max_per_host[2];	/* a.test, b.test */
	int opened;
	int flaky_tries;		/* attempts of /flaky so far */
	int robots_status;		/* /robots.txt answers this ... */
	const char *robots_body;	/* ... with this body */
	int n_paths;			/* requests made, in order: */
	char paths[MAX_JOBS][64];
} fk;

static int host_ix(const struct url *u)
{
	return u->host[0] == 'b';
}

/* The scripted outcome of the attempt on u. */
static void script(const struct url *u, struct conn_result *r)
{
	const char *path = url_path(u);

	r->err = RF_OK;
	r->status = 200;
	r->location = "";
	r->retry_after = "";
	if (strcmp(path, "/flaky") == 0 && ++fk.flaky_tries < 3) {
		r->err = RF_TIMEOUT;
		r->status = 0;
		snprintf(r->detail, sizeof(r->detail), "scripted timeout");
	} else if (strcmp(path, "/moved") == 0) {
		r->status = 301;
		r->location = "/target";
	} else if (strcmp(path, "/robots.txt") == 0) {
		r->status = fk.robots_status;
	} else if (strcmp(path, "/refused") == 0) {
		/* blocked_address is not retryable */
		r->err = RF_BLOCKED_ADDRESS;
		r->status = 0;
		snprintf(r->detail, sizeof(r->detail), "scripted block");
	}
}

static void fake_fire(struct timer *t)
{
	struct fake *f = container_of(t, struct fake, t);
	struct conn_result r;
	int ix = host_ix(f->req.url);

	memset(&r, 0, sizeof(r));
	script(f->req.url, &r);
	if (f->sink.body && STREQ(url_path(f->req.url), "/robots.txt"))
		f->sink.body(f->sink.arg, fk.robots_body,
			     strlen(fk.robots_body));
	r.sink = f->sink.arg;
	r.content_type = "";
	r.ip = "127.0.0.1";
	r.tls_version = r.tls_cipher = "";
	r.slot = f->c.slot;
	f->c.slot.home = NULL;
	r.conn = &f->c;
	fk.running--;
	fk.per_host[ix]--;
	TAP_CHECK(!f->env->done(f->env, f->req.owner, &r));
	f->env->counters->open--;
	f->env->closed(f->env, &f->c);
	free(f);
}

static int fake_open(struct conn_env *env, const struct conn_req *req,
		     struct slot slot, void *home, struct conn **cp)
{
	struct fake *f = calloc(1, sizeof(*f));
	int ix = host_ix(req->url);

	if (!f)
		return -ENOMEM;
	f->env = env;
	f->req = *req;
	if (env->sink_start)
		env->sink_start(env, req->owner, "GET", 3, &f->sink);
	if (fk.n_paths < MAX_JOBS)
		snprintf(fk.paths[fk.n_paths++], sizeof(fk.paths[0]), "%s",
			 url_path(req->url));
	f->c.home = home;
	f->c.slot = slot;
	*cp = &f->c;
	env->counters->open++;
	env->counters->opened++;
	fk.opened++;
	if (++fk.running > fk.max_running)
		fk.max_running = fk.running;
	if (++fk.per_host[ix] > fk.max_per_host[ix])
		fk.max_per_host[ix] = fk.per_host[ix];
	loop_timer_arm(env->loop, &f->t, loop_now_ms(env->loop) + FAKE_MS,
		       fake_fire);
	return 0;
}

/* Never called: fake results are not reusable, so nothing is pooled. */
static void fake_reuse(struct conn *c, const struct conn_req *req,
		       struct slot slot)
{
	(void)c;
	(void)req;
	(void)slot;
	TAP_CHECK(!"reuse of a conn never pooled");
}

static void fake_abort(struct conn *c, int err, const char *detail)
{
	(void)c;
	(void)err;
	(void)detail;
	TAP_CHECK(!"abort not expected");
}

static void fake_detach(struct conn *c, struct slot *slot, void **sink)
{
	(void)c;
	(void)slot;
	(void)sink;
	TAP_CHECK(!"detach not expected");
}

static void fake_close_idle(struct conn *c)
{
	(void)c;
	TAP_CHECK(!"no idle conn expected");
}

static const struct sched_conn_ops fake_ops = {
	.open = fake_open,
	.reuse = fake_reuse,
	.abort = fake_abort,
	.detach = fake_detach,
	.close_idle = fake_close_idle,
};

/* ---- records, through an observer (the fake record writer) ---- */

static struct rec {
	uint64_t num;
	enum rf_err err;
	int status;
	uint32_t attempts, redirects;
	char path[64];
	char detail[192];
} recs[MAX_JOBS];
static int n_recs;

static void on_finish(struct sched_observer *o, const struct job *j)
{
	struct rec *r = &recs[n_recs < MAX_JOBS ? n_recs++ : MAX_JOBS - 1];

	(void)o;
	r->num = j->num;
	r->err = j->err;
	r->status = j->status;
	r->attempts = j->attempts;
	r->redirects = j->redirects;
	snprintf(r->path, sizeof(r->path), "%s", url_path(&j->url));
	snprintf(r->detail, sizeof(r->detail), "%s", j->detail);
}

static void reset(void)
{
	memset(&fk, 0, sizeof(fk));
	memset(recs, 0, sizeof(recs));
	n_recs = 0;
	cfg.robots.obey = false;
	robots_cache_clear(&S.robots.cache);
}

/* How many requests went to path. */
static int requested(const char *path)
{
	int n = 0;

	for (int i = 0; i < fk.n_paths; i++)
		n += STREQ(fk.paths[i], path);
	return n;
}

static void obey(int status, const char *body)
{
	cfg.robots.obey = true;
	fk.robots_status = status;
	fk.robots_body = body;
}

static void submit(const char *url)
{
	sched_submit(&S, url, strlen(url), NULL);
}

/* Turn the loop until every job has its record (or ms pass). */
static bool run_all(uint64_t ms)
{
	uint64_t end = loop_update_clock(&L) + ms;

	while (S.live && loop_now_ms(&L) < end)
		if (loop_run_once(&L) < 0)
			return false;
	return S.live == 0;
}

/* Nothing holds a slot, a conn or a host any more. */
static int all_back(void)
{
	int ok = 1;

	ok &= TAP_CHECK(S.in_flight == 0 && S.waiting == 0);
	ok &= TAP_CHECK(S.conns.open == 0 && fk.running == 0);
	ok &= TAP_CHECK(S.hosts.count == 0);
	return ok;
}

static struct rec *rec_of(const char *path)
{
	for (int i = 0; i < n_recs; i++)
		if (STREQ(recs[i].path, path))
			return &recs[i];
	return NULL;
}

/* ---- cases ---- */

static int test_one_record_per_job(void)
{
	char url[64];
	int ok = 1;

	reset();
	for (int i = 0; i < 20; i++) {
		snprintf(url, sizeof(url), "http://a.test/%d", i);
		submit(url);
	}
	ok &= TAP_CHECK(run_all(5000));
	ok &= TAP_CHECK(n_recs == 20 && fk.opened == 20);
	for (int i = 0; i < n_recs; i++) {
		ok &= TAP_CHECK(recs[i].err == RF_OK && recs[i].status == 200);
		for (int k = 0; k < i; k++)
			ok &= TAP_CHECK(recs[k].num != recs[i].num);
	}
	ok &= all_back();
	return ok;
}

static int test_retry_then_ok(void)
{
	uint64_t t0 = loop_update_clock(&L);
	struct rec *r;
	int ok = 1;

	reset();
	submit("http://a.test/flaky");
	ok &= TAP_CHECK(run_all(5000));
	r = rec_of("/flaky");
	ok &= TAP_CHECK(n_recs == 1 && r != NULL);
	ok &= TAP_CHECK(r && r->err == RF_OK && r->attempts == 3);
	ok &= TAP_CHECK(fk.opened == 3 && S.st.retried == 1);
	/* two backoffs of at least backoff_base_ms each (no jitter) */
	ok &= TAP_CHECK(loop_now_ms(&L) - t0 >= 2 * cfg.retry.backoff_base_ms);
	ok &= all_back();
	return ok;
}

static int test_redirect_followed(void)
{
	struct rec *r;
	int ok = 1;

	reset();
	submit("http://a.test/moved");
	ok &= TAP_CHECK(run_all(5000));
	r = rec_of("/target");
	ok &= TAP_CHECK(n_recs == 1 && r != NULL);
	ok &= TAP_CHECK(r && r->err == RF_OK && r->status == 200);
	ok &= TAP_CHECK(r && r->redirects == 1 && fk.opened == 2);
	ok &= all_back();
	return ok;
}

static int test_not_retryable(void)
{
	struct rec *r;
	int ok = 1;

	reset();
	submit("http://a.test/refused");
	ok &= TAP_CHECK(run_all(5000));
	r = rec_of("/refused");
	ok &= TAP_CHECK(n_recs == 1 && r != NULL);
	ok &= TAP_CHECK(r && r->err == RF_BLOCKED_ADDRESS && r->attempts == 1);
	ok &= TAP_CHECK(fk.opened == 1);
	ok &= all_back();
	return ok;
}

static int test_caps(void)
{
	char url[64];
	int ok = 1;

	reset();
	/* per_host 2, concurrency 3: a.test and b.test share the global cap */
	for (int i = 0; i < 10; i++) {
		snprintf(url, sizeof(url), "http://a.test/c%d", i);
		submit(url);
		snprintf(url, sizeof(url), "http://b.test/c%d", i);
		submit(url);
	}
	ok &= TAP_CHECK(run_all(5000));
	ok &= TAP_CHECK(n_recs == 20);
	ok &= TAP_CHECK(fk.max_running == 3);
	ok &= TAP_CHECK(fk.max_per_host[0] == 2 && fk.max_per_host[1] >= 1);
	ok &= TAP_CHECK(fk.max_per_host[1] <= 2);
	ok &= all_back();
	return ok;
}

static int test_robots_disallowed_never_requested(void)
{
	uint64_t accepted = S.st.accepted, fetches = S.robots.fetches_total;
	char url[64];
	struct rec *r;
	int ok = 1;

	reset();
	obey(200, "User-agent: *\nDisallow: /private\n");
	submit("http://a.test/private/x");
	for (int i = 0; i < 10; i++) {
		snprintf(url, sizeof(url), "http://a.test/p%d", i);
		submit(url);
	}
	ok &= TAP_CHECK(run_all(5000));
	ok &= TAP_CHECK(n_recs == 11);
	r = rec_of("/private/x");
	ok &= TAP_CHECK(r && r->err == RF_ROBOTS && r->attempts == 0);
	ok &= TAP_CHECK(requested("/private/x") == 0);
	ok &= TAP_CHECK(requested("/robots.txt") == 1);
	ok &= TAP_CHECK(STREQ(fk.paths[0], "/robots.txt"));
	ok &= TAP_CHECK(fk.n_paths == 11);
	/* the fetch is no job of the user's, but counted apart */
	ok &= TAP_CHECK(S.st.accepted - accepted == 11);
	ok &= TAP_CHECK(S.robots.fetches_total - fetches == 1);
	ok &= TAP_CHECK(S.robots.cache.count == 1);
	ok &= all_back();
	return ok;
}

static int test_robots_group_for_us_wins(void)
{
	int ok = 1;

	reset();
	obey(200, "User-agent: *\nDisallow: /\n\n"
	     "User-agent: ringfetch\nDisallow: /no\n");
	submit("http://a.test/yes");
	submit("http://a.test/no");
	ok &= TAP_CHECK(run_all(5000));
	ok &= TAP_CHECK(rec_of("/yes") && rec_of("/yes")->err == RF_OK);
	ok &= TAP_CHECK(rec_of("/no") && rec_of("/no")->err == RF_ROBOTS);
	ok &= all_back();
	return ok;
}

static int test_robots_404_allows_all(void)
{
	int ok = 1;

	reset();
	obey(404, "not found");
	submit("http://a.test/x");
	submit("http://b.test/y");
	ok &= TAP_CHECK(run_all(5000));
	ok &= TAP_CHECK(n_recs == 2 && recs[0].err == RF_OK &&
			recs[1].err == RF_OK);
	ok &= TAP_CHECK(requested("/robots.txt") == 2);	/* once a host */
	ok &= all_back();
	return ok;
}

static int test_robots_503_disallows_after_retries(void)
{
	uint64_t retried = S.st.retried;
	int ok = 1;

	reset();
	obey(503, "busy");
	submit("http://a.test/x");
	submit("http://a.test/y");
	ok &= TAP_CHECK(run_all(5000));
	ok &= TAP_CHECK(n_recs == 2);
	for (int i = 0; i < n_recs; i++) {
		ok &= TAP_CHECK(recs[i].err == RF_ROBOTS);
		ok &= TAP_CHECK(strstr(recs[i].detail,
				       "robots.txt answered 503") != NULL);
	}
	/* retried like a job, and only robots.txt was asked for */
	ok &= TAP_CHECK(requested("/robots.txt") == 3 && fk.n_paths == 3);
	ok &= TAP_CHECK(S.st.retried == retried);
	ok &= all_back();
	return ok;
}

static bool setup(char *err, size_t errlen)
{
	static struct sched_observer obs = { .finished = on_finish };

	if (loop_init(&L, 64, err, errlen) < 0)
		return false;
	config_init(&cfg);
	cfg.limits.concurrency = 3;
	cfg.limits.per_host = 2;
	cfg.retry.attempts = 3;
	cfg.retry.backoff_base_ms = 20;
	cfg.retry.backoff_max_ms = 40;
	cfg.retry.jitter = false;
	if (sched_init(&S, &L, &cfg, err, errlen) < 0)
		return false;
	S.conn_ops = &fake_ops;
	sched_observe(&S, &obs);
	return true;
}

int main(void)
{
	char err[256];

	if (!setup(err, sizeof(err))) {
		printf("1..0 # SKIP %s\n", err);
		return 77;
	}
	TAP_RUN(test_one_record_per_job);
	TAP_RUN(test_retry_then_ok);
	TAP_RUN(test_redirect_followed);
	TAP_RUN(test_not_retryable);
	TAP_RUN(test_caps);
	TAP_RUN(test_robots_disallowed_never_requested);
	TAP_RUN(test_robots_group_for_us_wins);
	TAP_RUN(test_robots_404_allows_all);
	TAP_RUN(test_robots_503_disallows_after_retries);
	sched_fini(&S);
	L.stop = true;
	for (int i = 0; i < 4; i++)
		loop_run_once(&L);
	config_fini(&cfg);
	loop_fini(&L);
	return tap_done();
}
