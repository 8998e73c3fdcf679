/* libFuzzer target for backoff.c's Retry-After parser: a server's header
 * value, so any bytes at all. It must return 0 with a delay within
 * BACKOFF_RETRY_AFTER_MAX_S, or -EINVAL leaving the delay untouched, and
 * read nothing past len (the input is not NUL-terminated).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -iquote daemon \
 *	-D_GNU_SOURCE fuzz/fuzz_backoff.c daemon/backoff.c -o build/fuzz_backoff
 *   ./build/fuzz_backoff fuzz/corpus/backoff
 *
 * Without -fsanitize=fuzzer it compiles as a plain object, for the replay
 * driver that calls LLVMFuzzerTestOneInput() on each corpus file. */
#include "http/backoff.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 2026-11-26, and the epoch itself: dates before both */
	static const uint64_t nows[] = { 1795651200000ULL, 0 };

	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		uint64_t delay = 12345;
		int rc = backoff_parse_retry_after((const char *)data, size,
						   nows[i], &delay);

		if (rc == 0 && delay > BACKOFF_RETRY_AFTER_MAX_S * 1000ULL)
			abort();
		if (rc != 0 && (rc != -EINVAL || delay != 12345))
			abort();
	}
	return 0;
}
