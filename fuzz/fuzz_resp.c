/* libFuzzer target for resp.c: parse the input as a stream of replies,
 * checking that every string points inside the input, that each prefix of
 * a reply only ever asks for more, and that the command check agrees with
 * the encoder on commands built from the input's bytes.
 *
 *   make fuzz CC=clang   (scripts/fuzz.sh), or replay: build/asan/fuzz_resp
 *   fuzz/corpus/resp/...
 *
 * Without -fsanitize=fuzzer it compiles as a plain object, for a replay
 * driver that calls LLVMFuzzerTestOneInput() on each corpus file. */
#include "base/resp.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEN_MAX 4096		/* small, so the limits are reached */
#define PREFIX_CHECK_MAX 2048	/* prefixes are checked on short inputs */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct resp_reply *r, const char *p, size_t n,
			unsigned depth)
{
	switch (r->type) {
	case RESP_STRING:
	case RESP_ERROR:
	case RESP_BULK:
		if (r->len > LEN_MAX || (r->len && (r->str < p ||
		    r->str + r->len > p + n)))
			abort();
		break;
	case RESP_ARRAY:
		/* arrays nest 16 deep at most; their scalars may be one more */
		if (depth > RESP_DEPTH_MAX || r->n > LEN_MAX ||
		    (r->n && !r->elem))
			abort();
		for (size_t i = 0; i < r->n; i++)
			check_reply(&r->elem[i], p, n, depth + 1);
		break;
	case RESP_INT:
	case RESP_NIL:
		break;
	default:
		abort();
	}
}

static void parse_stream(const char *p, size_t n)
{
	struct resp_arena a;
	struct resp_reply *r;
	size_t off = 0;
	ssize_t rc;

	resp_arena_init(&a, LEN_MAX);
	while (off < n) {
		rc = resp_parse(p + off, n - off, &a, &r);
		if (rc <= 0) {
			if (rc != 0 && rc != -EPROTO && rc != -E2BIG)
				abort();
			break;
		}
		if ((size_t)rc > n - off)
			abort();
		check_reply(r, p + off, (size_t)rc, 1);
		if (n <= PREFIX_CHECK_MAX) {
			/* a shorter prefix is never a different reply */
			for (size_t k = 0; k < (size_t)rc; k++) {
				struct resp_reply *q;
				ssize_t prc = resp_parse(p + off, k, &a, &q);

				if (prc != 0)
					abort();
			}
		}
		off += (size_t)rc;
		resp_arena_reset(&a);
	}
	resp_arena_fini(&a);
}

/* The input split at NUL bytes, as the arguments of one command. */
static void encode_roundtrip(const char *p, size_t n)
{
	const char *argv[16];
	size_t lens[16];
	struct resp_arena a;
	struct resp_reply *r;
	struct buf b;
	int argc = 0;
	size_t start = 0;

	for (size_t i = 0; i <= n && argc < 16; i++) {
		if (i == n || p[i] == '\0') {
			argv[argc] = p + start;
			lens[argc++] = i - start;
			start = i + 1;
		}
	}
	buf_init(&b, 1 << 20);
	resp_arena_init(&a, 1 << 20);
	if (resp_cmd(&b, argc, argv, lens) != 0)
		abort();
	if (resp_cmd_check(b.p, b.len) != 1)
		abort();
	if (resp_parse(b.p, b.len, &a, &r) != (ssize_t)b.len ||
	    r->type != RESP_ARRAY || r->n != (size_t)argc)
		abort();
	for (int i = 0; i < argc; i++)
		if (r->elem[i].type != RESP_BULK || r->elem[i].len != lens[i] ||
		    memcmp(r->elem[i].str, argv[i], lens[i]) != 0)
			abort();
	resp_arena_fini(&a);
	buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	ssize_t cmds = resp_cmd_check(p, size);

	if (cmds < 0 && cmds != -EINVAL)
		abort();
	parse_stream(p, size);
	encode_roundtrip(p, size);
	return 0;
}
