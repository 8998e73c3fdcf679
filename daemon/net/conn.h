/* One TCP connection to a host and the request riding on it: resolve,
 * connect, TLS handshake for https, send, receive into the HTTP codec, then
 * go idle in the host's pool or close. The state changes only through
 * conn_enter(). */
#ifndef RF_CONN_H
#define RF_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/dns.h"
#include "http/http.h"
#include "event/loop.h"

struct sched;
struct host;
struct job;
struct tls;

enum conn_state {
	CS_RESOLVE = 0,	/* waiting on dns.c */
	CS_CONNECT,	/* connect SQE in flight */
	CS_TLS,		/* https: handshake records moving, timeouts.tls */
	CS_SEND,	/* request bytes in flight (recv armed too) */
	CS_RECV,	/* request sent, response arriving */
	CS_IDLE,	/* in the host's pool, recv armed to notice a close */
	CS_CLOSING,	/* [transient] cancelling SQEs, then close and free */
	CS_COUNT
};

#define CONN_RBUF 16384
#define CONN_WBUF 16384

struct conn {
	enum conn_state state;
	int fd;				/* -1 when none */
	struct sched *s;
	struct host *host;		/* counted in host->n_conns */
	struct job *job;		/* NULL when idle or orphaned */
	struct conn *next_idle;		/* host idle list */
	unsigned inflight;		/* SQEs whose CQE has not come */
	bool recv_armed;
	bool send_armed;		/* a send SQE is in flight */
	bool reused;			/* this request rides a pooled conn */
	bool probe;			/* holds host->tls_probe */
	bool holds_slot;		/* closing with the job's slot still taken */
	bool deadline_bound;		/* the armed timer is the job's deadline */
	struct io_op op_connect, op_send, op_recv, op_cancel;
	struct timer timer;		/* phase deadline, or idle expiry */
	struct dns_req dns;
	struct dns_addrs addrs;
	unsigned addr_i;		/* address being tried */
	uint64_t t_start_ms, t_phase_ms;
	char ip[48];			/* text of addrs.addr[addr_i] once connecting */
	size_t wlen, woff;		/* plain: unsent request wbuf[woff..wlen) */
	struct tls *tls;		/* owned, https only; else NULL */
	struct http_resp resp;
	/* Plain: the request. TLS: the request until tls_write() took it,
	 * then the decrypted response (records are sent from the tls). */
	char wbuf[CONN_WBUF];
	char rbuf[CONN_RBUF];		/* received bytes (TLS: ciphertext) */
};

/* Open a new connection for j to its host and send j's request. Always
 * ends in exactly one sched_attempt_done() for j. Returns 0 or -ENOMEM
 * (then nothing was started). */
int conn_open(struct sched *s, struct job *j);

/* Send j's request on idle pooled conn c (taken off its host's list by the
 * caller). Ends in exactly one sched_attempt_done() for j. */
void conn_reuse(struct conn *c, struct job *j);

/* Abort whatever c is doing: its job (if any) gets err/detail via
 * sched_attempt_done(), then c closes and frees itself. */
void conn_abort(struct conn *c, int err, const char *detail);

/* Close an idle conn (keep-alive expiry, shutdown). */
void conn_close_idle(struct conn *c);

#endif
