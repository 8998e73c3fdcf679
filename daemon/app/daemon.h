/* Daemon mode: the control socket feeding an engine, signals read
 * through the ring, the graceful stop that spills unfinished jobs, SIGHUP
 * reload, and the systemd protocol (sd_notify, socket activation). */
#ifndef RF_DAEMON_H
#define RF_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "app/durable.h"
#include "app/engine.h"
#include "app/sdnotify.h"
#include "base/buf.h"
#include "config/config.h"
#include "front/control.h"
#include "front/fleet.h"

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
	struct engine e;		/* loop, results, sched, bodies, metrics */
	struct control ctl;
	struct durable du;		/* queue.journal */
	struct fleet fleet;		/* source.redis, when fleet_on */
	bool fleet_on;
	struct sched_observer obs;	/* control's waiters and watchers */
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
	struct timer t_settle;		/* stopping: look again at clients */
	struct loop_hook hook;		/* flush records; drain check */
	uint64_t tick_ms;
	bool watchdog;			/* WATCHDOG_USEC set: ping each tick */
	uint64_t t_start_ms;
	uint64_t reloads;
	uint64_t trim_at_ms;		/* loop clock of the next heap trim */
	struct sdnotify sdn;		/* NOTIFY_SOCKET, never blocking */
	/* what start() got done, for finish() to undo */
	bool engine_ok, ctl_ok;
	bool spill_loaded;		/* only then may the spill be rewritten */
};

/* Run the daemon with configuration cfg (loaded from config_path, or
 * defaults when NULL, then the n_ov overrides of the command line, which a
 * reload applies again) until SIGTERM/SIGINT. Returns the exit status: 0
 * after a clean stop, 2 when it cannot start for a configuration reason
 * (socket in use, bad directory), 3 on a fatal runtime error. */
int daemon_run(struct config *cfg, const char *config_path,
	       const struct config_override *ov, size_t n_ov);

#endif
