/* One loop per library: feed the input, drain the output in DECODE_PIECE
 * pieces, stop at the end of the stream. Bytes after the end of a stream
 * are an error: a body that carries junk after its compressed data is not
 * the body the server meant. */
#include "http/decode.h"

#include <brotli/decode.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#define ZSTD_WINDOW_LOG_MAX 23	/* 8 MiB */

static bool ws(char c)
{
	return c == ' ' || c == '\t';
}

enum decode_kind decode_kind_of(const char *ce)
{
	static const struct {
		const char *name;
		enum decode_kind kind;
	} names[] = {
		{ "gzip", DECODE_GZIP },	{ "x-gzip", DECODE_GZIP },
		{ "deflate", DECODE_DEFLATE },	{ "br", DECODE_BR },
		{ "zstd", DECODE_ZSTD },	{ "identity", DECODE_IDENTITY },
	};
	size_t n;

	while (ws(*ce))
		ce++;
	n = strlen(ce);
	while (n && ws(ce[n - 1]))
		n--;
	if (n == 0)
		return DECODE_IDENTITY;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(names[i].name, ce, n) == 0)
			return names[i].kind;
	return DECODE_OTHER;
}

int decoder_init(struct decoder *d, enum decode_kind kind)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	switch (kind) {
	case DECODE_GZIP:
	case DECODE_DEFLATE: {
		z_stream *z = calloc(1, sizeof(*z));

		/* 16 + 15: a gzip wrapper only; deflate decides on the
		 * first bytes (decoder_feed) */
		if (!z || inflateInit2(z, kind == DECODE_GZIP ? 16 + 15 : 15) !=
				  Z_OK) {
			free(z);
			return -ENOMEM;
		}
		d->state = z;
		break;
	}
	case DECODE_BR:
		d->state = BrotliDecoderCreateInstance(NULL, NULL, NULL);
		if (!d->state)
			return -ENOMEM;
		break;
	case DECODE_ZSTD:
		d->state = ZSTD_createDStream();
		if (!d->state)
			return -ENOMEM;
		ZSTD_DCtx_setParameter(d->state, ZSTD_d_windowLogMax,
				       ZSTD_WINDOW_LOG_MAX);
		break;
	default:
		break;
	}
	return 0;
}

static int fail(char *detail, size_t dlen, const char *what, const char *why)
{
	snprintf(detail, dlen, "%s body does not decode: %s", what, why);
	return -1;
}

/* deflate as sent in the wild: RFC 9110 says zlib-wrapped, some servers
 * send raw deflate. A zlib header's first two bytes are a multiple of 31. */
static int sniff_deflate(struct decoder *d, const unsigned char *in, size_t n)
{
	z_stream *z = d->state;
	unsigned char h0, h1;

	if (d->sniffed || n == 0)
		return 0;
	if (!d->have_first && n == 1) {
		/* one byte tells nothing yet: zlib keeps it meanwhile */
		d->first = in[0];
		d->have_first = true;
		return 0;
	}
	h0 = d->have_first ? d->first : in[0];
	h1 = d->have_first ? in[0] : in[1];
	d->sniffed = true;
	if ((h0 & 0x0f) == 8 && ((h0 << 8) | h1) % 31 == 0)
		return 0;
	d->raw_deflate = true;
	inflateEnd(z);
	memset(z, 0, sizeof(*z));
	if (inflateInit2(z, -15) != Z_OK)
		return -1;
	if (d->have_first) {
		/* the byte held back goes to the raw inflater first */
		char one[DECODE_PIECE];

		z->next_in = &d->first;
		z->avail_in = 1;
		z->next_out = (unsigned char *)one;
		z->avail_out = sizeof(one);
		if (inflate(z, Z_NO_FLUSH) == Z_DATA_ERROR)
			return -2;
	}
	return 0;
}

static int feed_zlib(struct decoder *d, const char *in, size_t n,
		     int (*out)(void *, const char *, size_t), void *arg,
		     char *detail, size_t dlen)
{
	z_stream *z = d->state;
	const char *what = d->kind == DECODE_GZIP ? "gzip" : "deflate";
	char buf[DECODE_PIECE];
	int rc;

	if (d->kind == DECODE_DEFLATE &&
	    sniff_deflate(d, (const unsigned char *)in, n) < 0)
		return fail(detail, dlen, what, "out of memory");
	z->next_in = (unsigned char *)(uintptr_t)in;
	z->avail_in = (unsigned)n;
	/* until the input is used up and the last call left room: a full
	 * buffer may mean more output is waiting inside zlib */
	do {
		if (d->ended && z->avail_in)
			return fail(detail, dlen, what,
				    "bytes after the end of the stream");
		z->next_out = (unsigned char *)buf;
		z->avail_out = sizeof(buf);
		rc = inflate(z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return fail(detail, dlen, what,
				    z->msg ? z->msg : "corrupt data");
		if (rc == Z_STREAM_END)
			d->ended = true;
		if (sizeof(buf) > z->avail_out) {
			int r = out(arg, buf, sizeof(buf) - z->avail_out);

			if (r)
				return r;
		} else if (rc == Z_BUF_ERROR) {
			break;		/* no progress possible */
		}
	} while (z->avail_in || (z->avail_out == 0 && !d->ended));
	return 0;
}

static int feed_br(struct decoder *d, const char *in, size_t n,
		   int (*out)(void *, const char *, size_t), void *arg,
		   char *detail, size_t dlen)
{
	const uint8_t *next_in = (const uint8_t *)in;
	size_t avail_in = n;
	char buf[DECODE_PIECE];

	while (avail_in || !d->ended) {
		uint8_t *next_out = (uint8_t *)buf;
		size_t avail_out = sizeof(buf);
		BrotliDecoderResult rc;

		if (d->ended)
			return fail(detail, dlen, "br",
				    "bytes after the end of the stream");
		rc = BrotliDecoderDecompressStream(d->state, &avail_in,
						   &next_in, &avail_out,
						   &next_out, NULL);
		if (rc == BROTLI_DECODER_RESULT_ERROR)
			return fail(detail, dlen, "br",
				    BrotliDecoderErrorString(
					    BrotliDecoderGetErrorCode(d->state)));
		if (rc == BROTLI_DECODER_RESULT_SUCCESS)
			d->ended = true;
		if (avail_out < sizeof(buf)) {
			int r = out(arg, buf, sizeof(buf) - avail_out);

			if (r)
				return r;
		}
		if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
			break;
	}
	return 0;
}

static int feed_zstd(struct decoder *d, const char *in, size_t n,
		     int (*out)(void *, const char *, size_t), void *arg,
		     char *detail, size_t dlen)
{
	ZSTD_inBuffer ib = { in, n, 0 };
	char buf[DECODE_PIECE];
	bool full;

	/* until the input is used up and a call left room in the output */
	do {
		ZSTD_outBuffer ob = { buf, sizeof(buf), 0 };
		size_t before = ib.pos;
		size_t rc = ZSTD_decompressStream(d->state, &ob, &ib);

		if (ZSTD_isError(rc))
			return fail(detail, dlen, "zstd", ZSTD_getErrorName(rc));
		/* 0: a frame ended and is flushed; more bytes may start
		 * another (RFC 8878). A call that moved nothing says
		 * nothing about the end. */
		if (ob.pos || ib.pos > before)
			d->ended = rc == 0;
		if (ob.pos) {
			int r = out(arg, buf, ob.pos);

			if (r)
				return r;
		}
		full = ob.pos == ob.size;
	} while (ib.pos < ib.size || full);
	return 0;
}

int decoder_feed(struct decoder *d, const char *in, size_t n,
		 int (*out)(void *arg, const char *p, size_t len), void *arg,
		 char *detail, size_t dlen)
{
	if (n)
		d->fed = true;
	switch (d->kind) {
	case DECODE_GZIP:
	case DECODE_DEFLATE:
		return feed_zlib(d, in, n, out, arg, detail, dlen);
	case DECODE_BR:
		return feed_br(d, in, n, out, arg, detail, dlen);
	case DECODE_ZSTD:
		return feed_zstd(d, in, n, out, arg, detail, dlen);
	default:
		return n ? out(arg, in, n) : 0;
	}
}

int decoder_finish(struct decoder *d, char *detail, size_t dlen)
{
	static const char *const names[] = {
		[DECODE_GZIP] = "gzip", [DECODE_DEFLATE] = "deflate",
		[DECODE_BR] = "br", [DECODE_ZSTD] = "zstd",
	};

	/* an empty body with a coding named is no body, not a broken one */
	if (d->kind == DECODE_IDENTITY || d->kind == DECODE_OTHER ||
	    d->ended || !d->fed)
		return 0;
	return fail(detail, dlen, names[d->kind],
		    "the compressed stream is truncated");
}

void decoder_fini(struct decoder *d)
{
	switch (d->kind) {
	case DECODE_GZIP:
	case DECODE_DEFLATE:
		if (d->state)
			inflateEnd(d->state);
		free(d->state);
		break;
	case DECODE_BR:
		if (d->state)
			BrotliDecoderDestroyInstance(d->state);
		break;
	case DECODE_ZSTD:
		ZSTD_freeDStream(d->state);
		break;
	default:
		break;
	}
	memset(d, 0, sizeof(*d));
}
