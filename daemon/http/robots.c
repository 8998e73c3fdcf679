/* robots.txt per RFC 9309: one pass over the lines, keeping the rules of
 * the groups that name our product token and of the "*" groups apart; the
 * end of the file decides which set applies. */
#include "http/robots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Rules as parsed, before the file's end says which groups apply. */
enum { FOR_US = 1, FOR_STAR = 2 };

struct parse {
	struct robots *r;
	struct robots_rule *rules;
	uint8_t *whom;			/* FOR_* of each rule */
	size_t n, cap;
	size_t text_cap;
	const char *product;
	size_t product_len;
	unsigned cur;			/* FOR_* of the group being read */
	bool in_agents;			/* the last record was a user-agent */
	bool seen_us;			/* a group named our token */
	uint64_t delay_us, delay_star;	/* Crawl-delay per set, ms + 1 */
	bool oom;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool is_unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 9309 2.2.2: percent-encoded unreserved octets are decoded, other
 * escapes get upper-case hex, and octets outside printable US-ASCII are
 * encoded, so equal paths are equal octet strings. out holds 3 * n bytes.
 * Returns the length written. */
static size_t normalise(const char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%' && i + 2 < n &&
		    hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
			int v = hexval(in[i + 1]) * 16 + hexval(in[i + 2]);

			i += 2;
			if (is_unreserved(v)) {
				out[o++] = (char)v;
				continue;
			}
			c = (unsigned char)v;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			continue;
		}
		if (c <= 0x20 || c >= 0x7f) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			continue;
		}
		out[o++] = (char)c;
	}
	return o;
}

static int grow(struct parse *p, size_t add)
{
	struct robots *r = p->r;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct robots_rule *v = realloc(p->rules, cap * sizeof(*v));
		uint8_t *w;

		if (!v)
			return -ENOMEM;
		p->rules = v;
		w = realloc(p->whom, cap);
		if (!w)
			return -ENOMEM;
		p->whom = w;
		p->cap = cap;
	}
	if (r->text_len + add > p->text_cap) {
		size_t cap = p->text_cap ? p->text_cap : 1024;
		char *t;

		while (cap < r->text_len + add)
			cap *= 2;
		t = realloc(r->text, cap);
		if (!t)
			return -ENOMEM;
		r->text = t;
		p->text_cap = cap;
	}
	return 0;
}

static void add_rule(struct parse *p, const char *v, size_t n, bool allow)
{
	struct robots *r = p->r;
	struct robots_rule *rule;
	size_t len;

	/* An empty value says nothing (RFC 9309 2.2.2); an overlong one is
	 * junk rather than a rule worth its cost. */
	if (!p->cur || n == 0 || n > ROBOTS_RULE_MAX)
		return;
	if (grow(p, 3 * n + 1) < 0) {
		p->oom = true;
		return;
	}
	len = 0;
	if (v[0] != '/' && v[0] != '*')
		r->text[r->text_len + len++] = '/';
	len += normalise(v, n, r->text + r->text_len + len);
	rule = &p->rules[p->n];
	rule->off = (uint32_t)r->text_len;
	rule->len = (uint16_t)len;
	rule->allow = allow;
	p->whom[p->n++] = (uint8_t)p->cur;
	r->text_len += len;
}

/* Whole seconds, optionally with a fraction ("1", "2.5"); else 0. */
static uint64_t delay_ms(const char *v, size_t n)
{
	uint64_t ms = 0, scale = 1000;
	size_t i = 0;

	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
		ms = ms * 10 + (uint64_t)(v[i] - '0') * 1000;
		if (ms > 86400000)
			return 86400000;
	}
	if (i == 0 && (n == 0 || v[0] != '.'))
		return 0;
	if (i < n && v[i] == '.')
		for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
			scale /= 10;
			ms += (uint64_t)(v[i] - '0') * scale;
		}
	return i == n ? ms : 0;
}

static void set_delay(struct parse *p, const char *v, size_t n)
{
	uint64_t ms = delay_ms(v, n);

	/* The first value of a set counts, as for a merged group's rules. */
	if (!ms)
		return;
	if ((p->cur & FOR_US) && !p->delay_us)
		p->delay_us = ms + 1;
	if ((p->cur & FOR_STAR) && !p->delay_star)
		p->delay_star = ms + 1;
}

/* The product token named by a user-agent value: [A-Za-z_-]+ at its
 * start (RFC 9309 2.2.1), compared case-insensitively. */
static unsigned agent_whom(const struct parse *p, const char *v, size_t n)
{
	size_t t = 0;

	if (n && v[0] == '*')
		return FOR_STAR;
	while (t < n && (is_unreserved(v[t]) && v[t] != '.' && v[t] != '~' &&
			 !(v[t] >= '0' && v[t] <= '9')))
		t++;
	if (t == 0 || t != p->product_len)
		return 0;
	for (size_t i = 0; i < t; i++)
		if (lower((unsigned char)v[i]) !=
		    lower((unsigned char)p->product[i]))
			return 0;
	return FOR_US;
}

static bool key_is(const char *k, size_t n, const char *want)
{
	size_t w = strlen(want);

	if (n != w)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)k[i]) != want[i])
			return false;
	return true;
}

/* One line without its end: "key: value # comment". */
static void line(struct parse *p, const char *s, size_t n)
{
	const char *hash = memchr(s, '#', n), *colon;
	size_t kn, vn;
	const char *v;

	if (hash)
		n = (size_t)(hash - s);
	while (n && is_space(*s)) {
		s++;
		n--;
	}
	colon = memchr(s, ':', n);
	if (!colon)
		return;			/* junk, blank or comment */
	kn = (size_t)(colon - s);
	while (kn && is_space(s[kn - 1]))
		kn--;
	v = colon + 1;
	vn = n - (size_t)(v - s);
	while (vn && is_space(*v)) {
		v++;
		vn--;
	}
	while (vn && is_space(v[vn - 1]))
		vn--;
	if (key_is(s, kn, "user-agent")) {
		unsigned w = agent_whom(p, v, vn);

		if (!p->in_agents)
			p->cur = 0;	/* a new group begins */
		p->in_agents = true;
		p->cur |= w;
		if (w & FOR_US)
			p->seen_us = true;
		return;
	}
	if (key_is(s, kn, "allow") || key_is(s, kn, "disallow")) {
		p->in_agents = false;
		add_rule(p, v, vn, lower((unsigned char)s[0]) == 'a');
	} else if (key_is(s, kn, "crawl-delay")) {
		p->in_agents = false;
		set_delay(p, v, vn);
	}
	/* Sitemap and unknown records belong to no group. */
}

/* Keep the rules of the set that applies, in place. */
static void keep(struct parse *p)
{
	unsigned want = p->seen_us ? FOR_US : FOR_STAR;
	size_t o = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->whom[i] & want)
			p->rules[o++] = p->rules[i];
	p->r->rules = p->rules;
	p->r->n_rules = o;
	p->r->specific = p->seen_us;
	p->r->crawl_delay_ms = p->seen_us ? p->delay_us : p->delay_star;
	if (p->r->crawl_delay_ms)
		p->r->crawl_delay_ms--;
}

int robots_parse(struct robots *r, const char *text, size_t len,
		 const char *product, size_t product_len)
{
	struct parse p = { .r = r, .product = product,
			   .product_len = product_len };
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (len > ROBOTS_MAX_BYTES)
		len = ROBOTS_MAX_BYTES;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		i = 3;			/* UTF-8 byte order mark */
	while (i < len && !p.oom) {
		size_t e = i;

		while (e < len && text[e] != '\n' && text[e] != '\r')
			e++;
		line(&p, text + i, e - i);
		/* CR, LF and CRLF each end a line */
		if (e < len && text[e] == '\r' && e + 1 < len &&
		    text[e + 1] == '\n')
			e++;
		i = e + 1;
	}
	if (p.oom) {
		free(p.whom);
		free(p.rules);
		free(r->text);
		memset(r, 0, sizeof(*r));
		return -ENOMEM;
	}
	keep(&p);
	free(p.whom);
	return 0;
}

void robots_init_allow_all(struct robots *r)
{
	memset(r, 0, sizeof(*r));
}

void robots_init_disallow_all(struct robots *r)
{
	memset(r, 0, sizeof(*r));
	r->disallow_all = true;
}

void robots_fini(struct robots *r)
{
	free(r->rules);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* Whether pattern p (with '*' for any run and a final '$' for the end)
 * matches a prefix of s, or all of s when anchored. Greedy with a return
 * to the last '*': O(pn * sn) at worst, linear in practice. */
static bool match(const char *p, size_t pn, const char *s, size_t sn)
{
	bool anchored = pn && p[pn - 1] == '$';
	size_t i = 0, j = 0, star_i = 0, star_j = 0;
	bool star = false;

	if (anchored)
		pn--;
	while (j < sn) {
		if (i < pn && p[i] == '*') {
			star = true;
			star_i = ++i;
			star_j = j;
		} else if (i < pn && p[i] == s[j]) {
			i++;
			j++;
		} else if (i == pn && !anchored) {
			return true;
		} else if (star) {
			i = star_i;
			j = ++star_j;
		} else {
			return false;
		}
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

bool robots_allowed(const struct robots *r, const char *path, size_t len,
		    const struct robots_rule **why)
{
	const struct robots_rule *best = NULL;
	char stack[1024], *norm = stack;
	size_t n;

	if (why)
		*why = NULL;
	if (len == 11 && !memcmp(path, "/robots.txt", 11))
		return true;
	if (r->disallow_all)
		return false;
	if (!r->n_rules)
		return true;
	if (3 * len > sizeof(stack)) {
		norm = malloc(3 * len);
		if (!norm)
			return false;	/* polite when in doubt */
	}
	n = normalise(path, len, norm);
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct robots_rule *rule = &r->rules[i];

		if (best && (rule->len < best->len ||
			     (rule->len == best->len && best->allow)))
			continue;
		if (match(r->text + rule->off, rule->len, norm, n))
			best = rule;
	}
	if (norm != stack)
		free(norm);
	if (!best || best->allow)
		return true;
	if (why)
		*why = best;
	return false;
}

size_t robots_product_token(const char *ua)
{
	size_t n = 0;

	while (ua[n] && ua[n] != '/' && ua[n] != ' ' && ua[n] != '\t')
		n++;
	return n;
}
