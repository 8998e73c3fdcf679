/* Time to hash a 4 KiB and a 1 MiB body, and MB/s, SHA-NI vs portable vs
 * wolfSSL: the hash alone, without the network (bench.sh's S1 and S2).
 *
 *   gcc -O2 -iquote daemon -o /tmp/sha256-speed scripts/sha256-speed.c \
 *       daemon/base/sha256.c daemon/base/log.c -lwolfssl && /tmp/sha256-speed
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/sha256.h"

#define BODY_BYTES_MAX (1 << 20)
#define BYTES_PER_RUN (80 << 20)	/* ~50 ms SHA-NI, ~200 ms portable */

static uint8_t body[BODY_BYTES_MAX];
static volatile uint8_t sink;

static double now_us(void)
{
	struct timespec ts;

	/* CPU time, not wall: on a shared machine the time others hold the
	 * core would count against the hash otherwise */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Microseconds per body of len bytes, best of five runs (the machine is
 * shared: the best run is the one least disturbed), as a body streams in:
 * init, one update, final. */
static double time_ours(size_t len)
{
	double best = 1e30;
	int rounds = BYTES_PER_RUN / len;

	for (int run = 0; run < 5; run++) {
		double t0 = now_us();

		for (int i = 0; i < rounds; i++) {
			struct sha256 s;
			uint8_t d[32];

			sha256_init(&s);
			sha256_update(&s, body, len);
			sha256_final(&s, d);
			sink ^= d[0];
		}
		double us = (now_us() - t0) / rounds;

		if (us < best)
			best = us;
	}
	return best;
}

static double time_wolf(size_t len)
{
	double best = 1e30;
	int rounds = BYTES_PER_RUN / 4 / len;

	for (int run = 0; run < 5; run++) {
		double t0 = now_us();

		for (int i = 0; i < rounds; i++) {
			wc_Sha256 w;
			uint8_t d[32];

			wc_InitSha256(&w);
			wc_Sha256Update(&w, body, (word32)len);
			wc_Sha256Final(&w, d);
			wc_Sha256Free(&w);
			sink ^= d[0];
		}
		double us = (now_us() - t0) / rounds;

		if (us < best)
			best = us;
	}
	return best;
}

static void report(const char *name, size_t len, double us)
{
	printf("%-8s %7zu B %9.2f us %7.0f MB/s\n", name, len, us, len / us);
}

int main(void)
{
	static const size_t lens[] = { 4096, BODY_BYTES_MAX };

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 131 + 7);

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		sha256_force_portable(false);
		report(sha256_impl_name(), lens[i], time_ours(lens[i]));
		sha256_force_portable(true);
		report("portable", lens[i], time_ours(lens[i]));
		report("wolfssl", lens[i], time_wolf(lens[i]));
	}
	return 0;
}
