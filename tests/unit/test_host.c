/* Unit tests for host.c: per-host FIFO, round-robin over hosts with room,
 * the per-host cap, front requeue, the rate bucket, freeing idle hosts,
 * Crawl-delay spacing, a start given back, the robots.txt fetch first. */
#include <string.h>

#include "engine/host.h"
#include "engine/job.h"
#include "event/loop.h"
#include "tap.h"

static struct loop lp;

static struct url url_of(const char *host, uint16_t port)
{
	struct url u;

	memset(&u, 0, sizeof(u));
	snprintf(u.host, sizeof(u.host), "%s", host);
	u.port = port;
	return u;
}

/* n jobs on host name, numbered from first */
static void fill(struct host_table *t, struct job *jobs, int n, int first,
		 const char *name)
{
	struct url u = url_of(name, 80);

	for (int i = 0; i < n; i++) {
		jobs[i].num = (uint64_t)(first + i);
		jobs[i].host = host_get(t, &u);
		host_enqueue(t, jobs[i].host, &jobs[i], false);
	}
}

static int test_round_robin(void)
{
	struct host_table t;
	static struct job a[5], b[5];
	int order[10], ok = 1;

	host_table_init(&t, &lp, 6, 0);
	fill(&t, a, 5, 100, "a.test");
	fill(&t, b, 5, 200, "b.test");
	for (int i = 0; i < 10; i++) {
		struct job *j = host_next_job(&t);

		order[i] = j ? (int)j->num : -1;
		if (j)
			host_release(&t, j->host);
	}
	/* alternates between the hosts, FIFO within each */
	for (int i = 0; i < 10; i++)
		ok &= TAP_CHECK(order[i] == (i % 2 ? 200 : 100) + i / 2);
	ok &= TAP_CHECK(host_next_job(&t) == NULL);
	for (int i = 0; i < 5; i++) {
		host_put(&t, a[i].host);
		host_put(&t, b[i].host);
	}
	ok &= TAP_CHECK(t.count == 0);
	host_table_fini(&t);
	return ok;
}

static int test_per_host_cap(void)
{
	struct host_table t;
	static struct job a[10], b[2];
	int from_a = 0, from_b = 0, ok = 1;
	struct job *j;

	host_table_init(&t, &lp, 3, 0);
	fill(&t, a, 10, 0, "slow.test");
	fill(&t, b, 2, 50, "fast.test");
	/* slots are not released: the slow host stops at 3, the other goes on */
	while ((j = host_next_job(&t)) != NULL) {
		if (j->num < 50)
			from_a++;
		else
			from_b++;
	}
	ok &= TAP_CHECK(from_a == 3);
	ok &= TAP_CHECK(from_b == 2);
	ok &= TAP_CHECK(a[0].host->active == 3 && a[0].host->q_len == 7);
	host_release(&t, a[0].host);
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 3);
	host_table_fini(&t);
	return ok;
}

static int test_front_and_unqueue(void)
{
	struct host_table t;
	static struct job a[3], r;
	struct job *j;
	int ok = 1;

	host_table_init(&t, &lp, 6, 0);
	fill(&t, a, 3, 1, "h.test");
	host_unqueue(&t, a[0].host, &a[1]);
	r.num = 99;
	r.host = a[0].host;
	host_enqueue(&t, r.host, &r, true);
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 99);
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 1);
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 3);
	ok &= TAP_CHECK(host_next_job(&t) == NULL);
	host_table_fini(&t);
	return ok;
}

static int test_distinct_keys(void)
{
	struct host_table t;
	struct url u1 = url_of("x.test", 80), u2 = url_of("x.test", 81);
	struct url u3 = url_of("x.test", 80);
	struct host *h1, *h2, *h3;
	int ok = 1;

	host_table_init(&t, &lp, 6, 0);
	u3.https = true;
	h1 = host_get(&t, &u1);
	h2 = host_get(&t, &u2);
	h3 = host_get(&t, &u3);
	ok &= TAP_CHECK(h1 != h2 && h1 != h3 && h2 != h3);
	ok &= TAP_CHECK(host_get(&t, &u1) == h1 && h1->refs == 2);
	host_put(&t, h1);
	host_put(&t, h1);
	host_put(&t, h2);
	host_put(&t, h3);
	ok &= TAP_CHECK(t.count == 0);
	host_table_fini(&t);
	return ok;
}

static int test_many_hosts_grow(void)
{
	struct host_table t;
	static struct job jobs[5000];
	char name[32];
	int ok = 1, n = 0;

	host_table_init(&t, &lp, 1, 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "h%d.test", i);
		fill(&t, &jobs[i], 1, i, name);
	}
	ok &= TAP_CHECK(t.count == 5000 && t.nbuckets >= 4096);
	while (host_next_job(&t))
		n++;
	ok &= TAP_CHECK(n == 5000);
	host_table_fini(&t);
	return ok;
}

static int test_rate_bucket(void)
{
	struct host_table t;
	static struct job a[3];
	struct job *j;
	int ok = 1;
	uint64_t t0;

	t0 = loop_update_clock(&lp);	/* the cached clock the bucket reads */
	host_table_init(&t, &lp, 6, 20);	/* 20 starts/s: 50 ms apart */
	fill(&t, a, 3, 1, "r.test");
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 1);	/* the first goes at once */
	ok &= TAP_CHECK(host_next_job(&t) == NULL);
	ok &= TAP_CHECK(a[0].host->rate_wait);
	while (!(j = host_next_job(&t)) && loop_now_ms(&lp) - t0 < 2000)
		loop_run_once(&lp);
	ok &= TAP_CHECK(j && j->num == 2);
	ok &= TAP_CHECK(loop_now_ms(&lp) - t0 >= 40);
	host_table_fini(&t);
	return ok;
}

static int test_crawl_delay_spaces_starts(void)
{
	struct host_table t;
	static struct job a[2];
	struct job *j;
	int ok = 1;
	uint64_t t0;

	t0 = loop_update_clock(&lp);
	host_table_init(&t, &lp, 6, 0);
	fill(&t, a, 2, 1, "d.test");
	a[0].host->delay_ms = 60;
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 1);
	ok &= TAP_CHECK(host_next_job(&t) == NULL && a[0].host->rate_wait);
	while (!(j = host_next_job(&t)) && loop_now_ms(&lp) - t0 < 2000)
		loop_run_once(&lp);
	ok &= TAP_CHECK(j && j->num == 2);
	ok &= TAP_CHECK(loop_now_ms(&lp) - t0 >= 60);
	host_table_fini(&t);
	return ok;
}

static int test_unstart_gives_back_the_turn(void)
{
	struct host_table t;
	static struct job a[2];
	struct job *j;
	int ok = 1;

	loop_update_clock(&lp);
	host_table_init(&t, &lp, 1, 1);	/* 1 start/s, one at a time */
	fill(&t, a, 2, 1, "u.test");
	a[0].host->delay_ms = 10000;
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 1 && a[0].host->active == 1);
	host_unstart(&t, j->host);
	ok &= TAP_CHECK(a[0].host->active == 0);
	/* neither the token nor the delay was spent: the next goes at once */
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 2);
	host_table_fini(&t);
	return ok;
}

static int test_robots_fetch_goes_first(void)
{
	struct host_table t;
	static struct job a[3];
	struct job *j;
	struct host *h;
	int ok = 1;

	host_table_init(&t, &lp, 6, 0);
	fill(&t, a, 3, 1, "r.test");
	h = a[0].host;
	/* job 3 fetches robots.txt, queued behind the others */
	host_robots_wait(&t, h, &a[2]);
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 3);
	/* while it runs, the host's other jobs wait */
	ok &= TAP_CHECK(host_next_job(&t) == NULL);
	host_release(&t, h);
	ok &= TAP_CHECK(host_next_job(&t) == NULL);
	host_robots_done(&t, h);
	j = host_next_job(&t);
	ok &= TAP_CHECK(j && j->num == 1);
	host_table_fini(&t);
	return ok;
}

int main(void)
{
	char err[128];

	if (loop_init(&lp, 64, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		return 77;
	}
	TAP_RUN(test_round_robin);
	TAP_RUN(test_per_host_cap);
	TAP_RUN(test_front_and_unqueue);
	TAP_RUN(test_distinct_keys);
	TAP_RUN(test_many_hosts_grow);
	TAP_RUN(test_rate_bucket);
	TAP_RUN(test_crawl_delay_spaces_starts);
	TAP_RUN(test_unstart_gives_back_the_turn);
	TAP_RUN(test_robots_fetch_goes_first);
	loop_fini(&lp);
	return tap_done();
}
