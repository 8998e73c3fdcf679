/* AES-128/256-GCM (NIST SP 800-38D) on AES-NI and PCLMULQDQ, lent to
 * wolfSSL as a crypto-callback device: Debian's wolfSSL has neither, and
 * its table-driven GCM is slow and not constant-time. */
#ifndef RF_AESGCM_H
#define RF_AESGCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wc_CryptoInfo;

/* Whether this CPU has AES-NI, PCLMULQDQ and SSE4.1 (checked once). */
bool aesgcm_available(void);

/* Whether the 512-bit VAES path is in use; allow = false keeps to the
 * 128-bit code (for tests of both on one machine), true restores the
 * CPU's best. Returns the previous setting. */
bool aesgcm_wide(bool allow);

/* Encrypt len bytes from in to out (they may be the same buffer, not
 * otherwise overlapping) under key (key_len 16 or 32) and iv (iv_len >= 1;
 * 12 is the fast, usual case), authenticating aad too, and write the first
 * tag_len (1..16) bytes of the tag. Returns 0, -EINVAL for a bad length,
 * or -ENOTSUP without aesgcm_available(). */
int aesgcm_seal(const uint8_t *key, size_t key_len, const uint8_t *iv,
		size_t iv_len, const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag,
		size_t tag_len);

/* The inverse: check tag (tag_len bytes, compared in constant time) and
 * decrypt. Returns 0, -EBADMSG when the tag does not match (out is then
 * zeroed, so no unauthenticated plaintext escapes), or -EINVAL/-ENOTSUP as
 * aesgcm_seal(). */
int aesgcm_open(const uint8_t *key, size_t key_len, const uint8_t *iv,
		size_t iv_len, const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out,
		const uint8_t *tag, size_t tag_len);

/* Register the device with wolfCrypt (after wolfSSL_Init(); again after
 * every wolfSSL_Cleanup(), which forgets devices). Returns the devId to
 * give wolfSSL_CTX_SetDevId(), or -1 when the CPU lacks AES-NI (wolfSSL's
 * own code then does everything) or registration failed. */
int aesgcm_register(void);

/* The callback itself, exported for the unit test: one-shot AES-GCM with a
 * 16- or 32-byte key, wolfSSL's return codes (AES_GCM_AUTH_E on a bad tag);
 * CRYPTOCB_UNAVAILABLE for anything else, which wolfSSL then does in
 * software. Reads the raw key from Aes.devKey, which wolfCrypt fills only
 * for an Aes initialised with a devId. */
int aesgcm_cryptocb(int dev_id, struct wc_CryptoInfo *info, void *ctx);

#endif
