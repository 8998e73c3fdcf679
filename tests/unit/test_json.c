/* Unit tests for json.c: string escaping and the other writers, and the
 * parser on valid documents, every error class, and every prefix. */
#include <errno.h>

#include "base/json.h"
#include "tap.h"

/* json_put_strn() of n bytes at s must produce exactly want. */
static int put_is(const char *s, size_t n, const char *want)
{
	struct buf b;
	int ok;

	buf_init(&b, 4096);
	ok = TAP_CHECK(json_put_strn(&b, s, n) == 0) &&
	     TAP_CHECK(b.len == strlen(want) && STREQ(b.p, want));
	if (!ok)
		printf("#   got %s, want %s\n", b.p ? b.p : "(null)", want);
	buf_fini(&b);
	return ok;
}

static int test_put_control_chars(void)
{
	static const char *const want[32] = {
		"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004",
		"\\u0005", "\\u0006", "\\u0007", "\\b", "\\t", "\\n",
		"\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010",
		"\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015",
		"\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a",
		"\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
	};
	char in[3], out[16];
	int c, ok = 1;

	for (c = 0; c < 32; c++) {
		in[0] = 'a';
		in[1] = (char)c;
		in[2] = 'z';
		snprintf(out, sizeof(out), "\"a%sz\"", want[c]);
		ok &= put_is(in, 3, out);
	}
	ok &= put_is("\x7f", 1, "\"\x7f\"");
	return ok;
}

static int test_put_specials(void)
{
	int ok = 1;

	ok &= put_is("", 0, "\"\"");
	ok &= put_is(NULL, 0, "\"\"");
	ok &= put_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
	ok &= put_is("a\\b", 3, "\"a\\\\b\"");
	ok &= put_is("a/b", 3, "\"a/b\"");
	ok &= put_is("\"\\\"", 3, "\"\\\"\\\\\\\"\"");
	return ok;
}

static int test_put_utf8(void)
{
	int ok = 1;

	/* well-formed sequences of each length pass through unchanged */
	ok &= put_is("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
	ok &= put_is("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
	ok &= put_is("\xf0\x9f\x98\x80!", 5, "\"\xf0\x9f\x98\x80!\"");
	ok &= put_is("\xed\x9f\xbf", 3, "\"\xed\x9f\xbf\"");	/* U+D7FF */
	ok &= put_is("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");
	/* ill-formed: one U+FFFD per maximal subpart */
	ok &= put_is("\xff", 1, "\"\\ufffd\"");
	ok &= put_is("a\x80z", 3, "\"a\\ufffdz\"");
	ok &= put_is("\xc3", 1, "\"\\ufffd\"");
	ok &= put_is("\xe2\x82", 2, "\"\\ufffd\"");
	ok &= put_is("\xe2\x82z", 3, "\"\\ufffdz\"");
	ok &= put_is("\xf0\x9f\x98", 3, "\"\\ufffd\"");
	ok &= put_is("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");	/* overlong */
	ok &= put_is("\xe0\x80\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	ok &= put_is("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	ok &= put_is("\xf4\x90\x80\x80", 4,
		     "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	ok &= put_is("\xf5", 1, "\"\\ufffd\"");
	ok &= put_is("\xc3\xa9\xc3", 3, "\"\xc3\xa9\\ufffd\"");
	return ok;
}

/* Whatever bytes go in, what comes out parses back as a JSON string. */
static int test_put_always_valid(void)
{
	struct json_doc doc;
	struct buf b;
	unsigned char in[64];
	uint64_t x = 88172645463325252ull;
	int i, j, ok = 1;

	buf_init(&b, 1024);
	for (i = 0; i < 2000; i++) {
		for (j = 0; j < 64; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[j] = (unsigned char)x;
		}
		buf_reset(&b);
		if (json_put_strn(&b, (char *)in, (size_t)(i % 65)) ||
		    json_parse(b.p, b.len, &doc, NULL, 0)) {
			ok = TAP_CHECK(0);
			break;
		}
		if (doc.root->type != JSON_STRING)
			ok = TAP_CHECK(0);
		json_doc_free(&doc);
	}
	buf_fini(&b);
	return ok;
}

static int test_put_rollback(void)
{
	struct buf b;
	int ok = 1;

	buf_init(&b, 12);
	ok &= TAP_CHECK(json_put_raw(&b, "{\"a\":") == 0);
	/* fits before escaping, not after: nothing of it must remain */
	ok &= TAP_CHECK(json_put_str(&b, "\x01\x02") == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 5 && STREQ(b.p, "{\"a\":"));
	ok &= TAP_CHECK(json_put_str(&b, "0123456789") == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 5);
	ok &= TAP_CHECK(json_put_str(&b, "x\n") == 0);
	ok &= TAP_CHECK(STREQ(b.p, "{\"a\":\"x\\n\""));
	ok &= TAP_CHECK(json_put_u64(&b, 123) == -ENOBUFS && b.len == 10);
	buf_fini(&b);
	return ok;
}

static int test_put_scalars(void)
{
	struct buf b;
	int ok = 1;

	buf_init(&b, 4096);
	ok &= TAP_CHECK(json_put_u64(&b, 0) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_u64(&b, UINT64_MAX) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_i64(&b, INT64_MIN) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_i64(&b, -1) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_i64(&b, INT64_MAX) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_bool(&b, true) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_bool(&b, false) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_null(&b) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_str_or_null(&b, NULL) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_str_or_null(&b, "s") == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_double(&b, 0.1) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_double(&b, 0.0 / 0.0) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_double(&b, 1e308 * 10) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_double(&b, -2.5) == 0);
	ok &= TAP_CHECK(json_put_raw(&b, ",") == 0);
	ok &= TAP_CHECK(json_put_double(&b, -0.0) == 0);
	ok &= TAP_CHECK(STREQ(b.p, "0,18446744073709551615,"
				"-9223372036854775808,-1,9223372036854775807,"
				"true,false,null,null,\"s\",0.1,null,null,"
				"-2.5,0"));
	/* more than 15 digits when fewer would not read back exactly */
	buf_reset(&b);
	ok &= TAP_CHECK(json_put_double(&b, 1.0 / 3) == 0);
	ok &= TAP_CHECK(strtod(b.p, NULL) == 1.0 / 3 && b.len == 18);
	buf_fini(&b);
	return ok;
}

static int parse(const char *s, struct json_doc *doc, char *err, size_t n)
{
	return json_parse(s, strlen(s), doc, err, n);
}

static int test_parse_request(void)
{
	static const char line[] =
		" {\"op\":\"submit\", \"url\" : \"https://example.org/a?b=c\","
		"\"id\":\"x1\",\"headers\":{\"Accept\":\"*/*\",\"X-A\":\"b\"},"
		"\"wait\":true,\"nowait\":false,\"n\":null,"
		"\"arr\":[1,-2.5,3e2,[],{},[\"s\"]],\"job\":12345}\r\n";
	const struct json_val *r, *v, *e;
	struct json_doc doc;
	char err[128];
	int64_t i;
	int ok = 1;

	if (!TAP_CHECK(parse(line, &doc, err, sizeof(err)) == 0))
		return 0;
	r = doc.root;
	ok &= TAP_CHECK(r->type == JSON_OBJECT && r->len == 9);
	ok &= TAP_CHECK(STREQ(json_as_str(json_get(r, "op")), "submit"));
	ok &= TAP_CHECK(STREQ(json_as_str(json_get(r, "url")),
			      "https://example.org/a?b=c"));
	v = json_get(r, "headers");
	ok &= TAP_CHECK(v && v->type == JSON_OBJECT && v->len == 2);
	e = json_first(v);
	ok &= TAP_CHECK(e && STREQ(e->key, "Accept") && STREQ(e->str, "*/*"));
	e = json_next(e);
	ok &= TAP_CHECK(e && STREQ(e->key, "X-A") && e->key_len == 3);
	ok &= TAP_CHECK(json_next(e) == NULL);
	v = json_get(r, "wait");
	ok &= TAP_CHECK(v && v->type == JSON_BOOL && v->b);
	v = json_get(r, "nowait");
	ok &= TAP_CHECK(v && v->type == JSON_BOOL && !v->b);
	ok &= TAP_CHECK(json_get(r, "n")->type == JSON_NULL);
	ok &= TAP_CHECK(json_as_int(json_get(r, "job"), &i) && i == 12345);
	ok &= TAP_CHECK(!json_get(r, "missing") && !json_get(r, "Op"));
	ok &= TAP_CHECK(!json_get(json_get(r, "op"), "x"));
	ok &= TAP_CHECK(!json_get(NULL, "x"));
	ok &= TAP_CHECK(!json_as_str(json_get(r, "job")));
	ok &= TAP_CHECK(!json_as_int(json_get(r, "op"), &i));

	v = json_get(r, "arr");
	ok &= TAP_CHECK(v->type == JSON_ARRAY && v->len == 6);
	e = json_first(v);
	ok &= TAP_CHECK(e->is_int && e->i == 1 && e->key == NULL);
	e = json_next(e);
	ok &= TAP_CHECK(!e->is_int && e->num == -2.5);
	e = json_next(e);
	ok &= TAP_CHECK(!e->is_int && e->num == 300);
	e = json_next(e);
	ok &= TAP_CHECK(e->type == JSON_ARRAY && !e->len && !json_first(e));
	e = json_next(e);
	ok &= TAP_CHECK(e->type == JSON_OBJECT && !e->len && !json_first(e));
	e = json_next(e);
	ok &= TAP_CHECK(STREQ(json_first(e)->str, "s") && !json_next(e));
	ok &= TAP_CHECK(!json_first(json_get(r, "op")) && !json_next(NULL));
	json_doc_free(&doc);
	json_doc_free(&doc);
	ok &= TAP_CHECK(doc.root == NULL && doc.arena == NULL);
	return ok;
}

static int test_parse_scalars(void)
{
	static const struct {
		const char *in;
		double num;
		bool is_int;
	} nums[] = {
		{ "0", 0, true },		{ "-0", 0, true },
		{ "42", 42, true },		{ "-7", -7, true },
		{ "1.5", 1.5, false },		{ "1e3", 1000, false },
		{ "1E+2", 100, false },		{ "25e-1", 2.5, false },
		{ "0.0", 0, false },		{ "1e-400", 0, false },
		{ "9007199254740993", 9007199254740992.0, true },
		{ "9223372036854775807", 9223372036854775807.0, true },
		{ "-9223372036854775808", -9223372036854775808.0, true },
		{ "9223372036854775808", 9223372036854775808.0, false },
		{ "-9223372036854775809", -9223372036854775808.0, false },
		{ "18446744073709551616", 18446744073709551616.0, false },
	};
	struct json_doc doc;
	size_t k;
	int ok = 1;

	for (k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		if (!TAP_CHECK(parse(nums[k].in, &doc, NULL, 0) == 0))
			return 0;
		if (doc.root->type != JSON_NUMBER ||
		    doc.root->num != nums[k].num ||
		    doc.root->is_int != nums[k].is_int) {
			printf("#   number %s\n", nums[k].in);
			ok = 0;
		}
		json_doc_free(&doc);
	}
	/* integers stay exact where a double would round */
	ok &= TAP_CHECK(parse("9007199254740993", &doc, NULL, 0) == 0 &&
			doc.root->i == 9007199254740993ll);
	json_doc_free(&doc);
	ok &= TAP_CHECK(parse("-9223372036854775808", &doc, NULL, 0) == 0 &&
			doc.root->i == INT64_MIN);
	json_doc_free(&doc);
	ok &= TAP_CHECK(parse(" true ", &doc, NULL, 0) == 0 &&
			doc.root->type == JSON_BOOL && doc.root->b);
	json_doc_free(&doc);
	ok &= TAP_CHECK(parse("null", &doc, NULL, 0) == 0 &&
			doc.root->type == JSON_NULL);
	json_doc_free(&doc);
	ok &= TAP_CHECK(parse("\"\"", &doc, NULL, 0) == 0 &&
			doc.root->len == 0 && STREQ(doc.root->str, ""));
	json_doc_free(&doc);
	ok &= TAP_CHECK(STREQ(json_type_name(JSON_OBJECT), "object") &&
			STREQ(json_type_name(JSON_NULL), "null"));
	return ok;
}

static int test_parse_escapes(void)
{
	static const char in[] = "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9"
				 "\\u20AC\\ud83d\\ude00\\uD800\\uDC00x\","
				 "\"a\\u0000b\", \"\xc3\xa9\xf0\x9f\x98\x80\"]";
	static const char want[] = "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac"
				   "\xf0\x9f\x98\x80\xf0\x90\x80\x80x";
	const struct json_val *v;
	struct json_doc doc;
	char err[128] = "";
	int ok = 1;

	if (!TAP_CHECK(parse(in, &doc, err, sizeof(err)) == 0)) {
		printf("#   %s\n", err);
		return 0;
	}
	v = json_first(doc.root);
	ok &= TAP_CHECK(v->len == sizeof(want) - 1 && STREQ(v->str, want));
	v = json_next(v);
	ok &= TAP_CHECK(v->len == 3 && !memcmp(v->str, "a\0b", 4));
	v = json_next(v);
	ok &= TAP_CHECK(STREQ(v->str, "\xc3\xa9\xf0\x9f\x98\x80"));
	json_doc_free(&doc);

	/* a key with a NUL in it does not match its prefix */
	ok &= TAP_CHECK(parse("{\"a\\u0000b\":1,\"a\":2}", &doc, NULL, 0) ==
			0);
	ok &= TAP_CHECK(json_get(doc.root, "a")->i == 2);
	json_doc_free(&doc);
	/* duplicates: the first wins */
	ok &= TAP_CHECK(parse("{\"k\":1,\"k\":2}", &doc, NULL, 0) == 0);
	ok &= TAP_CHECK(json_get(doc.root, "k")->i == 1);
	json_doc_free(&doc);
	return ok;
}

/* in must fail with -EINVAL and exactly the message want. */
static int bad_is(const char *in, size_t n, const char *want)
{
	struct json_doc doc = { 0 };
	char err[128] = "";
	int rc = json_parse(in, n, &doc, err, sizeof(err));

	if (rc == -EINVAL && STREQ(err, want) && !doc.root && !doc.arena)
		return 1;
	printf("#   input \"%.*s\": rc %d, \"%s\", want \"%s\"\n", (int)n,
	       in, rc, err, want);
	if (!rc)
		json_doc_free(&doc);
	return 0;
}

#define BAD(in, want) bad_is((in), sizeof(in) - 1, (want))
#define AT(n, why) "invalid JSON at byte " #n ": " why

static int test_parse_errors(void)
{
	int ok = 1;

	ok &= BAD("", AT(0, "unexpected end of input"));
	ok &= BAD("  \n", AT(3, "unexpected end of input"));
	ok &= BAD("{\"a\" 1}", AT(5, "expected ':'"));
	ok &= BAD("{\"a\":1,}", AT(7, "expected a string key"));
	ok &= BAD("{a:1}", AT(1, "expected a string key"));
	ok &= BAD("[1,]", AT(3, "expected a value"));
	ok &= BAD("[1 2]", AT(3, "expected ',' or ']'"));
	ok &= BAD("{\"a\":1 \"b\":2}", AT(7, "expected ',' or '}'"));
	ok &= BAD("{\"a\":1", AT(6, "unexpected end of input"));
	ok &= BAD("{\"a\":", AT(5, "unexpected end of input"));
	ok &= BAD("[", AT(1, "unexpected end of input"));
	ok &= BAD("{} x", AT(3, "unexpected data after the value"));
	ok &= BAD("{}{}", AT(2, "unexpected data after the value"));
	ok &= BAD("1 2", AT(2, "unexpected data after the value"));
	ok &= BAD("\"abc", AT(4, "unterminated string"));
	ok &= BAD("\"a\\x\"", AT(2, "invalid escape in string"));
	ok &= BAD("\"a\\", AT(3, "unexpected end of input"));
	ok &= BAD("\"\\u12\"", AT(3, "truncated \\u escape"));
	ok &= BAD("\"\\u12G4\"", AT(3, "invalid \\u escape"));
	ok &= BAD("\"\\ud800\"", AT(1, "lone high surrogate in \\u escape"));
	ok &= BAD("\"\\ud800\\n\"", AT(1, "lone high surrogate in \\u escape"));
	ok &= BAD("\"\\ud800\\u0041\"",
		  AT(1, "lone high surrogate in \\u escape"));
	ok &= BAD("\"\\udc00\"", AT(1, "lone low surrogate in \\u escape"));
	ok &= BAD("\"\\ud800\\ud800\"",
		  AT(1, "lone high surrogate in \\u escape"));
	ok &= BAD("\"a\tb\"", AT(2, "control character in string"));
	ok &= BAD("\"a\nb\"", AT(2, "control character in string"));
	ok &= BAD("\"a\0b\"", AT(2, "control character in string"));
	ok &= BAD("\"\xff\"", AT(1, "invalid UTF-8 in string"));
	ok &= BAD("\"\xc3\"", AT(1, "invalid UTF-8 in string"));
	ok &= BAD("\"\xed\xa0\x80\"", AT(1, "invalid UTF-8 in string"));
	ok &= BAD("\"\xc0\xaf\"", AT(1, "invalid UTF-8 in string"));
	ok &= BAD("tru", AT(0, "invalid literal"));
	ok &= BAD("True", AT(0, "expected a value"));
	ok &= BAD("nul", AT(0, "invalid literal"));
	ok &= BAD("01", AT(1, "unexpected data after the value"));
	ok &= BAD("1.", AT(2, "invalid number"));
	ok &= BAD(".5", AT(0, "expected a value"));
	ok &= BAD("-", AT(1, "invalid number"));
	ok &= BAD("--1", AT(1, "invalid number"));
	ok &= BAD("+1", AT(0, "expected a value"));
	ok &= BAD("1e", AT(2, "invalid number"));
	ok &= BAD("1e+", AT(3, "invalid number"));
	ok &= BAD("1e999", AT(0, "number out of range"));
	ok &= BAD("-1e999", AT(0, "number out of range"));
	ok &= BAD("[1,,2]", AT(3, "expected a value"));
	ok &= BAD("{\"a\":}", AT(5, "expected a value"));
	return ok;
}

/* depth nested objects {"a":{"a":...1...}} into b */
static void nest_objects(struct buf *b, int depth)
{
	int d;

	buf_reset(b);
	for (d = 0; d < depth; d++)
		buf_puts(b, "{\"a\":");
	buf_putc(b, '1');
	for (d = 0; d < depth; d++)
		buf_putc(b, '}');
}

static int test_parse_depth(void)
{
	char in[2 * (JSON_MAX_DEPTH + 1)], err[128], *deep;
	struct json_doc doc;
	struct buf b;
	int ok = 1;

	memset(in, '[', JSON_MAX_DEPTH);
	memset(in + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	ok &= TAP_CHECK(json_parse(in, 2 * JSON_MAX_DEPTH, &doc, NULL, 0) ==
			0);
	json_doc_free(&doc);
	memset(in, '[', JSON_MAX_DEPTH + 1);
	memset(in + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	ok &= bad_is(in, sizeof(in), AT(32, "nesting deeper than 32"));

	buf_init(&b, 4096);
	nest_objects(&b, JSON_MAX_DEPTH);
	ok &= TAP_CHECK(json_parse(b.p, b.len, &doc, NULL, 0) == 0);
	json_doc_free(&doc);
	nest_objects(&b, JSON_MAX_DEPTH + 1);
	ok &= bad_is(b.p, b.len, AT(160, "nesting deeper than 32"));
	buf_fini(&b);

	/* a hundred thousand deep fails at the limit, no deep recursion */
	deep = malloc(100000);
	if (!deep)
		return 0;
	memset(deep, '[', 100000);
	ok &= TAP_CHECK(json_parse(deep, 100000, &doc, err, sizeof(err)) ==
			-EINVAL);
	ok &= TAP_CHECK(STREQ(err, AT(32, "nesting deeper than 32")));
	free(deep);
	return ok;
}

static int test_parse_limits(void)
{
	struct json_doc doc = { 0 };
	char err[128], *big;
	size_t n = JSON_MAX_LEN + 1;
	int ok = 1;

	big = malloc(n);
	if (!big)
		return 0;
	memset(big, ' ', n);
	big[0] = '1';
	ok &= TAP_CHECK(json_parse(big, n, &doc, err, sizeof(err)) == -E2BIG);
	ok &= TAP_CHECK(strstr(err, "too large") != NULL);
	ok &= TAP_CHECK(json_parse(big, n - 1, &doc, err, 0) == 0);
	json_doc_free(&doc);
	/* many ':' inside a string only over-size the arena */
	memset(big, ':', n);
	big[0] = '"';
	big[n - 2] = '"';
	ok &= TAP_CHECK(json_parse(big, n - 1, &doc, NULL, 0) == 0);
	ok &= TAP_CHECK(doc.root->len == n - 3);
	json_doc_free(&doc);
	/* the widest document: every byte a value */
	memset(big, ',', n);
	big[0] = '[';
	big[1] = '0';
	for (n = 2; n + 2 < JSON_MAX_LEN; n += 2)
		big[n + 1] = '0';
	big[n] = ']';
	ok &= TAP_CHECK(json_parse(big, n + 1, &doc, err, sizeof(err)) == 0);
	ok &= TAP_CHECK(doc.root && doc.root->len == n / 2);
	json_doc_free(&doc);
	free(big);
	return ok;
}

/* Every prefix, each in an exactly sized heap copy so ASan sees any read
 * past the end; only the whole document may parse. */
static int test_parse_prefixes(void)
{
	static const char in[] =
		"{\"op\":\"submit\",\"url\":\"http://h/\\u00e9\\ud83d\\ude00\","
		"\"headers\":{\"a\":\"\\\"\\n\"},\"n\":[-1.5e+3,0,true,false,"
		"null,{}],\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}";
	struct json_doc doc;
	char err[128];
	size_t n;
	int ok = 1;

	for (n = 0; n <= sizeof(in) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		int rc;

		if (!copy)
			return 0;
		memcpy(copy, in, n);
		rc = json_parse(copy, n, &doc, err, sizeof(err));
		if (n < sizeof(in) - 1 && rc != -EINVAL) {
			printf("#   prefix of %zu bytes: rc %d\n", n, rc);
			ok = 0;
		}
		if (rc == 0)
			json_doc_free(&doc);
		else if (strncmp(err, "invalid JSON at byte ", 21))
			ok = TAP_CHECK(0);
		if (n == sizeof(in) - 1)
			ok &= TAP_CHECK(rc == 0);
		free(copy);
	}
	return ok;
}

int main(void)
{
	TAP_RUN(test_put_control_chars);
	TAP_RUN(test_put_specials);
	TAP_RUN(test_put_utf8);
	TAP_RUN(test_put_always_valid);
	TAP_RUN(test_put_rollback);
	TAP_RUN(test_put_scalars);
	TAP_RUN(test_parse_request);
	TAP_RUN(test_parse_scalars);
	TAP_RUN(test_parse_escapes);
	TAP_RUN(test_parse_errors);
	TAP_RUN(test_parse_depth);
	TAP_RUN(test_parse_limits);
	TAP_RUN(test_parse_prefixes);
	return tap_done();
}
