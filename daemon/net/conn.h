/* One TCP connection to a host and the request riding on it: resolve,
 * connect, TLS handshake for https, send, receive into the HTTP codec, then
 * go idle in the owner's pool or close. The state changes only through
 * conn_enter(). A conn knows its owner only through struct conn_env: the
 * request comes in as a struct conn_req, the outcome leaves as a struct
 * conn_result, and the pool, slots and body storage stay the owner's. */
#ifndef RF_CONN_H
#define RF_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"
#include "base/list.h"
#include "net/cidr.h"
#include "net/dns.h"
#include "http/http.h"
#include "event/loop.h"

struct conn;
struct conn_env;
struct config_header;
struct tls;

enum conn_state {
	CS_RESOLVE = 0,	/* waiting on dns.c */
	CS_CONNECT,	/* connect SQE in flight */
	CS_PROXY,	/* proxy handshake (CONNECT or SOCKS5), timeouts.connect */
	CS_TLS,		/* https: handshake records moving, timeouts.tls */
	CS_SEND,	/* request bytes in flight (recv armed too) */
	CS_RECV,	/* request sent, response arriving */
	CS_IDLE,	/* in the owner's pool, recv armed to notice a close */
	CS_CLOSING,	/* [transient] cancelling SQEs, then close and free */
	CS_COUNT
};

#define CONN_RBUF 16384
#define CONN_WBUF 16384
/* The ring's receive buffers in all (CONN_RBUF bytes each), shared by
 * every conn: a conn holds one only while a completion's bytes are being
 * parsed. The kernel cycles through all of them, so all become resident:
 * 4 MiB kept 2,000 x 1 MiB at 16 in flight as fast as 8 MiB did, with a
 * few hundred -ENOBUFS re-arms, and 4 MiB less RSS. */
#define CONN_POOL_BYTES (4u << 20)

/* A request slot (the owner's global and per-home caps, counted one more),
 * taken by the owner for one attempt. The conn carries it and hands it
 * back exactly once: in its result (conn_result.slot), or, when a failed
 * conn keeps it until its socket has closed (so the cap counts sockets
 * still closing), in conn.slot when env->closed() runs. */
struct slot {
	void *home;		/* the owner's: what the slot was taken on;
				 * NULL: no slot held */
};

/* Counters the owner reports (status, metrics). */
struct conn_counters {
	uint32_t open;		/* conns allocated and not yet freed */
	uint32_t idle;		/* of which in CS_IDLE */
	uint64_t opened;	/* conns ever opened */
	uint64_t reused;	/* requests sent on a pooled conn */
};

/* One request, as the owner asks for it. Borrowed: url and headers must
 * stay valid until the attempt's result (or conn_detach()). */
struct conn_req {
	const struct url *url;
	const struct config_header *headers;	/* extra request headers */
	size_t n_headers;
	uint64_t deadline_ms;	/* loop clock; 0 = none */
	void *owner;		/* handed back with the result; not NULL */
};

/* Where a response body goes, as the owner's sink_start() set it up. */
struct conn_sink {
	void *arg;		/* the sink; NULL: the body is not kept */
	void (*body)(void *arg, const char *p, size_t n); /* decoded body
							   * pieces, or NULL */
	void (*raw)(void *arg, const char *p, size_t n);  /* response bytes as
							   * received, or NULL */
};

/* How one attempt ended. Filled while the attempt runs; handed to
 * env->done(), and valid only during that call (pointers borrow from the
 * conn). */
struct conn_result {
	enum rf_err err;	/* RF_OK: a complete response with status */
	char detail[192];	/* "" on RF_OK, else a sentence */
	int status;		/* 0 = no response */
	uint64_t bytes;		/* body bytes, chunking and (http.decode)
				 * content coding removed */
	uint64_t wire_bytes;	/* body bytes as received, chunking removed */
	const char *content_type; /* "" when none; at most 127 bytes */
	const char *content_encoding; /* "" when none; at most 23 bytes */
	const char *etag;	/* "" when none; at most 127 bytes */
	const char *last_modified; /* "" when none; at most 39 bytes */
	char sha256[65];	/* hex of the body; "" unless RF_OK */
	const char *ip;		/* peer address, "" when none was tried */
	uint32_t ms_dns, ms_connect, ms_tls, ms_ttfb, ms_total;
	bool tls_used;		/* a TLS handshake completed on the conn */
	bool tls_resumed;	/* that handshake resumed a cached session */
	const char *tls_version, *tls_cipher; /* "" unless tls_used */
	const char *location;	/* Location as sent, "" when none */
	const char *retry_after; /* Retry-After as sent, "" when none */
	bool retry_free;	/* a pooled conn the peer had closed: the
				 * try should not count as an attempt */
	bool local_shortage;	/* socket() or the resolver's socket found
				 * no descriptor here (EMFILE, ENFILE): not
				 * the host's doing */
	bool reusable;		/* the conn may go to the owner's pool */
	void *sink;		/* the body sink (conn_sink.arg) or NULL:
				 * the owner now commits or aborts it */
	struct slot slot;	/* the attempt's slot, given back now; home
				 * NULL when the conn keeps it until closed */
	struct conn *conn;	/* the conn the attempt ran on */
};

/* What a connection needs from its owner (sched.c, or a unit test). The
 * owner fills it once and it outlives every conn made with it. */
struct conn_env {
	struct loop *loop;
	const struct config *cfg;	/* timeouts, http, limits; borrowed */
	struct dns *dns;
	const struct netguard *guard;	/* network.deny, checked per connect */
	struct conn_counters *counters;
	const struct proxy *proxy;	/* network.proxy, or NULL: direct */
	/* The attempt of owner ended (exactly once per conn_open/conn_reuse
	 * that returned 0, never after conn_detach). Returns true when the
	 * owner put r->conn in its pool (only when r->reusable; the conn then
	 * goes idle), false to have it close. */
	bool (*done)(struct conn_env *env, void *owner, struct conn_result *r);
	/* Idle conn c closes (the peer closed it, it expired, or
	 * conn_close_idle()): the owner takes it out of its pool. */
	void (*idle_closing)(struct conn_env *env, struct conn *c);
	/* c's socket is closed and c is freed after this returns: the owner
	 * gives back c->slot when it holds one and forgets c->home. */
	void (*closed)(struct conn_env *env, struct conn *c);
	/* Set up *out (zeroed by the caller) for the response to the len
	 * request bytes at req of owner. NULL: bodies are not kept. */
	void (*sink_start)(struct conn_env *env, void *owner, const char *req,
			   size_t len, struct conn_sink *out);
	/* Set by workers_start(): conns run on worker threads, through
	 * net/workers.h's stand-ins for this file's calls. */
	struct workers *workers;
	/* Freed conns kept for reuse at most: 0 for limits.concurrency
	 * (a worker ring keeps its share). */
	uint32_t spare_cap;
	/* private to conn.c; zero at first: freed conns kept for reuse */
	struct conn *spare;		/* linked through spare_next */
	uint32_t n_spare;		/* <= limits.concurrency */
};

struct conn {
	enum conn_state state;
	int fd;				/* -1 when none */
	struct conn_env *env;		/* borrowed */
	void *home;			/* the owner's (sched: its host) */
	struct conn *spare_next;	/* in env->spare while kept */
	struct list_node pool_node;	/* in the home's pool while pooled */
	struct conn_req req;		/* the attempt's; owner NULL when idle
					 * or detached */
	struct slot slot;		/* the attempt's, or one kept until
					 * closed */
	struct conn_sink sink;		/* the attempt's body sink */
	unsigned inflight;		/* SQEs whose CQE has not come (a
					 * multishot recv counts once) */
	bool recv_armed;		/* a recv (or its poll) is in flight */
	bool recv_poll;			/* per-conn buffers: the armed op is
					 * a poll; rbuf taken once readable */
	bool send_armed;		/* a send SQE is in flight */
	bool reused;			/* this request rides a pooled conn */
	bool deadline_bound;		/* the armed timer is the job's deadline */
	bool proxied;			/* through env->proxy */
	uint8_t dns_phase;		/* proxied: resolving the target (socks5)
					 * or the proxy */
	uint8_t socks_step;		/* enum socks_step while CS_PROXY */
	size_t pin;			/* CS_PROXY: reply bytes kept in rbuf */
	/* Plain: the request (or a proxy message) until sent, then NULL;
	 * wlen bytes, malloc'd. TLS sends from the tls's output instead. */
	char *wbuf;
	/* CONN_RBUF bytes or NULL. Ring buffers: only the proxy's reply,
	 * kept across completions. Else the receive buffer, taken when a
	 * recv is armed, dropped when the conn goes idle. */
	char *rbuf;
	struct sockaddr_storage target;	/* socks5: the target, resolved here */
	struct io_op op_connect, op_send, op_recv, op_cancel;
	struct timer timer;		/* phase deadline, or idle expiry */
	struct dns_req dns;
	struct dns_addrs addrs;
	unsigned addr_i;		/* address being tried */
	uint64_t t_attempt_ms;		/* this attempt started */
	uint64_t t_start_ms, t_phase_ms;
	char ip[48];			/* text of addrs.addr[addr_i] once connecting */
	size_t wlen, woff;		/* plain: unsent wbuf[woff..wlen) */
	struct tls *tls;		/* owned, https only; else NULL */
	struct conn_result res;		/* the attempt's, so far */
	/* The response codec (8 KiB of kept header values), allocated right
	 * after the conn by conn.c; a worker ring's stand-in conn has none,
	 * so it costs its owner 2 KiB rather than 11. */
	struct http_resp *resp;
};

/* Open a new connection for req to its url's host, holding slot, with home
 * the owner's (c->home, e.g. its pool). *cp is set to the conn before
 * anything can report, so the owner finds it from env->done(). Returns 0:
 * then exactly one env->done() for req follows (perhaps before this
 * returns) unless the owner detaches; or -ENOMEM: nothing was started and
 * the slot stays the caller's. */
int conn_open(struct conn_env *env, const struct conn_req *req,
	      struct slot slot, void *home, struct conn **cp);

/* Send req on idle conn c, which the owner took out of its pool. Ends in
 * exactly one env->done() for req, unless the owner detaches. */
void conn_reuse(struct conn *c, const struct conn_req *req, struct slot slot);

/* Abort what c is doing: its request (if any) ends with err and detail
 * through env->done() (c keeps the slot until closed), then c closes and
 * frees itself. */
void conn_abort(struct conn *c, int err, const char *detail);

/* The owner takes its request back from c without a result: *slot and
 * *sink get what the attempt held (the owner gives back the one and
 * aborts the other), and c closes and frees itself. */
void conn_detach(struct conn *c, struct slot *slot, void **sink);

/* Close an idle conn (keep-alive expiry, shutdown); env->idle_closing()
 * runs for it. */
void conn_close_idle(struct conn *c);

/* Free the conns env keeps for reuse (up to limits.concurrency of them,
 * so that conns, 11 KiB each, are not freed and carved anew from the heap
 * at every connection). Call when no conn of env is left. */
void conn_env_fini(struct conn_env *env);

#endif
