/* One URL as the client takes it from an argument or a stdin line: spaces
 * and tabs around it (and a CR) dropped; a blank line or a # comment is no
 * URL. Shared by submit to a daemon and submit --redis, so both read the
 * same lines the same way. */
#ifndef RF_URLLINE_H
#define RF_URLLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Trim *u (*n bytes) in place; returns whether a URL is left. */
static inline bool url_line(const char **u, size_t *n)
{
	const char *p = *u;
	size_t len = *n;

	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
		       p[len - 1] == '\r'))
		len--;
	while (len && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	*u = p;
	*n = len;
	return len && *p != '#';
}

#endif
