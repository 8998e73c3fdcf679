/* A growable byte buffer with a hard ceiling fixed at init, as curl's dynbuf
 * (docs/internals/DYNBUF.md): nothing that grows from peer input can grow
 * without bound. The contents are always NUL-terminated once allocated, so
 * text can be handed to C string functions without a copy. */
#ifndef RF_BUF_H
#define RF_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *p;	/* NULL until the first growth; else p[len] == '\0' */
	size_t len;	/* bytes held, len <= max */
	size_t cap;	/* bytes allocated at p (room for len and the NUL) */
	size_t max;	/* ceiling on len, set by buf_init() */
};

/* Make b empty with a ceiling of max bytes of content. Never allocates;
 * b needs no buf_fini() until something is appended. */
void buf_init(struct buf *b, size_t max);

/* Free b's memory and leave it empty with the same ceiling, ready for reuse.
 * Harmless on an empty or already finished buffer. */
void buf_fini(struct buf *b);

/* Make room for n more bytes (plus the NUL) without changing len. Returns 0,
 * -ENOBUFS when len + n would pass the ceiling, or -ENOMEM; on failure b is
 * unchanged. */
int buf_reserve(struct buf *b, size_t n);

/* Out-of-line half of buf_append(); call that instead. */
int buf_append_slow(struct buf *b, const void *d, size_t n);

/* Append n bytes from d (which must not point into b). Returns 0, -ENOBUFS
 * past the ceiling, or -ENOMEM; on failure b is unchanged. Inline because
 * short appends that fit are the hot path of every record we write. */
static inline int buf_append(struct buf *b, const void *d, size_t n)
{
	/* cap is 0 while p is NULL, so an unallocated buffer goes slow */
	if (n < b->cap - b->len) {
		memcpy(b->p + b->len, d, n);
		b->len += n;
		b->p[b->len] = '\0';
		return 0;
	}
	return buf_append_slow(b, d, n);
}

/* Append a NUL-terminated string; as buf_append(). */
static inline int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Append one byte; as buf_append(). */
static inline int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

/* Append printf-formatted text. Returns 0, -ENOBUFS past the ceiling,
 * -ENOMEM, or -EINVAL when the format fails; on failure b is unchanged. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Drop the first n bytes (all of them when n >= len), moving the rest to
 * the front. Keeps the memory. */
void buf_consume(struct buf *b, size_t n);

/* Give back what b holds beyond keep bytes of content once a burst is
 * over: when len <= keep and more than keep + 1 bytes are allocated, the
 * allocation shrinks to keep + 1 (it is freed when keep is 0 and b is
 * empty). Otherwise, or when realloc fails, b is unchanged. Contents stay.
 * For buffers that live long and see rare bursts: without it they keep
 * the largest burst's size for good. */
void buf_shrink(struct buf *b, size_t keep);

/* Empty b but keep its memory for the next round. */
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* Shorten b to len bytes; a no-op when it is not longer. Used to roll back
 * a partly written record. */
static inline void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->p[len] = '\0';
	}
}

/* True when b holds no bytes. */
static inline bool buf_is_empty(const struct buf *b)
{
	return b->len == 0;
}

#endif
