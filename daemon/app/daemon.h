/* Daemon mode: the control socket feeding the scheduler, signals read
 * through the ring, the graceful stop that spills unfinished jobs, SIGHUP
 * reload, and the systemd protocol (sd_notify, socket activation). */
#ifndef RF_DAEMON_H
#define RF_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "base/buf.h"
#include "config/config.h"
#include "front/control.h"
#include "event/loop.h"
#include "output/results.h"
#include "engine/sched.h"

struct json_val;

enum daemon_state {
	DS_RUNNING = 0,		/* taking jobs */
	DS_DRAINING,		/* SIGTERM: in-flight jobs may finish */
	DS_STOPPED,		/* grace over or nothing left: loop ends */
};

struct daemon {
	struct config *cfg;		/* borrowed; reloaded in place */
	const char *config_path;	/* borrowed; NULL = built-in defaults */
	const struct config_override *ov; /* the command line's, borrowed */
	size_t n_ov;
	struct loop loop;
	struct sched sched;
	struct results results;
	struct control ctl;
	enum daemon_state state;
	struct buf spill;		/* JSONL of jobs taken out to spill */
	uint64_t spilled;		/* lines in spill */
	char *out_dir, *state_dir, *spill_path, *sock_path; /* owned */
	bool own_socket;		/* we made sock_path: unlink at exit */
	int sigfd;
	bool sig_armed;			/* a read of sigfd is in flight */
	struct io_op op_sig;
	struct signalfd_siginfo si;
	struct timer t_tick;		/* STATUS=, watchdog, drain check */
	struct timer t_grace;		/* end of daemon.shutdown_grace */
	struct loop_hook hook;		/* flush records; drain check */
	uint64_t tick_ms;
	bool watchdog;			/* WATCHDOG_USEC set: ping each tick */
	uint64_t t_start_ms;
	uint64_t reloads;
	bool notify;			/* NOTIFY_SOCKET is set */
	/* what start() got done, for finish() to undo */
	bool loop_ok, results_ok, sched_ok, ctl_ok;
	bool spill_loaded;		/* only then may the spill be rewritten */
};

/* Run the daemon with configuration cfg (loaded from config_path, or
 * defaults when NULL, then the n_ov overrides of the command line, which a
 * reload applies again) until SIGTERM/SIGINT. Returns the exit status: 0
 * after a clean stop, 2 when it cannot start for a configuration reason
 * (socket in use, bad directory), 3 on a fatal runtime error. */
int daemon_run(struct config *cfg, const char *config_path,
	       const struct config_override *ov, size_t n_ov);

/* ---- for control.c ---- */

/* Whether submits are taken (not stopping). */
bool daemon_accepting(const struct daemon *d);

/* Accept url (len bytes, which the caller has checked parse) with an
 * optional id and headers (a JSON object of strings, checked by the caller;
 * may be NULL). Returns the job (owned by sched), or NULL when out of
 * memory. The caller respects sched_room(). */
struct job *daemon_submit(struct daemon *d, const char *url, size_t len,
			  const char *id, const struct json_val *headers);

/* Cancel the job numbered num (when id is NULL) or every job whose id is
 * id. Returns how many were cancelled. */
uint32_t daemon_cancel(struct daemon *d, uint64_t num, const char *id);

/* Append the status object ({"queued":..,...}) to b. Returns 0 or -errno. */
int daemon_status(struct daemon *d, struct buf *b);

#endif
