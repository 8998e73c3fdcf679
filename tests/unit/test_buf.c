/* Unit tests for buf.c: ceiling, growth, consume, printf. */
#include <errno.h>

#include "base/buf.h"
#include "tap.h"

static int test_append_basic(void)
{
	struct buf b;
	int ok = 1;

	buf_init(&b, 1024);
	ok &= TAP_CHECK(b.p == NULL && b.len == 0 && buf_is_empty(&b));
	ok &= TAP_CHECK(buf_append(&b, "", 0) == 0);
	ok &= TAP_CHECK(buf_puts(&b, "hello") == 0);
	ok &= TAP_CHECK(buf_putc(&b, ' ') == 0);
	ok &= TAP_CHECK(buf_append(&b, "world!!", 5) == 0);
	ok &= TAP_CHECK(b.len == 11 && STREQ(b.p, "hello world"));
	buf_reset(&b);
	ok &= TAP_CHECK(b.len == 0 && b.p && b.p[0] == '\0' && b.cap > 0);
	ok &= TAP_CHECK(buf_puts(&b, "again") == 0 && STREQ(b.p, "again"));
	buf_fini(&b);
	ok &= TAP_CHECK(b.p == NULL && b.len == 0 && b.max == 1024);
	buf_fini(&b);
	return ok;
}

static int test_ceiling(void)
{
	struct buf b;
	char big[100];
	int ok = 1;

	memset(big, 'x', sizeof(big));
	buf_init(&b, 10);
	ok &= TAP_CHECK(buf_append(&b, big, 11) == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 0);
	ok &= TAP_CHECK(buf_append(&b, big, 7) == 0);
	ok &= TAP_CHECK(buf_append(&b, "abcd", 4) == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 7 && STREQ(b.p, "xxxxxxx"));
	ok &= TAP_CHECK(buf_append(&b, "abc", 3) == 0);
	ok &= TAP_CHECK(b.len == 10 && STREQ(b.p, "xxxxxxxabc"));
	ok &= TAP_CHECK(b.cap <= 11);
	ok &= TAP_CHECK(buf_putc(&b, 'z') == -ENOBUFS);
	ok &= TAP_CHECK(buf_reserve(&b, 1) == -ENOBUFS);
	ok &= TAP_CHECK(buf_reserve(&b, 0) == 0);
	ok &= TAP_CHECK(buf_printf(&b, "%d", 1) == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 10 && STREQ(b.p, "xxxxxxxabc"));
	buf_fini(&b);

	buf_init(&b, 0);
	ok &= TAP_CHECK(buf_append(&b, "", 0) == 0);
	ok &= TAP_CHECK(buf_putc(&b, 'a') == -ENOBUFS);
	buf_fini(&b);
	return ok;
}

static int test_growth(void)
{
	struct buf b;
	size_t i;
	int ok = 1;

	buf_init(&b, 1 << 20);
	for (i = 0; i < 100000; i++)
		if (buf_putc(&b, (char)('a' + i % 26)))
			ok = 0;
	ok &= TAP_CHECK(b.len == 100000 && b.cap > b.len);
	for (i = 0; i < b.len; i++)
		if (b.p[i] != (char)('a' + i % 26))
			ok = 0;
	ok &= TAP_CHECK(b.p[b.len] == '\0');
	buf_fini(&b);
	return ok;
}

static int test_consume(void)
{
	struct buf b;
	int ok = 1;

	buf_init(&b, 64);
	buf_consume(&b, 5);	/* empty, never allocated */
	ok &= TAP_CHECK(b.len == 0);
	ok &= TAP_CHECK(buf_puts(&b, "line one\nline two\n") == 0);
	buf_consume(&b, 9);
	ok &= TAP_CHECK(b.len == 9 && STREQ(b.p, "line two\n"));
	buf_consume(&b, 0);
	ok &= TAP_CHECK(STREQ(b.p, "line two\n"));
	buf_consume(&b, 100);
	ok &= TAP_CHECK(b.len == 0 && b.p[0] == '\0');
	/* freed room is usable again up to the ceiling */
	ok &= TAP_CHECK(buf_printf(&b, "%064d", 0) == 0 && b.len == 64);
	buf_consume(&b, 60);
	ok &= TAP_CHECK(buf_puts(&b, "abcdefghijklmnopqrstuvwxyz") == 0);
	ok &= TAP_CHECK(STREQ(b.p, "0000abcdefghijklmnopqrstuvwxyz"));
	buf_truncate(&b, 4);
	ok &= TAP_CHECK(STREQ(b.p, "0000"));
	buf_truncate(&b, 40);
	ok &= TAP_CHECK(b.len == 4);
	buf_fini(&b);
	return ok;
}

static int test_shrink(void)
{
	struct buf b;
	int ok = 1;

	buf_init(&b, 1 << 20);
	buf_shrink(&b, 64);	/* never allocated: nothing to give back */
	ok &= TAP_CHECK(b.p == NULL && b.cap == 0);
	ok &= TAP_CHECK(buf_printf(&b, "%100000d", 1) == 0);
	buf_shrink(&b, 64);	/* holds more than keep: unchanged */
	ok &= TAP_CHECK(b.len == 100000 && b.cap > 100000);
	buf_consume(&b, 100000 - 10);
	buf_shrink(&b, 64);
	ok &= TAP_CHECK(b.cap == 65 && b.len == 10);
	ok &= TAP_CHECK(STREQ(b.p, "         1"));
	/* still a buffer: grows again, up to its ceiling */
	ok &= TAP_CHECK(buf_printf(&b, "%1000d", 2) == 0 && b.len == 1010);
	buf_reset(&b);
	buf_shrink(&b, 0);	/* empty with keep 0: freed */
	ok &= TAP_CHECK(b.p == NULL && b.cap == 0 && b.len == 0);
	ok &= TAP_CHECK(buf_puts(&b, "x") == 0 && STREQ(b.p, "x"));
	buf_shrink(&b, 4096);	/* smaller than keep already */
	ok &= TAP_CHECK(STREQ(b.p, "x"));
	buf_fini(&b);
	return ok;
}

static int test_printf(void)
{
	struct buf b;
	char want[600];
	int ok = 1;

	buf_init(&b, 4096);
	ok &= TAP_CHECK(buf_printf(&b, "%s=%d", "a", 1) == 0);
	ok &= TAP_CHECK(STREQ(b.p, "a=1"));
	/* longer than the spare room: must grow and redo */
	ok &= TAP_CHECK(buf_printf(&b, " %500d|", 7) == 0);
	snprintf(want, sizeof(want), "a=1 %500d|", 7);
	ok &= TAP_CHECK(b.len == strlen(want) && STREQ(b.p, want));
	ok &= TAP_CHECK(buf_printf(&b, "%s", "") == 0 && b.len == 505);
	/* fits the ceiling exactly, then one byte more does not */
	ok &= TAP_CHECK(buf_printf(&b, "%*s", 4096 - 505, "") == 0);
	ok &= TAP_CHECK(b.len == 4096);
	buf_truncate(&b, 505);
	ok &= TAP_CHECK(buf_printf(&b, "%*s", 4096 - 504, "") == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 505 && STREQ(b.p, want));
	buf_fini(&b);

	buf_init(&b, 100);	/* first write into an unallocated buffer */
	ok &= TAP_CHECK(buf_printf(&b, "%u", 42u) == 0 && STREQ(b.p, "42"));
	buf_fini(&b);
	buf_init(&b, 3);
	ok &= TAP_CHECK(buf_printf(&b, "%s", "abcd") == -ENOBUFS);
	ok &= TAP_CHECK(b.len == 0);
	buf_fini(&b);
	return ok;
}

int main(void)
{
	TAP_RUN(test_append_basic);
	TAP_RUN(test_ceiling);
	TAP_RUN(test_growth);
	TAP_RUN(test_consume);
	TAP_RUN(test_shrink);
	TAP_RUN(test_printf);
	return tap_done();
}
