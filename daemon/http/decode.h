/* Streaming content decoding (http.decode): gzip and deflate through zlib,
 * br through libbrotli, zstd through libzstd. Sees buffers only (fuzzed
 * through fuzz_http). Decoded bytes leave in pieces of at most
 * DECODE_PIECE through a callback, so a small compressed body that
 * expands without bound (a decompression bomb) is cut off by the caller's
 * limit while memory stays at the decoder's own state: zlib's 32 KiB
 * window, brotli's (at most 16 MiB, as the format allows) and zstd's
 * (bounded here to 8 MiB, libzstd's own default for streaming). */
#ifndef RF_DECODE_H
#define RF_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#define DECODE_PIECE (16 * 1024)
#define DECODE_ACCEPT "gzip, br, zstd"	/* what we ask for */

enum decode_kind {
	DECODE_IDENTITY = 0,	/* no content coding: bytes pass as they are */
	DECODE_GZIP,
	DECODE_DEFLATE,		/* zlib-wrapped, or raw as some servers send */
	DECODE_BR,
	DECODE_ZSTD,
	DECODE_OTHER,		/* a coding we do not decode: kept as received */
};

struct decoder {
	enum decode_kind kind;
	void *state;		/* owned: z_stream, brotli or zstd state */
	bool ended;		/* the compressed stream is complete */
	bool raw_deflate;	/* deflate without its zlib wrapper */
	bool sniffed;		/* deflate: wrapper decided */
	bool fed;		/* some input arrived */
	bool have_first;	/* deflate: first byte seen, wrapper unknown */
	unsigned char first;	/* that byte */
};

/* The kind for a Content-Encoding value (case-insensitive, surrounding
 * white space ignored; "x-gzip" is gzip). A list of codings is OTHER:
 * servers that stack codings are too rare to be worth the risk. */
enum decode_kind decode_kind_of(const char *content_encoding);

/* Set d up for kind (IDENTITY and OTHER need no state). Returns 0 or
 * -ENOMEM. Free with decoder_fini(). */
int decoder_init(struct decoder *d, enum decode_kind kind);

/* Decode n bytes, handing each decoded piece to out(arg, p, len); a
 * nonzero return from out stops decoding and is returned. Returns 0, a
 * value from out, or -1 with a sentence in detail (corrupt data, or bytes
 * after the end of the stream). */
int decoder_feed(struct decoder *d, const char *in, size_t n,
		 int (*out)(void *arg, const char *p, size_t len), void *arg,
		 char *detail, size_t dlen);

/* The body ended: returns 0 when the compressed stream was complete, else
 * -1 with a sentence in detail. */
int decoder_finish(struct decoder *d, char *detail, size_t dlen);

/* Free d's state; harmless on a zeroed or finished decoder. */
void decoder_fini(struct decoder *d);

#endif
