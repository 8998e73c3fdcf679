/* Microseconds to hash one 4 KiB body, SHA-NI vs portable vs wolfSSL.
 *
 *   gcc -O2 -iquote daemon -o /tmp/sha256-speed scripts/sha256-speed.c \
 *       daemon/sha256.c -lwolfssl && /tmp/sha256-speed
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/sha256.h"

#define BODY_BYTES 4096
#define ROUNDS 20000

static uint8_t body[BODY_BYTES];
static volatile uint8_t sink;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Best of five runs, as a body streams in: init, one update, final. */
static double time_ours(void)
{
	double best = 1e30;

	for (int run = 0; run < 5; run++) {
		double t0 = now_us();

		for (int i = 0; i < ROUNDS; i++) {
			struct sha256 s;
			uint8_t d[32];

			sha256_init(&s);
			sha256_update(&s, body, sizeof(body));
			sha256_final(&s, d);
			sink ^= d[0];
		}
		double us = (now_us() - t0) / ROUNDS;

		if (us < best)
			best = us;
	}
	return best;
}

static double time_wolf(void)
{
	double best = 1e30;

	for (int run = 0; run < 5; run++) {
		double t0 = now_us();

		for (int i = 0; i < ROUNDS / 4; i++) {
			wc_Sha256 w;
			uint8_t d[32];

			wc_InitSha256(&w);
			wc_Sha256Update(&w, body, sizeof(body));
			wc_Sha256Final(&w, d);
			wc_Sha256Free(&w);
			sink ^= d[0];
		}
		double us = (now_us() - t0) / (ROUNDS / 4);

		if (us < best)
			best = us;
	}
	return best;
}

int main(void)
{
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 131 + 7);

	sha256_force_portable(false);
	printf("fastest  %7.3f us per 4 KiB\n", time_ours());
	sha256_force_portable(true);
	printf("portable %7.3f us per 4 KiB\n", time_ours());
	printf("wolfssl  %7.3f us per 4 KiB\n", time_wolf());
	return 0;
}
