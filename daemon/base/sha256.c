/* SHA-256 (FIPS 180-4) with a portable compression function and, on x86-64
 * CPUs that have them, one built on the SHA extensions.
 *
 * Every body is hashed as it streams, ~50k 4 KiB responses a second, so the
 * compression function is the hot path: SHA-NI does a 4 KiB body several
 * times faster than plain C. The build has no -march flags, so the SHA-NI
 * code is compiled for its own target alone and picked at run time, once,
 * on first use; RINGFETCH_SHA256=portable forces the C code, and the choice
 * is logged at debug level. Both compression functions take any number of
 * whole blocks, and sha256_update() hands them the caller's buffer
 * directly; only a partial block at either end goes through s->buf.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/* Compress nblocks 64-byte blocks at p into the chaining state h. */
typedef void blocks_fn(uint32_t h[8], const uint8_t *p, size_t nblocks);

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. 16-byte aligned for the SHA-NI loads. */
static const uint32_t k256[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint32_t rotr(uint32_t x, unsigned int n)
{
	return x >> n | x << (32 - n);
}

/* The six logical functions of FIPS 180-4 §4.1.2. */
static inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) ^ (~x & z);
}

static inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) ^ (x & z) ^ (y & z);
}

static inline uint32_t bsig0(uint32_t x)
{
	return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}

static inline uint32_t bsig1(uint32_t x)
{
	return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}

static inline uint32_t ssig0(uint32_t x)
{
	return rotr(x, 7) ^ rotr(x, 18) ^ x >> 3;
}

static inline uint32_t ssig1(uint32_t x)
{
	return rotr(x, 17) ^ rotr(x, 19) ^ x >> 10;
}

/* W[t] for 16 <= t < 64 (§6.2.2 step 1) over a 16-word ring holding
 * W[t-16..t-1]; i is t % 16, a constant at every call site. */
static inline uint32_t w_next(uint32_t w[16], unsigned int i)
{
	w[i] += ssig1(w[(i + 14) & 15]) + w[(i + 9) & 15] +
		ssig0(w[(i + 1) & 15]);
	return w[i];
}

/* One round of §6.2.2 step 3. Rather than shift eight variables, each call
 * site names them rotated by one: only d and h change. */
#define RND(a, b, c, d, e, f, g, h, kt, wt)				\
	do {								\
		uint32_t t1_ = (h) + bsig1(e) + ch(e, f, g) + (kt) + (wt); \
		(d) += t1_;						\
		(h) = t1_ + bsig0(a) + maj(a, b, c);			\
	} while (0)

/* Eight rounds t = base + i .. base + i + 7, message word W(i + n). */
#define RND8(base, i, W)						\
	do {								\
		RND(a, b, c, d, e, f, g, h, k256[base + i + 0], W(i + 0)); \
		RND(h, a, b, c, d, e, f, g, k256[base + i + 1], W(i + 1)); \
		RND(g, h, a, b, c, d, e, f, k256[base + i + 2], W(i + 2)); \
		RND(f, g, h, a, b, c, d, e, k256[base + i + 3], W(i + 3)); \
		RND(e, f, g, h, a, b, c, d, k256[base + i + 4], W(i + 4)); \
		RND(d, e, f, g, h, a, b, c, k256[base + i + 5], W(i + 5)); \
		RND(c, d, e, f, g, h, a, b, k256[base + i + 6], W(i + 6)); \
		RND(b, c, d, e, f, g, h, a, k256[base + i + 7], W(i + 7)); \
	} while (0)

#define W_LOAD(i)	(w[i] = load_be32(p + 4 * (i)))
#define W_NEXT(i)	w_next(w, i)

static void blocks_portable(uint32_t hs[8], const uint8_t *p, size_t nblocks)
{
	for (; nblocks; nblocks--, p += 64) {
		uint32_t w[16];
		uint32_t a = hs[0], b = hs[1], c = hs[2], d = hs[3];
		uint32_t e = hs[4], f = hs[5], g = hs[6], h = hs[7];

		RND8(0, 0, W_LOAD);
		RND8(0, 8, W_LOAD);
		/* base steps by 16 so the ring index i stays a constant */
		for (unsigned int base = 16; base < 64; base += 16) {
			RND8(base, 0, W_NEXT);
			RND8(base, 8, W_NEXT);
		}

		hs[0] += a;
		hs[1] += b;
		hs[2] += c;
		hs[3] += d;
		hs[4] += e;
		hs[5] += f;
		hs[6] += g;
		hs[7] += h;
	}
}

#undef W_LOAD
#undef W_NEXT
#undef RND8
#undef RND

#if defined(__x86_64__)
#define SHA_NI __attribute__((target("sha,sse4.1")))

/* Rounds 4i .. 4i+3. sha256rnds2 does two rounds: it takes the state split
 * as {C,D,G,H} and {A,B,E,F} (A, C in the top lane) and W+K for the two
 * rounds in the low two lanes, and returns the new {A,B,E,F}; the old
 * {A,B,E,F} is then the new {C,D,G,H}. So the two registers swap roles
 * after each instruction and are back in place after two. */
static inline SHA_NI void ni_rounds4(__m128i *abef, __m128i *cdgh, __m128i w,
				     unsigned int i)
{
	__m128i wk = _mm_add_epi32(w, _mm_load_si128((const __m128i *)
						     &k256[4 * i]));

	*cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
	*abef = _mm_sha256rnds2_epu32(*abef, *cdgh,
				      _mm_shuffle_epi32(wk, 0x0e));
}

static SHA_NI void blocks_sha_ni(uint32_t hs[8], const uint8_t *p,
				 size_t nblocks)
{
	/* byte-swaps each 32-bit lane: message words are big-endian */
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11,
					   4, 5, 6, 7, 0, 1, 2, 3);
	__m128i abcd = _mm_loadu_si128((const __m128i *)&hs[0]);
	__m128i efgh = _mm_loadu_si128((const __m128i *)&hs[4]);
	__m128i badc = _mm_shuffle_epi32(abcd, 0xb1);
	__m128i hgfe = _mm_shuffle_epi32(efgh, 0x1b);
	/* lanes low to high: {F,E,B,A} and {H,G,D,C} */
	__m128i abef = _mm_alignr_epi8(badc, hgfe, 8);
	__m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xf0);

	for (; nblocks; nblocks--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh;
		__m128i m[4];	/* W[4j .. 4j+3] lives in m[j % 4] */

		for (unsigned int j = 0; j < 4; j++)
			m[j] = _mm_shuffle_epi8(_mm_loadu_si128(
				(const __m128i *)(p + 16 * j)), bswap);

#pragma GCC unroll 16
		for (unsigned int i = 0; i < 16; i++) {
			if (i >= 4) {
				/* W[t..t+3] from W[t-16..t-1]: msg1 adds
				 * sigma0(W[t-15..t-12]), the alignr brings
				 * W[t-7..t-4], and msg2 adds sigma1 of
				 * W[t-2], W[t-1] and of its own first two
				 * results. */
				__m128i m16 = m[i & 3], m12 = m[(i + 1) & 3];
				__m128i m8 = m[(i + 2) & 3];
				__m128i m4 = m[(i + 3) & 3];
				__m128i x = _mm_sha256msg1_epu32(m16, m12);

				x = _mm_add_epi32(x, _mm_alignr_epi8(m4, m8,
								     4));
				m[i & 3] = _mm_sha256msg2_epu32(x, m4);
			}
			ni_rounds4(&abef, &cdgh, m[i & 3], i);
		}

		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	__m128i abef_r = _mm_shuffle_epi32(abef, 0x1b);	/* {A,B,E,F} */
	__m128i cdgh_r = _mm_shuffle_epi32(cdgh, 0xb1);	/* {G,H,C,D} */

	abcd = _mm_blend_epi16(abef_r, cdgh_r, 0xf0);
	efgh = _mm_alignr_epi8(cdgh_r, abef_r, 8);
	_mm_storeu_si128((__m128i *)&hs[0], abcd);
	_mm_storeu_si128((__m128i *)&hs[4], efgh);
}

#undef SHA_NI

static bool cpu_has_sha_ni(void)
{
#if defined(__clang__)
	/* clang 14's __builtin_cpu_supports() rejects "sha": ask CPUID,
	 * leaf 1 ECX for SSE4.1 and leaf 7 EBX for SHA */
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1))
		return false;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
#else
	__builtin_cpu_init();
	return __builtin_cpu_supports("sha") &&
	       __builtin_cpu_supports("sse4.1");
#endif
}
#endif /* __x86_64__ */

/* RINGFETCH_SHA256=portable runs the portable code where SHA-NI exists,
 * so the fallback that other CPUs get can be tested and measured here. */
static bool portable_forced(void)
{
	const char *v = getenv("RINGFETCH_SHA256");

	return v && strcmp(v, "portable") == 0;
}

static blocks_fn *blocks_best(void)
{
#if defined(__x86_64__)
	if (!portable_forced() && cpu_has_sha_ni())
		return blocks_sha_ni;
#endif
	return blocks_portable;
}

static const char *blocks_name(blocks_fn *fn)
{
#if defined(__x86_64__)
	if (fn == blocks_sha_ni)
		return "sha-ni";
#endif
	return "portable";
}

/* NULL until first used, then the compression function for good (only
 * the tests' sha256_force_portable() changes it). Worker threads hash
 * bodies at once, so the pick runs exactly once, under pthread_once:
 * the CPU probe and the debug line happen once a process, and a thread
 * that finds NULL waits for the pick instead of probing too. */
static blocks_fn *blocks;
static pthread_once_t blocks_once = PTHREAD_ONCE_INIT;

static void blocks_pick(void)
{
	blocks_fn *fn = blocks_best();

	/* which code hashes is the first thing to ask of a slow large-body
	 * run */
	if (portable_forced())
		log_debug("sha256: %s compression (RINGFETCH_SHA256=portable)",
			  blocks_name(fn));
	else
		log_debug("sha256: %s compression", blocks_name(fn));
	/* a forced choice made before the first hash stays */
	__atomic_compare_exchange_n(&blocks, &(blocks_fn *){ NULL }, fn, false,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Kept out of line: the hashing hot path should carry only the test. */
static __attribute__((noinline, cold)) blocks_fn *blocks_first(void)
{
	pthread_once(&blocks_once, blocks_pick);
	return __atomic_load_n(&blocks, __ATOMIC_ACQUIRE);
}

static inline blocks_fn *blocks_get(void)
{
	blocks_fn *fn = __atomic_load_n(&blocks, __ATOMIC_RELAXED);

	return __builtin_expect(fn == NULL, 0) ? blocks_first() : fn;
}

const char *sha256_impl_name(void)
{
	return blocks_name(blocks_get());
}

void sha256_force_portable(bool on)
{
	__atomic_store_n(&blocks, on ? blocks_portable : blocks_best(),
			 __ATOMIC_RELAXED);
}

void sha256_init(struct sha256 *s)
{
	/* §5.3.3: square roots of the first 8 primes */
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t fill = s->len % 64;
	blocks_fn *fn = blocks_get();

	if (len == 0)
		return;	/* data may be NULL, which memcpy must not see */
	s->len += len;

	if (fill) {
		size_t n = 64 - fill < len ? 64 - fill : len;

		memcpy(s->buf + fill, p, n);
		if (fill + n < 64)
			return;
		fn(s->h, s->buf, 1);
		p += n;
		len -= n;
	}
	if (len >= 64) {
		fn(s->h, p, len / 64);
		p += len & ~(size_t)63;
		len %= 64;
	}
	if (len)
		memcpy(s->buf, p, len);
}

void sha256_final(struct sha256 *s, uint8_t out[32])
{
	/* §5.1.1: a 1 bit, zeros to 448 mod 512 bits, the length in bits */
	size_t fill = s->len % 64;
	uint64_t bits = s->len * 8;
	blocks_fn *fn = blocks_get();

	s->buf[fill++] = 0x80;
	if (fill > 56) {
		memset(s->buf + fill, 0, 64 - fill);
		fn(s->h, s->buf, 1);
		fill = 0;
	}
	memset(s->buf + fill, 0, 56 - fill);
	store_be32(s->buf + 56, bits >> 32);
	store_be32(s->buf + 60, (uint32_t)bits);
	fn(s->h, s->buf, 1);

	for (unsigned int i = 0; i < 8; i++)
		store_be32(out + 4 * i, s->h[i]);
}

void sha256_hex(const uint8_t digest[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned int i = 0; i < 32; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[64] = '\0';
}
