/* FNV-1a, the one string hash of the daemon: for the small in-memory tables
 * (DNS cache, hosts, TLS sessions, the summary's failing hosts). Fast on
 * short keys and good enough for buckets; not for anything an attacker
 * may aim at a single bucket with any gain beyond a longer chain. */
#ifndef RF_HASH_H
#define RF_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_BASIS 2166136261u	/* 32-bit offset basis */
#define HASH_FNV1A_PRIME 16777619u

/* Fold one more value into h (a byte, or a small integer taken whole). */
static inline uint32_t hash_fnv1a_mix(uint32_t h, uint32_t v)
{
	return (h ^ v) * HASH_FNV1A_PRIME;
}

/* FNV-1a of the NUL-terminated string s. */
static inline uint32_t hash_fnv1a_str(const char *s)
{
	uint32_t h = HASH_FNV1A_BASIS;

	while (*s)
		h = hash_fnv1a_mix(h, (unsigned char)*s++);
	return h;
}

/* FNV-1a of the n bytes at s with ASCII letters lower-cased: a fleet's
 * job partition is this of the host name (without port) mod the number
 * of partitions (SPEC, Fleet), so every producer, in any language,
 * computes the same one. Part of the contract: never change it. */
static inline uint32_t hash_fnv1a32_lower(const char *s, size_t n)
{
	uint32_t h = HASH_FNV1A_BASIS;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = hash_fnv1a_mix(h, c);
	}
	return h;
}

#endif
