/* JSON writers and a recursive-descent parser (RFC 8259).
 *
 * The parser sizes its one allocation before it starts, from two facts:
 * every value but the root follows a '[', ',' or ':' in the input, so
 * counting those bytes bounds the number of nodes; and unescaping never
 * lengthens a string (each escape is at least as long as the UTF-8 it
 * stands for), so the strings, NUL included, fit in len + 1 bytes. */
#include "base/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 (RFC 3629 section 4) ---- */

/* Length of the well-formed sequence at s (1 to 4 bytes, *ok set), or of
 * its maximal ill-formed subpart (1 to 3 bytes, *ok cleared). n >= 1. */
static size_t utf8_scan(const unsigned char *s, size_t n, bool *ok)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*ok = false;
	if (c < 0x80) {
		*ok = true;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else {
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return i;
		lo = 0x80;
		hi = 0xbf;
	}
	*ok = true;
	return need + 1;
}

/* ---- writing ---- */

static inline bool is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static int put_escape(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '"':  return buf_append(b, "\\\"", 2);
	case '\\': return buf_append(b, "\\\\", 2);
	case '\b': return buf_append(b, "\\b", 2);
	case '\f': return buf_append(b, "\\f", 2);
	case '\n': return buf_append(b, "\\n", 2);
	case '\r': return buf_append(b, "\\r", 2);
	case '\t': return buf_append(b, "\\t", 2);
	default:   return buf_append(b, e, sizeof(e));
	}
}

int json_put_strn(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = b->len, i = 0, run, k;
	bool ok;
	int err;

	/* output is never shorter than n + 2, so this either fails for good
	 * or makes the common, escape-free string a single copy */
	if (n > SIZE_MAX - 2)
		return -ENOBUFS;
	err = buf_reserve(b, n + 2);
	if (err)
		return err;
	buf_putc(b, '"');
	while (i < n) {
		for (run = i; run < n && is_plain(u[run]); run++)
			;
		if (run > i && (err = buf_append(b, u + i, run - i)))
			goto out_undo;
		i = run;
		if (i == n)
			break;
		if (u[i] < 0x80) {
			err = put_escape(b, u[i]);
			i++;
		} else {
			k = utf8_scan(u + i, n - i, &ok);
			err = ok ? buf_append(b, u + i, k)
				 : buf_append(b, "\\ufffd", 6);
			i += k;
		}
		if (err)
			goto out_undo;
	}
	err = buf_putc(b, '"');
	if (err)
		goto out_undo;
	return 0;

out_undo:
	buf_truncate(b, start);
	return err;
}

int json_put_str(struct buf *b, const char *s)
{
	return json_put_strn(b, s, strlen(s));
}

int json_put_str_or_null(struct buf *b, const char *s)
{
	return s ? json_put_strn(b, s, strlen(s)) : json_put_null(b);
}

int json_put_u64(struct buf *b, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return buf_append(b, d + i, sizeof(d) - i);
}

int json_put_i64(struct buf *b, int64_t v)
{
	char d[21];
	/* negate in unsigned arithmetic: -INT64_MIN does not fit int64_t */
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		d[--i] = '-';
	return buf_append(b, d + i, sizeof(d) - i);
}

int json_put_double(struct buf *b, double v)
{
	char d[32];
	int n, prec = 15;

	if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
		return json_put_null(b);
	if (v == 0)
		return buf_append(b, "0", 1);	/* not "-0" */
	/* the shortest of 15..17 digits that reads back as v: 0.1 stays 0.1,
	 * and 17 always round-trips an IEEE double */
	do {
		n = snprintf(d, sizeof(d), "%.*g", prec, v);
	} while (prec++ < 17 && strtod(d, NULL) != v);
	return buf_append(b, d, (size_t)n);
}

int json_put_bool(struct buf *b, bool v)
{
	return v ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
}

int json_put_null(struct buf *b)
{
	return buf_append(b, "null", 4);
}

int json_put_raw(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* ---- parsing ---- */

struct parser {
	const unsigned char *s;
	size_t len;
	size_t pos;		/* next byte to read, <= len */
	struct json_val *node;	/* node[0..n_node-1] are in use */
	size_t n_node, cap_node;
	char *sp;		/* next free byte of the string area */
	const char *why;	/* set with pos on the first error */
};

static int fail(struct parser *p, const char *why)
{
	p->why = why;
	return -EINVAL;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static struct json_val *node_new(struct parser *p)
{
	struct json_val *v;

	if (p->n_node == p->cap_node)	/* cannot happen: see the top */
		return NULL;
	v = &p->node[p->n_node++];
	memset(v, 0, sizeof(*v));
	return v;
}

static int hex4(struct parser *p, unsigned *out)
{
	unsigned v = 0, i;

	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		unsigned char c = p->s[p->pos + i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return fail(p, "invalid \\u escape");
	}
	p->pos += 4;
	*out = v;
	return 0;
}

static char *put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xc0 | cp >> 6);
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xe0 | cp >> 12);
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (char)(0xf0 | cp >> 18);
		*d++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	}
	return d;
}

/* \uXXXX, p->pos just past the 'u'; a high surrogate must be followed by
 * an escaped low one (RFC 8259 section 7). */
static int parse_u_escape(struct parser *p, char **d)
{
	unsigned cp, lo;
	size_t at = p->pos - 2;
	int err = hex4(p, &cp);

	if (err)
		return err;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		p->pos = at;
		return fail(p, "lone low surrogate in \\u escape");
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
		    p->s[p->pos + 1] != 'u') {
			p->pos = at;
			return fail(p, "lone high surrogate in \\u escape");
		}
		p->pos += 2;
		err = hex4(p, &lo);
		if (err)
			return err;
		if (lo < 0xdc00 || lo > 0xdfff) {
			p->pos = at;
			return fail(p, "lone high surrogate in \\u escape");
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*d = put_utf8(*d, cp);
	return 0;
}

static int parse_escape(struct parser *p, char **d)
{
	unsigned char c;

	if (++p->pos >= p->len)
		return fail(p, "unexpected end of input");
	c = p->s[p->pos++];
	switch (c) {
	case '"':
	case '\\':
	case '/': *(*d)++ = (char)c; return 0;
	case 'b': *(*d)++ = '\b'; return 0;
	case 'f': *(*d)++ = '\f'; return 0;
	case 'n': *(*d)++ = '\n'; return 0;
	case 'r': *(*d)++ = '\r'; return 0;
	case 't': *(*d)++ = '\t'; return 0;
	case 'u': return parse_u_escape(p, d);
	default:
		p->pos -= 2;
		return fail(p, "invalid escape in string");
	}
}

/* p->pos at the opening quote; the result goes to the string area. */
static int parse_string(struct parser *p, const char **out, uint32_t *n)
{
	char *start = p->sp, *d = p->sp;
	size_t k;
	bool ok;
	int err;

	p->pos++;
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len)
			return fail(p, "unterminated string");
		c = p->s[p->pos];
		if (c == '"')
			break;
		if (c == '\\') {
			err = parse_escape(p, &d);
			if (err)
				return err;
		} else if (c < 0x20) {
			return fail(p, "control character in string");
		} else {
			k = utf8_scan(p->s + p->pos, p->len - p->pos, &ok);
			if (!ok)
				return fail(p, "invalid UTF-8 in string");
			memcpy(d, p->s + p->pos, k);
			d += k;
			p->pos += k;
		}
	}
	p->pos++;
	*d = '\0';
	*out = start;
	*n = (uint32_t)(d - start);
	p->sp = d + 1;
	return 0;
}

static void skip_digits(struct parser *p)
{
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
}

static bool at_digit(const struct parser *p)
{
	return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/* Digits at s[0..n-1], with a sign, into *out; false past int64_t. */
static bool digits_to_i64(const unsigned char *s, size_t n, bool neg,
			  int64_t *out)
{
	uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned d = s[i] - '0';

		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* RFC 8259 section 6 grammar, checked here; strtod() does the rounding,
 * integers are also kept exactly, since doubles lose them past 2^53. */
static int parse_number(struct parser *p, struct json_val *v)
{
	size_t start = p->pos, digits, k;
	bool neg = p->s[p->pos] == '-';

	if (neg)
		p->pos++;
	if (!at_digit(p))
		return fail(p, "invalid number");
	digits = p->pos;
	if (p->s[p->pos++] != '0')
		skip_digits(p);
	v->is_int = p->pos == p->len ||
		    (p->s[p->pos] != '.' && (p->s[p->pos] | 0x20) != 'e');
	if (v->is_int)
		v->is_int = digits_to_i64(p->s + digits, p->pos - digits, neg,
					  &v->i);
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!at_digit(p))
			return fail(p, "invalid number");
		skip_digits(p);
	}
	if (p->pos < p->len && (p->s[p->pos] | 0x20) == 'e') {
		p->pos++;
		if (p->pos < p->len &&
		    (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!at_digit(p))
			return fail(p, "invalid number");
		skip_digits(p);
	}
	/* the string area has room for a scratch copy: see the top */
	k = p->pos - start;
	memcpy(p->sp, p->s + start, k);
	p->sp[k] = '\0';
	v->type = JSON_NUMBER;
	v->num = strtod(p->sp, NULL);
	if (v->num > 1.7976931348623157e308 ||
	    v->num < -1.7976931348623157e308) {
		p->pos = start;
		return fail(p, "number out of range");
	}
	return 0;
}

static int parse_literal(struct parser *p, struct json_val *v)
{
	static const struct {
		const char *word;
		size_t n;
		enum json_type type;
		bool b;
	} lit[] = {
		{ "true", 4, JSON_BOOL, true },
		{ "false", 5, JSON_BOOL, false },
		{ "null", 4, JSON_NULL, false },
	};
	size_t i;

	for (i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		if (p->len - p->pos >= lit[i].n &&
		    !memcmp(p->s + p->pos, lit[i].word, lit[i].n)) {
			v->type = lit[i].type;
			v->b = lit[i].b;
			p->pos += lit[i].n;
			return 0;
		}
	}
	return fail(p, "invalid literal");
}

static int parse_value(struct parser *p, struct json_val *v, unsigned depth);

/* Parse what follows ',' or '[' into a new node linked after *tail. */
static int parse_child(struct parser *p, struct json_val *parent,
		       struct json_val **tail, unsigned depth,
		       struct json_val **out)
{
	struct json_val *c = node_new(p);
	int err;

	if (!c)
		return fail(p, "too many values");
	err = parse_value(p, c, depth + 1);
	if (err)
		return err;
	if (*tail)
		(*tail)->next = c;
	else
		parent->child = c;
	*tail = c;
	parent->len++;
	*out = c;
	return 0;
}

/* After a member or element: ',' continues (returns 1), close ends
 * (returns 0). */
static int parse_sep(struct parser *p, char close, const char *why)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end of input");
	if (p->s[p->pos] == ',') {
		p->pos++;
		return 1;
	}
	if (p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	return fail(p, why);
}

/* Take the opening bracket of an array or object at p->pos and make v
 * one. Returns true when close follows at once (an empty container; it
 * is taken too), false when members follow. */
static bool open_container(struct parser *p, struct json_val *v,
			   enum json_type type, char close)
{
	v->type = type;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return true;
	}
	return false;
}

static int parse_array(struct parser *p, struct json_val *v, unsigned depth)
{
	struct json_val *tail = NULL, *c;
	int err;

	if (open_container(p, v, JSON_ARRAY, ']'))
		return 0;
	do {
		err = parse_child(p, v, &tail, depth, &c);
		if (err)
			return err;
		err = parse_sep(p, ']', "expected ',' or ']'");
	} while (err == 1);
	return err;
}

static int parse_object(struct parser *p, struct json_val *v, unsigned depth)
{
	struct json_val *tail = NULL, *c;
	const char *key;
	uint32_t key_len;
	int err;

	if (open_container(p, v, JSON_OBJECT, '}'))
		return 0;
	do {
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, "unexpected end of input");
		if (p->s[p->pos] != '"')
			return fail(p, "expected a string key");
		err = parse_string(p, &key, &key_len);
		if (err)
			return err;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, "unexpected end of input");
		if (p->s[p->pos] != ':')
			return fail(p, "expected ':'");
		p->pos++;
		err = parse_child(p, v, &tail, depth, &c);
		if (err)
			return err;
		c->key = key;
		c->key_len = key_len;
		err = parse_sep(p, '}', "expected ',' or '}'");
	} while (err == 1);
	return err;
}

/* depth: containers enclosing v */
static int parse_value(struct parser *p, struct json_val *v, unsigned depth)
{
	unsigned char c;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end of input");
	c = p->s[p->pos];
	if ((c == '[' || c == '{') && depth >= JSON_MAX_DEPTH)
		return fail(p, "nesting deeper than 32");
	switch (c) {
	case '{':
		return parse_object(p, v, depth);
	case '[':
		return parse_array(p, v, depth);
	case '"':
		v->type = JSON_STRING;
		return parse_string(p, &v->str, &v->len);
	case 't':
	case 'f':
	case 'n':
		return parse_literal(p, v);
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(p, v);
		return fail(p, "expected a value");
	}
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int json_parse(const char *s, size_t len, struct json_doc *doc, char *err,
	       size_t errlen)
{
	struct parser p = { .s = (const unsigned char *)s, .len = len };
	struct json_val *root;
	size_t i;
	int rc;

	doc->root = NULL;
	doc->arena = NULL;
	if (len > JSON_MAX_LEN) {
		set_err(err, errlen,
			"JSON document too large (%zu bytes, max %u)", len,
			JSON_MAX_LEN);
		return -E2BIG;
	}
	p.cap_node = 1;
	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == ':' || s[i] == '[')
			p.cap_node++;
	p.node = malloc(p.cap_node * sizeof(*p.node) + len + 1);
	if (!p.node) {
		set_err(err, errlen, "out of memory parsing JSON");
		return -ENOMEM;
	}
	p.sp = (char *)(p.node + p.cap_node);
	root = node_new(&p);
	rc = parse_value(&p, root, 0);
	if (!rc) {
		skip_ws(&p);
		if (p.pos < p.len)
			rc = fail(&p, "unexpected data after the value");
	}
	if (rc) {
		set_err(err, errlen, "invalid JSON at byte %zu: %s", p.pos,
			p.why);
		free(p.node);
		return rc;
	}
	doc->root = root;
	doc->arena = p.node;
	return 0;
}

void json_doc_free(struct json_doc *doc)
{
	free(doc->arena);
	doc->arena = NULL;
	doc->root = NULL;
}

const struct json_val *json_get(const struct json_val *obj, const char *key)
{
	const struct json_val *m;
	size_t n;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	n = strlen(key);
	for (m = obj->child; m; m = m->next)
		if (m->key_len == n && !memcmp(m->key, key, n))
			return m;
	return NULL;
}

const struct json_val *json_first(const struct json_val *v)
{
	if (!v || (v->type != JSON_ARRAY && v->type != JSON_OBJECT))
		return NULL;
	return v->child;
}

const struct json_val *json_next(const struct json_val *v)
{
	return v ? v->next : NULL;
}

const char *json_as_str(const struct json_val *v)
{
	return v && v->type == JSON_STRING ? v->str : NULL;
}

bool json_as_int(const struct json_val *v, int64_t *out)
{
	if (!v || v->type != JSON_NUMBER || !v->is_int)
		return false;
	*out = v->i;
	return true;
}

const char *json_type_name(enum json_type t)
{
	static const char *const name[] = {
		[JSON_NULL] = "null",	[JSON_BOOL] = "bool",
		[JSON_NUMBER] = "number", [JSON_STRING] = "string",
		[JSON_ARRAY] = "array",	[JSON_OBJECT] = "object",
	};

	return (unsigned)t < sizeof(name) / sizeof(name[0]) ? name[t] :
							       "unknown";
}
