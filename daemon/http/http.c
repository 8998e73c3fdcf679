/* The HTTP/1.1 client codec: GET requests out, llhttp callbacks into a
 * bounded struct http_resp.
 *
 * llhttp (8.1, loose mode) does the framing; the callbacks here only count,
 * copy three header values into fixed arrays and hash the body. The final
 * response's on_message_complete returns HPE_PAUSED so llhttp_execute()
 * stops exactly at the end of the response and llhttp_get_error_pos() tells
 * how much of the buffer it took. Our own errors (limits, max_body) are
 * recorded in the struct before the callback returns -1; llhttp's are
 * translated after llhttp_execute() returns. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

/* The response headers we keep; an index into the kept[] table below. */
enum http_hdr {
	HDR_NONE = 0,
	HDR_CONTENT_TYPE,
	HDR_LOCATION,
	HDR_RETRY_AFTER,
	HDR_CONTENT_ENCODING,
	HDR_ETAG,
	HDR_LAST_MODIFIED,
	HDR_COUNT
};

static const struct {
	const char *name;
	uint8_t len;
} kept_names[HDR_COUNT] = {
	[HDR_CONTENT_TYPE] = { "content-type", 12 },
	[HDR_LOCATION] = { "location", 8 },
	[HDR_RETRY_AFTER] = { "retry-after", 11 },
	[HDR_CONTENT_ENCODING] = { "content-encoding", 16 },
	[HDR_ETAG] = { "etag", 4 },
	[HDR_LAST_MODIFIED] = { "last-modified", 13 },
};

/* ---- request ---------------------------------------------------------- */

/* An append-only writer that remembers overflow, so the builder checks once. */
struct req_out {
	char *p;
	size_t len, cap;
	bool full;
};

static void out_put(struct req_out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct req_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_header(struct req_out *o, const char *name, const char *value)
{
	out_str(o, name);
	out_put(o, ": ", 2);
	out_str(o, value);
	out_put(o, "\r\n", 2);
}

/* The value of the last header called name in h[0..n), or NULL. */
static const char *header_find(const struct config_header *h, size_t n,
			       const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			v = h[i].value;
	return v;
}

static bool header_is_builtin(const char *name)
{
	return strcasecmp(name, "Host") == 0 ||
	       strcasecmp(name, "User-Agent") == 0 ||
	       strcasecmp(name, "Accept") == 0 ||
	       strcasecmp(name, "Accept-Encoding") == 0;
}

/* A CR or LF would let a job's header smuggle in a header or a request. */
static bool headers_clean(const struct config_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strpbrk(h[i].name, "\r\n") || strpbrk(h[i].value, "\r\n"))
			return false;
	return true;
}

/* Host, User-Agent, Accept: the job's value, else the config's, else ours. */
static void out_builtin(struct req_out *o, const char *name, const char *dflt,
			const struct config_header *cfg, size_t n_cfg,
			const struct config_header *job, size_t n_job)
{
	const char *v = header_find(job, n_job, name);

	if (!v)
		v = header_find(cfg, n_cfg, name);
	if (v)
		out_header(o, name, v);
	else if (dflt)
		out_header(o, name, dflt);
}

static void out_host(struct req_out *o, const struct url *u)
{
	char port[8];
	bool dflt = u->port == (u->https ? 443 : 80);

	out_str(o, "Host: ");
	if (u->ipv6)
		out_put(o, "[", 1);
	out_str(o, u->host);
	if (u->ipv6)
		out_put(o, "]", 1);
	if (!dflt) {
		snprintf(port, sizeof(port), ":%u", (unsigned)u->port);
		out_str(o, port);
	}
	out_put(o, "\r\n", 2);
}

int http_build_request(char *buf, size_t cap, const struct url *u,
		       const struct http_req_opts *opts)
{
	struct req_out o = { .p = buf, .cap = cap };
	const struct config_header *cfg = opts->cfg_headers;
	const struct config_header *job = opts->job_headers;
	size_t n_cfg = opts->n_cfg, n_job = opts->n_job;

	if (!headers_clean(cfg, n_cfg) || !headers_clean(job, n_job))
		return -EINVAL;
	if (cap == 0)
		return -ENOSPC;

	out_put(&o, "GET ", 4);
	out_str(&o, opts->absolute_form ? u->href : url_path(u));
	out_put(&o, " HTTP/1.1\r\n", 11);
	if (header_find(job, n_job, "Host") || header_find(cfg, n_cfg, "Host"))
		out_builtin(&o, "Host", NULL, cfg, n_cfg, job, n_job);
	else
		out_host(&o, u);
	out_builtin(&o, "User-Agent", opts->user_agent, cfg, n_cfg, job, n_job);
	out_builtin(&o, "Accept", "*/*", cfg, n_cfg, job, n_job);
	out_builtin(&o, "Accept-Encoding", opts->accept_encoding, cfg, n_cfg,
		    job, n_job);
	if (opts->absolute_form && opts->proxy_auth_b64) {
		out_str(&o, "Proxy-Authorization: Basic ");
		out_str(&o, opts->proxy_auth_b64);
		out_put(&o, "\r\n", 2);
	}
	for (size_t i = 0; i < n_cfg; i++) {
		if (header_is_builtin(cfg[i].name) ||
		    header_find(job, n_job, cfg[i].name))
			continue;
		out_header(&o, cfg[i].name, cfg[i].value);
	}
	for (size_t i = 0; i < n_job; i++)
		if (!header_is_builtin(job[i].name))
			out_header(&o, job[i].name, job[i].value);
	out_put(&o, "\r\n", 2);

	if (o.full)
		return -ENOSPC;
	buf[o.len] = '\0';
	return (int)o.len;
}

/* ---- response: callbacks ---------------------------------------------- */

static int resp_fail(struct http_resp *r, enum http_err err, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

/* Record our own error; returns -1 for the callback to hand to llhttp. */
static int resp_fail(struct http_resp *r, enum http_err err, const char *fmt,
		     ...)
{
	va_list ap;

	r->err = err;
	decoder_fini(&r->dec);
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* Bound the head: llhttp itself keeps nothing, but a peer that never ends
 * its headers must not keep us parsing forever. */
static int head_too_large(struct http_resp *r)
{
	return resp_fail(r, HTTP_E_PROTOCOL,
			 "response headers too large (over %d KiB)",
			 HTTP_HEAD_MAX / 1024);
}

static int head_count(struct http_resp *r, size_t n)
{
	r->head_bytes += n;
	return r->head_bytes > HTTP_HEAD_MAX ? head_too_large(r) : 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
	(void)at;
	return head_count(p->data, len);
}

static int on_status_complete(llhttp_t *p)
{
	/* "HTTP/1.1 200 " and the CRLF, which no callback reports */
	return head_count(p->data, 15);
}

static enum http_hdr header_match(const struct http_resp *r)
{
	for (int h = HDR_NONE + 1; h < HDR_COUNT; h++)
		if (r->name_len == kept_names[h].len &&
		    strncasecmp(r->name, kept_names[h].name, r->name_len) == 0)
			return h;
	return HDR_NONE;
}

/* Names may arrive in pieces; keep only enough of one to recognise it. */
static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;

	if (r->name_len <= sizeof(r->name) &&
	    len <= sizeof(r->name) - r->name_len)
		memcpy(r->name + r->name_len, at, len);
	r->name_len = len > 255u - r->name_len ? 255 : r->name_len + len;
	return head_count(r, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http_resp *r = p->data;
	enum http_hdr h = HDR_NONE;

	if (++r->n_headers > HTTP_HEADERS_MAX)
		return resp_fail(r, HTTP_E_PROTOCOL,
				 "response headers too large (over %d lines)",
				 HTTP_HEADERS_MAX);
	/* trailers and interim responses never set what we keep */
	if (!r->head_done && p->status_code >= 200)
		h = header_match(r);
	if (h != HDR_NONE && (r->seen & (1u << h)))
		h = HDR_NONE;
	r->seen |= h != HDR_NONE ? 1u << h : 0;
	r->cur = h;
	r->val_len = 0;
	r->name_len = 0;
	return head_count(r, 4); /* ": " and CRLF */
}

static char *kept_value(struct http_resp *r, size_t *cap)
{
	switch (r->cur) {
	case HDR_CONTENT_TYPE:
		*cap = sizeof(r->content_type);
		return r->content_type;
	case HDR_LOCATION:
		*cap = sizeof(r->location);
		return r->location;
	case HDR_RETRY_AFTER:
		*cap = sizeof(r->retry_after);
		return r->retry_after;
	case HDR_CONTENT_ENCODING:
		*cap = sizeof(r->content_encoding);
		return r->content_encoding;
	case HDR_ETAG:
		*cap = sizeof(r->etag);
		return r->etag;
	case HDR_LAST_MODIFIED:
		*cap = sizeof(r->last_modified);
		return r->last_modified;
	default:
		*cap = 0;
		return NULL;
	}
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;
	size_t cap, n = len;
	char *v = kept_value(r, &cap);

	if (v) {
		/* a cut Location would redirect somewhere else: drop it */
		if (r->cur == HDR_LOCATION && len >= cap - r->val_len) {
			r->location_too_long = true;
			r->location[0] = '\0';
			r->cur = HDR_NONE;
			return head_count(r, len);
		}
		if (n >= cap - r->val_len)
			n = cap - 1 - r->val_len;
		memcpy(v + r->val_len, at, n);
		r->val_len += n;
		v[r->val_len] = '\0';
	}
	return head_count(r, len);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct http_resp *r = p->data;
	size_t cap;
	char *v = kept_value(r, &cap);

	/* llhttp strips leading white space of a value, not trailing */
	if (v) {
		while (r->val_len && (v[r->val_len - 1] == ' ' ||
				      v[r->val_len - 1] == '\t'))
			r->val_len--;
		v[r->val_len] = '\0';
	}
	r->cur = HDR_NONE;
	return 0;
}

static int start_decoding(struct http_resp *r);

/* Returning 1 tells llhttp the message has no body. It must be said for 1xx,
 * 204 and 304 too (RFC 9112 6.3): llhttp would otherwise wait for the bytes
 * of a Content-Length those carry. */
static int on_headers_complete(llhttp_t *p)
{
	struct http_resp *r = p->data;
	int code = p->status_code;

	if (code < 100 || code > 599)
		return resp_fail(r, HTTP_E_PROTOCOL,
				 "malformed response: status %03d", code);
	/* we never ask to upgrade, so a switch is the peer's confusion */
	if (code == 101)
		return resp_fail(r, HTTP_E_PROTOCOL,
				 "unexpected 101 Switching Protocols");
	if (code < 200)
		return 1;
	r->status = code;
	r->head_done = true;
	if (r->location_too_long && http_status_is_redirect(code))
		return resp_fail(r, HTTP_E_PROTOCOL,
				 "Location header longer than %d bytes",
				 URL_MAX);
	if (r->head_request || code == 204 || code == 304)
		return 1;
	/* refuse a declared oversize body before it costs any bandwidth */
	if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED) &&
	    p->content_length > r->max_body)
		return resp_fail(r, HTTP_E_TOO_LARGE,
				 "body exceeds http.max_body (%llu bytes)",
				 (unsigned long long)r->max_body);
	return start_decoding(r);
}

/* A coding we decode gets a decoder; any other is kept as received. */
static int start_decoding(struct http_resp *r)
{
	enum decode_kind k;

	if (!r->decode || !r->content_encoding[0])
		return 0;
	k = decode_kind_of(r->content_encoding);
	if (k == DECODE_IDENTITY || k == DECODE_OTHER)
		return 0;
	if (decoder_init(&r->dec, k) < 0)
		return resp_fail(r, HTTP_E_PROTOCOL,
				 "out of memory for the %s decoder",
				 r->content_encoding);
	return 0;
}

/* One piece of the body as stored and hashed: decoded, when decoding. The
 * limit counts these bytes, so a decompression bomb stops at max_body. */
static int body_piece(void *arg, const char *p, size_t n)
{
	struct http_resp *r = arg;

	if (n > r->max_body - r->body_bytes)
		return resp_fail(r, HTTP_E_TOO_LARGE,
				 "body exceeds http.max_body (%llu bytes)%s",
				 (unsigned long long)r->max_body,
				 r->dec.kind ? " once decoded" : "");
	if (!r->no_hash)
		sha256_update(&r->sha, p, n);
	r->body_bytes += n;
	if (r->on_body)
		r->on_body(r->body_arg, p, n);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;
	char why[128];
	int rc;

	r->wire_bytes += len;
	if (!r->dec.kind)
		return body_piece(r, at, len);
	rc = decoder_feed(&r->dec, at, len, body_piece, r, why, sizeof(why));
	if (rc == -1 && !r->err)
		return resp_fail(r, HTTP_E_PROTOCOL, "%s", why);
	return rc ? -1 : 0;
}

static int on_chunk_header(llhttp_t *p)
{
	struct http_resp *r = p->data;

	r->chunk_ext = 0;
	return 0;
}

/* Extensions are ignored (RFC 9112 7.1.1) but must not be endless. */
static int on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;

	(void)at;
	r->chunk_ext += len;
	if (r->chunk_ext > HTTP_CHUNK_EXT_MAX)
		return resp_fail(r, HTTP_E_PROTOCOL,
				 "chunk extension longer than %d bytes",
				 HTTP_CHUNK_EXT_MAX);
	return 0;
}

static void resp_forget_head(struct http_resp *r)
{
	r->cur = HDR_NONE;
	r->seen = 0;
	r->name_len = 0;
	r->val_len = 0;
	r->location_too_long = false;
	r->content_type[0] = '\0';
	r->retry_after[0] = '\0';
	r->location[0] = '\0';
	r->content_encoding[0] = '\0';
	r->etag[0] = '\0';
	r->last_modified[0] = '\0';
}

static int on_message_complete(llhttp_t *p)
{
	struct http_resp *r = p->data;

	/* an interim response: the real one follows on the same bytes */
	if (p->status_code < 200) {
		resp_forget_head(r);
		return 0;
	}
	if (r->dec.kind) {
		char why[128];

		if (decoder_finish(&r->dec, why, sizeof(why)) < 0)
			return resp_fail(r, HTTP_E_PROTOCOL, "%s", why);
		decoder_fini(&r->dec);
	}
	r->complete = true;
	/* only meaningful now: llhttp resets its flags once we return */
	r->keep_alive = llhttp_should_keep_alive(p);
	return HPE_PAUSED;
}

/* Outlives every parser, as llhttp requires. */
static const llhttp_settings_t resp_settings = {
	.on_status = on_status,
	.on_status_complete = on_status_complete,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_chunk_header = on_chunk_header,
	.on_chunk_extension_name = on_chunk_extension,
	.on_chunk_extension_value = on_chunk_extension,
	.on_message_complete = on_message_complete,
};

/* ---- response: entry points ------------------------------------------- */

void http_resp_init(struct http_resp *r, uint64_t max_body, bool head_request)
{
	/* field by field: a memset would clear 8 KiB of location each time */
	llhttp_init(&r->parser, HTTP_RESPONSE, &resp_settings);
	r->parser.data = r;
	r->max_body = max_body;
	r->body_bytes = 0;
	r->wire_bytes = 0;
	r->decode = false;
	r->no_hash = false;
	r->rx_bytes = 0;
	memset(&r->dec, 0, sizeof(r->dec));
	sha256_init(&r->sha);
	r->on_body = NULL;
	r->body_arg = NULL;
	r->status = 0;
	r->err = HTTP_E_NONE;
	r->head_request = head_request;
	r->head_done = false;
	r->complete = false;
	r->keep_alive = false;
	r->truncated = false;
	r->no_bytes = false;
	r->head_bytes = 0;
	r->head_fed = 0;
	r->n_headers = 0;
	r->chunk_ext = 0;
	r->detail[0] = '\0';
	resp_forget_head(r);
}

int http_resp_feed(struct http_resp *r, const char *data, size_t len,
		   size_t *used)
{
	llhttp_errno_t e;
	const char *pos;

	*used = 0;
	if (r->err)
		return HTTP_ERROR;
	if (r->complete)
		return HTTP_DONE;
	if (len == 0)
		return HTTP_MORE;

	r->rx_bytes += len;
	e = llhttp_execute(&r->parser, data, len);
	if (e == HPE_OK) {
		*used = len;
		/* white space between header lines reaches no callback */
		if (!r->head_done) {
			if (len > HTTP_HEAD_MAX - r->head_fed) {
				head_too_large(r);
				return HTTP_ERROR;
			}
			r->head_fed += len;
		}
		return HTTP_MORE;
	}
	if (e == HPE_PAUSED && r->complete) {
		*used = (size_t)(llhttp_get_error_pos(&r->parser) - data);
		if (*used < len)
			r->keep_alive = false;
		return HTTP_DONE;
	}
	/* where llhttp stopped: the same however the bytes were split */
	pos = llhttp_get_error_pos(&r->parser);
	*used = pos >= data && pos <= data + len ? (size_t)(pos - data) : len;
	if (!r->err)
		resp_fail(r, HTTP_E_PROTOCOL, "malformed response: %s",
			  llhttp_get_error_reason(&r->parser));
	return HTTP_ERROR;
}

void http_resp_fini(struct http_resp *r)
{
	decoder_fini(&r->dec);
}

int http_resp_eof(struct http_resp *r)
{
	if (r->err)
		return HTTP_ERROR;
	if (r->complete)
		return HTTP_DONE;
	/* calls on_message_complete when the body was read-until-close */
	llhttp_finish(&r->parser);
	if (r->complete)
		return HTTP_DONE;
	r->truncated = true;
	r->no_bytes = r->rx_bytes == 0;
	resp_fail(r, HTTP_E_PROTOCOL,
		  "connection closed before the response was complete");
	return HTTP_ERROR;
}
