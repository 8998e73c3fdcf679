/* JSON for ringfetch: writers that append values to a struct buf (result
 * records, responses) and a small parser for control-socket request lines.
 *
 * Writers are the hot path (tens of thousands of records a second): they
 * never allocate beyond the buffer's own growth, and each either appends a
 * whole value or, on failure, leaves the buffer as it was, so a record is
 * never left holding half a string.
 *
 * The parser (RFC 8259) builds a read-only tree in one allocation sized
 * from the input, so a request costs one malloc and one free. */
#ifndef RF_JSON_H
#define RF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* ---- writing ---- */

/* Append s as a quoted JSON string. '"', '\\' and the short forms \b \f \n
 * \r \t are escaped, other control characters become \u00XX, and each
 * ill-formed UTF-8 sequence (maximal subpart, as Unicode recommends) becomes
 * \ufffd, so the output is valid UTF-8 JSON whatever the input. s must not
 * be NULL. Returns 0, -ENOBUFS or -ENOMEM; on failure b is unchanged. */
int json_put_str(struct buf *b, const char *s);

/* As json_put_str() for n bytes at s, which may hold NUL bytes (written as
 * \u0000). s may be NULL when n is 0. */
int json_put_strn(struct buf *b, const char *s, size_t n);

/* As json_put_str(), but a NULL s is written as null. */
int json_put_str_or_null(struct buf *b, const char *s);

/* Append a number in decimal. Returns 0, -ENOBUFS or -ENOMEM; on failure
 * b is unchanged. */
int json_put_u64(struct buf *b, uint64_t v);
int json_put_i64(struct buf *b, int64_t v);

/* Append v in the fewest digits (15 to 17) that read back as exactly v,
 * so 0.1 stays 0.1; -0 is written 0; NaN and infinities, which JSON cannot
 * hold, become null. As json_put_u64(). */
int json_put_double(struct buf *b, double v);

/* Append true/false or null. As json_put_u64(). */
int json_put_bool(struct buf *b, bool v);
int json_put_null(struct buf *b);

/* Append s verbatim: the caller vouches that it is valid JSON text (a key
 * with its colon, a comma, a brace). As json_put_u64(). */
int json_put_raw(struct buf *b, const char *s);

/* ---- parsing ---- */

/* Inputs longer than this are refused (-E2BIG); control lines stop at
 * 64 KiB, this leaves room for other small documents. */
#define JSON_MAX_LEN (1u << 20)
/* Arrays and objects nest at most this deep; deeper is -EINVAL. */
#define JSON_MAX_DEPTH 32

enum json_type {
	JSON_NULL = 0,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/* One value of a parsed document; every pointer in it points into the
 * document's arena and lives until json_doc_free(). */
struct json_val {
	enum json_type type;
	bool b;			/* JSON_BOOL: the value */
	bool is_int;		/* JSON_NUMBER: written as an integer (no
				 * fraction, no exponent) within int64_t,
				 * so i holds it exactly */
	uint32_t len;		/* JSON_STRING: bytes in str (NUL not
				 * counted); JSON_ARRAY/OBJECT: children */
	double num;		/* JSON_NUMBER: the value (nearest double) */
	int64_t i;		/* JSON_NUMBER with is_int: the exact value */
	const char *str;	/* JSON_STRING: unescaped UTF-8, NUL-ended,
				 * may hold NUL bytes (see len); else NULL */
	const char *key;	/* member of an object: its unescaped name,
				 * NUL-ended; else NULL */
	uint32_t key_len;	/* bytes in key */
	const struct json_val *child;	/* ARRAY/OBJECT: first child, or
					 * NULL when empty */
	const struct json_val *next;	/* next sibling in the parent, or
					 * NULL for the last one and the root */
};

/* A parsed document. Zero-initialise, or rely on json_parse() to fill it. */
struct json_doc {
	const struct json_val *root;	/* NULL until a parse succeeds */
	void *arena;			/* owns every json_val and string */
};

/* Parse len bytes at s (need not be NUL-terminated) as one JSON value,
 * optionally surrounded by white space. Anything after the value, invalid
 * UTF-8 or raw control characters in strings, lone surrogates in \u escapes,
 * and nesting deeper than JSON_MAX_DEPTH are errors. Returns 0 with doc
 * filled in (caller owns it: free with json_doc_free()), or -EINVAL for bad
 * JSON, -E2BIG when len > JSON_MAX_LEN, -ENOMEM; on failure doc is left
 * empty and, when errlen > 0, err holds a sentence such as "invalid JSON at
 * byte 12: expected ':'" (bytes counted from 0). doc's previous contents
 * are not freed. Numbers are read with strtod(), so LC_NUMERIC must be "C"
 * (the daemon never calls setlocale()). */
int json_parse(const char *s, size_t len, struct json_doc *doc, char *err,
	       size_t errlen);

/* Free what json_parse() allocated and empty doc; harmless when empty. */
void json_doc_free(struct json_doc *doc);

/* The first member of obj named key (compared bytewise, whole length), or
 * NULL when obj is NULL, not an object, or has no such member. With
 * duplicate names the first wins. */
const struct json_val *json_get(const struct json_val *obj, const char *key);

/* First element or member of an array or object, or NULL (also for
 * scalars and NULL v). Walk on with json_next(). */
const struct json_val *json_first(const struct json_val *v);

/* The sibling after v in its array or object, or NULL at the end. */
const struct json_val *json_next(const struct json_val *v);

/* v's string when v is a JSON string, else NULL. */
const char *json_as_str(const struct json_val *v);

/* True when v is a number written as an integer within int64_t (see
 * is_int), stored in *out. */
bool json_as_int(const struct json_val *v, int64_t *out);

/* "null", "bool", "number", "string", "array" or "object", for messages. */
const char *json_type_name(enum json_type t);

#endif
