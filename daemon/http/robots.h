/* robots.txt (RFC 9309): the rules of one host for one product token, and
 * whether a path may be fetched under them. Sees buffers only (fuzzed).
 *
 * Parsing keeps just the group that applies to us: the groups whose
 * user-agent names our product token (case-insensitively), merged, or, when
 * none does, the groups for "*", merged. Allow and Disallow paths are kept
 * percent-normalised (RFC 9309 2.2.2), so a path and a rule compare octet
 * for octet; the longest matching rule wins and Allow wins a tie. */
#ifndef RF_ROBOTS_H
#define RF_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROBOTS_MAX_BYTES (500 * 1024)	/* RFC 9309 2.5: parse at least
					 * this much; the rest is ignored */
#define ROBOTS_RULE_MAX 2048		/* a longer Allow/Disallow path is
					 * skipped as junk */

struct robots_rule {
	uint32_t off;		/* pattern at robots.text + off, normalised */
	uint16_t len;		/* its length; ends in '$' when anchored */
	bool allow;
};

struct robots {
	struct robots_rule *rules;	/* owned; the applicable group's */
	size_t n_rules;
	char *text;			/* owned: the patterns, back to back */
	size_t text_len;
	uint64_t crawl_delay_ms;	/* from the group; 0 = none given */
	bool specific;			/* a group named our token (not "*") */
	bool disallow_all;		/* no file could be had (5xx, timeout):
					 * every path is disallowed */
};

/* Parse text (len bytes, as received; at most ROBOTS_MAX_BYTES are read)
 * for product token (product_len bytes, e.g. "ringfetch"). r needs no
 * init; on success it owns memory (robots_fini). Never fails on content:
 * junk lines are skipped. Returns 0, or -ENOMEM (r is then empty and
 * allows everything). */
int robots_parse(struct robots *r, const char *text, size_t len,
		 const char *product, size_t product_len);

/* r allows everything (a 4xx answer, or no robots.txt at all). */
void robots_init_allow_all(struct robots *r);

/* r disallows everything (robots.txt unreachable: 5xx, timeout). */
void robots_init_disallow_all(struct robots *r);

void robots_fini(struct robots *r);

/* Whether path (the URL's path and query, len bytes, from '/') may be
 * fetched. When it may not, *why (if given) points at the matching rule;
 * NULL with disallow_all. /robots.txt itself is always allowed. */
bool robots_allowed(const struct robots *r, const char *path, size_t len,
		    const struct robots_rule **why);

/* The product token of a User-Agent value: its first word up to '/' or a
 * space ("ringfetch/0.2.0 (+https://...)" -> "ringfetch"). Returns its
 * length from ua. */
size_t robots_product_token(const char *ua);

#endif
