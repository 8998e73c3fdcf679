/* Unit tests for aesgcm.c: the GCM spec's AES-128 and AES-256 vectors
 * (McGrew and Viega, test cases 1-6 and 13-18: empty, whole and partial
 * blocks, AAD, 8- and 60-byte IVs), random inputs against wolfSSL's own
 * software AES-GCM, tag failures, and the crypto callback as wolfSSL
 * calls it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/cryptocb.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "base/aesgcm.h"
#include "tap.h"

/* A devId of the test's own, for a wrapper that counts calls. */
#define TEST_DEVID 0x74657374

struct vec {
	const char *key, *iv, *aad, *pt, *ct, *tag;
};

#define P64 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
	    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define P60 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
	    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define K128 "feffe9928665731c6d6a8f9467308308"
#define AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define IV60 \
	"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728" \
	"c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b"

static const struct vec vecs[] = {
	/* 1-6: AES-128 */
	{ "00000000000000000000000000000000", "000000000000000000000000", "",
	  "", "", "58e2fccefa7e3061367f1d57a4e7455a" },
	{ "00000000000000000000000000000000", "000000000000000000000000", "",
	  "00000000000000000000000000000000",
	  "0388dace60b6a392f328c2b971b2fe78",
	  "ab6e47d42cec13bdf53a67b21257bddf" },
	{ K128, "cafebabefacedbaddecaf888", "", P64,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	  "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ K128, "cafebabefacedbaddecaf888", AAD, P60,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ K128, "cafebabefacedbad", AAD, P60,
	  "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
	  "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
	  "3612d2e79e3b0785561be14aaca2fccb" },
	{ K128, IV60, AAD, P60,
	  "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
	  "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
	  "619cc5aefffe0bfa462af43c1699d050" },
	/* 13-18: AES-256 */
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "00000000000000000000000000000000",
	  "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ K128 K128, "cafebabefacedbaddecaf888", "", P64,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ K128 K128, "cafebabefacedbaddecaf888", AAD, P60,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
	{ K128 K128, "cafebabefacedbad", AAD, P60,
	  "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
	  "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
	  "3a337dbf46a792c45e454913fe2ea8f2" },
	{ K128 K128, IV60, AAD, P60,
	  "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
	  "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
	  "a44a8266ee1c8eb0c8b5d4cf5ae9f19a" },
};

/* xorshift64: a fixed seed, so a failure reproduces */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Returns owned, exactly len bytes (so ASan sees any over-read); free(). */
static uint8_t *random_bytes(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rng();
	return p;
}

/* Decode hex into a malloc'd buffer of exactly strlen(hex) / 2 bytes. */
static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		sscanf(hex + 2 * i, "%2x", &b);
		p[i] = (uint8_t)b;
	}
	*len = n;
	return p;
}

/* wolfSSL's software AES-GCM (no device), the reference. */
static int wolf_seal(const uint8_t *key, size_t key_len, const uint8_t *iv,
		     size_t iv_len, const uint8_t *aad, size_t aad_len,
		     const uint8_t *in, size_t len, uint8_t *out,
		     uint8_t *tag, size_t tag_len)
{
	Aes aes;
	int rc;

	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return -1;
	rc = wc_AesGcmSetKey(&aes, key, (word32)key_len);
	if (rc == 0)
		rc = wc_AesGcmEncrypt(&aes, out, in, (word32)len, iv,
				      (word32)iv_len, tag, (word32)tag_len,
				      aad, (word32)aad_len);
	wc_AesFree(&aes);
	return rc;
}

static bool skip(void)
{
	if (aesgcm_available())
		return false;
	printf("# skip: this CPU has no AES-NI/PCLMULQDQ\n");
	return true;
}

static int check_vec(const struct vec *v)
{
	size_t kl, ivl, al, pl, cl, tl;
	uint8_t *k = unhex(v->key, &kl), *iv = unhex(v->iv, &ivl);
	uint8_t *a = unhex(v->aad, &al), *p = unhex(v->pt, &pl);
	uint8_t *c = unhex(v->ct, &cl), *t = unhex(v->tag, &tl);
	uint8_t *out = malloc(pl ? pl : 1), tag[16], wtag[16];
	int ok = TAP_CHECK(cl == pl && tl == 16);

	ok &= TAP_CHECK(aesgcm_seal(k, kl, iv, ivl, a, al, p, pl, out, tag,
				    16) == 0);
	ok &= TAP_CHECK(memcmp(out, c, pl) == 0);
	ok &= TAP_CHECK(memcmp(tag, t, 16) == 0);
	/* the vector typed right: wolfSSL agrees */
	ok &= TAP_CHECK(wolf_seal(k, kl, iv, ivl, a, al, p, pl, out, wtag,
				  16) == 0);
	ok &= TAP_CHECK(memcmp(out, c, pl) == 0 && memcmp(wtag, t, 16) == 0);
	memset(out, 0xaa, pl);
	ok &= TAP_CHECK(aesgcm_open(k, kl, iv, ivl, a, al, c, cl, out, t,
				    16) == 0);
	ok &= TAP_CHECK(memcmp(out, p, pl) == 0);
	if (!ok)
		printf("#   vector with key %s iv %s\n", v->key, v->iv);
	free(k), free(iv), free(a), free(p), free(c), free(t), free(out);
	return ok;
}

static int test_vectors_128(void)
{
	int ok = 1;

	if (skip())
		return 1;
	for (int i = 0; i < 6; i++)
		ok &= check_vec(&vecs[i]);
	return ok;
}

static int test_vectors_256(void)
{
	int ok = 1;

	if (skip())
		return 1;
	for (int i = 6; i < 12; i++)
		ok &= check_vec(&vecs[i]);
	return ok;
}

/* A length that exercises the batch, the whole-block and partial tails. */
static size_t random_len(void)
{
	switch (rng() % 5) {
	case 0:
		return rng() % 48;
	case 1:
		return 128 * (1 + rng() % 4) + rng() % 33 - 16;
	case 4:
		return 256 * (1 + rng() % 8) + rng() % 41 - 20;	/* wide runs */
	case 2:
		return rng() % 700;
	default:
		return 16384 + rng() % 300;	/* a full TLS record */
	}
}

static int random_case(void)
{
	size_t kl = rng() % 2 ? 16 : 32;
	size_t ivl = rng() % 4 ? 12 : 1 + rng() % 64;
	size_t al = rng() % 3 ? rng() % 40 : rng() % 300;
	size_t len = random_len();
	uint8_t *k = random_bytes(kl), *iv = random_bytes(ivl);
	uint8_t *a = random_bytes(al), *p = random_bytes(len);
	uint8_t *c = random_bytes(len), *w = random_bytes(len);
	uint8_t *back = random_bytes(len);
	uint8_t tag[16], wtag[16];
	int ok = 1;

	ok &= TAP_CHECK(aesgcm_seal(k, kl, iv, ivl, a, al, p, len, c, tag,
				    16) == 0);
	ok &= TAP_CHECK(wolf_seal(k, kl, iv, ivl, a, al, p, len, w, wtag,
				  16) == 0);
	ok &= TAP_CHECK(memcmp(c, w, len) == 0);
	ok &= TAP_CHECK(memcmp(tag, wtag, 16) == 0);
	ok &= TAP_CHECK(aesgcm_open(k, kl, iv, ivl, a, al, c, len, back, tag,
				    16) == 0);
	ok &= TAP_CHECK(memcmp(back, p, len) == 0);
	/* in place, both ways, as TLS records are */
	memcpy(back, p, len);
	ok &= TAP_CHECK(aesgcm_seal(k, kl, iv, ivl, a, al, back, len, back,
				    tag, 16) == 0);
	ok &= TAP_CHECK(memcmp(back, w, len) == 0);
	ok &= TAP_CHECK(aesgcm_open(k, kl, iv, ivl, a, al, back, len, back,
				    tag, 16) == 0);
	ok &= TAP_CHECK(memcmp(back, p, len) == 0);
	if (!ok)
		printf("#   key %zu iv %zu aad %zu text %zu\n", kl, ivl, al,
		       len);
	free(k), free(iv), free(a), free(p), free(c), free(w), free(back);
	return ok;
}

static int test_random_vs_wolfssl(void)
{
	int ok = 1;

	if (skip())
		return 1;
	for (int i = 0; i < 2000 && ok; i++)
		ok &= random_case();
	return ok;
}

/* The same on the 128-bit code where the CPU would take the 512-bit
 * path, so both are checked on such a machine. */
static int test_random_narrow(void)
{
	bool wide;
	int ok = 1;

	if (skip())
		return 1;
	wide = aesgcm_wide(false);
	printf("# 512-bit VAES path on this CPU: %s\n", wide ? "yes" : "no");
	ok &= TAP_CHECK(!aesgcm_wide(true) || !wide);
	aesgcm_wide(false);
	for (int i = 0; i < 1000 && ok; i++)
		ok &= random_case();
	ok &= TAP_CHECK(aesgcm_wide(true) == false);
	ok &= TAP_CHECK(aesgcm_wide(true) == wide);
	return ok;
}

/* Any flipped bit in text, AAD or tag fails, and leaves no plaintext. */
static int test_tag_failure(void)
{
	uint8_t key[32], iv[12], aad[20], pt[200], ct[200], out[200];
	uint8_t tag[16], zero[200] = { 0 };
	int ok = 1;

	if (skip())
		return 1;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rng();
	memset(iv, 7, sizeof(iv));
	memset(aad, 9, sizeof(aad));
	memset(pt, 'p', sizeof(pt));
	ok &= TAP_CHECK(aesgcm_seal(key, 16, iv, 12, aad, 20, pt, 200, ct,
				    tag, 16) == 0);
	for (int bit = 0; bit < 8 * 16; bit += 9) {
		tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		memset(out, 1, sizeof(out));
		ok &= TAP_CHECK(aesgcm_open(key, 16, iv, 12, aad, 20, ct, 200,
					    out, tag, 16) == -EBADMSG);
		ok &= TAP_CHECK(memcmp(out, zero, 200) == 0);
		tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	ct[199] ^= 0x80;
	ok &= TAP_CHECK(aesgcm_open(key, 16, iv, 12, aad, 20, ct, 200, out,
				    tag, 16) == -EBADMSG);
	ct[199] ^= 0x80;
	aad[0] ^= 1;
	ok &= TAP_CHECK(aesgcm_open(key, 16, iv, 12, aad, 20, ct, 200, out,
				    tag, 16) == -EBADMSG);
	aad[0] ^= 1;
	/* a truncated tag checks only its own bytes */
	ok &= TAP_CHECK(aesgcm_open(key, 16, iv, 12, aad, 20, ct, 200, out,
				    tag, 12) == 0);
	ok &= TAP_CHECK(memcmp(out, pt, 200) == 0);
	tag[11] ^= 1;
	ok &= TAP_CHECK(aesgcm_open(key, 16, iv, 12, aad, 20, ct, 200, out,
				    tag, 12) == -EBADMSG);
	return ok;
}

static int test_bad_args(void)
{
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, buf[16] = { 0 }, tag[16];
	int ok = 1;

	if (skip())
		return TAP_CHECK(aesgcm_seal(key, 16, iv, 12, NULL, 0, buf,
					     16, buf, tag, 16) == -ENOTSUP);
	ok &= TAP_CHECK(aesgcm_seal(key, 24, iv, 12, NULL, 0, buf, 16, buf,
				    tag, 16) == -EINVAL);
	ok &= TAP_CHECK(aesgcm_seal(key, 16, iv, 0, NULL, 0, buf, 16, buf,
				    tag, 16) == -EINVAL);
	ok &= TAP_CHECK(aesgcm_seal(key, 16, iv, 12, NULL, 0, buf, 16, buf,
				    tag, 0) == -EINVAL);
	ok &= TAP_CHECK(aesgcm_open(key, 16, iv, 12, NULL, 0, buf, 16, buf,
				    tag, 17) == -EINVAL);
	return ok;
}

static int cb_calls;

static int counting_cb(int dev_id, wc_CryptoInfo *info, void *ctx)
{
	int rc = aesgcm_cryptocb(dev_id, info, ctx);

	if (rc != CRYPTOCB_UNAVAILABLE)
		cb_calls++;
	return rc;
}

/* Through wolfSSL's own API on an Aes with our devId, which is how TLS
 * reaches us: the raw key must come through Aes.devKey. */
static int via_wolfssl(int dev_id, size_t kl, bool expect_ours)
{
	uint8_t key[32], iv[12], aad[13], pt[1000], ct[1000], wct[1000];
	uint8_t tag[16], wtag[16];
	Aes aes;
	int ok = 1, before = cb_calls;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rng();
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)rng();
	memset(iv, 3, sizeof(iv));
	memset(aad, 5, sizeof(aad));
	ok &= TAP_CHECK(wolf_seal(key, kl, iv, 12, aad, 13, pt, 1000, wct,
				  wtag, 16) == 0);
	ok &= TAP_CHECK(wc_AesInit(&aes, NULL, dev_id) == 0);
	ok &= TAP_CHECK(wc_AesGcmSetKey(&aes, key, (word32)kl) == 0);
	ok &= TAP_CHECK(wc_AesGcmEncrypt(&aes, ct, pt, 1000, iv, 12, tag, 16,
					 aad, 13) == 0);
	ok &= TAP_CHECK(memcmp(ct, wct, 1000) == 0);
	ok &= TAP_CHECK(memcmp(tag, wtag, 16) == 0);
	ok &= TAP_CHECK(wc_AesGcmDecrypt(&aes, ct, ct, 1000, iv, 12, tag, 16,
					 aad, 13) == 0);
	ok &= TAP_CHECK(memcmp(ct, pt, 1000) == 0);
	tag[0] ^= 1;
	ok &= TAP_CHECK(wc_AesGcmDecrypt(&aes, ct, wct, 1000, iv, 12, tag, 16,
					 aad, 13) == AES_GCM_AUTH_E);
	wc_AesFree(&aes);
	if (expect_ours)
		ok &= TAP_CHECK(cb_calls == before + 3);
	else
		ok &= TAP_CHECK(cb_calls == before);
	return ok;
}

static int test_cryptocb(void)
{
	int ok = 1;

	if (skip())
		return 1;
	ok &= TAP_CHECK(wc_CryptoCb_RegisterDevice(TEST_DEVID, counting_cb,
						   NULL) == 0);
	ok &= via_wolfssl(TEST_DEVID, 16, true);
	ok &= via_wolfssl(TEST_DEVID, 32, true);
	ok &= via_wolfssl(TEST_DEVID, 24, false);	/* wolfSSL's own */
	wc_CryptoCb_UnRegisterDevice(TEST_DEVID);
	return ok;
}

static int test_register(void)
{
	int dev_id = aesgcm_register();
	int ok = 1;

	if (skip())
		return TAP_CHECK(dev_id == -1);
	ok &= TAP_CHECK(dev_id >= 0);
	/* counts nothing, but must agree with the software */
	ok &= via_wolfssl(dev_id, 16, false);
	ok &= via_wolfssl(dev_id, 32, false);
	ok &= TAP_CHECK(aesgcm_register() == dev_id);	/* idempotent */
	wc_CryptoCb_UnRegisterDevice(dev_id);
	return ok;
}

int main(void)
{
	wolfCrypt_Init();
	TAP_RUN(test_vectors_128);
	TAP_RUN(test_vectors_256);
	TAP_RUN(test_random_vs_wolfssl);
	TAP_RUN(test_random_narrow);
	TAP_RUN(test_tag_failure);
	TAP_RUN(test_bad_args);
	TAP_RUN(test_cryptocb);
	TAP_RUN(test_register);
	wolfCrypt_Cleanup();
	return tap_done();
}
