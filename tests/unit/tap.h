/* Minimal TAP producer for ringfetch's unit tests: one program per module,
 * one function per case, "ok N - name" lines and a plan at the end. */
#ifndef RF_TAP_H
#define RF_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define TAP_CHECK(cond) \
	tap_check_at((cond), #cond, __FILE__, __LINE__)

static inline int tap_check_at(int ok, const char *what, const char *file,
			       int line)
{
	if (!ok)
		printf("#   check failed: %s (%s:%d)\n", what, file, line);
	return ok;
}

/* Run one case: fn returns nonzero on success. */
#define TAP_RUN(fn) tap_report(fn(), #fn)

static inline void tap_report(int ok, const char *name)
{
	tap_n++;
	if (!ok)
		tap_failed++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", tap_n, name);
	fflush(stdout);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#define STREQ(a, b) (strcmp((a), (b)) == 0)

#endif
