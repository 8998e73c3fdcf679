/* Unit tests for sha256.c: FIPS 180-4 vectors on both compression paths,
 * the SHA-NI path against the portable one, both against wolfSSL, and the
 * RINGFETCH_SHA256=portable switch. */
#include <stdbool.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/sha256.h"
#include "tap.h"

/* xorshift64: a fixed seed, so a failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* CPUID leaf 7 EBX bit 29; only says whether the fast path can be tested */
static bool have_sha_ni(void)
{
#if defined(__x86_64__)
	unsigned int a, b, c, d;

	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
#else
	return false;
#endif
}

/* Returns owned, exactly len bytes (so ASan sees any over-read); free(). */
static uint8_t *random_bytes(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rng();
	return p;
}

static void hash_hex(const void *data, size_t len, char hex[65])
{
	struct sha256 s;
	uint8_t d[32];

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, d);
	sha256_hex(d, hex);
}

/* Hash in chunks of random sizes, a few of them empty. */
static void hash_split(const uint8_t *data, size_t len, uint8_t out[32])
{
	struct sha256 s;
	size_t off = 0;

	sha256_init(&s);
	while (off < len) {
		size_t n = rng() % 3 == 0 ? rng() % 8 : rng() % 300;

		if (n > len - off)
			n = len - off;
		sha256_update(&s, data + off, n);
		off += n;
	}
	sha256_final(&s, out);
}

static void hash_wolf(const uint8_t *data, size_t len, uint8_t out[32])
{
	wc_Sha256 w;

	wc_InitSha256(&w);
	wc_Sha256Update(&w, data, (word32)len);
	wc_Sha256Final(&w, out);
	wc_Sha256Free(&w);
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", SHA256ShortMsg). */
static int check_vectors(void)
{
	static const struct {
		const char *msg;
		const char *hex;
	} v[] = {
		{ "",
		  "e3b0c44298fc1c149afbf4c8996fb924"
		  "27ae41e4649b934ca495991b7852b855" },
		{ "abc",
		  "ba7816bf8f01cfea414140de5dae2223"
		  "b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039"
		  "a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b049237"
		  "0b249b11e8f07a51afac45037afee9d1" },
	};
	int ok = 1;
	char hex[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hash_hex(v[i].msg, strlen(v[i].msg), hex);
		if (!TAP_CHECK(STREQ(hex, v[i].hex))) {
			printf("#   msg %zu: got %s\n", i, hex);
			ok = 0;
		}
	}
	return ok;
}

/* FIPS 180-4's long example, fed in uneven pieces to cross blocks. */
static int check_million_a(void)
{
	static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67"
				   "f1809a48a497200e046d39ccc7112cd0";
	uint8_t *a = malloc(1000000), d[32];
	struct sha256 s;
	char hex[65];
	size_t off = 0, step = 1;

	memset(a, 'a', 1000000);
	sha256_init(&s);
	while (off < 1000000) {
		size_t n = step < 1000000 - off ? step : 1000000 - off;

		sha256_update(&s, a + off, n);
		off += n;
		step = step * 3 + 1;
	}
	sha256_final(&s, d);
	sha256_hex(d, hex);
	free(a);
	return TAP_CHECK(STREQ(hex, want));
}

static int vectors_sha_ni(void)
{
	if (!have_sha_ni())
		printf("# no SHA-NI on this CPU: portable path twice\n");
	sha256_force_portable(false);
	printf("# fastest path: %s\n", sha256_impl_name());
	/* unless the caller asked for the fallback, this must be SHA-NI */
	if (have_sha_ni() && !getenv("RINGFETCH_SHA256") &&
	    !TAP_CHECK(STREQ(sha256_impl_name(), "sha-ni")))
		return 0;
	return check_vectors() && check_million_a();
}

static int vectors_portable(void)
{
	int ok;

	sha256_force_portable(true);
	ok = TAP_CHECK(STREQ(sha256_impl_name(), "portable")) &&
	     check_vectors() && check_million_a();
	sha256_force_portable(false);
	return ok;
}

/* Lengths around the padding edges, one byte per update and all at once. */
static int padding_edges(void)
{
	static const size_t lens[] = { 55, 56, 57, 63, 64, 65, 119, 120, 128 };
	int ok = 1;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *p = random_bytes(lens[i]), d1[32], d2[32], dw[32];
		struct sha256 s;

		sha256_init(&s);
		for (size_t j = 0; j < lens[i]; j++)
			sha256_update(&s, p + j, 1);
		sha256_final(&s, d1);
		sha256_init(&s);
		sha256_update(&s, p, lens[i]);
		sha256_final(&s, d2);
		hash_wolf(p, lens[i], dw);
		ok &= TAP_CHECK(memcmp(d1, dw, 32) == 0);
		ok &= TAP_CHECK(memcmp(d2, dw, 32) == 0);
		free(p);
	}
	return ok;
}

static int update_empty(void)
{
	struct sha256 s;
	uint8_t d[32];
	char hex[65];

	sha256_init(&s);
	sha256_update(&s, NULL, 0);
	sha256_update(&s, "abc", 3);
	sha256_update(&s, NULL, 0);
	sha256_final(&s, d);
	sha256_hex(d, hex);
	return TAP_CHECK(STREQ(hex, "ba7816bf8f01cfea414140de5dae2223"
				    "b00361a396177a9cb410ff61f20015ad"));
}

static int hex_lowercase(void)
{
	uint8_t d[32];
	char hex[65];

	for (int i = 0; i < 32; i++)
		d[i] = (uint8_t)(i * 8 + 0x07);
	d[0] = 0xab;
	d[31] = 0xf0;
	sha256_hex(d, hex);
	return TAP_CHECK(strlen(hex) == 64) &&
	       TAP_CHECK(strncmp(hex, "ab0f171f27", 10) == 0) &&
	       TAP_CHECK(strcmp(hex + 62, "f0") == 0);
}

/* Random lengths 0..10000 and split points: both paths must agree. */
static int paths_agree(void)
{
	int ok = 1;

	for (int iter = 0; iter < 400 && ok; iter++) {
		size_t len = rng() % 10001;
		uint8_t *p = random_bytes(len), dn[32], dp[32];
		uint64_t saved = rng_state;

		sha256_force_portable(false);
		hash_split(p, len, dn);
		rng_state = saved;	/* split the same way twice */
		sha256_force_portable(true);
		hash_split(p, len, dp);
		sha256_force_portable(false);
		if (!TAP_CHECK(memcmp(dn, dp, 32) == 0)) {
			printf("#   len %zu\n", len);
			ok = 0;
		}
		free(p);
	}
	return ok;
}

/* Every length 0..4096 (each padding case and every tail size of a 4 KiB
 * body) with random split points: both paths agree byte for byte. */
static int paths_agree_every_len(void)
{
	uint8_t *p = random_bytes(4096);
	int ok = 1;

	for (size_t len = 0; len <= 4096 && ok; len++) {
		uint8_t dn[32], dp[32];
		uint64_t saved = rng_state;

		sha256_force_portable(false);
		hash_split(p, len, dn);
		rng_state = saved;
		sha256_force_portable(true);
		hash_split(p, len, dp);
		sha256_force_portable(false);
		if (memcmp(dn, dp, 32) != 0) {
			printf("#   len %zu\n", len);
			ok = 0;
		}
	}
	free(p);
	return TAP_CHECK(ok);
}

/* RINGFETCH_SHA256=portable is read whenever the fastest path is picked,
 * so make check run under it covers the fallback; the name says which
 * runs and is what the daemon logs. */
static int env_forces_portable(void)
{
	const char *fast = have_sha_ni() ? "sha-ni" : "portable";
	const char *env = getenv("RINGFETCH_SHA256");
	char *saved = env ? strdup(env) : NULL;
	char hex[65];
	int ok = 1;

	unsetenv("RINGFETCH_SHA256");
	sha256_force_portable(false);
	ok &= TAP_CHECK(STREQ(sha256_impl_name(), fast));
	setenv("RINGFETCH_SHA256", "portable", 1);
	sha256_force_portable(false);
	ok &= TAP_CHECK(STREQ(sha256_impl_name(), "portable"));
	hash_hex("abc", 3, hex);
	ok &= TAP_CHECK(STREQ(hex, "ba7816bf8f01cfea414140de5dae2223"
				   "b00361a396177a9cb410ff61f20015ad"));
	setenv("RINGFETCH_SHA256", "sha-ni", 1);	/* anything else: fastest */
	sha256_force_portable(false);
	ok &= TAP_CHECK(STREQ(sha256_impl_name(), fast));
	/* as the run was started: later tests follow the caller's choice */
	if (saved)
		setenv("RINGFETCH_SHA256", saved, 1);
	else
		unsetenv("RINGFETCH_SHA256");
	free(saved);
	sha256_force_portable(false);
	return ok;
}

/* An independent implementation: catches a bug both our paths share. */
static int matches_wolfssl(void)
{
	static const size_t lens[] = { 0, 1, 63, 64, 4096, 4097, 65536 + 13,
				       1 << 20 };
	int ok = 1;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *p = random_bytes(lens[i]), d[32], dp[32], dw[32];

		hash_wolf(p, lens[i], dw);
		hash_split(p, lens[i], d);
		sha256_force_portable(true);
		hash_split(p, lens[i], dp);
		sha256_force_portable(false);
		if (!TAP_CHECK(memcmp(d, dw, 32) == 0) ||
		    !TAP_CHECK(memcmp(dp, dw, 32) == 0)) {
			printf("#   len %zu\n", lens[i]);
			ok = 0;
		}
		free(p);
	}
	return ok;
}

int main(void)
{
	TAP_RUN(vectors_sha_ni);
	TAP_RUN(vectors_portable);
	TAP_RUN(padding_edges);
	TAP_RUN(update_empty);
	TAP_RUN(hex_lowercase);
	TAP_RUN(paths_agree);
	TAP_RUN(paths_agree_every_len);
	TAP_RUN(env_forces_portable);
	TAP_RUN(matches_wolfssl);
	return tap_done();
}
