/* wolfSSL over memory buffers. wolfSSL's I/O callbacks read from the
 * ciphertext the ring received and append to an output area the ring
 * sends, so they never block and never touch a socket. One context per
 * process; sessions are cached per (host, port) for resumption.
 *
 * Threads. Worker rings each run their own conns, so tls_new() and every
 * call on a struct tls run on many threads at once (one struct tls on one
 * thread at a time), and tls_session_known() on the main thread. Debian
 * 12's wolfSSL 5.5.4 is built thread-safe: options.h leaves
 * SINGLE_THREADED unset (so WOLFSSL_PTHREADS: wolfSSL_Mutex is a
 * pthread_mutex_t, and libwolfssl.so.35 imports pthread_mutex_*) and sets
 * HAVE_THREAD_LS and ERROR_QUEUE_PER_THREAD (the error queue is per
 * thread). wolfSSL's manual (ch. 9, "Thread Safety") keeps no global or
 * static data in the TLS path and asks only that one WOLFSSL not be used
 * by two threads at once, and that a WOLFSSL_CTX be fully set up before
 * it is shared: then any thread may wolfSSL_new() from it (the context's
 * reference count has its own mutex, its certificate store its own lock).
 * So here:
 * - g_ctx, g_verify, g_resume, g_dev_id, g_cache (the pointer) and g_gen
 *   are written only under setup_lock, and g_ctx last, with a release
 *   store: a thread that loads g_ctx (acquire) sees all of them whole.
 *   tls_global_init() is idempotent and may race from several workers
 *   (conn.c calls it lazily); wolfSSL_Init(), aesgcm_register() and
 *   wolfSSL_Cleanup() are not safe to race and run only under the lock.
 * - tls_global_reload() and tls_global_fini() replace or free what
 *   workers read without a lock: the caller runs them only while every
 *   worker is paused (reload) or gone (fini), on the main thread.
 * - The session cache's slots are under cache_lock, held for a slot's
 *   compare and swap and wolfSSL_set_session() (a copy), never across a
 *   handshake or any I/O; sessions leaving the cache are freed outside
 *   it (no other thread can reach them then). */
#include <wolfssl/options.h>	/* first: the package's build options */
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/aesgcm.h"
#include "base/hash.h"
#include "config/config.h"

#define ARRAY_SIZE(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
/* Direct-mapped: a colliding host evicts the older one, so the cache
 * stays bounded however many hosts a crawl touches. */
#define CACHE_SLOTS 4096

/* X25519 first: this build's P-256 goes through generic big-integer math
 * (no WOLFSSL_HAVE_SP_ECC), X25519 through its own field code; half the
 * client CPU of a handshake here. */
static int groups[] = {
	WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1,
	WOLFSSL_ECC_SECP521R1, WOLFSSL_FFDHE_2048,
};

/* ChaCha20-Poly1305 first unless aesgcm.c runs: Debian's wolfSSL has no
 * AES-NI (no WOLFSSL_AESNI), so its own AES-GCM is table-driven C, about
 * 1.6x slower per request here and not constant-time; ChaCha20 is both.
 * With AES-NI our AES-GCM is ~10x faster than that ChaCha20, so AES-GCM
 * leads. The CBC suites stay for servers with neither AEAD. */
#define CIPHERS_CHACHA \
	"TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:" \
	"TLS13-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
#define CIPHERS_AESGCM \
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:" \
	"TLS13-CHACHA20-POLY1305-SHA256:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
#define CIPHERS_REST \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:" \
	"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" \
	"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:" \
	"AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES128-SHA:" \
	"AES256-SHA"

struct tls_slot {
	char key[URL_HOST_MAX + 8];
	WOLFSSL_SESSION *sess;		/* owned reference, or NULL */
};

/* Set-up state: see the top for who may write what, and when. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static WOLFSSL_CTX *g_ctx;		/* published last (release) */
static bool g_verify, g_resume, g_atexit;
static int g_dev_id = -1;		/* aesgcm.c's device, once registered */
static unsigned g_gen;			/* bumped by each reload */
static struct tls_slot *g_cache;	/* CACHE_SLOTS, when resuming; the
					 * slots under cache_lock */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int cb_new_session(WOLFSSL *ssl, WOLFSSL_SESSION *sess);

static int cb_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls *t = ctx;
	size_t n = t->in_len < (size_t)sz ? t->in_len : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	memcpy(buf, t->in, n);
	t->in += n;
	t->in_len -= n;
	return (int)n;
}

/* Always accepts: this build's WANT_WRITE equals WANT_READ, so a refusal
 * would read as "need input" and stall the handshake. */
static int cb_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls *t = ctx;

	(void)ssl;
	if ((size_t)sz > TLS_OUT_MAX - t->out_len)
		return WOLFSSL_CBIO_ERR_GENERAL;
	if (!t->out && !(t->out = malloc(TLS_OUT_MAX)))
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(t->out + t->out_len, buf, (size_t)sz);
	t->out_len += (size_t)sz;
	return sz;
}

static int ctx_load_cas(WOLFSSL_CTX *ctx, const struct config *cfg,
			char *err, size_t errlen)
{
	const char *file = cfg->tls.ca_file[0] ? cfg->tls.ca_file :
			   SYSTEM_BUNDLE;
	int rc = wolfSSL_CTX_load_verify_locations(ctx, file, NULL);

	if (rc != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "tls.ca_file: cannot load CA certificates from %s (wolfSSL error %d)",
			 file, rc);
		return -EINVAL;
	}
	return 0;
}

/* A context from cfg->tls; the globals stay untouched, so a reload that
 * fails leaves the running one as it was. */
static WOLFSSL_CTX *ctx_new(const struct config *cfg, char *err,
			    size_t errlen)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "cannot create the TLS context");
		return NULL;
	}
	wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
	/* Every connection's Aes gets the context's devId, which routes
	 * its AES-GCM to aesgcm.c; without the device wolfSSL's own runs. */
	if (g_dev_id >= 0 &&
	    wolfSSL_CTX_SetDevId(ctx, g_dev_id) != WOLFSSL_SUCCESS)
		g_dev_id = -1;
	/* A failed list leaves wolfSSL's default order: slower, not broken. */
	wolfSSL_CTX_set_cipher_list(ctx, g_dev_id >= 0 ?
				    CIPHERS_AESGCM CIPHERS_REST :
				    CIPHERS_CHACHA CIPHERS_REST);
	wolfSSL_CTX_set_groups(ctx, groups, ARRAY_SIZE(groups));
	wolfSSL_CTX_SetIORecv(ctx, cb_recv);
	wolfSSL_CTX_SetIOSend(ctx, cb_send);
	wolfSSL_CTX_set_verify(ctx, cfg->tls.verify ? WOLFSSL_VERIFY_PEER :
			       WOLFSSL_VERIFY_NONE, NULL);
	if (cfg->tls.session_resumption) {
		wolfSSL_CTX_UseSessionTicket(ctx);
		wolfSSL_CTX_sess_set_new_cb(ctx, cb_new_session);
	}
	if (cfg->tls.verify && ctx_load_cas(ctx, cfg, err, errlen) < 0) {
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void cache_free(void)
{
	if (!g_cache)
		return;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (g_cache[i].sess)
			wolfSSL_SESSION_free(g_cache[i].sess);
	free(g_cache);
	g_cache = NULL;
}

/* Make ctx (taken over) the process's context under cfg's settings, with
 * an empty session cache when resuming. */
static int install(WOLFSSL_CTX *ctx, const struct config *cfg, char *err,
		   size_t errlen)
{
	struct tls_slot *cache = NULL;

	if (cfg->tls.session_resumption &&
	    !(cache = calloc(CACHE_SLOTS, sizeof(*cache)))) {
		snprintf(err, errlen, "out of memory");
		wolfSSL_CTX_free(ctx);
		return -ENOMEM;
	}
	cache_free();
	/* Connections made under the old context hold a reference of
	 * their own: it goes with the last of them. */
	if (g_ctx)
		wolfSSL_CTX_free(g_ctx);
	g_cache = cache;
	g_verify = cfg->tls.verify;
	g_resume = cfg->tls.session_resumption;
	g_gen++;
	__atomic_store_n(&g_ctx, ctx, __ATOMIC_RELEASE);
	return 0;
}

static int global_init_locked(const struct config *cfg, char *err,
			      size_t errlen)
{
	WOLFSSL_CTX *ctx;
	int rc;

	if (g_ctx)
		return 0;	/* another thread got here first */
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "wolfSSL_Init failed");
		return -ENOMEM;
	}
	if (!g_atexit) {
		atexit(tls_global_fini);
		g_atexit = true;
	}
	g_dev_id = aesgcm_register();
	ctx = ctx_new(cfg, err, errlen);
	rc = ctx ? install(ctx, cfg, err, errlen) : -EINVAL;
	if (rc < 0)
		wolfSSL_Cleanup();
	return rc;
}

int tls_global_init(const struct config *cfg, char *err, size_t errlen)
{
	int rc;

	/* every conn's start_tls() comes here: no lock once set up */
	if (__atomic_load_n(&g_ctx, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&setup_lock);
	rc = global_init_locked(cfg, err, errlen);
	pthread_mutex_unlock(&setup_lock);
	return rc;
}

int tls_global_reload(const struct config *cfg, char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx;
	int rc;

	pthread_mutex_lock(&setup_lock);
	if (!g_ctx) {
		rc = global_init_locked(cfg, err, errlen);
	} else {
		ctx = ctx_new(cfg, err, errlen);
		rc = ctx ? install(ctx, cfg, err, errlen) : -EINVAL;
	}
	pthread_mutex_unlock(&setup_lock);
	return rc;
}

void tls_global_fini(void)
{
	pthread_mutex_lock(&setup_lock);
	if (g_ctx) {
		cache_free();
		wolfSSL_CTX_free(g_ctx);
		__atomic_store_n(&g_ctx, NULL, __ATOMIC_RELEASE);
		wolfSSL_Cleanup();
	}
	pthread_mutex_unlock(&setup_lock);
}

/* This build has FP_ECC with HAVE_THREAD_LS: each thread that does ECC
 * (ECDHE on P-256, ECDSA verification) fills a fixed-point cache of its
 * own, a few MB, that only that thread can free; wolfSSL_Cleanup() frees
 * just the caller's. Same for the per-thread error queue. */
void tls_thread_fini(void)
{
	wc_ecc_fp_free();
	wolfSSL_ERR_remove_thread_state(NULL);
}

/* The slot of a host in the session cache. */
static struct tls_slot *cache_slot(const char *key)
{
	return &g_cache[hash_fnv1a_str(key) % CACHE_SLOTS];
}

/* The server gave a session: a TLS 1.3 ticket, or a TLS 1.2 handshake
 * ending. Only then is ssl's session whole: a resumed TLS 1.3 handshake
 * already holds its new secret but still the old ticket, and resuming
 * that pair fails the server's binder check. */
static int cb_new_session(WOLFSSL *ssl, WOLFSSL_SESSION *sess)
{
	struct tls *t = wolfSSL_GetIOReadCtx(ssl);

	(void)sess;
	if (t)
		t->session_new = true;
	return 0;		/* no reference kept here */
}

/* Keep t's session for its host once the server gave a resumable one. */
static void session_save(struct tls *t)
{
	WOLFSSL_SESSION *s, *old;
	struct tls_slot *slot;

	/* A session made under a context since reloaded may rest on trust
	 * the new one withdrew: it is not kept. (g_gen and g_cache change
	 * only while workers are paused: plain reads.) */
	if (!g_cache || !t->session_new || t->gen != g_gen)
		return;
	t->session_new = false;
	s = wolfSSL_get1_session(t->ssl);
	if (!s)
		return;
	if (!wolfSSL_SESSION_is_resumable(s)) {
		wolfSSL_SESSION_free(s);
		return;
	}
	slot = cache_slot(t->key);
	pthread_mutex_lock(&cache_lock);
	old = slot->sess;
	snprintf(slot->key, sizeof(slot->key), "%s", t->key);
	slot->sess = s;
	pthread_mutex_unlock(&cache_lock);
	if (old)
		wolfSSL_SESSION_free(old);	/* unreachable now */
	t->session_saved = true;
}

bool tls_session_known(const char *host, uint16_t port)
{
	char key[URL_HOST_MAX + 8];
	struct tls_slot *slot;
	bool known;

	/* g_cache is whole once g_ctx is seen: another thread may be
	 * setting up right now */
	if (!__atomic_load_n(&g_ctx, __ATOMIC_ACQUIRE) || !g_cache)
		return true;
	snprintf(key, sizeof(key), "%s:%u", host, port);
	slot = cache_slot(key);
	pthread_mutex_lock(&cache_lock);
	known = slot->sess && strcmp(slot->key, key) == 0;
	pthread_mutex_unlock(&cache_lock);
	return known;
}

/* wolfSSL_set_session() copies the session into t's WOLFSSL (no I/O):
 * done under the lock, so a worker replacing the slot meanwhile cannot
 * free it under the copy. */
static void session_restore(struct tls *t)
{
	struct tls_slot *slot;

	if (!g_cache)
		return;
	slot = cache_slot(t->key);
	pthread_mutex_lock(&cache_lock);
	if (slot->sess && strcmp(slot->key, t->key) == 0)
		wolfSSL_set_session(t->ssl, slot->sess);
	pthread_mutex_unlock(&cache_lock);
}

int tls_ipv6_expand(const char *ip, char *out, size_t outlen)
{
	struct in6_addr a;
	int n;

	if (inet_pton(AF_INET6, ip, &a) != 1)
		return -EINVAL;
	n = snprintf(out, outlen,
		     "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		     a.s6_addr[0], a.s6_addr[1], a.s6_addr[2], a.s6_addr[3],
		     a.s6_addr[4], a.s6_addr[5], a.s6_addr[6], a.s6_addr[7],
		     a.s6_addr[8], a.s6_addr[9], a.s6_addr[10], a.s6_addr[11],
		     a.s6_addr[12], a.s6_addr[13], a.s6_addr[14],
		     a.s6_addr[15]);
	return n > 0 && (size_t)n < outlen ? 0 : -EINVAL;
}

/* SNI for names only (RFC 6066 3), ALPN, and what to verify against. */
static int tls_setup(struct tls *t, bool ip_literal, bool ipv6)
{
	/* Not const only for wolfSSL's prototype: shared by every thread,
	 * and a one-name list has no separator to split in place. */
	static char alpn[] = "http/1.1";
	char ip6[48];
	const char *name = t->host;

	if (!ip_literal &&
	    wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, t->host,
			   (unsigned short)strlen(t->host)) != WOLFSSL_SUCCESS)
		return -ENOMEM;
	if (wolfSSL_UseALPN(t->ssl, alpn, sizeof(alpn) - 1,
			    WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) !=
	    WOLFSSL_SUCCESS)
		return -ENOMEM;
	if (!g_verify)
		return 0;
	/* wolfSSL compares IPv6 SANs in their fully expanded text form. */
	if (ipv6) {
		if (tls_ipv6_expand(t->host, ip6, sizeof(ip6)) < 0)
			return -EINVAL;
		name = ip6;
	}
	if (wolfSSL_check_domain_name(t->ssl, name) != WOLFSSL_SUCCESS)
		return -ENOMEM;
	return 0;
}

struct tls *tls_new(const char *host, uint16_t port, bool ip_literal,
		    bool ipv6)
{
	WOLFSSL_CTX *ctx = __atomic_load_n(&g_ctx, __ATOMIC_ACQUIRE);
	struct tls *t;

	if (!ctx)
		return NULL;
	t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->ssl = wolfSSL_new(ctx);
	t->gen = g_gen;
	if (!t->ssl) {
		free(t);
		return NULL;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->key, sizeof(t->key), "%s:%u", host, port);
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	if (tls_setup(t, ip_literal, ipv6) < 0) {
		tls_free(t);
		return NULL;
	}
	if (g_resume)
		session_restore(t);
	return t;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	wolfSSL_free(t->ssl);
	free(t->out);
	free(t);
}

int tls_feed(struct tls *t, const void *data, size_t len)
{
	if (t->in_len)
		return -EBUSY;
	t->in = data;
	t->in_len = len;
	return 0;
}

static const char *alert_text(struct tls *t)
{
	WOLFSSL_ALERT_HISTORY h;

	if (wolfSSL_get_alert_history(t->ssl, &h) != WOLFSSL_SUCCESS ||
	    h.last_rx.code < 0)
		return "unknown";
	return wolfSSL_alert_desc_string_long(h.last_rx.code);
}

enum rf_err tls_map_error(int code, const char *host, char *detail,
			  size_t len)
{
	const char *why = NULL;
	char text[WOLFSSL_MAX_ERROR_SZ];

	switch (code) {
	case ASN_NO_SIGNER_E:
		why = "unknown issuer (unable to get local issuer certificate)";
		break;
	case ASN_SELF_SIGNED_E:
		why = "self-signed certificate not in the trusted CA set";
		break;
	case ASN_AFTER_DATE_E:
		why = "certificate has expired";
		break;
	case ASN_BEFORE_DATE_E:
		why = "certificate is not yet valid";
		break;
	case ASN_SIG_CONFIRM_E:
		why = "certificate signature does not verify";
		break;
	case ASN_PATHLEN_SIZE_E:
	case ASN_PATHLEN_INV_E:
		why = "certificate chain exceeds its path length";
		break;
	case OCSP_CERT_REVOKED:
	case CRL_CERT_REVOKED:
		why = "certificate has been revoked";
		break;
	case NO_PEER_CERT:
		why = "server sent no certificate";
		break;
	case VERIFY_CERT_ERROR:
		why = "certificate verify failed";
		break;
	case DOMAIN_NAME_MISMATCH:
	case IPADDR_MISMATCH:
		snprintf(detail, len,
			 "host name mismatch: certificate is not valid for '%s'",
			 host);
		return RF_TLS_VERIFY;
	default:
		break;
	}
	if (why) {
		snprintf(detail, len, "%s", why);
		return RF_TLS_VERIFY;
	}
	switch (code) {
	case VERSION_ERROR:
	case UNSUPPORTED_PROTO_VERSION:
		why = "no common protocol version (TLS 1.2 or later)";
		break;
	case MATCH_SUITE_ERROR:
		why = "no common cipher suite";
		break;
	case SOCKET_ERROR_E:
		why = "connection closed during the handshake";
		break;
	default:
		wolfSSL_ERR_error_string_n((unsigned long)code, text,
					   sizeof(text));
		snprintf(detail, len, "handshake failed: %s (wolfSSL %d)", text,
			 code);
		return RF_TLS_HANDSHAKE;
	}
	snprintf(detail, len, "%s", why);
	return RF_TLS_HANDSHAKE;
}

int tls_handshake(struct tls *t)
{
	int ret = wolfSSL_connect(t->ssl);
	int e;

	if (ret == WOLFSSL_SUCCESS) {
		t->handshake_done = true;
		session_save(t);	/* TLS 1.2: the session is whole */
		return TLS_DONE;
	}
	e = wolfSSL_get_error(t->ssl, ret);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return TLS_WANT;
	if (e == FATAL_ERROR) {
		t->err = RF_TLS_HANDSHAKE;
		snprintf(t->detail, sizeof(t->detail),
			 "server sent a fatal alert: %s", alert_text(t));
		return TLS_FAIL;
	}
	t->err = tls_map_error(e, t->host, t->detail, sizeof(t->detail));
	return TLS_FAIL;
}

int tls_read(struct tls *t, char *buf, size_t cap)
{
	int ret, e;

	if (t->eof)
		return 0;
	ret = wolfSSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (ret > 0) {
		session_save(t);
		return ret;
	}
	e = wolfSSL_get_error(t->ssl, ret);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
		session_save(t);	/* a ticket alone was processed */
		return 0;
	}
	if (e == WOLFSSL_ERROR_ZERO_RETURN) {
		t->eof = true;
		return 0;
	}
	if (e == FATAL_ERROR)
		snprintf(t->detail, sizeof(t->detail),
			 "TLS: server sent a fatal alert: %s", alert_text(t));
	else {
		char text[WOLFSSL_MAX_ERROR_SZ];

		wolfSSL_ERR_error_string_n((unsigned long)e, text,
					   sizeof(text));
		snprintf(t->detail, sizeof(t->detail), "TLS: %s (wolfSSL %d)",
			 text, e);
	}
	return -EPROTO;
}

int tls_write(struct tls *t, const void *data, size_t len)
{
	int ret, e;

	if (len == 0)
		return 0;
	ret = wolfSSL_write(t->ssl, data, (int)len);
	if (ret == (int)len)
		return 0;
	e = wolfSSL_get_error(t->ssl, ret);
	if (e == SOCKET_ERROR_E)
		return -ENOBUFS;	/* cb_send found no room */
	snprintf(t->detail, sizeof(t->detail), "TLS: write failed (wolfSSL %d)",
		 e);
	return -EPROTO;
}

void tls_close_notify(struct tls *t)
{
	if (t->notify_sent || !t->handshake_done)
		return;
	t->notify_sent = true;
	wolfSSL_shutdown(t->ssl);	/* queues the alert; no wait */
}

bool tls_has_input(const struct tls *t)
{
	return t->in_len > 0 || wolfSSL_pending(t->ssl) > 0;
}

void tls_out_sent(struct tls *t, size_t n)
{
	t->out_off += n;
	if (t->out_off < t->out_len)
		return;
	t->out_off = t->out_len = 0;
	free(t->out);		/* all sent: no room until the next flight */
	t->out = NULL;
}

const char *tls_version(const struct tls *t)
{
	return wolfSSL_get_version(t->ssl);
}

const char *tls_cipher(const struct tls *t)
{
	int cs = wolfSSL_get_current_cipher_suite(t->ssl);
	const char *name;

	name = wolfSSL_get_cipher_name_iana_from_suite((uint8_t)(cs >> 8),
						       (uint8_t)cs);
	if (!name || !*name || strcmp(name, "None") == 0)
		name = wolfSSL_get_cipher_name(t->ssl);
	return name ? name : "";
}

bool tls_resumed(const struct tls *t)
{
	return wolfSSL_session_reused(t->ssl) == 1;
}
