/* Result error classes: exactly SPEC's names, through rf_err_name(). */
#ifndef RF_ERR_H
#define RF_ERR_H

#include <stdbool.h>

enum rf_err {
	RF_OK = 0,
	RF_INVALID_URL,
	RF_DNS,
	RF_CONNECT,
	RF_CONNECT_TIMEOUT,
	RF_TLS_HANDSHAKE,
	RF_TLS_VERIFY,
	RF_TIMEOUT,		/* no byte for timeouts.first_byte or .idle */
	RF_DEADLINE,		/* timeouts.total passed */
	RF_RESET,		/* peer closed or reset early */
	RF_PROTOCOL,		/* malformed HTTP */
	RF_TOO_MANY_REDIRECTS,
	RF_BODY_TOO_LARGE,
	RF_HTTP_STATUS,		/* final non-2xx */
	RF_ROBOTS,
	RF_BLOCKED_ADDRESS,
	RF_CANCELLED,
	RF_PROXY,		/* the proxy failed or refused the tunnel */
	RF_DUPLICATE,		/* batch.dedupe: fetched by another job */
	RF_ERR_COUNT
};

/* SPEC's name of e ("dns", "connect_timeout"...); "" for RF_OK. */
const char *rf_err_name(enum rf_err e);

/* Whether a failed attempt of class e is worth another attempt. */
bool rf_err_retryable(enum rf_err e);

/* strerror() for any thread: the C locale's text of errno value e (what
 * strerror gives in the daemon, which never calls setlocale), or "Unknown
 * error" for a value without one. Static storage, never overwritten:
 * strerror itself is MT-Unsafe (race:strerror, man 3 strerror). */
const char *rf_strerror(int e);

#endif
