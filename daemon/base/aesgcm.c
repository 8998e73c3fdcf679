/* AES-GCM on AES-NI and PCLMULQDQ, handed to wolfSSL as a crypto callback.
 *
 * Over HTTPS keep-alive the record cipher was half of our CPU: Debian builds
 * wolfSSL without AES-NI and without assembly ChaCha20, so both AEADs run as
 * portable C. With this device registered, every one-shot AES-GCM call on a
 * context that carries our devId comes here first; anything else returns
 * CRYPTOCB_UNAVAILABLE and wolfSSL does it as before.
 *
 * The build has no -march flags, so the vector code is compiled for its
 * own target alone and used only when CPUID says the CPU has it.
 *
 * GHASH works on byte-reversed blocks: reversing a block's 16 bytes turns
 * GCM's bit order (byte 0's top bit is x^0) into one where x^i sits at bit
 * 127 - i of the register, so a carry-less product of two such values is
 * the field product, reversed and one bit short; shifting it left by one
 * and folding the upper 128 coefficients back with x^128 = x^7 + x^2 + x + 1
 * finishes the multiplication. Eight blocks are multiplied by H^8 .. H^1
 * and summed before one reduction, which is linear, so it can wait.
 *
 * Where the CPU has VAES and VPCLMULQDQ on 512-bit registers (AMD Zen 4,
 * Intel Ice Lake and later), whole runs of 16 blocks go four to a
 * register, hashed against H^16 .. H^1 before one reduction: about three
 * times the 128-bit code's speed on a 4 KiB record.
 *
 * Keys are expanded on every call: wolfSSL offers no hook to free a cached
 * schedule with its Aes, and expansion is ~1% of a 4 KiB record's work.
 */
#include <wolfssl/options.h>	/* first: the package's build options */
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/cryptocb.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "base/aesgcm.h"

#include <errno.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/* Any value but INVALID_DEVID; ours alone in this process. */
#define AESGCM_DEVID 0x52664763

/* SP 800-38D: at most 2^32 - 2 blocks of text per IV */
#define TEXT_MAX ((1ull << 36) - 32)

#if defined(__x86_64__)
#define NI __attribute__((target("aes,pclmul,sse4.1")))
#define VX __attribute__((target("aes,pclmul,sse4.1,avx2,avx512f,avx512bw," \
				 "vaes,vpclmulqdq")))
#define CHUNK 8		/* blocks per GHASH reduction and per CTR batch */
#define WIDE 16		/* the same with 512-bit registers */

struct gcm {
	__m128i rk[15];		/* round keys; rounds + 1 used */
	__m128i h[WIDE];	/* h[i] = H^(i+1), byte-reversed */
	int npow;		/* how many of h are made */
	__m128i j0;		/* pre-counter block, in byte order */
	__m128i x;		/* GHASH so far, byte-reversed */
	int rounds;		/* 10 or 14 */
};

enum level { LV_UNKNOWN, LV_NONE, LV_NI, LV_WIDE };
/* The best this CPU runs, or as limited by aesgcm_wide(). The module's
 * only mutable state (every other byte lives in the caller's struct gcm on
 * its stack), read by every thread that seals or opens: always through
 * __atomic. Found on first use; threads racing there store the same
 * answer. aesgcm_register() asks for it, so in the daemon it is fixed
 * before any worker encrypts; only the tests' aesgcm_wide() changes it
 * later, and any value is a correct one. */
static enum level g_level;

static inline NI __m128i bswap(__m128i v)
{
	const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					 11, 12, 13, 14, 15);

	return _mm_shuffle_epi8(v, rev);
}

static inline NI __m128i load(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

static inline NI void store(uint8_t *p, __m128i v)
{
	_mm_storeu_si128((__m128i *)p, v);
}

/* FIPS 197 key expansion: each word is the previous one xor the word a
 * key-length back, so a round key is the prefix xor of the one before,
 * plus t (SubWord/RotWord/Rcon of the last word, spread to every lane). */
static inline NI __m128i key_mix(__m128i k, __m128i t)
{
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 8));
	return _mm_xor_si128(k, t);
}

/* aeskeygenassist wants its round constant as an immediate. Lane 3 is
 * RotWord(SubWord(w3)) ^ rcon, lane 2 plain SubWord(w3). */
#define KEY128(g, i, rcon) \
	((g)->rk[i] = key_mix((g)->rk[(i) - 1], _mm_shuffle_epi32( \
		_mm_aeskeygenassist_si128((g)->rk[(i) - 1], rcon), 0xff)))
#define KEY256_EVEN(g, i, rcon) \
	((g)->rk[i] = key_mix((g)->rk[(i) - 2], _mm_shuffle_epi32( \
		_mm_aeskeygenassist_si128((g)->rk[(i) - 1], rcon), 0xff)))
#define KEY256_ODD(g, i) \
	((g)->rk[i] = key_mix((g)->rk[(i) - 2], _mm_shuffle_epi32( \
		_mm_aeskeygenassist_si128((g)->rk[(i) - 1], 0), 0xaa)))

static NI void expand128(struct gcm *g, const uint8_t *key)
{
	g->rounds = 10;
	g->rk[0] = load(key);
	KEY128(g, 1, 0x01);
	KEY128(g, 2, 0x02);
	KEY128(g, 3, 0x04);
	KEY128(g, 4, 0x08);
	KEY128(g, 5, 0x10);
	KEY128(g, 6, 0x20);
	KEY128(g, 7, 0x40);
	KEY128(g, 8, 0x80);
	KEY128(g, 9, 0x1b);
	KEY128(g, 10, 0x36);
}

static NI void expand256(struct gcm *g, const uint8_t *key)
{
	g->rounds = 14;
	g->rk[0] = load(key);
	g->rk[1] = load(key + 16);
	KEY256_EVEN(g, 2, 0x01);
	KEY256_ODD(g, 3);
	KEY256_EVEN(g, 4, 0x02);
	KEY256_ODD(g, 5);
	KEY256_EVEN(g, 6, 0x04);
	KEY256_ODD(g, 7);
	KEY256_EVEN(g, 8, 0x08);
	KEY256_ODD(g, 9);
	KEY256_EVEN(g, 10, 0x10);
	KEY256_ODD(g, 11);
	KEY256_EVEN(g, 12, 0x20);
	KEY256_ODD(g, 13);
	KEY256_EVEN(g, 14, 0x40);
}

static inline NI __m128i aes_block(const struct gcm *g, __m128i b)
{
	b = _mm_xor_si128(b, g->rk[0]);
	for (int r = 1; r < g->rounds; r++)
		b = _mm_aesenc_si128(b, g->rk[r]);
	return _mm_aesenclast_si128(b, g->rk[g->rounds]);
}

/* Add a * b, unreduced, to the sum: lo and hi are the product's halves
 * but for mid, the cross terms that straddle them. */
static inline NI void clmul_add(__m128i a, __m128i b, __m128i *lo,
				__m128i *mid, __m128i *hi)
{
	*lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
	*hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
	*mid = _mm_xor_si128(*mid, _mm_clmulepi64_si128(a, b, 0x01));
	*mid = _mm_xor_si128(*mid, _mm_clmulepi64_si128(a, b, 0x10));
}

/* The reduced field element of a clmul_add() sum. */
static inline NI __m128i gf_reduce(__m128i lo, __m128i mid, __m128i hi)
{
	__m128i c_lo, c_hi, w, d, dh, r;

	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));

	/* The 255-bit product of reversed inputs is the reversed product
	 * one bit too low: shift the 256 bits left by one. */
	c_lo = _mm_srli_epi32(lo, 31);
	c_hi = _mm_srli_epi32(hi, 31);
	lo = _mm_slli_epi32(lo, 1);
	hi = _mm_slli_epi32(hi, 1);
	hi = _mm_or_si128(hi, _mm_srli_si128(c_lo, 12));
	hi = _mm_or_si128(hi, _mm_slli_si128(c_hi, 4));
	lo = _mm_or_si128(lo, _mm_slli_si128(c_lo, 4));

	/* Now hi holds x^0..x^127 and lo the upper part U (x^128 + i at bit
	 * 127 - i). U * (1 + x + x^2 + x^7), with multiplying by x a right
	 * shift here, spills the low 7 bits of lo past x^127; fold them back
	 * first by adding their image to U (d), then one pass is exact. */
	w = _mm_xor_si128(_mm_slli_epi64(lo, 63), _mm_slli_epi64(lo, 62));
	w = _mm_xor_si128(w, _mm_slli_epi64(lo, 57));
	d = _mm_xor_si128(lo, _mm_slli_si128(w, 8));

	dh = _mm_srli_si128(d, 8);
	r = _mm_xor_si128(d, _mm_srli_epi64(d, 1));
	r = _mm_xor_si128(r, _mm_srli_epi64(d, 2));
	r = _mm_xor_si128(r, _mm_srli_epi64(d, 7));
	r = _mm_xor_si128(r, _mm_slli_epi64(dh, 63));
	r = _mm_xor_si128(r, _mm_slli_epi64(dh, 62));
	r = _mm_xor_si128(r, _mm_slli_epi64(dh, 57));
	return _mm_xor_si128(hi, r);
}

static inline NI __m128i gf_mul(__m128i a, __m128i b)
{
	__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;

	clmul_add(a, b, &lo, &mid, &hi);
	return gf_reduce(lo, mid, hi);
}

/* H^1 .. H^to, made when first needed (a short record needs none but
 * H): each doubling of the table is one
 * round of independent products, so the chain is short. */
static NI void h_powers(struct gcm *g, int to)
{
	int from = g->npow;

	if (from >= to)
		return;
	g->npow = to;
	while (from < to) {
		int n = from * 2 < to ? from * 2 : to;

		for (int i = from; i < n; i++)
			g->h[i] = gf_mul(g->h[from - 1], g->h[i - from]);
		from = n;
	}
}

/* Absorb one byte-reversed block into the hash. */
static inline NI void ghash_block(struct gcm *g, __m128i b)
{
	g->x = gf_mul(_mm_xor_si128(g->x, b), g->h[0]);
}

/* Absorb len bytes, the last partial block padded with zeros (so only the
 * final call for each of AAD and text may pass a partial block). */
static NI void ghash(struct gcm *g, const uint8_t *p, size_t len)
{
	uint8_t pad[16] = { 0 };

	if (len >= 16 * CHUNK)
		h_powers(g, CHUNK);
	for (; len >= 16 * CHUNK; p += 16 * CHUNK, len -= 16 * CHUNK) {
		__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
		__m128i b = _mm_xor_si128(g->x, bswap(load(p)));

		clmul_add(b, g->h[CHUNK - 1], &lo, &mid, &hi);
#pragma GCC unroll 8
		for (int i = 1; i < CHUNK; i++)
			clmul_add(bswap(load(p + 16 * i)), g->h[CHUNK - 1 - i],
				  &lo, &mid, &hi);
		g->x = gf_reduce(lo, mid, hi);
	}
	for (; len >= 16; p += 16, len -= 16)
		ghash_block(g, bswap(load(p)));
	if (len) {
		memcpy(pad, p, len);
		ghash_block(g, bswap(load(pad)));
	}
}

/* Round keys, H, J0, and the AAD hashed. */
static NI void gcm_start(struct gcm *g, const uint8_t *key, size_t key_len,
			 const uint8_t *iv, size_t iv_len, const uint8_t *aad,
			 size_t aad_len)
{
	uint8_t j0[16] = { 0 };

	if (key_len == 16)
		expand128(g, key);
	else
		expand256(g, key);
	g->h[0] = bswap(aes_block(g, _mm_setzero_si128()));
	g->npow = 1;
	g->x = _mm_setzero_si128();
	if (iv_len == 12) {
		memcpy(j0, iv, 12);
		j0[15] = 1;
		g->j0 = load(j0);
	} else {
		/* The length block [0]64 || [bits]64, reversed, is just the
		 * bit count in the low lane. */
		ghash(g, iv, iv_len);
		ghash_block(g, _mm_set_epi64x(0, (long long)(iv_len * 8)));
		g->j0 = bswap(g->x);
		g->x = _mm_setzero_si128();
	}
	ghash(g, aad, aad_len);
}

static inline VX __m512i bswap4(__m512i v)
{
	const __m512i rev = _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4,
				5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));

	return _mm512_shuffle_epi8(v, rev);
}

/* The xor of a register's four blocks. */
static inline VX __m128i fold4(__m512i z)
{
	__m256i e = _mm256_xor_si256(_mm512_castsi512_si256(z),
				     _mm512_extracti64x4_epi64(z, 1));

	return _mm_xor_si128(_mm256_castsi256_si128(e),
			     _mm256_extracti128_si256(e, 1));
}

/* Absorb WIDE blocks; hz[j] holds H^(WIDE - 4j - lane) in lane order. */
static inline VX void ghash_wide(struct gcm *g, const __m512i hz[4],
				 const uint8_t *p)
{
	__m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;

#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		__m512i b = bswap4(_mm512_loadu_si512(p + 64 * j));

		if (j == 0)
			b = _mm512_xor_si512(b, _mm512_inserti32x4(
				_mm512_setzero_si512(), g->x, 0));
		lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(b, hz[j],
								     0x00));
		hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(b, hz[j],
								     0x11));
		mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128(b, hz[j],
								       0x01));
		mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128(b, hz[j],
								       0x10));
	}
	g->x = gf_reduce(fold4(lo), fold4(mid), fold4(hi));
}

/* CTR and GHASH over n runs of WIDE blocks; *ctr (byte-reversed, as in
 * gcm_crypt) is advanced past them. */
static VX void crypt_wide(struct gcm *g, __m128i *ctr, const uint8_t *in,
			  uint8_t *out, size_t n, bool enc)
{
	const __m512i four = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4,
					      0, 0, 0, 4, 0, 0, 0, 4);
	__m512i rk[15], hz[4];
	__m512i c = _mm512_add_epi32(_mm512_broadcast_i32x4(*ctr),
				     _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2,
						      0, 0, 0, 1, 0, 0, 0, 0));

	h_powers(g, WIDE);
	for (int j = 0; j < 4; j++) {
		__m512i z = _mm512_castsi128_si512(g->h[WIDE - 4 * j - 1]);

		z = _mm512_inserti32x4(z, g->h[WIDE - 4 * j - 2], 1);
		z = _mm512_inserti32x4(z, g->h[WIDE - 4 * j - 3], 2);
		hz[j] = _mm512_inserti32x4(z, g->h[WIDE - 4 * j - 4], 3);
	}
	for (int r = 0; r <= g->rounds; r++)
		rk[r] = _mm512_broadcast_i32x4(g->rk[r]);
	for (; n; n--, in += 16 * WIDE, out += 16 * WIDE) {
		__m512i b[4];

		if (!enc)
			ghash_wide(g, hz, in);
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			b[j] = _mm512_xor_si512(bswap4(c), rk[0]);
			c = _mm512_add_epi32(c, four);
		}
		for (int r = 1; r < g->rounds; r++) {
#pragma GCC unroll 4
			for (int j = 0; j < 4; j++)
				b[j] = _mm512_aesenc_epi128(b[j], rk[r]);
		}
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			b[j] = _mm512_aesenclast_epi128(b[j], rk[g->rounds]);
			_mm512_storeu_si512(out + 64 * j, _mm512_xor_si512(
				b[j], _mm512_loadu_si512(in + 64 * j)));
		}
		if (enc)
			ghash_wide(g, hz, out);
	}
	*ctr = _mm512_castsi512_si128(c);
	explicit_bzero(rk, sizeof(rk));
}

/* CTR from inc32(J0) over len bytes, hashing the ciphertext: the input
 * when decrypting (read before out overwrites it), else the output. */
static NI void gcm_crypt(struct gcm *g, const uint8_t *in, uint8_t *out,
			 size_t len, bool enc)
{
	/* Byte-reversed, the 32-bit big-endian counter is lane 0, and a
	 * 32-bit lane add wraps it mod 2^32 as inc32 must. */
	__m128i ctr = _mm_add_epi32(bswap(g->j0), _mm_set_epi32(0, 0, 0, 1));
	const __m128i one = _mm_set_epi32(0, 0, 0, 1);
	uint8_t buf[16];

	if (__atomic_load_n(&g_level, __ATOMIC_RELAXED) == LV_WIDE &&
	    len >= 16 * WIDE) {
		size_t n = len / (16 * WIDE);

		crypt_wide(g, &ctr, in, out, n, enc);
		in += n * 16 * WIDE;
		out += n * 16 * WIDE;
		len -= n * 16 * WIDE;
	}
	for (; len >= 16 * CHUNK; in += 16 * CHUNK, out += 16 * CHUNK,
	     len -= 16 * CHUNK) {
		__m128i b[CHUNK];

		if (!enc)
			ghash(g, in, 16 * CHUNK);
#pragma GCC unroll 8
		for (int i = 0; i < CHUNK; i++) {
			b[i] = _mm_xor_si128(bswap(ctr), g->rk[0]);
			ctr = _mm_add_epi32(ctr, one);
		}
		for (int r = 1; r < g->rounds; r++) {
			__m128i k = g->rk[r];

#pragma GCC unroll 8
			for (int i = 0; i < CHUNK; i++)
				b[i] = _mm_aesenc_si128(b[i], k);
		}
#pragma GCC unroll 8
		for (int i = 0; i < CHUNK; i++) {
			b[i] = _mm_aesenclast_si128(b[i], g->rk[g->rounds]);
			store(out + 16 * i,
			      _mm_xor_si128(b[i], load(in + 16 * i)));
		}
		if (enc)
			ghash(g, out, 16 * CHUNK);
	}
	if (len == 0)
		return;
	if (!enc)
		ghash(g, in, len);
	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;
		__m128i k = aes_block(g, bswap(ctr));

		ctr = _mm_add_epi32(ctr, one);
		memcpy(buf, in + off, n);
		store(buf, _mm_xor_si128(k, load(buf)));
		memcpy(out + off, buf, n);
	}
	if (enc)
		ghash(g, out, len);
}

/* The full tag: the lengths hashed last, masked with E(K, J0). */
static NI void gcm_finish(struct gcm *g, size_t aad_len, size_t len,
			  uint8_t tag[16])
{
	ghash_block(g, _mm_set_epi64x((long long)(aad_len * 8),
				      (long long)(len * 8)));
	store(tag, _mm_xor_si128(bswap(g->x), aes_block(g, g->j0)));
}

#undef NI
#undef VX

/* CPUID leaf 7 for the 512-bit instructions (clang's cpu_supports does
 * not know "vaes"), and XCR0 for the kernel saving the AVX-512 state
 * (opmask, upper ZMM0-15, ZMM16-31) along with SSE and AVX. */
static bool cpu_wide(void)
{
	unsigned a, b, c, d, lo, hi;

	if (!__builtin_cpu_supports("avx2") ||
	    !__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	if (!(b & (1u << 16)) || !(b & (1u << 30)) ||	/* AVX512F, BW */
	    !(c & (1u << 9)) || !(c & (1u << 10)))	/* VAES, VPCLMULQDQ */
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))
		return false;				/* no OSXSAVE */
	__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	return (lo & 0xe6) == 0xe6;
}

static enum level cpu_level(void)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("aes") ||
	    !__builtin_cpu_supports("pclmul") ||
	    !__builtin_cpu_supports("sse4.1"))
		return LV_NONE;
	return cpu_wide() ? LV_WIDE : LV_NI;
}

static enum level level(void)
{
	/* racing threads store the same answer */
	enum level lv = __atomic_load_n(&g_level, __ATOMIC_RELAXED);

	if (lv == LV_UNKNOWN) {
		lv = cpu_level();
		__atomic_store_n(&g_level, lv, __ATOMIC_RELAXED);
	}
	return lv;
}
#endif /* __x86_64__ */

bool aesgcm_available(void)
{
#if defined(__x86_64__)
	return level() >= LV_NI;
#else
	return false;
#endif
}

bool aesgcm_wide(bool allow)
{
#if defined(__x86_64__)
	bool was = level() == LV_WIDE;

	if (!allow && was)
		__atomic_store_n(&g_level, LV_NI, __ATOMIC_RELAXED);
	else if (allow && !was && cpu_level() == LV_WIDE)
		__atomic_store_n(&g_level, LV_WIDE, __ATOMIC_RELAXED);
	return was;
#else
	(void)allow;
	return false;
#endif
}

static int check_args(size_t key_len, size_t iv_len, size_t len,
		      size_t tag_len)
{
	if (!aesgcm_available())
		return -ENOTSUP;
	if ((key_len != 16 && key_len != 32) || iv_len == 0 ||
	    len > TEXT_MAX || tag_len == 0 || tag_len > 16)
		return -EINVAL;
	return 0;
}

int aesgcm_seal(const uint8_t *key, size_t key_len, const uint8_t *iv,
		size_t iv_len, const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag,
		size_t tag_len)
{
	int rc = check_args(key_len, iv_len, len, tag_len);
#if defined(__x86_64__)
	struct gcm g;
	uint8_t full[16];

	if (rc < 0)
		return rc;
	gcm_start(&g, key, key_len, iv, iv_len, aad, aad_len);
	gcm_crypt(&g, in, out, len, true);
	gcm_finish(&g, aad_len, len, full);
	memcpy(tag, full, tag_len);
	explicit_bzero(&g, sizeof(g));
	explicit_bzero(full, sizeof(full));
#else
	(void)key, (void)iv, (void)aad, (void)aad_len, (void)in, (void)out;
	(void)tag;
#endif
	return rc;
}

int aesgcm_open(const uint8_t *key, size_t key_len, const uint8_t *iv,
		size_t iv_len, const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out,
		const uint8_t *tag, size_t tag_len)
{
	int rc = check_args(key_len, iv_len, len, tag_len);
#if defined(__x86_64__)
	struct gcm g;
	uint8_t full[16];
	uint8_t diff = 0;

	if (rc < 0)
		return rc;
	gcm_start(&g, key, key_len, iv, iv_len, aad, aad_len);
	gcm_crypt(&g, in, out, len, false);
	gcm_finish(&g, aad_len, len, full);
	for (size_t i = 0; i < tag_len; i++)
		diff |= (uint8_t)(full[i] ^ tag[i]);
	explicit_bzero(&g, sizeof(g));
	explicit_bzero(full, sizeof(full));
	if (diff) {
		if (len)
			memset(out, 0, len);
		return -EBADMSG;
	}
#else
	(void)key, (void)iv, (void)aad, (void)aad_len, (void)in, (void)out;
	(void)tag;
#endif
	return rc;
}

int aesgcm_cryptocb(int dev_id, struct wc_CryptoInfo *info, void *ctx)
{
	Aes *aes;
	int rc;

	(void)dev_id;
	(void)ctx;
	if (info->algo_type != WC_ALGO_TYPE_CIPHER ||
	    info->cipher.type != WC_CIPHER_AES_GCM)
		return CRYPTOCB_UNAVAILABLE;
	if (info->cipher.enc) {
		aes = info->cipher.aesgcm_enc.aes;
		rc = aesgcm_seal((const uint8_t *)aes->devKey,
				 (size_t)aes->keylen,
				 info->cipher.aesgcm_enc.iv,
				 info->cipher.aesgcm_enc.ivSz,
				 info->cipher.aesgcm_enc.authIn,
				 info->cipher.aesgcm_enc.authInSz,
				 info->cipher.aesgcm_enc.in,
				 info->cipher.aesgcm_enc.sz,
				 info->cipher.aesgcm_enc.out,
				 info->cipher.aesgcm_enc.authTag,
				 info->cipher.aesgcm_enc.authTagSz);
	} else {
		aes = info->cipher.aesgcm_dec.aes;
		rc = aesgcm_open((const uint8_t *)aes->devKey,
				 (size_t)aes->keylen,
				 info->cipher.aesgcm_dec.iv,
				 info->cipher.aesgcm_dec.ivSz,
				 info->cipher.aesgcm_dec.authIn,
				 info->cipher.aesgcm_dec.authInSz,
				 info->cipher.aesgcm_dec.in,
				 info->cipher.aesgcm_dec.sz,
				 info->cipher.aesgcm_dec.out,
				 info->cipher.aesgcm_dec.authTag,
				 info->cipher.aesgcm_dec.authTagSz);
		if (rc == -EBADMSG)
			return AES_GCM_AUTH_E;
	}
	/* A key or size we do not take: wolfSSL's code decides. */
	return rc == 0 ? 0 : CRYPTOCB_UNAVAILABLE;
}

/* wolfCrypt's device table is a plain array: written here only, under
 * tls.c's set-up lock before the context that names the device is
 * published, and only read (wc_CryptoCb_FindDevice) by the threads that
 * encrypt after that. The device keeps no state (ctx NULL). */
int aesgcm_register(void)
{
	if (!aesgcm_available())
		return -1;
	if (wc_CryptoCb_RegisterDevice(AESGCM_DEVID, aesgcm_cryptocb,
				       NULL) != 0)
		return -1;
	return AESGCM_DEVID;
}
