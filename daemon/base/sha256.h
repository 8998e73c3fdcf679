/* SHA-256 (FIPS 180-4) of bodies as they stream: init, update, final. */
#ifndef RF_SHA256_H
#define RF_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];		/* chaining state */
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[64];	/* partial block, len % 64 bytes used */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Write the digest to out; s must be sha256_init()ed again before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* Lowercase hex of a digest into hex[65] (NUL-terminated). */
void sha256_hex(const uint8_t digest[32], char hex[65]);

/* "sha-ni" or "portable": the compression function this process uses,
 * picking it first if nothing has hashed yet. Never fails. */
const char *sha256_impl_name(void);

/* For tests: true routes every later update through the portable C
 * compression even where SHA-NI exists; false goes back to the fastest one
 * the CPU supports, unless RINGFETCH_SHA256=portable is set. Process-wide; not for use while other threads hash. */
void sha256_force_portable(bool on);

#endif
