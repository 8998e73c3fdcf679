/* Proxies (network.proxy, network.no_proxy): the proxy URL, which targets
 * go direct, and the bytes of the two handshakes, an HTTP CONNECT
 * (RFC 9110 9.3.6) and SOCKS5 (RFC 1928, user/password RFC 1929). Sees
 * buffers only: conn.c moves the bytes, a fuzz target drives the parsers.
 * Every parser answers done / need more / failed with a sentence. */
#ifndef RF_PROXY_H
#define RF_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "http/url.h"

#define PROXY_CRED_MAX ADDR_CRED_MAX
#define PROXY_REPLY_MAX (16 * 1024)	/* a CONNECT answer's head */

enum proxy_kind {
	PROXY_NONE = ADDR_PROXY_NONE,
	PROXY_HTTP = ADDR_PROXY_HTTP,	/* CONNECT for https, absolute-form
					 * for http */
	PROXY_SOCKS5 = ADDR_PROXY_SOCKS5, /* names resolved here */
	PROXY_SOCKS5H = ADDR_PROXY_SOCKS5H, /* names resolved by the proxy */
};

struct proxy {
	enum proxy_kind kind;
	char host[URL_HOST_MAX + 1];	/* the proxy's name or address */
	uint16_t port;
	char user[PROXY_CRED_MAX + 1];	/* "" when none */
	char pass[PROXY_CRED_MAX + 1];
	char auth_b64[700];		/* HTTP: base64 of user:pass, or "" */
	/* network.no_proxy, split: names (lower case, ".suffix" or exact)
	 * and ranges (for URLs whose host is an IP literal) */
	char **names;			/* owned */
	size_t n_names;
	struct addr_cidr *ranges;	/* owned */
	size_t n_ranges;
};

/* Parse network.proxy text ("" gives PROXY_NONE) and the no_proxy list
 * (n entries). Returns 0, or -EINVAL with a sentence in why (the config
 * check uses the same call), or -ENOMEM. On success p owns memory
 * (proxy_fini). */
int proxy_parse(struct proxy *p, const char *url, char *const *no_proxy,
		size_t n, char *why, size_t whylen);
void proxy_fini(struct proxy *p);

/* Whether u is fetched through p: a proxy is set and u's host is not
 * listed in no_proxy. */
bool proxy_applies(const struct proxy *p, const struct url *u);

/* ---- HTTP CONNECT ---- */

/* Write "CONNECT host:port HTTP/1.1" with Host and Proxy-Authorization
 * into buf. Returns the length, or -ENOSPC. */
int proxy_connect_request(const struct proxy *p, const struct url *u,
			  char *buf, size_t cap);

/* Parse the proxy's answer in buf[0..len). Returns 0 with *used the head's
 * length when a 2xx head is complete (bytes after it belong to the tunnel),
 * 1 when more bytes are needed, -1 with a sentence in why otherwise (a
 * refusal names the status; 407 says credentials are wanted). */
int proxy_connect_reply(const char *buf, size_t len, size_t *used,
			char *why, size_t whylen);

/* ---- SOCKS5 ---- */

enum socks_step {
	SOCKS_GREETING = 0,	/* sent methods, awaiting the choice */
	SOCKS_AUTH,		/* sent user/password, awaiting status */
	SOCKS_REQUEST,		/* sent CONNECT, awaiting the reply */
	SOCKS_DONE,
};

/* The greeting: version 5 and the methods we offer (none, and
 * user/password when p has a user). Returns its length. */
size_t socks_greeting(const struct proxy *p, unsigned char *buf);

/* The user/password sub-negotiation (RFC 1929). Returns its length. */
size_t socks_auth(const struct proxy *p, unsigned char *buf);

/* The CONNECT request for u: by name under socks5h, else by the address
 * addr (a struct sockaddr_in or _in6 resolved here). Returns its length,
 * or 0 when a name does not fit (over 255 bytes). */
size_t socks_request(const struct proxy *p, const struct url *u,
		     const void *addr, unsigned char *buf);

/* Parse what the proxy sent at step in buf[0..len). Returns 0 with *used
 * and *next (the step to go to: SOCKS_AUTH after a greeting that chose
 * user/password, SOCKS_REQUEST, or SOCKS_DONE), 1 when more bytes are
 * needed, -1 with a sentence in why. */
int socks_reply(const struct proxy *p, enum socks_step step,
		const unsigned char *buf, size_t len, size_t *used,
		enum socks_step *next, char *why, size_t whylen);

#endif
