/* Live progress of a batch crawl. The line is tiny and drawn at most four
 * times a second, so it goes out with a plain write() to fd 2, bypassing
 * stdio's buffer, and never costs the fetch path anything but a timer. */
#include "front/progress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "front/batch.h"
#include "base/log.h"
#include "engine/sched.h"

/* Write all of s; a terminal that fails is left alone (the crawl matters
 * more than its progress line). */
static void put(const char *s, size_t len)
{
	(void)fs_write_all(STDERR_FILENO, s, len, NULL);
}

/* A line as wide as the terminal wraps, and \r then redraws only its
 * last row: keep it one column short. */
static unsigned columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col - 1u;
	return 79;
}

/* One snapshot a tick: the sample and the line agree. */
static void take_sample(struct progress *p, uint64_t now_ms)
{
	struct progress_sample *x = &p->win[p->n_samples % PROGRESS_WINDOW];

	sched_snapshot(p->s, &p->snap);
	x->t_ms = now_ms;
	x->done = p->snap.st.done;
	x->bytes = p->snap.st.bytes;
	p->n_samples++;
}

/* Requests and bytes a second over the window: recent enough to show a
 * stall, long enough not to flicker. */
static void window_rates(const struct progress *p, double *req_s, double *mb_s)
{
	unsigned n = p->n_samples;
	const struct progress_sample *new = &p->win[(n - 1) % PROGRESS_WINDOW];
	const struct progress_sample *old =
	    &p->win[n > PROGRESS_WINDOW ? n % PROGRESS_WINDOW : 0];
	double dt = (double)(new->t_ms - old->t_ms) / 1000.0;

	*req_s = dt > 0 ? (double)(new->done - old->done) / dt : 0;
	*mb_s = dt > 0 ? (double)(new->bytes - old->bytes) / 1e6 / dt : 0;
}

static int format_line(const struct progress *p, char *line, size_t len)
{
	const struct sched_snapshot *s = &p->snap;
	char total[48];
	double req_s, mb_s;

	window_rates(p, &req_s, &mb_s);
	if (p->b->done && p->b->lines)
		snprintf(total, sizeof(total), "%llu/%llu (%.0f%%)",
			 (unsigned long long)s->st.done,
			 (unsigned long long)p->b->lines,
			 100.0 * (double)s->st.done / (double)p->b->lines);
	else
		snprintf(total, sizeof(total), "%llu/?",
			 (unsigned long long)s->st.done);
	if (!s->parked && !s->hosts_at_share)
		return snprintf(line, len,
				"done %s, %.0f req/s, %.1f MB/s, "
				"%u in flight, %u retrying, %llu failed",
				total, req_s, mb_s, s->in_flight,
				s->retry_waiting,
				(unsigned long long)s->st.failed);
	return snprintf(line, len,
			"done %s, %.0f req/s, %.1f MB/s, %u in flight, "
			"%u retrying, %llu failed, %llu parked (%u hosts), "
			"%u hosts at share",
			total, req_s, mb_s, s->in_flight, s->retry_waiting,
			(unsigned long long)s->st.failed,
			(unsigned long long)s->parked, s->parked_hosts,
			s->hosts_at_share);
}

static void draw(struct progress *p)
{
	char line[512];
	unsigned len, cols = columns();
	int n = format_line(p, line + 1, sizeof(line) - 1);

	if (n < 0)
		return;
	len = (unsigned)n < sizeof(line) - 1 ? (unsigned)n : sizeof(line) - 2;
	if (len > cols)
		len = cols;
	line[0] = '\r';
	/* p->shown is also the log's (step_aside() on whichever thread
	 * logs): both under the log's lock. */
	log_lock();
	while (len < p->shown && len + 1 < sizeof(line) - 1)
		line[1 + len++] = ' ';	/* blank out a longer line's rest */
	put(line, len + 1);
	p->shown = len;
	log_unlock();
}

static void on_tick(struct timer *t)
{
	struct progress *p = container_of(t, struct progress, timer);
	uint64_t now = loop_now_ms(p->loop);

	take_sample(p, now);
	draw(p);
	loop_timer_arm(p->loop, &p->timer, now + PROGRESS_INTERVAL_MS, on_tick);
}

/* A log line is coming: clear ours; the next tick redraws it below. */
static void step_aside(void *arg)
{
	progress_clear(arg);
}

void progress_start(struct progress *p, struct loop *l, const struct sched *s,
		    const struct batch *b, bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->loop = l;
	p->s = s;
	p->b = b;
	if (quiet || !isatty(STDERR_FILENO))
		return;
	p->on = true;
	log_set_before(step_aside, p);
	take_sample(p, loop_now_ms(l));
	loop_timer_arm(l, &p->timer, loop_now_ms(l) + PROGRESS_INTERVAL_MS,
		       on_tick);
}

/* Also the log's before hook, run on the logging thread with the log's
 * lock held (which is recursive): taking it here covers both callers. */
void progress_clear(struct progress *p)
{
	char blank[512];
	unsigned n;

	log_lock();
	n = p->shown < sizeof(blank) - 2 ? p->shown : sizeof(blank) - 2;
	if (p->on && p->shown) {
		blank[0] = '\r';
		memset(blank + 1, ' ', n);
		blank[n + 1] = '\r';
		put(blank, n + 2);
		p->shown = 0;
	}
	log_unlock();
}

void progress_stop(struct progress *p)
{
	if (!p->on)
		return;
	progress_clear(p);
	log_set_before(NULL, NULL);
	loop_timer_cancel(p->loop, &p->timer);
	p->on = false;
}
