/* Unit tests for resp.c: the encoder's bytes, the command check, every
 * reply type, nesting, every split of a stream (each prefix in a buffer of
 * exactly its size, so ASan sees a read past it), and hostile lengths. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/resp.h"
#include "tap.h"

#define LEN_MAX (1u << 20)

/* Parse the C string s (in a buffer of exactly its size). */
static ssize_t parse_s(const char *s, size_t n, struct resp_arena *a,
		       struct resp_reply **r, char **keep)
{
	char *p = malloc(n ? n : 1);
	ssize_t rc;

	memcpy(p, s, n);
	rc = resp_parse(p, n, a, r);
	*keep = p;	/* the reply points into it */
	return rc;
}

static ssize_t parse1(const char *s, struct resp_reply **r, char **keep,
		      struct resp_arena *a)
{
	return parse_s(s, strlen(s), a, r, keep);
}

static bool bytes_eq(const struct resp_reply *r, const char *s)
{
	return r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

static int test_encode(void)
{
	static const char *const argv[] = { "SET", "k", "" };
	const size_t lens[] = { 3, 1, 0 };
	struct buf b;
	int ok = 1;

	buf_init(&b, 1024);
	ok &= TAP_CHECK(resp_cmd(&b, 3, argv, lens) == 0);
	ok &= TAP_CHECK(STREQ(b.p, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"));
	buf_reset(&b);
	ok &= TAP_CHECK(resp_cmd(&b, 2, argv, NULL) == 0);
	ok &= TAP_CHECK(STREQ(b.p, "*2\r\n$3\r\nSET\r\n$1\r\nk\r\n"));
	buf_reset(&b);
	resp_begin(&b, 3);
	resp_arg_str(&b, "INCRBY");
	resp_arg(&b, "a\r\nb", 4);
	resp_arg_u64(&b, UINT64_MAX);
	ok &= TAP_CHECK(STREQ(b.p, "*3\r\n$6\r\nINCRBY\r\n$4\r\na\r\nb\r\n"
			      "$20\r\n18446744073709551615\r\n"));
	ok &= TAP_CHECK(resp_cmd_check(b.p, b.len) == 1);
	ok &= TAP_CHECK(resp_cmd(&b, 0, argv, NULL) == -EINVAL);
	buf_fini(&b);
	return ok;
}

static int test_encode_failure_is_caught(void)
{
	static const char *const argv[] = { "SET", "key", "value" };
	struct buf b;
	size_t before;
	int ok = 1;

	buf_init(&b, 30);
	ok &= TAP_CHECK(resp_cmd(&b, 3, argv, NULL) == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 0);
	resp_begin(&b, 3);
	resp_arg_str(&b, "SET");
	before = b.len;
	resp_arg_str(&b, "a-key-too-long-for-the-ceiling");
	ok &= TAP_CHECK(b.len == before);	/* whole or nothing */
	resp_arg_str(&b, "v");
	ok &= TAP_CHECK(resp_cmd_check(b.p, b.len) == -EINVAL);
	buf_fini(&b);
	return ok;
}

static int test_cmd_check(void)
{
	int ok = 1;

	ok &= TAP_CHECK(resp_cmd_check("", 0) == 0);
	ok &= TAP_CHECK(resp_cmd_check("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
				       28) == 2);
	ok &= TAP_CHECK(resp_cmd_check("*1\r\n$4\r\nPING\r\n*1", 16) == -EINVAL);
	ok &= TAP_CHECK(resp_cmd_check("*2\r\n$4\r\nPING\r\n", 14) == -EINVAL);
	ok &= TAP_CHECK(resp_cmd_check("*1\r\n$5\r\nPING\r\n", 14) == -EINVAL);
	ok &= TAP_CHECK(resp_cmd_check("*0\r\n", 4) == -EINVAL);
	ok &= TAP_CHECK(resp_cmd_check("PING\r\n", 6) == -EINVAL);
	return ok;
}

static int test_scalars(void)
{
	struct resp_arena a;
	struct resp_reply *r;
	char *k[8];
	int ok = 1;

	resp_arena_init(&a, LEN_MAX);
	ok &= TAP_CHECK(parse1("+OK\r\n", &r, &k[0], &a) == 5);
	ok &= TAP_CHECK(r->type == RESP_STRING && bytes_eq(r, "OK"));
	ok &= TAP_CHECK(parse1("-ERR no such key\r\n", &r, &k[1], &a) == 18);
	ok &= TAP_CHECK(r->type == RESP_ERROR && bytes_eq(r, "ERR no such key"));
	ok &= TAP_CHECK(parse1(":-9223372036854775807\r\n", &r, &k[2], &a) == 23);
	ok &= TAP_CHECK(r->type == RESP_INT &&
			r->integer == -9223372036854775807LL);
	ok &= TAP_CHECK(parse1("$5\r\nhe\0lo\r\n", &r, &k[3], &a) == 0);
	free(k[3]);
	ok &= TAP_CHECK(parse_s("$5\r\nhe\0lo\r\n", 11, &a, &r, &k[3]) == 11);
	ok &= TAP_CHECK(r->type == RESP_BULK && r->len == 5 &&
			memcmp(r->str, "he\0lo", 5) == 0);
	ok &= TAP_CHECK(parse1("$0\r\n\r\n", &r, &k[4], &a) == 6);
	ok &= TAP_CHECK(r->type == RESP_BULK && r->len == 0);
	ok &= TAP_CHECK(parse1("$-1\r\n", &r, &k[5], &a) == 5);
	ok &= TAP_CHECK(r->type == RESP_NIL && !r->str);
	ok &= TAP_CHECK(parse1("*-1\r\n", &r, &k[6], &a) == 5);
	ok &= TAP_CHECK(r->type == RESP_NIL);
	ok &= TAP_CHECK(parse1("+\r\n", &r, &k[7], &a) == 3);
	ok &= TAP_CHECK(r->type == RESP_STRING && r->len == 0);
	ok &= TAP_CHECK(resp_str_eq(r, "") && !resp_str_eq(r, "x"));
	for (int i = 0; i < 8; i++)
		free(k[i]);
	resp_arena_fini(&a);
	return ok;
}

/* An XREADGROUP-like reply: [[stream, [[id, [f, v, f, v]]]]], and more. */
static const char nested[] =
	"*3\r\n"
	"*2\r\n$14\r\nringfetch:jobs\r\n"
	"*2\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$3\r\nurl\r\n$18\r\nhttp://example.org\r\n"
	"$2\r\nid\r\n$1\r\n7\r\n"
	"*2\r\n$3\r\n2-0\r\n*-1\r\n"
	"*0\r\n"
	":42\r\n";

static int check_nested(const struct resp_reply *r)
{
	const struct resp_reply *s, *e;
	int ok = 1;

	ok &= TAP_CHECK(r->type == RESP_ARRAY && r->n == 3);
	if (!ok)
		return 0;
	s = &r->elem[0];
	ok &= TAP_CHECK(s->type == RESP_ARRAY && s->n == 2);
	ok &= TAP_CHECK(resp_str_eq(&s->elem[0], "ringfetch:jobs"));
	e = &s->elem[1];
	ok &= TAP_CHECK(e->type == RESP_ARRAY && e->n == 2);
	ok &= TAP_CHECK(resp_str_eq(&e->elem[0].elem[0], "1-0"));
	ok &= TAP_CHECK(e->elem[0].elem[1].n == 4);
	ok &= TAP_CHECK(resp_str_eq(&e->elem[0].elem[1].elem[1],
				    "http://example.org"));
	ok &= TAP_CHECK(e->elem[1].elem[1].type == RESP_NIL);
	ok &= TAP_CHECK(r->elem[1].type == RESP_ARRAY && r->elem[1].n == 0 &&
			!r->elem[1].elem);
	ok &= TAP_CHECK(r->elem[2].type == RESP_INT && r->elem[2].integer == 42);
	return ok;
}

static int test_nested(void)
{
	struct resp_arena a;
	struct resp_reply *r;
	char *k;
	int ok;

	resp_arena_init(&a, LEN_MAX);
	ok = TAP_CHECK(parse1(nested, &r, &k, &a) == (ssize_t)strlen(nested));
	ok = ok && check_nested(r);
	free(k);
	resp_arena_fini(&a);
	return ok;
}

/* Each prefix of the stream needs more; the whole takes exactly its
 * length; and the arena is as before after every "need more". */
static int test_split_everywhere(void)
{
	char stream[512];
	size_t n = strlen(nested);
	struct resp_arena a;
	struct resp_reply *r = NULL, *first;
	char *k;
	int ok = 1;

	/* two replies back to back: the first must not need the second */
	memcpy(stream, nested, n);
	memcpy(stream + n, "+PONG\r\n", 7);
	resp_arena_init(&a, LEN_MAX);
	for (size_t i = 0; i < n; i++) {
		ok &= TAP_CHECK(parse_s(stream, i, &a, &r, &k) == 0);
		free(k);
		if (!ok) {
			printf("# split at %zu\n", i);
			break;
		}
	}
	for (size_t i = n; i < n + 7; i++) {
		ok &= TAP_CHECK(parse_s(stream, i, &a, &r, &k) == (ssize_t)n);
		ok &= check_nested(r);
		free(k);
	}
	resp_arena_reset(&a);
	/* two replies in one arena: the first stays valid */
	ok &= TAP_CHECK(parse_s(stream, n + 7, &a, &first, &k) == (ssize_t)n);
	ok &= TAP_CHECK(resp_parse(k + n, 7, &a, &r) == 7);
	ok &= TAP_CHECK(resp_str_eq(r, "PONG"));
	ok &= check_nested(first);
	free(k);
	resp_arena_fini(&a);
	return ok;
}

static ssize_t parse_with(const char *s, size_t len_max)
{
	struct resp_arena a;
	struct resp_reply *r;
	char *k;
	ssize_t rc;

	resp_arena_init(&a, len_max);
	rc = parse_s(s, strlen(s), &a, &r, &k);
	free(k);
	resp_arena_fini(&a);
	return rc;
}

static int test_malformed(void)
{
	int ok = 1;

	ok &= TAP_CHECK(parse_with("?\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("_\r\n", LEN_MAX) == -EPROTO); /* RESP3 */
	ok &= TAP_CHECK(parse_with("+OK\rX", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("+O\nK\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with(":\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with(":12a\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with(":+1\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with(":9223372036854775808\r\n", LEN_MAX) ==
			-EPROTO);
	ok &= TAP_CHECK(parse_with(":99999999999999999999\r\n", LEN_MAX) ==
			-EPROTO);
	ok &= TAP_CHECK(parse_with("$-2\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("$3\r\nabcd\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("$3\r\nabc\n\r", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("*-2\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("*2\r\n+a\r\n!\r\n", LEN_MAX) == -EPROTO);
	ok &= TAP_CHECK(parse_with("*1\r\n:1\r\r", LEN_MAX) == -EPROTO);
	return ok;
}

static int test_hostile_lengths(void)
{
	char deep[256] = "", line[256];
	int ok = 1;

	ok &= TAP_CHECK(parse_with("$1048577\r\n", LEN_MAX) == -E2BIG);
	ok &= TAP_CHECK(parse_with("$1048576\r\n", LEN_MAX) == 0);
	ok &= TAP_CHECK(parse_with("$9223372036854775807\r\n", LEN_MAX) ==
			-E2BIG);
	ok &= TAP_CHECK(parse_with("*1048577\r\n", LEN_MAX) == -E2BIG);
	/* a count the bytes cannot fill yet allocates nothing: needs more */
	ok &= TAP_CHECK(parse_with("*1048576\r\n:1\r\n", LEN_MAX) == 0);
	ok &= TAP_CHECK(parse_with("+abcdef\r\n", 4) == -E2BIG);
	ok &= TAP_CHECK(parse_with("-abcdef", 4) == -E2BIG);
	ok &= TAP_CHECK(parse_with("+abc", 4) == 0);
	/* depth 16 passes, 17 does not */
	for (int i = 0; i < 16; i++)
		strcat(deep, "*1\r\n");
	snprintf(line, sizeof(line), "%s:1\r\n", deep);
	ok &= TAP_CHECK(parse_with(line, LEN_MAX) == (ssize_t)strlen(line));
	strcat(deep, "*1\r\n:1\r\n");
	ok &= TAP_CHECK(parse_with(deep, LEN_MAX) == -E2BIG);
	return ok;
}

/* Many elements, past the first arena block, and a reset in between. */
static int test_big_array(void)
{
	struct resp_arena a;
	struct resp_reply *r;
	struct buf b;
	int ok = 1;

	buf_init(&b, 1 << 24);
	buf_puts(&b, "*3\r\n*10000\r\n");
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, ":%d\r\n", i);
	buf_puts(&b, "*300\r\n");
	for (int i = 0; i < 300; i++)
		buf_puts(&b, "*1\r\n+x\r\n");
	buf_puts(&b, "$-1\r\n");
	resp_arena_init(&a, LEN_MAX);
	for (int round = 0; round < 2; round++) {
		ok &= TAP_CHECK(resp_parse(b.p, b.len, &a, &r) == (ssize_t)b.len);
		ok &= TAP_CHECK(r->n == 3 && r->elem[0].n == 10000);
		ok &= TAP_CHECK(r->elem[0].elem[9999].integer == 9999);
		ok &= TAP_CHECK(resp_str_eq(&r->elem[1].elem[299].elem[0], "x"));
		ok &= TAP_CHECK(r->elem[2].type == RESP_NIL);
		resp_arena_reset(&a);
	}
	/* a "need more" in the middle leaves the arena usable */
	ok &= TAP_CHECK(resp_parse(b.p, b.len - 3, &a, &r) == 0);
	ok &= TAP_CHECK(resp_parse(b.p, b.len, &a, &r) == (ssize_t)b.len);
	ok &= TAP_CHECK(r->elem[0].elem[5].integer == 5);
	resp_arena_fini(&a);
	buf_fini(&b);
	return ok;
}

int main(void)
{
	TAP_RUN(test_encode);
	TAP_RUN(test_encode_failure_is_caught);
	TAP_RUN(test_cmd_check);
	TAP_RUN(test_scalars);
	TAP_RUN(test_nested);
	TAP_RUN(test_split_everywhere);
	TAP_RUN(test_malformed);
	TAP_RUN(test_hostile_lengths);
	TAP_RUN(test_big_array);
	return tap_done();
}
