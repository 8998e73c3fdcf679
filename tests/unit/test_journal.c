/* Unit tests for journal.c: group commit over a real ring and file, waiters
 * told in order, a torn last line cut off on reading, rewrite. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event/loop.h"
#include "output/journal.h"
#include "tap.h"

static char dir[] = "/tmp/rf-test-journal-XXXXXX";
static struct loop L;

struct waiter {
	struct journal_wait w;
	int told, err;
	uint64_t order;
};

static uint64_t told_count;

static void durable(struct journal_wait *w, int err)
{
	struct waiter *x = container_of(w, struct waiter, w);

	x->told++;
	x->err = err;
	x->order = ++told_count;
}

static void turn_until(int *flag)
{
	for (int i = 0; i < 200 && !*flag; i++)
		loop_run_once(&L);
}

static char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static size_t lines_seen;
static char last_line[256];

static void count_line(void *arg, const char *line, size_t n)
{
	(void)arg;
	lines_seen++;
	snprintf(last_line, sizeof(last_line), "%.*s", (int)n, line);
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

static int test_group_commit(void)
{
	struct journal jr;
	struct waiter a = { .w.durable = durable }, b = { .w.durable = durable };
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(journal_open(&jr, &L, path_of("g"), true, err,
				     sizeof(err)) == 0);
	/* three lines and a waiter in one turn, two more and a second
	 * waiter: at most two write+sync rounds for all of them */
	ok &= TAP_CHECK(journal_append(&jr, "one", 3) == 1);
	ok &= TAP_CHECK(journal_append(&jr, "two", 3) == 2);
	journal_wait(&jr, &a.w);
	ok &= TAP_CHECK(journal_append(&jr, "three", 5) == 3);
	journal_wait(&jr, &b.w);
	ok &= TAP_CHECK(!a.told && !b.told);
	turn_until(&b.told);
	ok &= TAP_CHECK(a.told == 1 && b.told == 1 && !a.err && !b.err);
	ok &= TAP_CHECK(a.order < b.order);
	ok &= TAP_CHECK(jr.syncs == 1 && jr.writes == 1);
	ok &= TAP_CHECK(jr.durable == 3);
	ok &= TAP_CHECK(file_size(path_of("g")) == 14);
	/* a waiter with nothing pending is told at once */
	a.told = 0;
	journal_wait(&jr, &a.w);
	ok &= TAP_CHECK(a.told == 1);
	journal_close(&jr);
	lines_seen = 0;
	ok &= TAP_CHECK(journal_read(path_of("g"), count_line, NULL, err,
				     sizeof(err)) == 3);
	ok &= TAP_CHECK(STREQ(last_line, "three"));
	return ok;
}

static int test_appends_during_a_batch_ride_the_next(void)
{
	struct journal jr;
	struct waiter w[50];
	char err[256], line[32];
	int ok = 1;

	ok &= TAP_CHECK(journal_open(&jr, &L, path_of("n"), true, err,
				     sizeof(err)) == 0);
	for (int i = 0; i < 50; i++) {
		int n = snprintf(line, sizeof(line), "line %d", i);

		w[i] = (struct waiter){ .w.durable = durable };
		journal_append(&jr, line, (size_t)n);
		journal_wait(&jr, &w[i].w);
		if (i % 10 == 9)
			loop_run_once(&L);
	}
	turn_until(&w[49].told);
	for (int i = 0; i < 50; i++)
		ok &= TAP_CHECK(w[i].told == 1 && !w[i].err);
	ok &= TAP_CHECK(jr.syncs < 50);
	printf("# 50 appends in 5 turns: %llu syncs\n",
	       (unsigned long long)jr.syncs);
	journal_close(&jr);
	return ok;
}

static int test_torn_line_cut_off(void)
{
	const char *p = path_of("t");
	char err[256];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), ok = 1;

	if (fd < 0)
		return 0;
	ok &= TAP_CHECK(write(fd, "a\nbb\n{\"torn", 11) == 11);
	close(fd);
	lines_seen = 0;
	ok &= TAP_CHECK(journal_read(p, count_line, NULL, err,
				     sizeof(err)) == 2);
	ok &= TAP_CHECK(STREQ(last_line, "bb"));
	ok &= TAP_CHECK(file_size(p) == 5);
	ok &= TAP_CHECK(journal_read(path_of("missing"), count_line, NULL,
				     err, sizeof(err)) == 0);
	return ok;
}

static int test_long_line_read_back(void)
{
	static char big[300000];
	struct journal jr;
	char err[256];
	int ok = 1;

	memset(big, 'x', sizeof(big));
	ok &= TAP_CHECK(journal_open(&jr, &L, path_of("l"), false, err,
				     sizeof(err)) == 0);
	ok &= TAP_CHECK(journal_append(&jr, big, sizeof(big)) == 1);
	ok &= TAP_CHECK(journal_append(&jr, "end", 3) == 2);
	ok &= TAP_CHECK(journal_flush_now(&jr) == 0);
	journal_close(&jr);
	lines_seen = 0;
	ok &= TAP_CHECK(journal_read(path_of("l"), count_line, NULL, err,
				     sizeof(err)) == 2);
	ok &= TAP_CHECK(STREQ(last_line, "end"));
	return ok;
}

static int test_rewrite_then_append(void)
{
	struct journal jr;
	struct waiter a = { .w.durable = durable };
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(journal_open(&jr, &L, path_of("r"), true, err,
				     sizeof(err)) == 0);
	for (int i = 0; i < 100; i++)
		journal_append(&jr, "old line", 8);
	journal_wait(&jr, &a.w);
	turn_until(&a.told);
	ok &= TAP_CHECK(journal_rewrite(&jr, "kept\n", 5) == 0);
	ok &= TAP_CHECK(file_size(path_of("r")) == 5);
	journal_append(&jr, "new", 3);
	a.told = 0;
	journal_wait(&jr, &a.w);
	turn_until(&a.told);
	journal_close(&jr);
	lines_seen = 0;
	ok &= TAP_CHECK(journal_read(path_of("r"), count_line, NULL, err,
				     sizeof(err)) == 2);
	ok &= TAP_CHECK(STREQ(last_line, "new"));
	ok &= TAP_CHECK(access(path_of("r.tmp"), F_OK) != 0);
	return ok;
}

static int test_close_tells_waiters(void)
{
	struct journal jr;
	struct waiter a = { .w.durable = durable };
	char err[256];
	int ok = 1;

	ok &= TAP_CHECK(journal_open(&jr, &L, path_of("c"), true, err,
				     sizeof(err)) == 0);
	journal_append(&jr, "x", 1);
	journal_wait(&jr, &a.w);
	journal_close(&jr);	/* nothing in flight: written, then told */
	ok &= TAP_CHECK(a.told == 1 && a.err == 0);
	ok &= TAP_CHECK(file_size(path_of("c")) == 2);
	return ok;
}

int main(void)
{
	char err[256];

	if (!mkdtemp(dir) || loop_init(&L, 64, err, sizeof(err)) < 0) {
		printf("1..0 # SKIP no temporary directory or ring: %s\n", err);
		return 77;
	}
	TAP_RUN(test_group_commit);
	TAP_RUN(test_appends_during_a_batch_ride_the_next);
	TAP_RUN(test_torn_line_cut_off);
	TAP_RUN(test_long_line_read_back);
	TAP_RUN(test_rewrite_then_append);
	TAP_RUN(test_close_tells_waiters);
	loop_fini(&L);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return tap_done();
}
