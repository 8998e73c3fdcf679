/* Unit tests for robots.c: RFC 9309's examples and its edges, as a table of
 * (file, product, path, allowed). */
#include <stdint.h>

#include "http/robots.h"
#include "tap.h"

struct rcase {
	const char *file;
	const char *path;
	bool allowed;
};

static int allowed(const char *file, size_t flen, const char *product,
		   const char *path)
{
	struct robots r;
	int ok;

	if (robots_parse(&r, file, flen, product, strlen(product)) < 0)
		return -1;
	ok = robots_allowed(&r, path, strlen(path), NULL);
	robots_fini(&r);
	return ok;
}

static int run_table(const struct rcase *c, size_t n, const char *product)
{
	int ok = 1;

	for (size_t i = 0; i < n; i++) {
		int got = allowed(c[i].file, strlen(c[i].file), product,
				  c[i].path);

		if (got != c[i].allowed) {
			printf("#   %s on %s: got %d, want %d\n", c[i].path,
			       product, got, c[i].allowed);
			ok = 0;
		}
	}
	return ok;
}

#define RUN(t, product) run_table(t, sizeof(t) / sizeof(t[0]), product)

/* RFC 9309 5.1: the example file. */
static const char rfc_file[] =
	"User-Agent: *\n"
	"Disallow: *.gif$\n"
	"Disallow: /example/\n"
	"Allow: /publications/\n"
	"\n"
	"User-Agent: foobot\n"
	"Disallow:/\n"
	"Allow:/example/page.html\n"
	"Allow:/example/allowed.gif\n"
	"\n"
	"User-Agent: barbot\n"
	"User-Agent: bazbot\n"
	"Disallow: /example/page.html\n"
	"\n"
	"User-Agent: quxbot\n";

static int test_rfc_example_foobot(void)
{
	static const struct rcase t[] = {
		{ rfc_file, "/example/page.html", true },
		{ rfc_file, "/example/allowed.gif", true },
		{ rfc_file, "/example/other.html", false },
		{ rfc_file, "/", false },
		{ rfc_file, "/robots.txt", true },
	};

	return RUN(t, "foobot");
}

static int test_rfc_example_shared_group(void)
{
	static const struct rcase t[] = {
		{ rfc_file, "/example/page.html", false },
		{ rfc_file, "/example/other.html", true },
		{ rfc_file, "/a.gif", true },	/* not the * group */
	};

	return RUN(t, "barbot") && RUN(t, "BAZBOT");
}

static int test_rfc_example_empty_group_allows(void)
{
	static const struct rcase t[] = {
		{ rfc_file, "/example/page.html", true },
		{ rfc_file, "/x.gif", true },
	};

	return RUN(t, "quxbot");
}

static int test_star_fallback(void)
{
	static const struct rcase t[] = {
		{ rfc_file, "/example/page.html", false },
		{ rfc_file, "/publications/a", true },
		{ rfc_file, "/images/a.gif", false },
		{ rfc_file, "/images/a.gif?x", true },	/* $ anchors */
		{ rfc_file, "/other", true },
	};

	return RUN(t, "ringfetch");
}

static int test_longest_match_and_tie(void)
{
	static const char f[] =
		"user-agent: ringfetch\n"
		"disallow: /a\n"
		"allow: /a/b\n"
		"disallow: /a/b/c\n"
		"allow: /t\n"
		"disallow: /t\n"
		"disallow: /p*\n"
		"allow: /p/\n";
	static const struct rcase t[] = {
		{ f, "/a", false },
		{ f, "/a/b", true },
		{ f, "/a/b/c/d", false },
		{ f, "/t", true },	/* allow wins a tie */
		{ f, "/pq", false },
		{ f, "/p/", true },	/* "/p/" and "/p*" tie: allow */
	};

	return RUN(t, "ringfetch");
}

static int test_groups_for_same_token_merge(void)
{
	static const char f[] =
		"User-agent: ringfetch\nDisallow: /a\n\n"
		"User-agent: other\nDisallow: /b\n\n"
		"User-agent: RingFetch\nDisallow: /c\n";
	static const struct rcase t[] = {
		{ f, "/a", false },
		{ f, "/b", true },
		{ f, "/c", false },
	};

	return RUN(t, "ringfetch");
}

static int test_specific_beats_star(void)
{
	static const char f[] =
		"User-agent: *\nDisallow: /\n\n"
		"User-agent: ringfetch\nAllow: /\nDisallow: /private\n";
	static const struct rcase t[] = {
		{ f, "/page", true },
		{ f, "/private/x", false },
	};

	return RUN(t, "ringfetch") && allowed(f, sizeof(f) - 1, "otherbot",
					      "/page") == 0;
}

static int test_product_token_of_value(void)
{
	static const char f[] =
		"User-agent: ringfetch/0.2 (+https://x)\nDisallow: /v\n";
	static const struct rcase t[] = {
		{ f, "/v", false },
	};

	return RUN(t, "ringfetch") &&
	       TAP_CHECK(robots_product_token("ringfetch/0.2.0 (+u)") == 9) &&
	       TAP_CHECK(robots_product_token("ringfetch") == 9);
}

static int test_wildcards(void)
{
	static const char f[] =
		"user-agent: *\n"
		"disallow: /*.php$\n"
		"disallow: /fish*\n"
		"disallow: /*/x/*/y\n"
		"disallow: /end$\n";
	static const struct rcase t[] = {
		{ f, "/index.php", false },
		{ f, "/a/b.php", false },
		{ f, "/a.php?q", true },
		{ f, "/a.php5", true },
		{ f, "/fish", false },
		{ f, "/fishheads/x", false },
		{ f, "/Fish", true },		/* paths keep their case */
		{ f, "/a/x/b/y", false },
		{ f, "/a/x/b/z", true },
		{ f, "/end", false },
		{ f, "/end/", true },
	};

	return RUN(t, "ringfetch");
}

static int test_percent_encoding(void)
{
	static const char f[] =
		"user-agent: *\n"
		"disallow: /%7Efoo\n"		/* ~ is unreserved */
		"disallow: /a%2fb\n"		/* / stays encoded */
		"disallow: /caf\xc3\xa9\n";	/* raw UTF-8 in the file */
	static const struct rcase t[] = {
		{ f, "/~foo", false },
		{ f, "/%7efoo/bar", false },
		{ f, "/a%2Fb", false },
		{ f, "/a/b", true },
		{ f, "/caf%C3%A9", false },
		{ f, "/caf%c3%a9/x", false },
	};

	return RUN(t, "ringfetch");
}

static int test_line_ends_bom_comments_junk(void)
{
	static const char f[] =
		"\xef\xbb\xbfUser-agent: *\r\n"
		"# a comment\r"
		"Disallow: /a # trailing comment\r\n"
		"this line is junk\n"
		"Disallow /nocolon\n"
		"Sitemap: https://example.com/sitemap.xml\n"
		"   Disallow   :   /b   \n"
		"Allow:\n"
		"Disallow:\n";
	static const struct rcase t[] = {
		{ f, "/a", false },
		{ f, "/a/x", false },
		{ f, "/nocolon", true },
		{ f, "/b", false },
		{ f, "/c", true },
	};

	return RUN(t, "ringfetch");
}

static int test_rules_before_any_group_ignored(void)
{
	static const char f[] = "Disallow: /\nUser-agent: *\nDisallow: /x\n";
	static const struct rcase t[] = {
		{ f, "/", true },
		{ f, "/x", false },
	};

	return RUN(t, "ringfetch");
}

static int test_size_limit(void)
{
	size_t n = ROBOTS_MAX_BYTES + 100;
	char *f = malloc(n + 64);
	int ok;

	if (!f)
		return 0;
	memcpy(f, "User-agent: *\n", 14);
	memset(f + 14, '#', n - 14);
	f[n - 1] = '\n';
	/* past the limit: ignored */
	memcpy(f + n, "Disallow: /\n", 12);
	ok = TAP_CHECK(allowed(f, n + 12, "ringfetch", "/x") == 1);
	free(f);
	return ok;
}

static int test_crawl_delay(void)
{
	static const char f[] =
		"User-agent: *\nCrawl-delay: 10\n\n"
		"User-agent: ringfetch\nCrawl-delay: 1.5\nDisallow: /x\n";
	struct robots r;
	int ok = 1;

	ok &= TAP_CHECK(robots_parse(&r, f, sizeof(f) - 1, "ringfetch", 9) == 0);
	ok &= TAP_CHECK(r.crawl_delay_ms == 1500);
	robots_fini(&r);
	ok &= TAP_CHECK(robots_parse(&r, f, sizeof(f) - 1, "other", 5) == 0);
	ok &= TAP_CHECK(r.crawl_delay_ms == 10000);
	robots_fini(&r);
	ok &= TAP_CHECK(robots_parse(&r, "User-agent: *\nCrawl-delay: x\n",
				     29, "a", 1) == 0);
	ok &= TAP_CHECK(r.crawl_delay_ms == 0);
	robots_fini(&r);
	return ok;
}

static int test_allow_all_and_disallow_all(void)
{
	struct robots r;
	const struct robots_rule *why = (void *)1;
	int ok = 1;

	robots_init_allow_all(&r);
	ok &= TAP_CHECK(robots_allowed(&r, "/x", 2, &why) && !why);
	robots_fini(&r);
	robots_init_disallow_all(&r);
	ok &= TAP_CHECK(!robots_allowed(&r, "/x", 2, &why) && !why);
	ok &= TAP_CHECK(robots_allowed(&r, "/robots.txt", 11, NULL));
	robots_fini(&r);
	return ok;
}

static int test_why_names_the_rule(void)
{
	static const char f[] = "User-agent: *\nDisallow: /priv\n";
	const struct robots_rule *why;
	struct robots r;
	int ok = 1;

	ok &= TAP_CHECK(robots_parse(&r, f, sizeof(f) - 1, "a", 1) == 0);
	ok &= TAP_CHECK(!robots_allowed(&r, "/private", 8, &why));
	ok &= TAP_CHECK(why && !why->allow && why->len == 5 &&
			!memcmp(r.text + why->off, "/priv", 5));
	robots_fini(&r);
	return ok;
}

static int test_long_path(void)
{
	static const char f[] = "User-agent: *\nDisallow: /*z$\n";
	char path[4000];
	int ok = 1;

	path[0] = '/';
	memset(path + 1, 'a', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	ok &= TAP_CHECK(allowed(f, sizeof(f) - 1, "a", path) == 1);
	path[sizeof(path) - 2] = 'z';
	ok &= TAP_CHECK(allowed(f, sizeof(f) - 1, "a", path) == 0);
	return ok;
}

int main(void)
{
	TAP_RUN(test_rfc_example_foobot);
	TAP_RUN(test_rfc_example_shared_group);
	TAP_RUN(test_rfc_example_empty_group_allows);
	TAP_RUN(test_star_fallback);
	TAP_RUN(test_longest_match_and_tie);
	TAP_RUN(test_groups_for_same_token_merge);
	TAP_RUN(test_specific_beats_star);
	TAP_RUN(test_product_token_of_value);
	TAP_RUN(test_wildcards);
	TAP_RUN(test_percent_encoding);
	TAP_RUN(test_line_ends_bom_comments_junk);
	TAP_RUN(test_rules_before_any_group_ignored);
	TAP_RUN(test_size_limit);
	TAP_RUN(test_crawl_delay);
	TAP_RUN(test_allow_all_and_disallow_all);
	TAP_RUN(test_why_names_the_rule);
	TAP_RUN(test_long_path);
	return tap_done();
}
