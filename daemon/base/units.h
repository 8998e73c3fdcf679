/* Durations ("250ms", "5s", "2m", "1h") and sizes ("512", "64KiB", "10MiB")
 * as the configuration writes them: strict parsers and exact formatters. */
#ifndef RF_UNITS_H
#define RF_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Enough for any uint64_t in either form, with its suffix and the NUL. */
#define UNITS_FMT_MAX 32

/* Parse a duration: an integer, optionally with a decimal fraction, followed
 * by ms, s, m or h ("250ms", "5s", "1.5s", "2m", "1h"); "0" alone means 0.
 * No sign, no spaces. A fraction is allowed only when the result is a whole
 * number of milliseconds ("0.5ms" is rejected). Returns 0 with *ms set, or
 * -EINVAL for a malformed string, -ERANGE when it overflows uint64_t; *ms is
 * then untouched. */
int units_parse_duration_ms(const char *s, uint64_t *ms);

/* Parse a size: a plain integer (bytes) or one followed by B, KiB, MiB, GiB
 * or TiB (powers of 1024; SI suffixes such as KB are rejected on purpose,
 * because they are ambiguous). A fraction is allowed when the result is a
 * whole number of bytes ("1.5KiB"). Returns 0, -EINVAL or -ERANGE as
 * units_parse_duration_ms() does. */
int units_parse_size(const char *s, uint64_t *bytes);

/* Write the shortest exact form of ms into buf (n bytes, UNITS_FMT_MAX is
 * always enough): 0 -> "0", 30000 -> "30s", 1500 -> "1500ms", 7200000 ->
 * "2h". units_parse_duration_ms() reads it back to the same value. Returns
 * buf, always NUL-terminated (truncated when n is too small). */
char *units_format_duration(uint64_t ms, char *buf, size_t n);

/* As units_format_duration() for sizes: 0 -> "0", 67108864 -> "64MiB",
 * 1000 -> "1000". Returns buf. */
char *units_format_size(uint64_t bytes, char *buf, size_t n);

#endif
