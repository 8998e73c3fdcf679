/* Result error classes and which of them are retried. */
#include "base/err.h"

#include <string.h>

static const char *const names[RF_ERR_COUNT] = {
	[RF_OK] = "",
	[RF_INVALID_URL] = "invalid_url",
	[RF_DNS] = "dns",
	[RF_CONNECT] = "connect",
	[RF_CONNECT_TIMEOUT] = "connect_timeout",
	[RF_TLS_HANDSHAKE] = "tls_handshake",
	[RF_TLS_VERIFY] = "tls_verify",
	[RF_TIMEOUT] = "timeout",
	[RF_DEADLINE] = "deadline",
	[RF_RESET] = "reset",
	[RF_PROTOCOL] = "protocol",
	[RF_TOO_MANY_REDIRECTS] = "too_many_redirects",
	[RF_BODY_TOO_LARGE] = "body_too_large",
	[RF_HTTP_STATUS] = "http_status",
	[RF_ROBOTS] = "robots",
	[RF_BLOCKED_ADDRESS] = "blocked_address",
	[RF_CANCELLED] = "cancelled",
	[RF_PROXY] = "proxy",
	[RF_DUPLICATE] = "duplicate",
};

const char *rf_err_name(enum rf_err e)
{
	return (unsigned)e < RF_ERR_COUNT ? names[e] : "internal";
}

bool rf_err_retryable(enum rf_err e)
{
	/* Transport failures may pass; a DNS answer was already retried by
	 * the resolver, and malformed or refused content will not change. */
	switch (e) {
	case RF_CONNECT:
	case RF_CONNECT_TIMEOUT:
	case RF_TIMEOUT:
	case RF_RESET:
	case RF_TLS_HANDSHAKE:
	case RF_PROXY:		/* a proxy restarting, or overloaded */
		return true;
	default:
		return false;
	}
}

const char *rf_strerror(int e)
{
	/* glibc 2.32+: the untranslated table, no buffer, MT-Safe */
	const char *s = strerrordesc_np(e);

	return s ? s : "Unknown error";
}
