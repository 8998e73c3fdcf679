/* config.c: defaults, the YAML loader and its one-line errors, --set,
 * validation, and --print-config's round trip. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "tap.h"

static char tmp_path[64];

/* Write text to a fresh temporary file; returns its path (static). */
static const char *write_tmp(const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/rf_cfg_XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
	return tmp_path;
}

/* Load text as a file into c; returns config_load_file()'s result. */
static int load_text(struct config *c, const char *text, char *err,
		     size_t errlen)
{
	const char *path = write_tmp(text);
	int rc = config_load_file(c, path, err, errlen);

	unlink(path);
	return rc;
}

/* config_print() into an owned string; free() it. */
static char *print_str(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f || config_print(c, f) != 0)
		abort();
	fclose(f);
	return buf;
}

static char *defaults_str(void)
{
	struct config c;
	char *s;

	config_init(&c);
	s = print_str(&c);
	config_fini(&c);
	return s;
}

static int test_defaults(void)
{
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	ok &= TAP_CHECK(STREQ(c.daemon.socket,
			      "/run/ringfetch/ringfetch.sock"));
	ok &= TAP_CHECK(c.daemon.socket_mode == 0660);
	ok &= TAP_CHECK(c.daemon.shutdown_grace_ms == 10000);
	ok &= TAP_CHECK(STREQ(c.daemon.state_dir, ""));
	ok &= TAP_CHECK(c.queue.capacity == 10000 && c.queue.journal == -1);
	ok &= TAP_CHECK(c.limits.concurrency == 256 && c.limits.per_host == 6);
	ok &= TAP_CHECK(c.limits.per_host_rate == 0 && c.limits.adaptive);
	ok &= TAP_CHECK(c.limits.workers == 0);
	ok &= TAP_CHECK(c.timeouts.connect_ms == 10000 &&
			c.timeouts.tls_ms == 10000 &&
			c.timeouts.first_byte_ms == 30000 &&
			c.timeouts.idle_ms == 30000 &&
			c.timeouts.total_ms == 120000);
	ok &= TAP_CHECK(c.retry.attempts == 3 &&
			c.retry.backoff_base_ms == 500 &&
			c.retry.backoff_max_ms == 30000 && c.retry.jitter);
	ok &= TAP_CHECK(c.retry.n_statuses == 6 && c.retry.statuses[0] == 408 &&
			c.retry.statuses[5] == 504);
	ok &= TAP_CHECK(strncmp(c.http.user_agent, "ringfetch/", 10) == 0);
	ok &= TAP_CHECK(c.http.n_headers == 0 && c.http.max_redirects == 10);
	ok &= TAP_CHECK(c.http.max_body == 64 << 20 &&
			c.http.keepalive_idle_ms == 30000);
	ok &= TAP_CHECK(c.tls.verify && c.tls.session_resumption &&
			STREQ(c.tls.ca_file, ""));
	ok &= TAP_CHECK(c.dns.servers.n == 0 && c.dns.timeout_ms == 2000 &&
			c.dns.attempts == 2 && c.dns.cache_min_ttl_ms == 5000 &&
			c.dns.cache_max_ttl_ms == 3600000);
	ok &= TAP_CHECK(!c.robots.obey && c.robots.cache_ttl_ms == 86400000 &&
			c.robots.max_delay_ms == 30000);
	ok &= TAP_CHECK(c.network.deny.n == 0 && c.network.allow.n == 0);
	ok &= TAP_CHECK(STREQ(c.output.dir, "") &&
			c.output.rotate_size == 256 << 20 &&
			c.output.rotate_interval_ms == 0 &&
			c.output.rotate_keep == 20 &&
			c.output.compress == COMPRESS_NONE &&
			c.output.bodies == BODIES_NONE);
	ok &= TAP_CHECK(STREQ(c.metrics.listen, "") &&
			STREQ(c.metrics.textfile, ""));
	ok &= TAP_CHECK(c.batch.urls.n == 0 && c.log.level == LOG_INFO);
	ok &= TAP_CHECK(config_validate(&c, err, sizeof(err)) == 0);
	config_fini(&c);
	return ok;
}

/* config/ringfetch.yaml must be exactly the defaults. */
static int test_reference_file(void)
{
	const char *srcdir = getenv("RF_SRCDIR");
	char path[512], err[256];
	char *want = defaults_str(), *got;
	struct config c;
	int ok = 1;

	snprintf(path, sizeof(path), "%s/config/ringfetch.yaml",
		 srcdir ? srcdir : ".");
	config_init(&c);
	ok &= TAP_CHECK(config_load_file(&c, path, err, sizeof(err)) == 0);
	if (!ok)
		printf("#   %s\n", err);
	got = print_str(&c);
	ok &= TAP_CHECK(STREQ(want, got));
	free(want);
	free(got);
	config_fini(&c);
	return ok;
}

static int test_empty_inputs(void)
{
	static const char *const texts[] = {
		"", "# only a comment\n", "---\n", "limits:\n", "limits: {}\n",
		"~\n", "http:\n  headers:\n", "dns:\n  servers:\n",
	};
	char *want = defaults_str(), *got;
	struct config c;
	char err[256];
	int ok = 1;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		config_init(&c);
		ok &= TAP_CHECK(load_text(&c, texts[i], err, sizeof(err)) == 0);
		got = print_str(&c);
		ok &= TAP_CHECK(STREQ(want, got));
		free(got);
		config_fini(&c);
	}
	free(want);
	return ok;
}

static int test_good_values(void)
{
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	ok &= TAP_CHECK(load_text(&c,
		"daemon:\n  socket_mode: \"0640\"\n  state_dir: /var/x\n"
		"queue:\n  journal: false\n"
		"limits:\n  concurrency: 1000\n  per_host: 16\n"
		"  per_host_rate: 0.5\n  workers: 4\n"
		"timeouts: {total: 1.5h, idle: 250ms}\n"
		"retry:\n  statuses: [429, 503]\n"
		"http:\n  headers:\n    Accept-Language: en\n    X-N: 5\n"
		"  max_body: 1GiB\n"
		"dns:\n  servers: [192.0.2.1, \"192.0.2.2:5353\", \"::1\","
		" \"[2001:db8::1]:53\"]\n"
		"network:\n  deny: [private, 10.0.0.0/8, fd00::/8, 192.0.2.7]\n"
		"output:\n  compress: zstd\n  bodies: warc\n"
		"metrics:\n  listen: \"[::1]:9464\"\n"
		"batch:\n  urls: [a.txt, \"-\"]\n"
		"log:\n  level: debug\n", err, sizeof(err)) == 0);
	if (!ok)
		printf("#   %s\n", err);
	ok &= TAP_CHECK(c.daemon.socket_mode == 0640);
	ok &= TAP_CHECK(STREQ(c.daemon.state_dir, "/var/x"));
	ok &= TAP_CHECK(c.queue.journal == 0);
	ok &= TAP_CHECK(c.limits.concurrency == 1000 &&
			c.limits.per_host == 16);
	ok &= TAP_CHECK(c.limits.per_host_rate == 0.5 &&
			c.limits.workers == 4);
	ok &= TAP_CHECK(c.timeouts.total_ms == 5400000 &&
			c.timeouts.idle_ms == 250);
	ok &= TAP_CHECK(c.retry.n_statuses == 2 && c.retry.statuses[1] == 503);
	ok &= TAP_CHECK(c.http.n_headers == 2 &&
			STREQ(c.http.headers[0].name, "Accept-Language") &&
			STREQ(c.http.headers[1].value, "5"));
	ok &= TAP_CHECK(c.http.max_body == 1ULL << 30);
	ok &= TAP_CHECK(c.dns.servers.n == 4 &&
			STREQ(c.dns.servers.v[3], "[2001:db8::1]:53"));
	ok &= TAP_CHECK(c.network.deny.n == 4 && c.network.allow.n == 0);
	ok &= TAP_CHECK(c.output.compress == COMPRESS_ZSTD &&
			c.output.bodies == BODIES_WARC);
	ok &= TAP_CHECK(STREQ(c.metrics.listen, "[::1]:9464"));
	ok &= TAP_CHECK(c.batch.urls.n == 2 && c.log.level == LOG_DEBUG);
	/* a later file changes only what it names */
	ok &= TAP_CHECK(load_text(&c, "limits:\n  workers: auto\n", err,
				  sizeof(err)) == 0);
	ok &= TAP_CHECK(c.limits.workers == 0 && c.limits.per_host == 16);
	config_fini(&c);
	return ok;
}

static int test_socket_mode_forms(void)
{
	static const char *const forms[] = { "0660", "\"0660\"", "432",
					     "0o660", "'0660'" };
	struct config c;
	char text[64], err[256];
	int ok = 1;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		config_init(&c);
		c.daemon.socket_mode = 0;
		snprintf(text, sizeof(text), "daemon:\n  socket_mode: %s\n",
			 forms[i]);
		ok &= TAP_CHECK(load_text(&c, text, err, sizeof(err)) == 0);
		ok &= TAP_CHECK(c.daemon.socket_mode == 0660);
		config_fini(&c);
	}
	return ok;
}

/* Each bad file, and the message after "FILE:" it must give. */
static const struct {
	const char *text, *msg;
} bad[] = {
	/* unknown keys, with and without a suggestion */
	{ "limits:\n    per_hots: 8\n",
	  "2:5: limits.per_hots: unknown key (did you mean per_host?)" },
	{ "limts:\n  per_host: 8\n",
	  "1:1: limts: unknown key (did you mean limits?)" },
	{ "limits:\n  bogus: 1\n", "2:3: limits.bogus: unknown key" },
	{ "timeouts:\n  conect: 1s\n",
	  "2:3: timeouts.conect: unknown key (did you mean connect?)" },
	/* two edits from "log" but only three letters: no suggestion */
	{ "foo:\n  x: 1\n", "1:1: foo: unknown key" },
	{ "lgo:\n  level: warn\n",
	  "1:1: lgo: unknown key (did you mean log?)" },
	/* a tab in indentation, which libyaml reports obscurely */
	{ "limits:\n  concurrency: 8\n \t per_host: 2\n",
	  "3:2: YAML syntax error: tabs are not allowed for indentation; "
	  "indent with spaces" },
	/* wrong types */
	{ "limits:\n  per_host: 8x\n",
	  "2:13: limits.per_host: expected an integer" },
	{ "limits:\n  per_host: \"8\"\n",
	  "2:13: limits.per_host: expected an integer" },
	{ "limits:\n  per_host:\n",
	  "2:12: limits.per_host: expected an integer" },
	{ "timeouts:\n  idle: 5\n",
	  "2:9: timeouts.idle: expected a duration like 250ms, 5s, 2m, 1h" },
	{ "retry:\n  jitter: yes\n",
	  "2:11: retry.jitter: expected true or false" },
	{ "queue:\n  journal: maybe\n",
	  "2:12: queue.journal: expected true, false or auto" },
	{ "retry:\n  statuses: 429\n",
	  "2:13: retry.statuses: expected a list" },
	{ "limits: 5\n", "1:9: limits: expected a mapping" },
	{ "http:\n  headers: [a]\n", "2:12: http.headers: expected a mapping" },
	{ "- a\n- b\n", "1:1: expected a mapping at the top level" },
	{ "http:\n  max_body: 10MB\n",
	  "2:13: http.max_body: expected a size like 512, 64KiB, 10MiB" },
	{ "output:\n  compress: xz\n",
	  "2:13: output.compress: expected none, gzip or zstd" },
	{ "log:\n  level: verbose\n",
	  "2:10: log.level: expected error, warn, info or debug" },
	{ "limits:\n  workers: many\n",
	  "2:12: limits.workers: expected an integer or auto" },
	{ "limits:\n  per_host_rate: 1e3\n",
	  "2:18: limits.per_host_rate: expected a number like 0, 2 or 0.5" },
	{ "daemon:\n  socket_mode: 0999\n",
	  "2:16: daemon.socket_mode: expected a file mode like 0660" },
	{ "tls:\n  ca_file: [a]\n", "2:12: tls.ca_file: expected a string" },
	/* out of range */
	{ "limits:\n  concurrency: 0\n",
	  "2:16: limits.concurrency: must be at least 1" },
	{ "limits:\n  concurrency: 99999999999999999999999\n",
	  "2:16: limits.concurrency: must be at most 65536" },
	{ "retry:\n  attempts: -1\n",
	  "2:13: retry.attempts: must be at least 1" },
	{ "timeouts:\n  connect: 0\n",
	  "2:12: timeouts.connect: must be at least 1ms" },
	{ "timeouts:\n  total: 9000h\n",
	  "2:10: timeouts.total: must be at most 8760h" },
	{ "daemon:\n  socket_mode: 01777\n",
	  "2:16: daemon.socket_mode: must be at most 0777" },
	{ "retry:\n  statuses: [429, 600]\n",
	  "2:19: retry.statuses[1]: must be at most 599" },
	/* cross-key checks point at the key the file set */
	{ "limits:\n  per_host: 300\n",
	  "2:13: limits.per_host: must not exceed limits.concurrency (256)" },
	{ "limits:\n  concurrency: 4\n",
	  "2:16: limits.concurrency: must be at least limits.per_host (6)" },
	{ "dns:\n  cache_min_ttl: 2h\n",
	  "2:18: dns.cache_min_ttl: must not exceed dns.cache_max_ttl (1h)" },
	{ "retry:\n  backoff_max: 100ms\n",
	  "2:16: retry.backoff_max: must be at least retry.backoff_base "
	  "(500ms)" },
	/* strings with a shape */
	{ "http:\n  headers:\n    Host: x\n",
	  "3:5: http.headers.Host: is set by ringfetch itself" },
	{ "http:\n  headers:\n    content-length: 5\n",
	  "3:5: http.headers.content-length: is set by ringfetch itself" },
	{ "http:\n  headers:\n    \"X A\": b\n",
	  "3:5: http.headers.X A: not a valid header name" },
	{ "http:\n  headers:\n    X-A: \"a\\r\\nB: c\"\n",
	  "3:10: http.headers.X-A: must not contain CR, LF or other control "
	  "characters" },
	{ "http:\n  headers:\n    X-A: a\n    x-a: b\n",
	  "4:5: http.headers.x-a: duplicate key" },
	{ "http:\n  user_agent: \"a\\nb\"\n",
	  "2:15: http.user_agent: must not contain CR, LF or other control "
	  "characters" },
	{ "dns:\n  servers: [\"192.0.2.1:99999\"]\n",
	  "2:13: dns.servers[0]: expected an address like 192.0.2.53, "
	  "192.0.2.53:53 or [2001:db8::53]:53" },
	{ "network:\n  deny: [10.0.0.1/8]\n",
	  "2:10: network.deny[0]: has address bits set beyond the /8 prefix" },
	{ "network:\n  allow: [private, 10.0.0.0/33]\n",
	  "2:20: network.allow[1]: expected a CIDR like 10.0.0.0/8 or "
	  "fd00::/8, an IP address, or private" },
	{ "metrics:\n  listen: localhost\n",
	  "2:11: metrics.listen: expected HOST:PORT like 127.0.0.1:9464" },
	{ "batch:\n  urls: [\"\"]\n",
	  "2:10: batch.urls[0]: must not be empty" },
	{ "daemon:\n  socket: \"\"\n",
	  "2:11: daemon.socket: must not be empty" },
	/* duplicates */
	{ "limits:\n  per_host: 1\n  per_host: 2\n",
	  "3:3: limits.per_host: duplicate key" },
	{ "limits:\n  per_host: 1\nlimits:\n  adaptive: false\n",
	  "3:1: limits: duplicate key" },
	/* YAML features we refuse, and syntax errors */
	{ "limits:\n  per_host: *x\n",
	  "2:13: YAML aliases are not supported" },
	{ "limits: &a\n  per_host: 1\n",
	  "1:9: YAML anchors are not supported" },
	{ "limits:\n  per_host: !!int 8\n",
	  "2:13: YAML tags are not supported" },
	{ "limits: {}\n---\nlog: {}\n",
	  "2:1: only one YAML document is allowed" },
	{ "limits:\n\tper_host: 1\n",
	  "2:1: YAML syntax error: tabs are not allowed for indentation; "
	  "indent with spaces" },
	{ "limits:\n  per_host: [1\n",
	  "3:1: YAML syntax error: did not find expected ',' or ']' (while "
	  "parsing a flow sequence at 2:13)" },
	{ "a: \"x\n", "2:1: YAML syntax error: found unexpected end of stream "
	  "(while scanning a quoted scalar at 1:4)" },
};

static int test_bad_files(void)
{
	struct config c;
	char err[512];
	char *before, *after;
	const char *rest;
	int ok = 1;

	config_init(&c);
	before = print_str(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_tmp(bad[i].text);
		size_t plen = strlen(path);
		int rc = config_load_file(&c, path, err, sizeof(err));

		unlink(path);
		rest = strncmp(err, path, plen) == 0 && err[plen] == ':' ?
			       err + plen + 1 : "(no file prefix)";
		if (!TAP_CHECK(rc == -1 && STREQ(rest, bad[i].msg) &&
			       !strchr(err, '\n'))) {
			printf("#   row %zu: got  '%s'\n", i, rest);
			printf("#   row %zu: want '%s'\n", i, bad[i].msg);
			ok = 0;
		}
	}
	/* no failed load may leave a trace */
	after = print_str(&c);
	ok &= TAP_CHECK(STREQ(before, after));
	free(before);
	free(after);
	config_fini(&c);
	return ok && TAP_CHECK(sizeof(bad) / sizeof(bad[0]) >= 20);
}

static int test_unreadable(void)
{
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	ok &= TAP_CHECK(config_load_file(&c, "/nonexistent/rf.yaml", err,
					 sizeof(err)) == -1);
	ok &= TAP_CHECK(STREQ(err, "/nonexistent/rf.yaml: cannot read: "
			      "No such file or directory"));
	ok &= TAP_CHECK(config_load_file(&c, "/tmp", err, sizeof(err)) == -1);
	ok &= TAP_CHECK(STREQ(err, "/tmp: cannot read: Is a directory"));
	config_fini(&c);
	return ok;
}

/* A failure late in a file must not keep what came before it. */
static int test_unchanged_on_error(void)
{
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	ok &= TAP_CHECK(load_text(&c, "http:\n  headers: {X-A: b}\n"
				  "limits:\n  per_host: 2\n  bogus: 1\n",
				  err, sizeof(err)) == -1);
	ok &= TAP_CHECK(c.limits.per_host == 6 && c.http.n_headers == 0);
	config_fini(&c);
	return ok;
}

static int test_set(void)
{
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	ok &= TAP_CHECK(config_set(&c, "limits.per_host", "8", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(c.limits.per_host == 8);
	ok &= TAP_CHECK(config_set(&c, "retry.statuses", "[429,503]", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(c.retry.n_statuses == 2 && c.retry.statuses[0] == 429);
	ok &= TAP_CHECK(config_set(&c, "http.headers", "{X-A: b}", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(c.http.n_headers == 1 &&
			STREQ(c.http.headers[0].value, "b"));
	ok &= TAP_CHECK(config_set(&c, "timeouts.idle", "5s", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(c.timeouts.idle_ms == 5000);
	ok &= TAP_CHECK(config_set(&c, "output.dir", "", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(config_set(&c, "queue.journal", "true", err,
				   sizeof(err)) == 0 && c.queue.journal == 1);
	/* a whole section at once */
	ok &= TAP_CHECK(config_set(&c, "limits",
				   "{concurrency: 4, per_host: 2}", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(c.limits.concurrency == 4 && c.limits.per_host == 2);
	config_fini(&c);
	return ok;
}

static int test_set_errors(void)
{
	static const struct {
		const char *key, *value, *msg;
	} t[] = {
		{ "limits.per_hots", "8",
		  "limits.per_hots: unknown key (did you mean per_host?)" },
		{ "limts.per_host", "8",
		  "limts.per_host: unknown key "
		  "(did you mean limits.per_host?)" },
		{ "limts", "{}", "limts: unknown key (did you mean limits?)" },
		{ "nope.nothing", "1", "nope.nothing: unknown key" },
		{ "foo", "1", "foo: unknown key" },
		{ "limits.per_host", "eight",
		  "limits.per_host: expected an integer" },
		{ "limits.per_host", "",
		  "limits.per_host: expected an integer" },
		{ "limits.per_host", "0",
		  "limits.per_host: must be at least 1" },
		{ "retry.statuses", "[429,",
		  "retry.statuses: YAML syntax error: did not find expected "
		  "node content (while parsing a flow node at 2:1)" },
		{ "retry.statuses", "[42]",
		  "retry.statuses[0]: must be at least 100" },
		{ "http.headers", "{Host: x}",
		  "http.headers.Host: is set by ringfetch itself" },
		{ "limits", "{per_hots: 1}",
		  "limits.per_hots: unknown key (did you mean per_host?)" },
		{ "timeouts.idle", "*a",
		  "timeouts.idle: YAML aliases are not supported" },
	};
	struct config c;
	char err[256];
	char *before, *after;
	int ok = 1;

	config_init(&c);
	before = print_str(&c);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = config_set(&c, t[i].key, t[i].value, err, sizeof(err));

		if (!TAP_CHECK(rc == -1 && STREQ(err, t[i].msg))) {
			printf("#   got  '%s'\n#   want '%s'\n", err, t[i].msg);
			ok = 0;
		}
	}
	after = print_str(&c);
	ok &= TAP_CHECK(STREQ(before, after));
	free(before);
	free(after);
	config_fini(&c);
	return ok;
}

static int test_validate(void)
{
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	/* --set does not check across keys: order must not matter */
	ok &= TAP_CHECK(config_set(&c, "limits.concurrency", "2", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(config_validate(&c, err, sizeof(err)) == -1);
	ok &= TAP_CHECK(STREQ(err, "limits.per_host: must not exceed "
			      "limits.concurrency (2)"));
	ok &= TAP_CHECK(config_set(&c, "limits.per_host", "2", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(config_validate(&c, err, sizeof(err)) == 0);
	c.limits.concurrency = 0;
	ok &= TAP_CHECK(config_validate(&c, err, sizeof(err)) == -1);
	ok &= TAP_CHECK(STREQ(err, "limits.concurrency: must be at least 1"));
	c.limits.concurrency = 70000;
	ok &= TAP_CHECK(config_validate(&c, err, sizeof(err)) == -1);
	ok &= TAP_CHECK(STREQ(err,
			      "limits.concurrency: must be at most 65536"));
	c.limits.concurrency = 4;
	c.dns.cache_min_ttl_ms = c.dns.cache_max_ttl_ms + 1;
	ok &= TAP_CHECK(config_validate(&c, err, sizeof(err)) == -1);
	ok &= TAP_CHECK(STREQ(err, "dns.cache_min_ttl: must not exceed "
			      "dns.cache_max_ttl (1h)"));
	config_fini(&c);
	return ok;
}

/* Print, load the print into defaults, print again: byte-identical. */
static int check_roundtrip(const struct config *c)
{
	char *first = print_str(c), *second;
	struct config d;
	char err[256];
	int ok = 1;

	config_init(&d);
	ok &= TAP_CHECK(load_text(&d, first, err, sizeof(err)) == 0);
	if (!ok)
		printf("#   %s\n", err);
	second = print_str(&d);
	ok &= TAP_CHECK(STREQ(first, second));
	if (!ok)
		printf("# first:\n%s# second:\n%s", first, second);
	free(first);
	free(second);
	config_fini(&d);
	return ok;
}

static int test_roundtrip(void)
{
	static const char *const sets[][2] = {
		{ "daemon.socket", "\"/tmp/a \\\"b\\\" \\\\ c\\td\"" },
		{ "daemon.socket_mode", "0600" },
		{ "daemon.shutdown_grace", "1.5s" },
		{ "daemon.state_dir", "\"caf\xc3\xa9 \\N \\L x\"" },
		{ "queue.capacity", "7" },
		{ "queue.journal", "false" },
		{ "limits.per_host_rate", "0.125" },
		{ "limits.adaptive", "false" },
		{ "limits.workers", "3" },
		{ "timeouts.total", "90m" },
		{ "retry.statuses", "[]" },
		{ "retry.jitter", "false" },
		{ "http.user_agent", "\"bot/1.0 (+https://example.org/)\"" },
		{ "http.headers",
		  "{X-A: \"a: b\", \"X-#\": '', Accept: \"*/*\"}" },
		{ "http.max_redirects", "0" },
		{ "http.max_body", "1536" },
		{ "tls.verify", "false" },
		{ "dns.servers", "[\"192.0.2.1:53\", \"::1\"]" },
		{ "network.deny", "[private, \"fd00::/8\"]" },
		{ "network.allow", "[\"10.1.0.0/16\"]" },
		{ "output.rotate_interval", "1h" },
		{ "output.compress", "gzip" },
		{ "output.bodies", "files" },
		{ "metrics.listen", "127.0.0.1:9464" },
		{ "batch.urls", "[\"a b.txt\", \"-\"]" },
		{ "log.level", "warn" },
	};
	struct config c;
	char err[256];
	int ok = 1;

	config_init(&c);
	ok &= check_roundtrip(&c);
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		if (!TAP_CHECK(config_set(&c, sets[i][0], sets[i][1], err,
					  sizeof(err)) == 0)) {
			printf("#   %s: %s\n", sets[i][0], err);
			ok = 0;
		}
	}
	ok &= check_roundtrip(&c);
	config_fini(&c);
	return ok;
}

static int test_print_error(void)
{
	FILE *f = fopen("/dev/full", "w");
	struct config c;
	int ok = 1;

	if (!f) {
		printf("# skip: no /dev/full\n");
		return 1;
	}
	config_init(&c);
	ok &= TAP_CHECK(config_print(&c, f) == -EIO);
	fclose(f);
	config_fini(&c);
	return ok;
}

/* source.redis and output.redis: nested sections, by file and --set;
 * a bad URL or an over-long stream prefix names its key. */
static int test_redis_keys(void)
{
	static const char yaml[] =
		"source:\n  redis:\n    url: redis://127.0.0.1:7000/1\n"
		"    partitions: 4\noutput:\n  redis:\n    maxlen: 10\n";
	char err[512], long_stream[CONFIG_RKEY_MAX + 2];
	struct config c;
	int ok = 1;

	config_init(&c);
	ok &= TAP_CHECK(config_load_buffer(&c, "t.yaml", yaml, strlen(yaml),
					   err, sizeof(err)) == 0);
	ok &= TAP_CHECK(STREQ(c.source.redis.url, "redis://127.0.0.1:7000/1"));
	ok &= TAP_CHECK(c.source.redis.partitions == 4);
	ok &= TAP_CHECK(c.output.redis.maxlen == 10);
	ok &= TAP_CHECK(config_set(&c, "output.redis.stream", "r", err,
				   sizeof(err)) == 0);
	ok &= TAP_CHECK(STREQ(c.output.redis.stream, "r"));
	ok &= TAP_CHECK(config_set(&c, "source.redis.url", "http://x", err,
				   sizeof(err)) < 0);
	ok &= TAP_CHECK(strstr(err, "source.redis.url") != NULL);
	memset(long_stream, 'a', sizeof(long_stream) - 1);
	long_stream[sizeof(long_stream) - 1] = '\0';
	ok &= TAP_CHECK(config_set(&c, "source.redis.stream", long_stream,
				   err, sizeof(err)) < 0);
	ok &= TAP_CHECK(strstr(err, "at most 200 bytes") != NULL);
	config_fini(&c);
	return ok;
}

int main(void)
{
	TAP_RUN(test_defaults);
	TAP_RUN(test_reference_file);
	TAP_RUN(test_empty_inputs);
	TAP_RUN(test_good_values);
	TAP_RUN(test_socket_mode_forms);
	TAP_RUN(test_bad_files);
	TAP_RUN(test_unreadable);
	TAP_RUN(test_unchanged_on_error);
	TAP_RUN(test_set);
	TAP_RUN(test_set_errors);
	TAP_RUN(test_validate);
	TAP_RUN(test_roundtrip);
	TAP_RUN(test_print_error);
	TAP_RUN(test_redis_keys);
	return tap_done();
}
