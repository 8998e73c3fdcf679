/* RESP2 (https://redis.io/docs/reference/protocol-spec/): commands out as
 * arrays of bulk strings, replies in, parsed without copying. The parser
 * starts over from the first byte on every call rather than keeping a
 * resumable state: replies the daemon waits for are small, and a bulk
 * string's bytes are only counted, never scanned. */
#include "base/resp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 256		/* replies in the first block */
#define INT_DIGITS_MAX 19	/* LLONG_MAX has 19 digits */
#define ELEM_BYTES_MIN 3	/* the shortest reply: "+\r\n" */

struct resp_block {
	struct resp_block *next;
	size_t used, cap;	/* replies handed out, and room, in r[] */
	struct resp_reply r[];
};

/* ---- encoder ---- */

/* "PREFIX<v>\r\n" into out (room for 24 bytes); returns its length. */
static size_t fmt_len(char *out, char prefix, uint64_t v)
{
	return (size_t)snprintf(out, 24, "%c%llu\r\n", prefix,
				(unsigned long long)v);
}

void resp_begin(struct buf *b, unsigned argc)
{
	char h[24];

	buf_append(b, h, fmt_len(h, '*', argc));
}

void resp_arg(struct buf *b, const void *p, size_t n)
{
	char h[24];
	size_t hn = fmt_len(h, '$', n);

	/* reserved whole, so the appends below cannot fail half-way */
	if (n > SIZE_MAX - hn - 2 || buf_reserve(b, hn + n + 2) < 0)
		return;
	buf_append(b, h, hn);
	buf_append(b, p, n);
	buf_append(b, "\r\n", 2);
}

void resp_arg_str(struct buf *b, const char *s)
{
	resp_arg(b, s, strlen(s));
}

void resp_arg_u64(struct buf *b, uint64_t v)
{
	char d[24];

	resp_arg(b, d, (size_t)snprintf(d, sizeof(d), "%llu",
					(unsigned long long)v));
}

int resp_cmd(struct buf *b, int argc, const char *const *argv,
	     const size_t *lens)
{
	size_t total, start = b->len;
	char h[24];
	int rc;

	if (argc <= 0)
		return -EINVAL;
	total = fmt_len(h, '*', (unsigned)argc);
	for (int i = 0; i < argc; i++) {
		size_t n = lens ? lens[i] : strlen(argv[i]);

		total += fmt_len(h, '$', n) + n + 2;
	}
	rc = buf_reserve(b, total);
	if (rc < 0)
		return rc;
	resp_begin(b, (unsigned)argc);
	for (int i = 0; i < argc; i++)
		resp_arg(b, argv[i], lens ? lens[i] : strlen(argv[i]));
	/* cannot fail after the reserve; a bug if it did */
	if (b->len != start + total) {
		buf_truncate(b, start);
		return -ENOBUFS;
	}
	return 0;
}

/* ---- numbers and lines, shared by both directions ---- */

/* Parse a decimal line "[-]digits\r\n" at p[*off..n). Returns 1 and moves
 * *off past it, 0 when the line is not complete, -EPROTO when malformed. */
static int parse_int_line(const char *p, size_t n, size_t *off,
			  long long *v)
{
	size_t i = *off;
	bool neg = false;
	unsigned digits = 0;
	unsigned long long acc = 0;

	if (i < n && p[i] == '-') {
		neg = true;
		i++;
	}
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (++digits > INT_DIGITS_MAX)
			return -EPROTO;
		acc = acc * 10 + (unsigned)(p[i] - '0');
	}
	if (i >= n)
		return 0;
	if (!digits || p[i] != '\r')
		return -EPROTO;
	if (i + 1 >= n)
		return 0;
	if (p[i + 1] != '\n')
		return -EPROTO;
	/* 19 digits may still pass LLONG_MAX; -LLONG_MIN is not wanted */
	if (acc > (unsigned long long)__LONG_LONG_MAX__)
		return -EPROTO;
	*v = neg ? -(long long)acc : (long long)acc;
	*off = i + 2;
	return 1;
}

/* ---- command check ---- */

ssize_t resp_cmd_check(const char *p, size_t n)
{
	size_t off = 0;
	ssize_t cmds = 0;
	long long argc, len;

	while (off < n) {
		if (p[off++] != '*' || parse_int_line(p, n, &off, &argc) != 1 ||
		    argc < 1)
			return -EINVAL;
		while (argc--) {
			if (off >= n || p[off++] != '$' ||
			    parse_int_line(p, n, &off, &len) != 1 || len < 0 ||
			    (size_t)len > n - off || n - off - (size_t)len < 2 ||
			    p[off + (size_t)len] != '\r' ||
			    p[off + (size_t)len + 1] != '\n')
				return -EINVAL;
			off += (size_t)len + 2;
		}
		cmds++;
	}
	return cmds;
}

/* ---- arena ---- */

void resp_arena_init(struct resp_arena *a, size_t len_max)
{
	a->head = a->cur = NULL;
	a->len_max = len_max;
}

void resp_arena_fini(struct resp_arena *a)
{
	struct resp_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = a->cur = NULL;
}

void resp_arena_reset(struct resp_arena *a)
{
	struct resp_block *b, *next;

	if (!a->head)
		return;
	for (b = a->head->next; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head->next = NULL;
	a->head->used = 0;
	a->cur = a->head;
}

struct mark {
	struct resp_block *cur;
	size_t used;
};

static struct mark arena_mark(const struct resp_arena *a)
{
	return (struct mark){ a->cur, a->cur ? a->cur->used : 0 };
}

/* Give back everything allocated since m (blocks stay for reuse). */
static void arena_rollback(struct resp_arena *a, struct mark m)
{
	struct resp_block *b = m.cur ? m.cur->next : a->head;

	for (; b; b = b->next)
		b->used = 0;
	a->cur = m.cur ? m.cur : a->head;
	if (m.cur)
		m.cur->used = m.used;
}

static struct resp_block *block_new(size_t cap)
{
	struct resp_block *b;

	if (cap > (SIZE_MAX - sizeof(*b)) / sizeof(struct resp_reply))
		return NULL;
	b = malloc(sizeof(*b) + cap * sizeof(struct resp_reply));
	if (!b)
		return NULL;
	b->next = NULL;
	b->used = 0;
	b->cap = cap;
	return b;
}

/* n contiguous zeroed replies, or NULL when out of memory. */
static struct resp_reply *arena_alloc(struct resp_arena *a, size_t n)
{
	struct resp_block *b = a->cur, *nb;
	struct resp_reply *r;

	/* later blocks are empty (see arena_rollback): move on to one that
	 * fits, else put a new one right after the current */
	while (b && b->cap - b->used < n && b->next && b->next->cap >= n)
		b = b->next;
	if (!b || b->cap - b->used < n) {
		size_t cap = b ? b->cap * 2 : BLOCK_MIN;

		nb = block_new(cap > n ? cap : n);
		if (!nb)
			return NULL;
		if (!b) {
			a->head = nb;
		} else {
			nb->next = b->next;
			b->next = nb;
		}
		b = nb;
	}
	a->cur = b;
	r = b->r + b->used;
	b->used += n;
	memset(r, 0, n * sizeof(*r));
	return r;
}

/* ---- parser ---- */

struct pctx {
	const char *p;
	size_t n, off;
	struct resp_arena *a;
};

/* A simple string or error line: up to CRLF, which it may not contain. */
static int parse_line(struct pctx *c, struct resp_reply *r)
{
	size_t start = c->off, i;

	for (i = start; i < c->n; i++) {
		if (c->p[i] == '\n')
			return -EPROTO;
		if (c->p[i] == '\r')
			break;
		if (i - start >= c->a->len_max)
			return -E2BIG;
	}
	if (i + 1 >= c->n)
		return 0;
	if (c->p[i + 1] != '\n')
		return -EPROTO;
	r->str = c->p + start;
	r->len = i - start;
	c->off = i + 2;
	return 1;
}

static int parse_value(struct pctx *c, struct resp_reply *r, unsigned depth);

/* The length line of a bulk string or an array: 1 with *len >= 0, or 1
 * with r made RESP_NIL for -1 (*len then -1); 0 for more bytes, -errno. */
static int parse_len(struct pctx *c, struct resp_reply *r, long long *len)
{
	int rc = parse_int_line(c->p, c->n, &c->off, len);

	if (rc != 1)
		return rc;
	if (*len == -1) {
		r->type = RESP_NIL;
		return 1;
	}
	if (*len < 0)
		return -EPROTO;
	if ((unsigned long long)*len > c->a->len_max)
		return -E2BIG;
	return 1;
}

static int parse_bulk(struct pctx *c, struct resp_reply *r)
{
	long long len;
	int rc = parse_len(c, r, &len);

	if (rc != 1 || len < 0)
		return rc;
	if (c->n - c->off < (size_t)len + 2)
		return 0;
	if (c->p[c->off + (size_t)len] != '\r' ||
	    c->p[c->off + (size_t)len + 1] != '\n')
		return -EPROTO;
	r->str = c->p + c->off;
	r->len = (size_t)len;
	c->off += (size_t)len + 2;
	return 1;
}

static int parse_array(struct pctx *c, struct resp_reply *r, unsigned depth)
{
	long long len;
	int rc = parse_len(c, r, &len);

	if (rc != 1 || len < 0)
		return rc;
	if (depth > RESP_DEPTH_MAX)
		return -E2BIG;
	/* allocate only what the bytes at hand could fill, so a hostile
	 * count costs memory in proportion to what was received */
	if ((size_t)len > (c->n - c->off) / ELEM_BYTES_MIN)
		return 0;
	r->n = (size_t)len;
	if (!len)
		return 1;
	r->elem = arena_alloc(c->a, (size_t)len);
	if (!r->elem)
		return -ENOMEM;
	for (size_t i = 0; i < (size_t)len; i++) {
		rc = parse_value(c, &r->elem[i], depth + 1);
		if (rc != 1)
			return rc;
	}
	return 1;
}

/* One value at c->off, at nesting depth (1 = the reply itself). */
static int parse_value(struct pctx *c, struct resp_reply *r, unsigned depth)
{
	char t;

	if (c->off >= c->n)
		return 0;
	t = c->p[c->off++];
	switch (t) {
	case '+':
		r->type = RESP_STRING;
		return parse_line(c, r);
	case '-':
		r->type = RESP_ERROR;
		return parse_line(c, r);
	case ':':
		r->type = RESP_INT;
		return parse_int_line(c->p, c->n, &c->off, &r->integer);
	case '$':
		r->type = RESP_BULK;
		return parse_bulk(c, r);
	case '*':
		r->type = RESP_ARRAY;
		return parse_array(c, r, depth);
	default:
		/* RESP3 types too: we never send HELLO 3 */
		return -EPROTO;
	}
}

ssize_t resp_parse(const char *p, size_t n, struct resp_arena *a,
		   struct resp_reply **out)
{
	struct mark m = arena_mark(a);
	struct pctx c = { .p = p, .n = n, .off = 0, .a = a };
	struct resp_reply *r;
	int rc;

	if (n == 0)
		return 0;
	r = arena_alloc(a, 1);
	if (!r)
		return -ENOMEM;
	rc = parse_value(&c, r, 1);
	if (rc != 1) {
		arena_rollback(a, m);
		return rc;
	}
	*out = r;
	return (ssize_t)c.off;
}

bool resp_str_eq(const struct resp_reply *r, const char *s)
{
	size_t n = strlen(s);

	return r && (r->type == RESP_STRING || r->type == RESP_BULK) &&
	       r->len == n && memcmp(r->str, s, n) == 0;
}
