/* Worker rings (limits.workers): connections run on W threads, each with
 * its own io_uring ring, resolver and conn_env, while their owner (the
 * scheduler) stays on its own thread and sees them through the same calls
 * as net/conn.h's. So every cap, rate, retry and record is decided in one
 * place and holds exactly, and what costs CPU per byte (receive copies,
 * TLS, HTTP parsing, SHA-256) spreads over the cores.
 *
 * The owner gets a stand-in conn for each connection: home, slot and
 * pool_node are the owner's as with conn.c; the real conn lives on one
 * worker, chosen as the one with the fewest connections when it opens, and
 * keeps that worker until it closes. Requests go to the worker and results
 * come back through lock-free queues, rung by an eventfd that each side's
 * ring reads; a turn's messages to a worker leave together at its end.
 *
 * Threads: every function here runs on the owner's thread. The owner's
 * env->done, ->idle_closing and ->closed run there too, from its loop;
 * env->sink_start and the sink's body/raw callbacks run on a worker
 * thread (sink_start under one mutex shared by all workers). */
#ifndef RF_WORKERS_H
#define RF_WORKERS_H

#include <stdint.h>

#include "net/conn.h"

struct workers;

/* The number of workers limits.workers asks for: itself, or the CPUs
 * online when 0 (auto); never more than WORKERS_MAX. RINGFETCH_WORKERS=N
 * in the environment wins (tests force one ring, or several, on any
 * machine). */
#define WORKERS_MAX 256
unsigned workers_wanted(unsigned configured);

/* Start n (>= 1) worker threads for the conns of owner (an env filled as
 * for conn_open(): its loop is the owner's; cfg, guard and proxy are read
 * by the workers, so the owner changes them only inside workers_pause()).
 * owner->workers is set. Returns 0, or -errno with a sentence in err
 * (no thread is left running). */
int workers_start(struct workers **wsp, unsigned n, struct conn_env *owner,
		  char *err, size_t errlen);

/* Stop and join every worker; every conn must be closed (the owner's
 * counters->open is 0). Harmless on NULL. The workers' resolvers and rings
 * go with them; what lives on the owner's ring stays until
 * workers_free(). */
void workers_stop(struct workers *ws);

/* Free ws after workers_stop(), once the owner's loop is gone (an eventfd
 * read of ws's may still be in flight on it until then). */
void workers_free(struct workers *ws);

/* Hold every worker still between messages, so that the owner may change
 * what they read (a reload); workers_resume() lets them go on. */
void workers_pause(struct workers *ws);
void workers_resume(struct workers *ws);

unsigned workers_count(const struct workers *ws);

/* Summed over the workers, read without stopping them (figures for
 * status may be a turn old). */
uint64_t workers_enobufs(const struct workers *ws);

/* The workers' resolvers' counters, summed (each worker resolves for
 * its own conns, with a cache of its own). */
struct dns_stats;
void workers_dns_stats(const struct workers *ws, struct dns_stats *sum);

/* As conn.h's functions of the same names, for conns whose env has
 * workers set. conn_abort's and conn_detach's stand-ins wait for the
 * worker (microseconds: it answers between two completions) so that they
 * keep conn.c's promises: the result of an aborted request has reached
 * env->done when workers_abort() returns, and a detached request's sink
 * is the caller's. */
int workers_open(struct conn_env *env, const struct conn_req *req,
		 struct slot slot, void *home, struct conn **cp);
void workers_reuse(struct conn *c, const struct conn_req *req,
		   struct slot slot);
void workers_abort(struct conn *c, int err, const char *detail);
void workers_detach(struct conn *c, struct slot *slot, void **sink);
void workers_close_idle(struct conn *c);

#endif
