/* Growable byte buffer with a ceiling: doubling growth, clamped so the
 * allocation never exceeds max + 1 bytes. */
#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BUF_MIN_CAP 64

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	/* keep max + 1 (the NUL) representable */
	b->max = max < SIZE_MAX - 1 ? max : SIZE_MAX - 2;
}

void buf_fini(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max - b->len)
		return -ENOBUFS;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need)
		cap = need;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	if (!b->p)
		p[0] = '\0';
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_append_slow(struct buf *b, const void *d, size_t n)
{
	int err = buf_reserve(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap - b->len;	/* includes the NUL slot */
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out_restore;
	if ((size_t)n < room && (size_t)n <= b->max - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	err = buf_reserve(b, (size_t)n);
	if (err) {
		if (b->p)
			b->p[b->len] = '\0';
		return err;
	}
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out_restore;
	b->len += (size_t)n;
	return 0;

out_restore:
	/* vsnprintf may have scribbled past len: restore the terminator */
	if (b->p)
		b->p[b->len] = '\0';
	return -EINVAL;
}

void buf_shrink(struct buf *b, size_t keep)
{
	char *p;

	if (b->len > keep || b->cap <= keep + 1)
		return;
	if (keep == 0) {
		buf_fini(b);
		return;
	}
	p = realloc(b->p, keep + 1);
	if (!p)
		return;
	b->p = p;
	b->cap = keep + 1;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}
