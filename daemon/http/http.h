/* The HTTP/1.1 client codec: build a GET request, and turn response bytes
 * into a bounded struct http_resp through llhttp. Sees buffers only, never
 * sockets, so a fuzz target drives it (fuzz/fuzz_http.c).
 *
 * One struct http_resp per connection, reset with http_resp_init() before
 * each response. Nothing here allocates but a content decoder
 * (http.decode): the headers we keep are copied into fixed arrays, the body streams into the SHA-256 (and the optional body
 * sink, which may keep it) and is not kept here. Bytes
 * after a complete response are never parsed: we do not pipeline, so their
 * presence (with or without "Connection: close") means the peer is out of
 * step and the connection must not be reused (keep_alive is cleared). */
#ifndef RF_HTTP_H
#define RF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "base/sha256.h"
#include "config/config.h"
#include "http/decode.h"
#include "http/url.h"

#define HTTP_HEAD_MAX (64 * 1024)	/* status lines + headers + trailers */
#define HTTP_HEADERS_MAX 200		/* header lines, trailers included */
#define HTTP_CHUNK_EXT_MAX 4096		/* chunk extension bytes per chunk */

/* What http_resp_feed() and http_resp_eof() return. */
enum http_result {
	HTTP_MORE = 0,		/* need more bytes */
	HTTP_DONE = 1,		/* the final response is complete */
	HTTP_ERROR = -1,	/* r->err and r->detail say why */
};

enum http_err {
	HTTP_E_NONE = 0,
	HTTP_E_PROTOCOL,	/* malformed, oversized head, or truncated */
	HTTP_E_TOO_LARGE,	/* body over max_body: SPEC's body_too_large */
};

struct http_resp {
	llhttp_t parser;	/* parser.data == this struct */
	uint64_t max_body;	/* body bytes allowed, from http.max_body */
	uint64_t body_bytes;	/* hashed: chunking and (when decoding) the
				 * content coding removed; <= max_body */
	uint64_t wire_bytes;	/* body bytes as received, chunking removed */
	bool no_hash;		/* output.hash none: sha stays untouched;
				 * set by the caller after http_resp_init() */
	bool decode;		/* decode gzip, deflate, br, zstd bodies
				 * (http.decode); set by the caller after
				 * http_resp_init() */
	struct decoder dec;	/* while a coded body streams; freed when it
				 * ends, fails, or by http_resp_fini() */
	uint64_t rx_bytes;	/* bytes fed so far, 1xx responses included */
	struct sha256 sha;	/* of the body as received; caller finalises */
	/* Optional body sink: called with each piece of the body, chunking
	 * removed, after the max_body check, in order. NULL after
	 * http_resp_init(); set by the caller for this response. body_arg is
	 * only handed to on_body (the caller may keep its own state there;
	 * http_resp_init() clears it, so free what it points at first). */
	void (*on_body)(void *arg, const char *p, size_t n);
	void *body_arg;
	int status;		/* final (non-1xx) status, 0 before its head */
	enum http_err err;	/* HTTP_E_NONE until HTTP_ERROR was returned */
	bool head_request;	/* the request was HEAD: no body follows */
	bool head_done;		/* the final response's head is complete */
	bool complete;		/* the final response is complete */
	bool keep_alive;	/* valid once complete: connection reusable */
	bool truncated;		/* the peer closed before the response ended */
	bool no_bytes;		/* truncated before any byte: a reset */
	bool location_too_long;	/* a Location over URL_MAX was dropped */
	uint8_t cur;		/* which kept header the current value fills */
	uint8_t seen;		/* kept headers met; the first one wins */
	uint8_t name_len;	/* header name bytes so far, saturating */
	char name[16];		/* start of the current header name */
	uint32_t head_bytes;	/* head bytes seen through callbacks */
	uint32_t head_fed;	/* bytes fed while no head was complete */
	uint32_t n_headers;	/* header and trailer lines so far */
	uint32_t chunk_ext;	/* extension bytes of the current chunk */
	uint32_t val_len;	/* bytes of the current kept value */
	char content_type[128];	/* "" when absent; truncated if longer */
	char retry_after[64];	/* "" when absent; truncated if longer */
	char content_encoding[24]; /* "" when absent; truncated if longer */
	char etag[128];		/* "" when absent; truncated if longer */
	char last_modified[40];	/* "" when absent; truncated if longer */
	char detail[160];	/* "" or a sentence for the error record */
	char location[URL_MAX + 1]; /* "" when absent or too long; as sent */
};

/* What goes into a request besides its URL; borrowed. */
struct http_req_opts {
	const char *user_agent;
	const char *accept_encoding;	/* NULL: none sent */
	bool absolute_form;		/* through an HTTP proxy: the whole
					 * URL in the request line */
	const char *proxy_auth_b64;	/* with it: Basic credentials for
					 * Proxy-Authorization, or NULL */
	const struct config_header *cfg_headers;
	size_t n_cfg;
	const struct config_header *job_headers;
	size_t n_job;
};

/* Write a GET request for u into buf: request line (origin-form, or
 * absolute-form through a proxy), Host (with the port unless it is the
 * scheme's default; IPv6 in brackets), User-Agent, Accept, Accept-Encoding,
 * Proxy-Authorization when given, the configured headers, then the job's
 * headers. A job header replaces a configured one of the same name
 * (case-insensitive); either replaces a built-in Host, User-Agent, Accept
 * or Accept-Encoding of that name. Returns the length (buf is
 * NUL-terminated), -ENOSPC when the request and its NUL do not fit in cap
 * bytes, or -EINVAL when a header name or value holds CR or LF; on failure
 * buf's contents are unspecified. Only reads its arguments. */
int http_build_request(char *buf, size_t cap, const struct url *u,
		       const struct http_req_opts *o);

/* Make r ready for a new response (first use, or the next response on a
 * kept-alive connection). max_body caps the body (0 allows only empty ones);
 * head_request says the request was HEAD, so no body follows. Never fails,
 * never allocates; cheap enough to call per response. */
void http_resp_init(struct http_resp *r, uint64_t max_body, bool head_request);

/* Free what a response cut short still holds (its decoder). Harmless
 * after any ending; call before dropping a connection mid-response. */
void http_resp_fini(struct http_resp *r);

/* Parse len bytes of response. Interim 1xx responses are skipped whole.
 * Returns HTTP_MORE when all len bytes were taken and more are needed;
 * HTTP_DONE when the final response is complete, with *used the bytes that
 * belong to it (fewer than len means trailing bytes: keep_alive is then
 * false); HTTP_ERROR with r->err and r->detail set and *used where parsing
 * stopped (diagnostics only). After DONE or ERROR,
 * further calls return the same and take nothing. data is only read. */
int http_resp_feed(struct http_resp *r, const char *data, size_t len,
		   size_t *used);

/* The peer closed the connection (a read returned 0). Returns HTTP_DONE when
 * that ends a read-until-close body (or the response was already complete);
 * else HTTP_ERROR, with r->truncated set and detail "connection closed
 * before the response was complete", and r->no_bytes set when nothing at
 * all had arrived: classify those as `reset` rather than `protocol`. */
int http_resp_eof(struct http_resp *r);

/* Whether status sends the client elsewhere through Location (RFC 9110
 * 15.4: 301, 302, 303, 307, 308; not 300, 304 or 305). */
static inline bool http_status_is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

#endif
