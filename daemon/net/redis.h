/* One Redis connection driven by the daemon's io_uring loop: connect, send
 * and receive are SQEs, commands are pipelined (everything queued in a
 * turn leaves in one send), replies come back in order to per-command
 * callbacks, and a lost connection is retried with backoff for ever.
 * Speaks RESP2 through base/resp.h. One struct redis belongs to one loop
 * (one thread); nothing here is thread-safe.
 *
 * Reentrancy: a reply callback and the state callback may call
 * redis_send() (queued for the next turn's send) and redis_free() of their
 * own struct redis; the free then completes once the callback has
 * returned. They must not call loop_run_once(). */
#ifndef RF_REDIS_H
#define RF_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/resp.h"
#include "event/loop.h"

#define REDIS_QUEUE_MAX (64u << 20)	/* bytes queued unsent: -ENOBUFS past */
#define REDIS_REPLY_MAX (64u << 20)	/* default ceiling on one reply */
#define REDIS_BACKOFF_MIN_MS 100	/* first retry after a failure ... */
#define REDIS_BACKOFF_MAX_MS 5000	/* ... doubling to this, jittered */
#define REDIS_CONNECT_TIMEOUT_MS 5000	/* connect plus handshake */

struct redis;

/* A command's outcome. r is NULL when the connection was lost (or
 * redis_free() called) before the reply came: the command may or may not
 * have run. A server error is r->type == RESP_ERROR. r and the bytes it
 * points to are valid only during the call. */
typedef void (*redis_reply_fn)(void *arg, const struct resp_reply *r);

/* Parse url and start connecting on l. url is
 * redis://[[USER]:PASS@]HOST[:PORT][/DB] (USER and PASS may be
 * percent-encoded; "redis://PASS@HOST" is a password alone) or
 * unix:///PATH. HOST is an IPv4 literal, [IPv6 literal], "localhost"
 * (127.0.0.1, not looked up), or a name resolved here with getaddrinfo():
 * that lookup blocks, so call this at startup only; the address is kept
 * for every reconnect. client_name (may be NULL) is set with CLIENT
 * SETNAME; it may not hold spaces. Returns 0 and sets *rp (free with
 * redis_free), or -EINVAL (bad url or name), -ENOENT (host not found) or
 * -ENOMEM, with a sentence in err. */
int redis_new(struct redis **rp, struct loop *l, const char *url,
	      const char *client_name, char *err, size_t errlen);

/* Have fn(arg, up) told of every change between up and down (never twice
 * the same way in a row). Up means AUTH, SELECT and CLIENT SETNAME (those
 * that apply) and a PING succeeded on a new connection. */
void redis_set_state_cb(struct redis *r, void (*fn)(void *arg, bool up),
			void *arg);

/* Ceiling on one reply's size (default REDIS_REPLY_MAX). A bigger reply
 * closes the connection (pending callbacks get NULL) and is retried as any
 * failure; the error names the limit. Applies from the next connection,
 * or the first when called right after redis_new(). */
void redis_set_reply_max(struct redis *r, size_t bytes);

bool redis_up(const struct redis *r);

/* Queue the one command encoded in cmd (see resp_begin()) and have fn(arg,
 * reply) called with its reply; fn may be NULL (reply dropped). cmd is
 * copied: the caller may reuse it at once. The bytes go out with the rest
 * of the turn's commands, before the loop next waits. Replies come in the
 * order commands were sent. Returns 0; -ENOTCONN when not up (nothing
 * queued: wait for the state callback); -EINVAL when cmd is not exactly one
 * complete command (an encoding that failed part-way); -ENOBUFS when
 * REDIS_QUEUE_MAX bytes are already waiting to be sent; -ENOMEM. */
int redis_send(struct redis *r, struct buf *cmd, redis_reply_fn fn,
	       void *arg);

/* Commands sent or queued and not yet answered. */
size_t redis_pending(const struct redis *r);

/* The last failure as a sentence ("connect to 127.0.0.1:6379: Connection
 * refused", "AUTH failed: WRONGPASS ..."), kept after reconnecting; ""
 * when nothing failed yet. */
const char *redis_last_error(const struct redis *r);

struct redis_stats {
	uint64_t commands;	/* accepted by redis_send() */
	uint64_t replies;	/* replies to them, errors included */
	uint64_t errors;	/* replies that were RESP_ERROR */
	uint64_t connects;	/* times it went up */
	uint64_t disconnects;	/* times an up connection was lost */
};

void redis_stats(const struct redis *r, struct redis_stats *s);

/* Call every pending callback with NULL, cancel what is in flight on the
 * ring and free r (NULL is harmless). The memory goes when the ring has
 * given back the last of r's operations, at a later turn of the loop: keep
 * turning it while redis_draining() is not 0 before loop_fini(), or that
 * memory leaks (nothing completes into freed memory either way). No
 * callback of r runs after this returns. */
void redis_free(struct redis *r);

/* Connections freed but still waiting for their last completion, in every
 * loop of the process. */
unsigned redis_draining(void);

#endif
