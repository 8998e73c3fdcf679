/* Prometheus metrics: the scheduler's counters and gauges plus per-phase
 * latency histograms, in text exposition format 0.0.4, served at /metrics
 * by a small HTTP/1.0-style listener that runs through the loop's ring
 * (metrics.listen) and/or rewritten atomically every few seconds for
 * node_exporter's textfile collector (metrics.textfile). Every name starts
 * with ringfetch_.
 *
 * The counters of struct sched (requests by result, bytes, retries, ...)
 * are read when a page is rendered, so they always agree with the records
 * and the summary; only what sched does not count (the phase histograms and
 * TLS session resumptions) is fed through metrics_observe(). */
#ifndef RF_METRICS_H
#define RF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct loop;
struct sched;
struct config;
struct job;
struct metrics;

#define METRICS_CLIENTS_MAX 16		/* scrapers at once; more are closed */
#define METRICS_REQUEST_MAX 2048	/* bytes of request head; more: 431 */
#define METRICS_PAGE_MAX (256 * 1024)	/* ceiling on one rendered page */
#define METRICS_CLIENT_TIMEOUT_MS 2000	/* to send a request and read the
					 * answer, from accept */
#define METRICS_TEXTFILE_PERIOD_MS 5000	/* between rewrites of the file */

/* Phases of a job's final attempt, as in the record's timings_ms. */
enum metrics_phase {
	MP_DNS = 0,
	MP_CONNECT,
	MP_TLS,
	MP_TTFB,
	MP_TOTAL,
	MP_COUNT
};

/* Create the metrics of scheduler s (borrowed; it must outlive the metrics)
 * on loop l. From cfg (not kept) it reads metrics.listen, "HOST:PORT" or
 * "[V6]:PORT" (a name is resolved once, here, blocking), and
 * metrics.textfile, a path (copied). When listen is non-empty the listener
 * is bound and accepting before this returns; when textfile is non-empty
 * the file is written once before this returns and then every
 * METRICS_TEXTFILE_PERIOD_MS from a loop timer. With both empty the result
 * still counts (metrics_render() works) but exports nothing.
 * Returns an owned object (free with metrics_free()), or NULL with a
 * sentence in err: the address does not resolve or cannot be bound, the
 * textfile cannot be written, or out of memory. */
struct metrics *metrics_new(struct loop *l, struct sched *s,
			    const struct config *cfg, char *err,
			    size_t errlen);

/* Count finished job j (meant for sched.on_finish; j is borrowed for the
 * call). Every job is observed in phase total; dns, connect, tls and ttfb
 * only when the record's value is above 0, since 0 there means the attempt
 * skipped the phase (a reused connection, plain HTTP, no byte received) and
 * cannot be told from a phase under a millisecond. So each phase's _count
 * equals the number of records with that timing above 0 (total: all
 * records). Harmless with m NULL. Never allocates, never fails. */
void metrics_observe(struct metrics *m, const struct job *j);

/* Append the whole page (text format 0.0.4) to out. Returns 0, -ENOBUFS
 * past out's ceiling or -ENOMEM; on failure out may hold part of a page. */
int metrics_render(struct metrics *m, struct buf *out);

#define METRICS_EXTRA_MAX 4
/* Have fn(arg, out) append more families at the end of every page (a
 * producer's own, such as ringfetch_redis_*; arg must outlive m); fn
 * returns < 0 on failure. Returns 0, or -ENOSPC past METRICS_EXTRA_MAX. */
int metrics_add_extra(struct metrics *m,
		      int (*fn)(const void *arg, struct buf *out),
		      const void *arg);
/* Rewrite metrics.textfile now: the page goes to PATH.tmp.PID, which is
 * then renamed over PATH, so a reader sees the old file or the new one,
 * never a part. Returns 0 (also when textfile is off) or -errno; the
 * temporary file is removed on failure. The periodic rewrite logs a failure
 * once, until a write succeeds again. */
int metrics_write_textfile(struct metrics *m);

/* The TCP port the listener is bound to (useful with port 0), or 0 when
 * metrics.listen is off. */
uint16_t metrics_port(const struct metrics *m);

/* Write the textfile a last time (so a finished batch leaves its final
 * figures), stop listening and drop every scraper. Call it while the
 * scheduler is still alive (before sched_fini()). m is freed at once when
 * the ring holds none of its operations, else on their last completion, so
 * keep running the loop for a turn or two afterwards (each is a cancelled
 * accept or receive, answered at once). Harmless with m NULL. */
void metrics_free(struct metrics *m);

#endif
