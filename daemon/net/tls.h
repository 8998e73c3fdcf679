/* TLS over memory buffers with wolfSSL: the ring moves every byte, this
 * module only turns ciphertext into plaintext and back. It sees buffers,
 * never a socket, so no call here can block the loop. */
#ifndef RF_TLS_H
#define RF_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/url.h"

struct config;

/* Room for one flight of ours: a ClientHello, a Finished, or the request
 * (at most CONN_WBUF plaintext bytes) as records. Output never moves while
 * any of it is unsent, so a send SQE may point into it; the room is held
 * only while output is unsent, so an idle connection holds none. */
#define TLS_OUT_MAX (24 * 1024)
/* Plaintext bytes one record carries at most (RFC 8446 5.1): a read buffer
 * this size takes any record whole. */
#define TLS_RECORD_MAX 16384

enum tls_rc {
	TLS_DONE = 0,		/* handshake finished */
	TLS_WANT = 1,		/* send tls_out(), then feed more input */
	TLS_FAIL = -1,		/* see err and detail */
};

struct tls {
	void *ssl;			/* WOLFSSL *, owned */
	const uint8_t *in;		/* fed ciphertext not yet consumed */
	size_t in_len;
	size_t out_off, out_len;	/* unsent: out[out_off..out_len) */
	char *out;			/* owned: TLS_OUT_MAX bytes while
					 * out_len > 0, else NULL */
	char host[URL_HOST_MAX + 1];	/* verified name, for messages */
	char key[URL_HOST_MAX + 8];	/* session cache key "name:port" */
	bool handshake_done;
	bool session_new;		/* server gave a session, not saved */
	bool session_saved;		/* this conn's session was cached */
	unsigned gen;			/* the context generation it began in */
	bool eof;			/* close_notify received */
	bool notify_sent;		/* close_notify queued */
	enum rf_err err;		/* class of the last TLS_FAIL */
	char detail[160];		/* its reason, one sentence */
};

/* Threads: the functions on a struct tls may run on any thread, one thread
 * at a time per struct tls, many structs at once (worker rings). The
 * context and the session cache are the process's; what each function
 * below asks of its caller is said with it. */

/* Create the process's wolfSSL context from cfg->tls (verification, CA file
 * or the system bundle, TLS 1.2 minimum, session cache). Idempotent: later
 * calls return 0 at once. Returns 0, or -EINVAL/-ENOMEM with a sentence in
 * err; a failed init may be retried. tls_global_fini() runs at exit. Any
 * thread, several at once: one of them sets up, the others wait for it. */
int tls_global_init(const struct config *cfg, char *err, size_t errlen);

/* Build a new context from cfg->tls (the CA file read again) and make it
 * the process's, with an empty session cache: a session resumed from the
 * old trust would skip the new checks. Connections already open finish
 * under the context they began with. On failure the running context stays
 * and err says why (-EINVAL/-ENOMEM). Only while no other thread is in
 * this module: with worker rings, only while every worker is paused (the
 * caller guarantees it); the old context and cache are freed here, with
 * nothing but a pause between them and a worker's unlocked reads. */
int tls_global_reload(const struct config *cfg, char *err, size_t errlen);

/* Whether a new connection to host:port has nothing to wait for: a
 * session is cached for it, or resumption is off (or TLS not set up).
 * Any thread (the scheduler asks from the main thread while workers save
 * sessions): takes the cache's lock briefly. */
bool tls_session_known(const char *host, uint16_t port);

/* Free the context, the session cache and wolfSSL's globals. Every struct
 * tls must be freed first, and no other thread may use this module any
 * more (workers joined). Harmless when nothing was initialised. */
void tls_global_fini(void);

/* Free what wolfSSL keeps for the calling thread (ECC's fixed-point
 * cache, the error queue). Every thread but the one that calls
 * tls_global_fini() calls it before it exits, once its conns are freed,
 * if it ran any TLS: else several MB leak per thread. Harmless when it
 * ran none, and the thread may use TLS again afterwards. */
void tls_thread_fini(void);

/* A client for host (a DNS name, or an IP literal without []) on port:
 * SNI for names, ALPN http/1.1, verification per tls.verify against the
 * name or the IP SAN, and the host's cached session when resumption is on.
 * Returns NULL when out of memory or without tls_global_init() (on this
 * thread, or on another before something this thread saw). Any thread. */
struct tls *tls_new(const char *host, uint16_t port, bool ip_literal,
		    bool ipv6);
void tls_free(struct tls *t);

/* Hand len ciphertext bytes at data to t; they must stay valid and unchanged
 * until the next tls_handshake()/tls_read() returned TLS_WANT/0 (all input
 * is consumed then). Returns 0, or -EBUSY when earlier input is unconsumed. */
int tls_feed(struct tls *t, const void *data, size_t len);

/* Drive the handshake with the input fed so far. Returns TLS_DONE, TLS_WANT
 * (send what tls_out() holds, then feed more), or TLS_FAIL with t->err
 * RF_TLS_VERIFY or RF_TLS_HANDSHAKE and t->detail set. */
int tls_handshake(struct tls *t);

/* Decrypt fed input into buf (cap bytes). Returns plaintext bytes (> 0), 0
 * when all input is consumed and more is needed (t->eof once the peer sent
 * close_notify), or -EPROTO with t->detail set. Caches the session for the
 * host when the server sent one (a TLS 1.3 ticket arrives after the
 * handshake, so a read is the place). */
int tls_read(struct tls *t, char *buf, size_t cap);

/* Encrypt len plaintext bytes into the output. Returns 0, -ENOBUFS when
 * they do not fit in TLS_OUT_MAX, or -EPROTO with t->detail set. */
int tls_write(struct tls *t, const void *data, size_t len);

/* Queue a close_notify alert (once; no wait for the peer's). */
void tls_close_notify(struct tls *t);

/* The unsent output: *len bytes at the returned pointer (len 0: none). */
static inline const char *tls_out(const struct tls *t, size_t *len)
{
	*len = t->out_len - t->out_off;
	return *len ? t->out + t->out_off : NULL;
}

/* Whether fed ciphertext or decrypted plaintext is still unread. */
bool tls_has_input(const struct tls *t);

/* n bytes of tls_out() left the socket. */
void tls_out_sent(struct tls *t, size_t n);

/* After TLS_DONE: "TLSv1.3", the IANA cipher name, whether the session was
 * resumed. Strings are static or live as long as t. */
const char *tls_version(const struct tls *t);
const char *tls_cipher(const struct tls *t);
bool tls_resumed(const struct tls *t);

/* Helpers, exported for the unit test. */

/* Write the 8-group, 4-hex-digit form of IPv6 literal ip ("::1" ->
 * "0000:...:0001"), wolfSSL's text form of an IP SAN. Returns 0 or -EINVAL. */
int tls_ipv6_expand(const char *ip, char *out, size_t outlen);

/* Map a wolfSSL error code to a class and a reason for host. */
enum rf_err tls_map_error(int code, const char *host, char *detail,
			  size_t len);

#endif
