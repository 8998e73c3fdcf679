/* Linear probing over a power-of-two table, doubled while the bound
 * allows; a key is the first 128 bits of SHA-256, so probe positions and
 * equality both come from it. */
#include "engine/dedupe.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/sha256.h"

#define MIN_CAP 1024

void dedupe_init(struct dedupe *d, size_t max_bytes)
{
	memset(d, 0, sizeof(*d));
	d->max_bytes = max_bytes;
}

void dedupe_fini(struct dedupe *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static struct dedupe_slot *find(struct dedupe_slot *v, size_t cap,
				uint64_t k0, uint64_t k1)
{
	size_t i = (size_t)k0 & (cap - 1);

	while ((v[i].k0 || v[i].k1) && (v[i].k0 != k0 || v[i].k1 != k1))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Double the table (or make the first one). Returns false when the bound
 * or memory says no. */
static bool grow(struct dedupe *d)
{
	size_t cap = d->cap ? d->cap * 2 : MIN_CAP;
	struct dedupe_slot *v;

	if (cap * sizeof(*v) > d->max_bytes)
		return false;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return false;
	for (size_t i = 0; i < d->cap; i++)
		if (d->v[i].k0 || d->v[i].k1)
			*find(v, cap, d->v[i].k0, d->v[i].k1) = d->v[i];
	free(d->v);
	d->v = v;
	d->cap = cap;
	return true;
}

uint64_t dedupe_check(struct dedupe *d, const char *href, size_t n,
		      uint64_t num)
{
	uint8_t digest[32];
	struct dedupe_slot *s;
	struct sha256 h;
	uint64_t k0, k1;

	sha256_init(&h);
	sha256_update(&h, href, n);
	sha256_final(&h, digest);
	memcpy(&k0, digest, 8);
	memcpy(&k1, digest + 8, 8);
	if (!k0 && !k1)
		k1 = 1;		/* (0, 0) marks a free slot */
	if (d->cap) {
		s = find(d->v, d->cap, k0, k1);
		if (s->k0 || s->k1) {
			d->hits++;
			return s->num;
		}
	}
	if ((d->n + 1) * 4 > d->cap * 3 && !grow(d)) {
		if (!d->full)
			log_warn("batch.dedupe_memory (%zu bytes) is full after "
				 "%zu URLs: newer URLs are fetched without the "
				 "duplicate check", d->max_bytes, d->n);
		d->full = true;
		return 0;
	}
	s = find(d->v, d->cap, k0, k1);
	s->k0 = k0;
	s->k1 = k1;
	s->num = num;
	d->n++;
	return 0;
}
