/* Per-type printing, copying and freeing of the fields the key table
 * describes: what --print-config writes, and what a load's copy owns. */
#include "config/config_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"

/* The value as a key of type k prints it, for range messages. */
char *config_key_format_num(const struct config_key *k, uint64_t v,
			    char *buf, size_t n)
{
	if (k->type == CK_DUR)
		return units_format_duration(v, buf, n);
	if (k->type == CK_SIZE)
		return units_format_size(v, buf, n);
	if (k->type == CK_MODE)
		snprintf(buf, n, "%04" PRIo64, v);
	else
		snprintf(buf, n, "%" PRIu64, v);
	return buf;
}

void config_strv_free(struct config_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void config_headers_free(struct config_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/* A YAML double-quoted scalar. Control characters and the Unicode line
 * breaks (NEL, LS, PS) are escaped: raw, a reader would fold them. */
static void print_quoted(FILE *f, const char *s)
{
	static const struct {
		const char *utf8, *esc;
	} breaks[] = {
		{ "\xc2\x85", "\\N" },
		{ "\xe2\x80\xa8", "\\L" },
		{ "\xe2\x80\xa9", "\\P" },
		{ "\xef\xbb\xbf", "\\uFEFF" },
	};
	size_t i;

	fputc('"', f);
	while (*s) {
		unsigned char ch = (unsigned char)*s;

		for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++)
			if (strncmp(s, breaks[i].utf8,
				    strlen(breaks[i].utf8)) == 0)
				break;
		if (i < sizeof(breaks) / sizeof(breaks[0])) {
			fputs(breaks[i].esc, f);
			s += strlen(breaks[i].utf8);
			continue;
		}
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
		s++;
	}
	fputc('"', f);
}

static void print_strv(FILE *f, const struct config_strv *sv)
{
	fputc('[', f);
	for (size_t i = 0; i < sv->n; i++) {
		if (i)
			fputs(", ", f);
		print_quoted(f, sv->v[i]);
	}
	fputc(']', f);
}

static void print_headers(FILE *f, const struct config *c)
{
	if (!c->http.n_headers) {
		fputs("{}", f);
		return;
	}
	for (size_t i = 0; i < c->http.n_headers; i++) {
		fputs("\n    ", f);
		print_quoted(f, c->http.headers[i].name);
		fputs(": ", f);
		print_quoted(f, c->http.headers[i].value);
	}
}

/* Shortest "%.Nf" that reads back as v; set_rate() allows 6 decimals. */
static void print_rate(FILE *f, double v)
{
	char buf[64];
	int d;

	for (d = 0; d < 17; d++) {
		snprintf(buf, sizeof(buf), "%.*f", d, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

uint64_t config_key_num(const struct config_key *k, const struct config *c)
{
	switch (k->type) {
	case CK_MODE:
		return *CFIELD(c, k, unsigned);
	case CK_DUR:
	case CK_SIZE:
		return *CFIELD(c, k, uint64_t);
	default:
		return *CFIELD(c, k, uint32_t);
	}
}

static void print_enum(const struct config_key *k, int v, FILE *f)
{
	for (int i = 0; k->names[i]; i++) {
		if (i == v) {
			fputs(k->names[i], f);
			return;
		}
	}
	/* set by code, not by the loader: print it so a reload says so */
	fprintf(f, "%d", v);
}

static void print_value(const struct config_key *k, const struct config *c,
			FILE *f)
{
	char buf[UNITS_FMT_MAX];
	int tri;

	switch (k->type) {
	case CK_STR:
		print_quoted(f, *CFIELD(c, k, char *) ? *CFIELD(c, k, char *) :
							"");
		break;
	case CK_BOOL:
		fputs(*CFIELD(c, k, bool) ? "true" : "false", f);
		break;
	case CK_TRI:
		tri = *CFIELD(c, k, int);
		fputs(tri < 0 ? "auto" : tri ? "true" : "false", f);
		break;
	case CK_WORKERS:
		if (!*CFIELD(c, k, uint32_t)) {
			fputs("auto", f);
			break;
		}
		/* fall through */
	case CK_MODE:
	case CK_DUR:
	case CK_SIZE:
	case CK_U32:
		config_key_format_num(k, config_key_num(k, c), buf,
				      sizeof(buf));
		fputs(buf, f);
		break;
	case CK_RATE:
		print_rate(f, *CFIELD(c, k, double));
		break;
	case CK_STATUSES:
		fputc('[', f);
		for (size_t i = 0; i < c->retry.n_statuses; i++)
			fprintf(f, "%s%u", i ? ", " : "", c->retry.statuses[i]);
		fputc(']', f);
		break;
	case CK_HEADERS:
		print_headers(f, c);
		break;
	case CK_STRV:
		print_strv(f, CFIELD(c, k, struct config_strv));
		break;
	case CK_ENUM:
		print_enum(k, *CFIELD(c, k, int), f);
		break;
	}
}

void config_key_print(const struct config_key *k, const struct config *c,
		      FILE *f, int indent)
{
	fprintf(f, "%*s%s:%s", indent, "", k->name,
		k->type == CK_HEADERS && c->http.n_headers ? "" : " ");
	print_value(k, c, f);
	fputc('\n', f);
}

char *config_key_format(const struct config_key *k, const struct config *c,
			char *buf, size_t n)
{
	return config_key_format_num(k, config_key_num(k, c), buf, n);
}

bool config_key_in_range(const struct config_key *k, const struct config *c,
			 char *buf, size_t n)
{
	char num[UNITS_FMT_MAX];
	uint64_t v, bound;
	double rate;

	switch (k->type) {
	case CK_MODE:
	case CK_DUR:
	case CK_SIZE:
	case CK_U32:
	case CK_WORKERS:
		v = config_key_num(k, c);
		if (v >= k->min && v <= k->max)
			return true;
		bound = v < k->min ? k->min : k->max;
		snprintf(buf, n, "must be at %s %s",
			 v < k->min ? "least" : "most",
			 config_key_format_num(k, bound, num, sizeof(num)));
		return false;
	case CK_RATE:
		rate = *CFIELD(c, k, double);
		if (rate >= 0 && rate <= (double)k->max)
			return true;
		snprintf(buf, n, "must be between 0 and %" PRIu64, k->max);
		return false;
	default:
		return true;
	}
}

void config_key_free(const struct config_key *k, struct config *c)
{
	switch (k->type) {
	case CK_STR:
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = NULL;
		break;
	case CK_STRV:
		config_strv_free(FIELD(c, k, struct config_strv));
		break;
	case CK_HEADERS:
		config_headers_free(c->http.headers, c->http.n_headers);
		c->http.headers = NULL;
		c->http.n_headers = 0;
		break;
	default:
		break;
	}
}

void config_key_dup(const struct config_key *k, struct config *dst,
		    const struct config *src)
{
	const struct config_strv *ssv;
	struct config_strv *dsv;
	const char *s;
	size_t i;

	switch (k->type) {
	case CK_STR:
		s = *CFIELD(src, k, char *);
		*FIELD(dst, k, char *) = config_strdup(s ? s : "");
		break;
	case CK_STRV:
		ssv = CFIELD(src, k, struct config_strv);
		dsv = FIELD(dst, k, struct config_strv);
		dsv->v = ssv->n ? config_xcalloc(ssv->n, sizeof(char *)) : NULL;
		for (i = 0; i < ssv->n; i++)
			dsv->v[i] = config_strdup(ssv->v[i]);
		break;
	case CK_HEADERS:
		dst->http.headers = NULL;
		if (!src->http.n_headers)
			break;
		dst->http.headers = config_xcalloc(src->http.n_headers,
						   sizeof(*dst->http.headers));
		for (i = 0; i < src->http.n_headers; i++) {
			dst->http.headers[i].name =
				config_strdup(src->http.headers[i].name);
			dst->http.headers[i].value =
				config_strdup(src->http.headers[i].value);
		}
		break;
	default:
		break;
	}
}
