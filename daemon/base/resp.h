/* RESP2, the Redis protocol: an encoder that appends commands (arrays of
 * bulk strings) to a struct buf, and a zero-copy parser of replies that
 * sees bytes only, never a socket (fuzzed by fuzz/fuzz_resp.c). Both the
 * daemon (net/redis.c) and the client binary use it. */
#ifndef RF_RESP_H
#define RF_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"

#define RESP_DEPTH_MAX 16	/* arrays nested deeper are -E2BIG */

/* ---- encoder ----
 *
 * struct buf reports a failed append (ceiling or out of memory) by its
 * return value and leaves the buffer as it was. resp_cmd() passes that on.
 * resp_begin() and the resp_arg*() calls return nothing: each appends its
 * piece whole or not at all, so a command with a failed piece is
 * incomplete (fewer arguments than resp_begin() announced) and
 * resp_cmd_check() refuses it; redis_send() runs that check, so a failed
 * encoding is never sent and never desynchronises the connection. */

/* Append one command of argc arguments: argv[i] is lens[i] bytes (binary
 * safe), or a C string when lens is NULL. Returns 0, or -ENOBUFS / -ENOMEM
 * with b unchanged. */
int resp_cmd(struct buf *b, int argc, const char *const *argv,
	     const size_t *lens);

/* Start a command of argc arguments; exactly argc resp_arg*() calls must
 * follow. See above for failure. */
void resp_begin(struct buf *b, unsigned argc);

/* One argument: n bytes at p (binary safe). */
void resp_arg(struct buf *b, const void *p, size_t n);

/* One argument: the C string s. */
void resp_arg_str(struct buf *b, const char *s);

/* One argument: v in decimal. */
void resp_arg_u64(struct buf *b, uint64_t v);

/* Count the complete commands in n bytes at p, which must hold nothing
 * else (no partial command at the end). Returns the count (0 for n == 0),
 * or -EINVAL when the bytes are not exactly well-formed commands: what a
 * failed resp_begin()/resp_arg() leaves behind. */
ssize_t resp_cmd_check(const char *p, size_t n);

/* ---- parser ---- */

enum resp_type {
	RESP_STRING = 0,	/* +simple string: str, len */
	RESP_ERROR,		/* -error: str, len ("ERR ...", "WRONGPASS ...") */
	RESP_INT,		/* :integer: integer */
	RESP_BULK,		/* $bulk string: str, len (binary safe) */
	RESP_NIL,		/* $-1 or *-1: nothing */
	RESP_ARRAY,		/* *array: elem[0..n-1] */
};

/* One reply. str points into the parsed bytes (not NUL-terminated): the
 * caller keeps them until done with the reply. */
struct resp_reply {
	enum resp_type type;
	long long integer;	/* RESP_INT only, else 0 */
	const char *str;	/* RESP_STRING, _ERROR, _BULK; else NULL */
	size_t len;		/* bytes at str */
	struct resp_reply *elem; /* RESP_ARRAY: n elements (NULL when n == 0) */
	size_t n;		/* RESP_ARRAY: element count, else 0 */
};

struct resp_block;

/* Where parsed replies live: blocks of struct resp_reply, reused after
 * resp_arena_reset(). What it holds is bounded by the input: an array
 * gets its elements only once enough bytes are there for each of them. */
struct resp_arena {
	struct resp_block *head;	/* first block, NULL until used */
	struct resp_block *cur;		/* block being filled */
	size_t len_max;			/* bulk, array and simple string
					 * lengths above this: -E2BIG */
};

/* Set up a (allocates nothing yet) with the length ceiling len_max. */
void resp_arena_init(struct resp_arena *a, size_t len_max);

/* Forget every reply parsed into a (their memory is reused): replies
 * handed out before become invalid. Keeps one block. */
void resp_arena_reset(struct resp_arena *a);

/* Free everything; a may be initialised again. */
void resp_arena_fini(struct resp_arena *a);

/* Parse one reply at the start of the n bytes at p. Returns the bytes it
 * takes (> 0) and sets *out (allocated from a, pointing into p); 0 when
 * the reply is not complete yet (feed the same bytes and more again);
 * -EPROTO when the bytes are not RESP2; -E2BIG past RESP_DEPTH_MAX or
 * a->len_max; -ENOMEM. On 0 or an error, a holds what it held before.
 * Several replies may be parsed into one arena before it is reset. */
ssize_t resp_parse(const char *p, size_t n, struct resp_arena *a,
		   struct resp_reply **out);

/* Whether r is a simple or bulk string equal to the C string s. */
bool resp_str_eq(const struct resp_reply *r, const char *s);

#endif
