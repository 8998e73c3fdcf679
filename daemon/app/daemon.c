/* Daemon mode: an engine (as crawl.c has for a batch) fed by the control
 * socket, and the daemon's lifetime: signals
 * arrive through a signalfd read by the ring; SIGTERM drains within
 * daemon.shutdown_grace and spills what is left; SIGHUP reopens the result
 * log and reloads the configuration; systemd hears READY=1, STATUS= and
 * STOPPING=1, and may hand over the listening socket. */
#include "app/daemon.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "app/crawl.h"
#include "app/sdnotify.h"
#include "front/jobspec.h"
#include "base/fsutil.h"
#include "engine/job.h"
#include "base/json.h"
#include "base/log.h"
#include "output/spill.h"
#include "net/redis.h"
#include "front/metrics.h"
#include "net/tls.h"
#include "net/workers.h"
#include "version.h"	/* generated: RF_VERSION */

#define TICK_MS 1000		/* STATUS= and the results flush */
#define SETTLE_MS 100		/* stopping: clients quiet this long */
#define TRIM_MS 10000		/* free heap pages go back this often */

static void stop_now(struct daemon *d);

static bool accepting(void *arg)
{
	const struct daemon *d = arg;

	return d->state == DS_RUNNING;
}

/* Give j the headers of a checked JSON object of strings. */
static void set_headers(struct job *j, const struct json_val *obj)
{
	if (jobspec_headers(j, obj) < 0)
		log_error("job %llu: out of memory for its headers; sent "
			  "without some", (unsigned long long)j->num);
}

static struct job *submit(void *arg, const char *url, size_t len,
			  const char *id, const struct json_val *req,
			  char *why, size_t whylen)
{
	struct daemon *d = arg;
	struct job *j = sched_submit_job(&d->e.sched, url, len, id, 0);

	if (!j) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (req && jobspec_apply(j, req) < 0)
		log_error("job %llu: out of memory for its headers; sent "
			  "without some", (unsigned long long)j->num);
	if (durable_accept(&d->du, j, why, whylen) < 0) {
		sched_drop(&d->e.sched, j);	/* frees its headers */
		return NULL;
	}
	return j;
}

static void gate(void *arg, struct journal_wait *w)
{
	struct daemon *d = arg;

	durable_gate(&d->du, w);
}

static void on_finish(struct sched_observer *o, const struct job *j)
{
	struct daemon *d = container_of(o, struct daemon, obs);

	if (d->ctl_ok)
		control_on_finish(&d->ctl, j);
}

static uint32_t cancel(void *arg, uint64_t num, const char *id)
{
	struct daemon *d = arg;
	struct sched *s = &d->e.sched;
	uint32_t n = 0;

	for (struct job *j = sched_first(s), *next; j; j = next) {
		next = sched_next(s, j);	/* cancelling unlinks j, only j */
		if (id ? !j->id || strcmp(j->id, id) : j->num != num)
			continue;
		if (sched_cancel(&d->e.sched, j, "cancelled by request") == 0)
			n++;
		if (!id)
			break;
	}
	return n;
}

/* Take j out of the scheduler into the spill buffer; with the journal,
 * its accept line is its saved copy already. */
static void spill_job(struct daemon *d, struct job *j)
{
	if (fleet_owns_job(j)) {
		/* it stays pending in Redis: its next owner claims it */
		fleet_give_back(&d->fleet, j);
		return;
	}
	if (d->du.on)
		d->spilled++;
	else if (spill_format(&d->spill, j) < 0)
		log_error("job %llu (%s): cannot be spilled: out of memory",
			  (unsigned long long)j->num, j->url_text);
	else
		d->spilled++;
	sched_drop(&d->e.sched, j);
}

/* Spill every job that is not running (all of them when cut_off). */
static void spill_sweep(struct daemon *d, bool cut_off)
{
	struct sched *s = &d->e.sched;

	for (struct job *j = sched_first(s), *next; j; j = next) {
		next = sched_next(s, j);
		if (cut_off || j->state != JS_RUNNING)
			spill_job(d, j);
	}
}

static void put_num(struct buf *b, const char *key, uint64_t v)
{
	buf_printf(b, "\"%s\":%llu,", key, (unsigned long long)v);
}

/* "memory": what the heap holds (mallinfo2: in use, free inside the heap
 * and so still in RSS, mmapped chunks) and the capacity of the buffers
 * that grow with load, so a rising RSS can be told apart as buffers
 * keeping a burst's size or as a fragmented heap. mallinfo2 walks the
 * free lists: cheap next to a status line, not for every job. */
static void put_memory(struct buf *b, struct daemon *d)
{
	struct mallinfo2 mi = mallinfo2();
	size_t jr = d->du.on ? journal_mem_bytes(&d->du.jr) : 0;
	size_t du = d->du.line.cap + d->du.cap * sizeof(*d->du.fifo);
	size_t ctl = d->ctl_ok ? control_mem_bytes(&d->ctl) : 0;
	size_t res = d->e.results.out.cap;

	buf_puts(b, "\"memory\":{");
	put_num(b, "heap_in_use", mi.uordblks + mi.hblkhd);
	put_num(b, "heap_free", mi.fordblks);
	put_num(b, "heap_mmap", mi.hblkhd);
	put_num(b, "journal_buffers", jr + du);
	put_num(b, "results_buffer", res);
	put_num(b, "client_buffers", ctl);
	buf_printf(b, "\"buffers\":%zu},", jr + du + ctl + res +
		   d->spill.cap);
}

static int status(void *arg, struct buf *b)
{
	struct daemon *d = arg;
	const struct control *c = &d->ctl;
	struct sched_snapshot snap;
	const struct sched_stats *st = &snap.st;
	size_t start = b->len;

	sched_snapshot(&d->e.sched, &snap);
	buf_putc(b, '{');
	put_num(b, "queued", snap.queued);
	put_num(b, "retry_waiting", snap.retry_waiting);
	put_num(b, "in_flight", snap.in_flight);
	put_num(b, "accepted", st->accepted);
	put_num(b, "done", st->done);
	put_num(b, "ok", st->ok);
	put_num(b, "failed", st->failed);
	put_num(b, "retried", st->retried);
	put_num(b, "redirects", st->redirects);
	put_num(b, "bytes", st->bytes);
	put_num(b, "connections_open", snap.conns.open);
	put_num(b, "connections_idle", snap.conns.idle);
	put_num(b, "workers", workers_count(d->e.workers));
	put_num(b, "recv_pool_empty", d->e.workers ?
		workers_enobufs(d->e.workers) :
		d->e.loop.bufs_on ? d->e.loop.bufs.enobufs : 0);
	put_num(b, "hosts_active", snap.hosts);
	put_num(b, "adaptive_cuts", snap.adaptive_cuts);
	put_num(b, "robots_fetches", snap.robots_fetches);
	put_num(b, "robots_hosts_cached", snap.robots_cached);
	put_num(b, "parked", snap.parked);
	put_num(b, "hosts_at_share", snap.hosts_at_share);
	put_num(b, "robots_denied", st->failed_by[RF_ROBOTS]);
	put_num(b, "queue_capacity", snap.queue_capacity);
	put_num(b, "clients", c->n_clients - c->n_dead);
	put_num(b, "watchers", c->n_watchers);
	put_num(b, "clients_paused", c->n_paused);
	put_num(b, "queue_waits", c->st.queue_waits);
	put_num(b, "clients_at_share", c->n_at_share);
	put_num(b, "share_waits", c->st.share_waits);
	put_num(b, "watch_dropped", c->st.watch_dropped);
	put_num(b, "clients_dropped", c->st.dropped);
	put_num(b, "clients_refused", c->st.refused);
	put_num(b, "reloads", d->reloads);
	put_num(b, "journal_bytes", d->du.on ? d->du.jr.size : 0);
	put_num(b, "journal_refused", d->du.refused);
	put_num(b, "journal_compactions", d->du.compactions);
	put_num(b, "uptime_s", (loop_now_ms(&d->e.loop) - d->t_start_ms) / 1000);
	buf_puts(b, "\"redis\":");
	if (d->fleet_on)
		fleet_status(&d->fleet, b);
	else
		buf_puts(b, "null");
	buf_putc(b, ',');
	put_memory(b, d);
	buf_puts(b, "\"failed_by\":{");
	for (int e = 1, first = 1; e < RF_ERR_COUNT; e++) {
		if (!st->failed_by[e])
			continue;
		buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", rf_err_name(e),
			   (unsigned long long)st->failed_by[e]);
		first = 0;
	}
	buf_printf(b, "},\"state\":\"%s\",\"version\":\"%s\","
		   "\"commit\":\"%s\"}",
		   d->state == DS_RUNNING ? "running" : "stopping",
		   RF_VERSION, RF_COMMIT);
	if (b->len == start)
		return -ENOBUFS;
	return 0;
}

static void notify_status(struct daemon *d)
{
	struct sched_snapshot snap;

	if (!sdnotify_on(&d->sdn))
		return;
	sched_snapshot(&d->e.sched, &snap);
	sdnotify_sendf(&d->sdn, "STATUS=%s: queued %u, in flight %u, done %llu "
		   "(ok %llu, failed %llu), clients %u",
		   d->state == DS_RUNNING ? "running" : "stopping",
		   snap.queued, snap.in_flight,
		   (unsigned long long)snap.st.done,
		   (unsigned long long)snap.st.ok,
		   (unsigned long long)snap.st.failed,
		   d->ctl.n_clients - d->ctl.n_dead);
}

/* Jobs, records and clients come and go by the thousand a second and
 * leave free holes all through the heap; glibc gives back only its top,
 * so RSS kept every page a hole had ever touched (in the soak, status'
 * heap_free grew from 0.25 to 0.65 MiB in 3 minutes, and RssAnon with
 * it, while heap_in_use stayed flat). malloc_trim() hands the free pages
 * back. It walks the free lists (0.3-0.7 ms in the soak on a loaded
 * 2-core VM), hence only every TRIM_MS. */
static void trim_heap(struct daemon *d)
{
	uint64_t now = loop_now_ms(&d->e.loop);

	if (now < d->trim_at_ms)
		return;
	d->trim_at_ms = now + TRIM_MS;
	malloc_trim(0);
}

static void on_tick(struct timer *t)
{
	struct daemon *d = container_of(t, struct daemon, t_tick);

	notify_status(d);
	if (d->watchdog)
		sdnotify_send(&d->sdn, "WATCHDOG=1");
	trim_heap(d);
	loop_timer_arm(&d->e.loop, &d->t_tick, loop_now_ms(&d->e.loop) + d->tick_ms,
		       on_tick);
}

static void on_grace(struct timer *t)
{
	struct daemon *d = container_of(t, struct daemon, t_grace);

	log_warn("shutdown grace (%llu ms) over: %u jobs still running are "
		 "cut off and spilled",
		 (unsigned long long)d->cfg->daemon.shutdown_grace_ms,
		 d->e.sched.in_flight);
	stop_now(d);
}

/* Only wakes the loop, so that daemon_hook looks again. */
static void on_settle(struct timer *t)
{
	(void)t;
}

static void stop_now(struct daemon *d)
{
	loop_timer_cancel(&d->e.loop, &d->t_settle);
	spill_sweep(d, true);
	loop_timer_cancel(&d->e.loop, &d->t_grace);
	d->state = DS_STOPPED;
	d->e.loop.stop = true;
}

static void begin_stop(struct daemon *d, int signo)
{
	if (d->state != DS_RUNNING) {
		log_warn("signal %d again: stopping now", signo);
		stop_now(d);
		return;
	}
	log_info("signal %d: stopping; %u jobs in flight get up to %llu ms",
		 signo, d->e.sched.in_flight,
		 (unsigned long long)d->cfg->daemon.shutdown_grace_ms);
	if (sdnotify_on(&d->sdn))
		sdnotify_send(&d->sdn, "STOPPING=1");
	d->state = DS_DRAINING;
	if (d->fleet_on)
		fleet_stop(&d->fleet);
	loop_timer_arm(&d->e.loop, &d->t_grace, loop_now_ms(&d->e.loop) +
		       d->cfg->daemon.shutdown_grace_ms, on_grace);
	spill_sweep(d, false);
}

/* Once per turn: push records out, and while draining spill what stopped
 * running (a retry or redirect would start it again) and end when idle. */
static void daemon_hook(struct loop_hook *h)
{
	struct daemon *d = container_of(h, struct daemon, hook);

	if (d->e.results.out.len)
		results_flush(&d->e.results);
	durable_tick(&d->du);
	if (d->state != DS_DRAINING)
		return;
	spill_sweep(d, false);
	if (sched_first(&d->e.sched))
		return;
	/* Nothing left to fetch: answer what clients already sent before
	 * closing them (the grace timer bounds a client that never stops). */
	if (!d->ctl_ok || control_settled(&d->ctl, SETTLE_MS)) {
		stop_now(d);
		return;
	}
	if (!timer_armed(&d->t_settle))
		loop_timer_arm(&d->e.loop, &d->t_settle,
			       loop_now_ms(&d->e.loop) + SETTLE_MS / 4,
			       on_settle);
}

/* Keys whose value is used once at start (or by a module that copied it):
 * a reload keeps the running value and says so. */
#define SWAP(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } while (0)

static bool str_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

static bool strv_differs(const struct config_strv *a,
			 const struct config_strv *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return true;
	return false;
}

static void keep(const char *key, bool differs)
{
	if (differs)
		log_warn("reload: %s cannot change while running; keeping the "
			 "running value (restart to apply)", key);
}

static void keep_fixed(struct config *run, struct config *nc)
{
	struct config *r = run, *n = nc;

	keep("daemon.socket", str_differs(r->daemon.socket, n->daemon.socket));
	SWAP(r->daemon.socket, n->daemon.socket);
	keep("daemon.socket_mode",
	     r->daemon.socket_mode != n->daemon.socket_mode);
	n->daemon.socket_mode = r->daemon.socket_mode;
	keep("daemon.state_dir",
	     str_differs(r->daemon.state_dir, n->daemon.state_dir));
	SWAP(r->daemon.state_dir, n->daemon.state_dir);
	keep("queue.spill_file",
	     str_differs(r->queue.spill_file, n->queue.spill_file));
	SWAP(r->queue.spill_file, n->queue.spill_file);
	keep("queue.journal", run->queue.journal != nc->queue.journal);
	nc->queue.journal = run->queue.journal;
	keep("limits.workers", run->limits.workers != nc->limits.workers);
	nc->limits.workers = run->limits.workers;
	keep("dns.*", strv_differs(&run->dns.servers, &nc->dns.servers) ||
	     run->dns.timeout_ms != nc->dns.timeout_ms ||
	     run->dns.attempts != nc->dns.attempts ||
	     run->dns.cache_min_ttl_ms != nc->dns.cache_min_ttl_ms ||
	     run->dns.cache_max_ttl_ms != nc->dns.cache_max_ttl_ms);
	SWAP(run->dns, nc->dns);
	keep("metrics.*", str_differs(run->metrics.listen, nc->metrics.listen) ||
	     str_differs(run->metrics.textfile, nc->metrics.textfile));
	SWAP(run->metrics, nc->metrics);
}

static char *out_dir_of(const struct config *c, const char *state_dir)
{
	return strdup(c->output.dir && c->output.dir[0] ? c->output.dir :
		      state_dir);
}

/* Open the result log in dir; on success the old one is closed. */
static int reopen_results(struct daemon *d, const char *dir)
{
	char err[512];

	if (results_reopen(&d->e.results, dir, err, sizeof(err)) < 0) {
		log_error("reopen: %s; still writing %s", err, d->e.results.path);
		return -1;
	}
	return 0;
}

/* The command line wins over the file on a reload too. */
static int apply_overrides(const struct daemon *d, struct config *c,
			   char *err, size_t errlen)
{
	char why[400];

	for (size_t i = 0; i < d->n_ov; i++) {
		const struct config_override *o = &d->ov[i];

		if (config_set(c, o->key, o->val, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "command line %s: %s", o->opt, why);
			return -1;
		}
	}
	if (d->n_ov && config_validate(c, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "with the command line's settings: %s",
			 why);
		return -1;
	}
	return 0;
}

static void reload(struct daemon *d)
{
	struct config nc, old;
	char err[512], *dir;
	bool ok;

	if (sdnotify_on(&d->sdn))
		sdnotify_send(&d->sdn, "RELOADING=1");
	d->reloads++;
	config_init(&nc);
	/* The TLS context is rebuilt last of the checks: a CA file that does
	 * not load refuses the whole reload, and one that does is in use
	 * from the next connection on (the file read anew, so an updated
	 * bundle counts even under the same name). */
	ok = (!d->config_path ||
	      config_load_file(&nc, d->config_path, err, sizeof(err)) == 0) &&
	     apply_overrides(d, &nc, err, sizeof(err)) == 0;
	if (ok) {
		/* worker rings read the TLS context and the config */
		engine_pause(&d->e);
		ok = tls_global_reload(&nc, err, sizeof(err)) == 0;
		if (ok) {
			keep_fixed(d->cfg, &nc);
			old = *d->cfg;
			*d->cfg = nc;
			config_fini(&old);
			log_set_threshold(d->cfg->log.level);
			sched_apply_config(&d->e.sched);
		}
		engine_resume(&d->e);
	}
	if (!ok) {
		log_error("reload refused, the running configuration stays: %s",
			  err);
		config_fini(&nc);
	} else {
		log_info("reload: %s applied, then %zu command-line "
			 "settings", d->config_path ? d->config_path :
			 "built-in defaults", d->n_ov);
	}
	dir = out_dir_of(d->cfg, d->state_dir);
	if (dir && reopen_results(d, dir) == 0) {
		free(d->out_dir);
		d->out_dir = dir;
	} else {
		free(dir);
	}
	if (sdnotify_on(&d->sdn))
		sdnotify_send(&d->sdn, "READY=1");
	notify_status(d);
}

static void arm_signal_read(struct daemon *d)
{
	io_uring_prep_read(loop_sqe(&d->e.loop, &d->op_sig), d->sigfd, &d->si,
			   sizeof(d->si), 0);
	d->sig_armed = true;
}

static void on_signal(struct io_op *op, int res, unsigned flags)
{
	struct daemon *d = container_of(op, struct daemon, op_sig);

	(void)flags;
	d->sig_armed = false;
	if (res == (int)sizeof(d->si)) {
		if (d->si.ssi_signo == SIGHUP)
			reload(d);
		else
			begin_stop(d, (int)d->si.ssi_signo);
	}
	if (res == -ECANCELED || d->state == DS_STOPPED)
		return;
	arm_signal_read(d);
}

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

/* From the start, so a signal during start-up waits for the loop. */
static void block_signals(void)
{
	sigset_t set;

	signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int watch_signals(struct daemon *d)
{
	sigset_t set;

	signal_set(&set);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	d->op_sig.done = on_signal;
	arm_signal_read(d);
	return 0;
}

/* A job of the last run (journal or spill file) back in, with its number
 * and headers; NULL when it cannot be (logged). */
static struct job *take_back(void *arg, const struct spill_entry *e)
{
	struct daemon *d = arg;
	struct job *j = sched_submit_job(&d->e.sched, e->url, e->url_len, e->id,
					 e->num);

	if (!j) {
		log_error("job %llu (%.200s): cannot be taken back: out of "
			  "memory", (unsigned long long)e->num, e->url);
		return NULL;
	}
	set_headers(j, e->headers);
	return j;
}

static void load_one(void *arg, const struct spill_entry *e)
{
	struct daemon *d = arg;
	struct job *j = take_back(d, e);
	char why[256];

	if (!j) {
		/* not expected (it parsed when accepted): still one record */
		if (!sched_submit(&d->e.sched, e->url, e->url_len, e->id))
			log_error("spill: job %llu lost: out of memory",
				  (unsigned long long)e->num);
		return;
	}
	if (durable_accept(&d->du, j, why, sizeof(why)) < 0)
		log_error("spill: job %llu: %s", (unsigned long long)j->num,
			  why);
}

/* Take back the jobs of the last run, first, then forget the file so a
 * crash cannot run them twice. */
static int load_spill(struct daemon *d)
{
	uint64_t next = 0;
	char err[512];
	int n;

	n = spill_load(d->spill_path, load_one, d, &next, err, sizeof(err));
	if (n < 0) {
		log_error("spill: %s", err);
		return n;
	}
	if (next > d->e.sched.next_job_num)
		d->e.sched.next_job_num = next;
	if (n)
		log_info("spill: %d unfinished jobs taken back from %s", n,
			 d->spill_path);
	/* an older version's spill: its jobs are journaled before it goes */
	if (n && d->du.on && journal_flush_now(&d->du.jr) < 0) {
		log_error("spill: the journal cannot take the jobs of %s",
			  d->spill_path);
		return -EIO;
	}
	if (unlink(d->spill_path) < 0 && errno != ENOENT)
		log_warn("spill: cannot remove %s: %s", d->spill_path,
			 strerror(errno));
	return 0;
}

static int set_paths(struct daemon *d)
{
	const struct config *c = d->cfg;
	const char *sd = getenv("STATE_DIRECTORY");
	int rc;

	if (c->daemon.state_dir && c->daemon.state_dir[0])
		d->state_dir = strdup(c->daemon.state_dir);
	else if (sd && sd[0])	/* systemd may list several, ':' apart */
		d->state_dir = strndup(sd, strcspn(sd, ":"));
	else
		d->state_dir = strdup("/var/lib/ringfetch");
	if (!d->state_dir)
		return -ENOMEM;
	rc = fs_mkdir_p(d->state_dir);
	if (rc < 0) {
		log_error("%s: cannot create the state directory: %s",
			  d->state_dir, strerror(-rc));
		return rc;
	}
	d->out_dir = out_dir_of(c, d->state_dir);
	if (c->queue.spill_file && c->queue.spill_file[0])
		d->spill_path = strdup(c->queue.spill_file);
	else if (asprintf(&d->spill_path, "%s/spill.jsonl", d->state_dir) < 0)
		d->spill_path = NULL;
	d->sock_path = strdup(c->daemon.socket);
	if (!d->out_dir || !d->spill_path || !d->sock_path)
		return -ENOMEM;
	return 0;
}

/* The socket systemd handed over, else our own at daemon.socket. */
static int open_socket(struct daemon *d)
{
	char err[512];
	int n = sd_listen_fds(1), fd;

	if (n > 1)
		log_warn("socket activation: %d sockets passed, using the first",
			 n);
	if (n >= 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_error("socket activation: fd %d is not a listening "
				  "Unix stream socket", fd);
			return -EINVAL;
		}
		log_info("listening on the socket passed by systemd");
		return fd;
	}
	fd = control_listen(d->sock_path, d->cfg->daemon.socket_mode, err,
			    sizeof(err));
	if (fd < 0) {
		log_error("control socket: %s", err);
		return fd;
	}
	d->own_socket = true;
	log_info("listening on %s", d->sock_path);
	return fd;
}

static void setup_notify(struct daemon *d)
{
	uint64_t usec = 0;

	sdnotify_open(&d->sdn);
	d->tick_ms = TICK_MS;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec) {
		d->watchdog = true;
		if (usec / 2000 < d->tick_ms)
			d->tick_ms = usec / 2000 ? usec / 2000 : 1;
	}
}

static int format_record(void *arg, struct buf *b, const struct job *j)
{
	struct daemon *d = arg;

	return results_format(b, j, loop_wall_ms(), &d->e.results);
}

static const struct control_ops ctl_ops = {
	.accepting = accepting,
	.submit = submit,
	.cancel = cancel,
	.status = status,
	.record = format_record,
	.gate = gate,
};

/* Everything up to READY=1. Returns 0 or the exit status to return. */
static int start(struct daemon *d)
{
	char err[512];
	int fd;

	block_signals();
	if (set_paths(d) < 0)
		return EXIT_FATAL;
	if (engine_init(&d->e, d->cfg, d->out_dir, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_FATAL;
	}
	d->engine_ok = true;
	log_info("fetching on %u worker ring%s (limits.workers)",
		 workers_count(d->e.workers), d->e.workers ? "s" : "");
	d->obs.finished = on_finish;
	sched_observe(&d->e.sched, &d->obs);
	fd = open_socket(d);
	if (fd < 0)
		return EXIT_FATAL;
	control_init(&d->ctl, &ctl_ops, d, &d->e.sched, &d->e.loop, fd);
	d->ctl_ok = true;
	d->du.take = take_back;
	d->du.take_arg = d;
	if (durable_open(&d->du, &d->e, d->cfg->queue.journal != 0,
			 d->state_dir, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_FATAL;
	}
	if (load_spill(d) < 0)
		return EXIT_FATAL;
	if (d->cfg->source.redis.url[0]) {
		if (fleet_open(&d->fleet, &d->e.loop, &d->e.sched,
			       &d->e.results, d->cfg, err, sizeof(err)) < 0) {
			log_error("source.redis: %s", err);
			return EXIT_FATAL;
		}
		d->fleet_on = true;
		metrics_add_extra(d->e.metrics, fleet_metrics, &d->fleet);
	}
	/* with the journal, the jobs left at the end stay in it instead */
	d->spill_loaded = !d->du.on;
	d->hook.fn = daemon_hook;
	loop_add_hook(&d->e.loop, &d->hook);
	if (watch_signals(d) < 0) {
		log_error("signalfd: %s", strerror(errno));
		return EXIT_FATAL;
	}
	setup_notify(d);
	d->t_start_ms = loop_update_clock(&d->e.loop);
	loop_timer_arm(&d->e.loop, &d->t_tick, d->t_start_ms + d->tick_ms,
		       on_tick);
	if (sdnotify_on(&d->sdn))
		sdnotify_send(&d->sdn, "READY=1");
	notify_status(d);
	return 0;
}

static bool redis_gone(void *arg)
{
	(void)arg;
	return redis_draining() == 0;
}

static bool quiet(void *arg)
{
	struct daemon *d = arg;

	return !d->sig_armed && (!d->ctl_ok || control_idle(&d->ctl)) &&
	       durable_idle(&d->du) && (!d->fleet_on || fleet_idle(&d->fleet));
}

/* After the loop: close everything, write the spill, free. */
static int finish(struct daemon *d)
{
	char err[512];
	bool journaled;
	int rc = 0;

	if (d->engine_ok) {
		spill_sweep(d, true);
		if (d->fleet_on) {
			/* the last records durable, so their entries are
			 * acknowledged before the leases go */
			results_sync_now(&d->e.results);
			fleet_release_all(&d->fleet);
		}
		engine_stop(&d->e);
	}
	if (d->ctl_ok)
		control_close(&d->ctl);
	if (d->sig_armed)
		io_uring_prep_cancel(loop_sqe_noop(&d->e.loop), &d->op_sig, 0);
	if (d->engine_ok && durable_close(&d->du) < 0)
		rc = EXIT_FATAL;
	if (d->engine_ok)
		engine_drain(&d->e, quiet, d, 2000);
	if (d->fleet_on) {
		fleet_fini(&d->fleet);
		d->fleet_on = false;
		if (d->engine_ok)
			engine_drain(&d->e, redis_gone, NULL, 1000);
	}
	if (d->du.on && d->spilled)
		log_info("journal: %llu unfinished jobs stay in %s for the "
			 "next start", (unsigned long long)d->spilled,
			 d->du.path);
	journaled = d->du.on;
	durable_fini(&d->du);
	if (d->spill_loaded &&
	    spill_write(d->spill_path, &d->spill, d->e.sched.next_job_num, err,
			sizeof(err)) < 0) {
		log_error("spill: %s: %llu jobs lost", err,
			  (unsigned long long)d->spilled);
		rc = EXIT_FATAL;
	} else if (d->spilled && d->spill_loaded) {
		log_info("spill: %llu unfinished jobs saved to %s",
			 (unsigned long long)d->spilled, d->spill_path);
	}
	if (d->own_socket)
		unlink(d->sock_path);
	if (d->ctl_ok)
		control_fini(&d->ctl);
	if (d->engine_ok && engine_fini(&d->e) < 0) {
		/* with the journal, a job whose record could not be written
		 * has no done mark: the next start fetches it again */
		if (journaled)
			log_warn("journal: the jobs of the records not written "
				 "stay in the journal for the next start");
		else
			rc = EXIT_FATAL;
	}
	if (d->sigfd >= 0)
		close(d->sigfd);
	sdnotify_close(&d->sdn);
	buf_fini(&d->spill);
	free(d->out_dir);
	free(d->state_dir);
	free(d->spill_path);
	free(d->sock_path);
	return rc;
}

int daemon_run(struct config *cfg, const char *config_path,
	       const struct config_override *ov, size_t n_ov)
{
	static struct daemon d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.sdn.fd = -1;		/* no notification before setup_notify() */
	d.cfg = cfg;
	d.config_path = config_path;
	d.ov = ov;
	d.n_ov = n_ov;
	d.sigfd = -1;
	buf_init(&d.spill, SIZE_MAX / 2);
	rc = start(&d);
	if (rc == 0) {
		rc = loop_run(&d.e.loop);
		if (rc < 0) {
			log_error("event loop: %s", strerror(-rc));
			rc = EXIT_FATAL;
		}
		sdnotify_send(&d.sdn, "STOPPING=1");
	}
	rc = finish(&d) ? EXIT_FATAL : rc;
	if (rc == 0)
		log_info("stopped");
	return rc;
}
