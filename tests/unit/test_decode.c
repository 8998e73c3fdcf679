/* Unit tests for decode.c: each coding decoded whole and a byte at a time,
 * corrupt, truncated and trailing bytes, a decompression bomb cut off by
 * the caller's limit, and Content-Encoding names. */
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "http/decode.h"
#include "tap.h"

#define PLAIN_MAX (1 << 20)

struct sink {
	char *p;
	size_t len, limit;
};

static int collect(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	if (n > DECODE_PIECE)
		return 2;		/* pieces must be bounded */
	if (s->len + n > s->limit)
		return 1;		/* the caller's max_body */
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

static char plain[PLAIN_MAX], out[PLAIN_MAX];

static size_t make_plain(size_t n)
{
	uint32_t x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		plain[i] = (char)('a' + (x >> 16) % 8);	/* compressible */
	}
	return n;
}

/* windowBits: 16+15 gzip, 15 zlib, -15 raw deflate */
static size_t zlib_pack(char *dst, size_t cap, const char *src, size_t n,
			int bits)
{
	z_stream z = { 0 };

	deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)(uintptr_t)src;
	z.avail_in = (unsigned)n;
	z.next_out = (unsigned char *)dst;
	z.avail_out = (unsigned)cap;
	deflate(&z, Z_FINISH);
	deflateEnd(&z);
	return cap - z.avail_out;
}

/* Decode src in pieces of step bytes (0: whole); returns feed's result. */
static int decode(enum decode_kind k, const char *src, size_t n, size_t step,
		  struct sink *s, char *why, size_t wlen, bool finish)
{
	struct decoder d;
	int rc = 0;

	s->p = out;
	s->len = 0;
	if (!s->limit)
		s->limit = sizeof(out);
	if (decoder_init(&d, k) < 0)
		return -99;
	for (size_t off = 0; off < n && !rc;) {
		size_t m = step && n - off > step ? step : n - off;

		rc = decoder_feed(&d, src + off, m, collect, s, why, wlen);
		off += m;
	}
	if (!rc && finish)
		rc = decoder_finish(&d, why, wlen);
	decoder_fini(&d);
	return rc;
}

static int roundtrip(enum decode_kind k, const char *packed, size_t n,
		     size_t plain_len)
{
	static const size_t steps[] = { 0, 1, 7, 4096 };
	char why[128];
	int ok = 1;

	for (size_t i = 0; i < 4; i++) {
		struct sink s = { 0 };
		int rc = decode(k, packed, n, steps[i], &s, why, sizeof(why),
				true);

		if (rc)
			printf("#   step %zu: rc %d: %s\n", steps[i], rc, why);
		ok &= TAP_CHECK(rc == 0 && s.len == plain_len &&
				!memcmp(out, plain, plain_len));
	}
	return ok;
}

static char packed[PLAIN_MAX + 1024];

static int test_gzip(void)
{
	size_t n = make_plain(300000);
	size_t m = zlib_pack(packed, sizeof(packed), plain, n, 16 + 15);

	return roundtrip(DECODE_GZIP, packed, m, n);
}

static int test_deflate_zlib_and_raw(void)
{
	size_t n = make_plain(70000);
	size_t m = zlib_pack(packed, sizeof(packed), plain, n, 15);
	int ok = roundtrip(DECODE_DEFLATE, packed, m, n);

	m = zlib_pack(packed, sizeof(packed), plain, n, -15);
	return ok & roundtrip(DECODE_DEFLATE, packed, m, n);
}

static int test_zstd_two_frames(void)
{
	size_t n = make_plain(200000);
	size_t a = ZSTD_compress(packed, sizeof(packed), plain, n / 2, 3);
	size_t b = ZSTD_compress(packed + a, sizeof(packed) - a, plain + n / 2,
				 n - n / 2, 3);

	if (ZSTD_isError(a) || ZSTD_isError(b))
		return 0;
	return roundtrip(DECODE_ZSTD, packed, a + b, n);
}

static int test_brotli(void)
{
	/* printf 'hello, brotli! hello, brotli! hello, brotli!\n' | brotli */
	static const unsigned char br[] = {
		0x1f, 0x2c, 0x00, 0xf8, 0x1d, 0xa9, 0x53, 0x9f, 0xbb, 0x70,
		0xad, 0x00, 0x22, 0x26, 0xa7, 0x42, 0xe8, 0x32, 0x8d, 0xed,
		0x2d, 0x07, 0x51, 0x84, 0x9f, 0x12, 0xe0, 0x22, 0x9d, 0xee,
		0xfd, 0x50, 0x00,
	};
	static const char want[] =
		"hello, brotli! hello, brotli! hello, brotli!\n";

	memcpy(plain, want, sizeof(want) - 1);
	return roundtrip(DECODE_BR, (const char *)br, sizeof(br),
			 sizeof(want) - 1);
}

static int test_corrupt_truncated_trailing(void)
{
	size_t n = make_plain(5000);
	size_t m = zlib_pack(packed, sizeof(packed), plain, n, 16 + 15);
	struct sink s = { 0 };
	char why[128];
	int ok = 1;

	packed[m / 2] ^= 0x55;
	ok &= TAP_CHECK(decode(DECODE_GZIP, packed, m, 0, &s, why,
			       sizeof(why), true) == -1);
	ok &= TAP_CHECK(strstr(why, "gzip body does not decode") != NULL);
	packed[m / 2] ^= 0x55;
	ok &= TAP_CHECK(decode(DECODE_GZIP, packed, m - 5, 0, &s, why,
			       sizeof(why), true) == -1);
	ok &= TAP_CHECK(strstr(why, "truncated") != NULL);
	memcpy(packed + m, "junk", 4);
	ok &= TAP_CHECK(decode(DECODE_GZIP, packed, m + 4, 0, &s, why,
			       sizeof(why), true) == -1);
	ok &= TAP_CHECK(strstr(why, "after the end") != NULL);
	ok &= TAP_CHECK(decode(DECODE_ZSTD, "not zstd", 8, 0, &s, why,
			       sizeof(why), true) == -1);
	ok &= TAP_CHECK(decode(DECODE_BR, "\xff\xff\xff\xff", 4, 0, &s, why,
			       sizeof(why), true) == -1);
	/* no bytes at all: an empty body, not a broken one */
	ok &= TAP_CHECK(decode(DECODE_GZIP, "", 0, 0, &s, why, sizeof(why),
			       true) == 0);
	return ok;
}

static int test_bomb_stops_at_limit(void)
{
	static char zeros[PLAIN_MAX];
	size_t m = zlib_pack(packed, sizeof(packed), zeros, sizeof(zeros),
			     16 + 15);
	struct sink s = { .limit = 100000 };
	char why[128];
	int ok = 1;

	ok &= TAP_CHECK(m < 2000);	/* 1 MiB of zeros, tiny on the wire */
	ok &= TAP_CHECK(decode(DECODE_GZIP, packed, m, 0, &s, why, sizeof(why),
			       true) == 1);
	ok &= TAP_CHECK(s.len <= 100000 && s.len > 100000 - DECODE_PIECE);
	return ok;
}

static int test_kind_of(void)
{
	int ok = 1;

	ok &= TAP_CHECK(decode_kind_of("gzip") == DECODE_GZIP);
	ok &= TAP_CHECK(decode_kind_of(" GZip ") == DECODE_GZIP);
	ok &= TAP_CHECK(decode_kind_of("x-gzip") == DECODE_GZIP);
	ok &= TAP_CHECK(decode_kind_of("br") == DECODE_BR);
	ok &= TAP_CHECK(decode_kind_of("zstd") == DECODE_ZSTD);
	ok &= TAP_CHECK(decode_kind_of("deflate") == DECODE_DEFLATE);
	ok &= TAP_CHECK(decode_kind_of("identity") == DECODE_IDENTITY);
	ok &= TAP_CHECK(decode_kind_of("") == DECODE_IDENTITY);
	ok &= TAP_CHECK(decode_kind_of("gzip, br") == DECODE_OTHER);
	ok &= TAP_CHECK(decode_kind_of("compress") == DECODE_OTHER);
	return ok;
}

int main(void)
{
	TAP_RUN(test_gzip);
	TAP_RUN(test_deflate_zlib_and_raw);
	TAP_RUN(test_zstd_two_frames);
	TAP_RUN(test_brotli);
	TAP_RUN(test_corrupt_truncated_trailing);
	TAP_RUN(test_bomb_stops_at_limit);
	TAP_RUN(test_kind_of);
	return tap_done();
}
