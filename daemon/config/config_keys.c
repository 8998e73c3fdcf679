/* The key table: for every configuration key, its field, its type and its
 * range; and per type, how a YAML node sets it (config_print.c prints,
 * copies and frees). Adding a key is one line here, one in config_init()
 * and one in config/ringfetch.yaml. */
#include "config/config_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/units.h"

/* A year: longer waits are typos, and the cap keeps now + timeout far from
 * overflowing anywhere downstream. */
#define DUR_MAX (8760ULL * 60 * 60 * 1000)
#define LIST_MAX 1024
#define HEADERS_MAX 64
#define RATE_MAX 1000000
#define RATE_DECIMALS 6

static const char *const compress_names[] = { "none", "gzip", "zstd", NULL };
static const char *const bodies_names[] = { "none", "files", "warc", NULL };
static const char *const hash_names[] = { "sha256", "none", NULL };
static const char *const sync_names[] = { "batch", "none", NULL };
/* in enum log_level order */
static const char *const level_names[] = { "error", "warn", "info", "debug",
					   NULL };

#define F(field) offsetof(struct config, field)
#define KEY(sec, name, type, field, lo, hi) \
	{ sec, name, type, F(field), lo, hi, CHK_ANY, NULL }
#define STR(sec, name, type, field, chk) \
	{ sec, name, type, F(field), 0, 0, chk, NULL }
#define ENUM(sec, name, field, names) \
	{ sec, name, CK_ENUM, F(field), 0, 0, CHK_ANY, names }

/* In the order of config/ringfetch.yaml and config_print(). */
const struct config_key config_keys[] = {
	STR("daemon", "socket", CK_STR, daemon.socket, CHK_SOCKPATH),
	KEY("daemon", "socket_mode", CK_MODE, daemon.socket_mode, 0, 0777),
	KEY("daemon", "shutdown_grace", CK_DUR, daemon.shutdown_grace_ms,
	    0, DUR_MAX),
	KEY("daemon", "max_clients", CK_U32, daemon.max_clients, 1, 65536),
	STR("daemon", "state_dir", CK_STR, daemon.state_dir, CHK_ANY),
	KEY("queue", "capacity", CK_U32, queue.capacity, 1, 10000000),
	STR("queue", "spill_file", CK_STR, queue.spill_file, CHK_ANY),
	KEY("queue", "journal", CK_TRI, queue.journal, 0, 0),
	KEY("queue", "host_share", CK_RATE, queue.host_share, 0, 1),
	KEY("queue", "park_max", CK_SIZE, queue.park_max, 0, UINT64_MAX),
	KEY("limits", "concurrency", CK_U32, limits.concurrency, 1, 65536),
	KEY("limits", "per_host", CK_U32, limits.per_host, 1, 65536),
	KEY("limits", "per_host_rate", CK_RATE, limits.per_host_rate,
	    0, RATE_MAX),
	KEY("limits", "adaptive", CK_BOOL, limits.adaptive, 0, 0),
	KEY("limits", "workers", CK_WORKERS, limits.workers, 0, 1024),
	KEY("timeouts", "connect", CK_DUR, timeouts.connect_ms, 1, DUR_MAX),
	KEY("timeouts", "tls", CK_DUR, timeouts.tls_ms, 1, DUR_MAX),
	KEY("timeouts", "first_byte", CK_DUR, timeouts.first_byte_ms,
	    1, DUR_MAX),
	KEY("timeouts", "idle", CK_DUR, timeouts.idle_ms, 1, DUR_MAX),
	KEY("timeouts", "total", CK_DUR, timeouts.total_ms, 1, DUR_MAX),
	KEY("retry", "attempts", CK_U32, retry.attempts, 1, 100),
	KEY("retry", "backoff_base", CK_DUR, retry.backoff_base_ms,
	    0, DUR_MAX),
	KEY("retry", "backoff_max", CK_DUR, retry.backoff_max_ms, 0, DUR_MAX),
	KEY("retry", "jitter", CK_BOOL, retry.jitter, 0, 0),
	KEY("retry", "statuses", CK_STATUSES, retry.statuses, 100, 599),
	STR("http", "user_agent", CK_STR, http.user_agent, CHK_HDRVAL),
	KEY("http", "headers", CK_HEADERS, http.headers, 0, 0),
	KEY("http", "max_redirects", CK_U32, http.max_redirects, 0, 100),
	KEY("http", "max_body", CK_SIZE, http.max_body, 0, UINT64_MAX),
	KEY("http", "decode", CK_BOOL, http.decode, 0, 0),
	KEY("http", "keepalive_idle", CK_DUR, http.keepalive_idle_ms,
	    0, DUR_MAX),
	KEY("tls", "verify", CK_BOOL, tls.verify, 0, 0),
	STR("tls", "ca_file", CK_STR, tls.ca_file, CHK_ANY),
	KEY("tls", "session_resumption", CK_BOOL, tls.session_resumption,
	    0, 0),
	STR("dns", "servers", CK_STRV, dns.servers, CHK_DNS),
	KEY("dns", "timeout", CK_DUR, dns.timeout_ms, 1, DUR_MAX),
	KEY("dns", "attempts", CK_U32, dns.attempts, 1, 16),
	KEY("dns", "cache_min_ttl", CK_DUR, dns.cache_min_ttl_ms, 0, DUR_MAX),
	KEY("dns", "cache_max_ttl", CK_DUR, dns.cache_max_ttl_ms, 0, DUR_MAX),
	KEY("robots", "obey", CK_BOOL, robots.obey, 0, 0),
	KEY("robots", "cache_ttl", CK_DUR, robots.cache_ttl_ms, 0, DUR_MAX),
	KEY("robots", "max_delay", CK_DUR, robots.max_delay_ms, 0, DUR_MAX),
	STR("network", "deny", CK_STRV, network.deny, CHK_CIDR),
	STR("network", "allow", CK_STRV, network.allow, CHK_CIDR),
	STR("network", "proxy", CK_STR, network.proxy, CHK_PROXY),
	STR("network", "no_proxy", CK_STRV, network.no_proxy, CHK_NOPROXY),
	STR("output", "dir", CK_STR, output.dir, CHK_ANY),
	KEY("output", "rotate_size", CK_SIZE, output.rotate_size,
	    0, UINT64_MAX),
	KEY("output", "rotate_interval", CK_DUR, output.rotate_interval_ms,
	    0, DUR_MAX),
	KEY("output", "rotate_keep", CK_U32, output.rotate_keep, 0, 1000000),
	ENUM("output", "compress", output.compress, compress_names),
	ENUM("output", "bodies", output.bodies, bodies_names),
	ENUM("output", "hash", output.hash, hash_names),
	ENUM("output", "sync", output.sync, sync_names),
	KEY("output", "sync_interval", CK_DUR, output.sync_interval_ms, 1, DUR_MAX),
	STR("output.redis", "url", CK_STR, output.redis.url, CHK_REDIS),
	STR("output.redis", "stream", CK_STR, output.redis.stream, CHK_RKEY),
	KEY("output.redis", "maxlen", CK_U32, output.redis.maxlen,
	    0, UINT32_MAX),
	STR("metrics", "listen", CK_STR, metrics.listen, CHK_LISTEN),
	STR("metrics", "textfile", CK_STR, metrics.textfile, CHK_ANY),
	STR("source.redis", "url", CK_STR, source.redis.url, CHK_REDIS),
	STR("source.redis", "stream", CK_STR, source.redis.stream, CHK_RKEY),
	KEY("source.redis", "partitions", CK_U32, source.redis.partitions,
	    1, 4096),
	STR("source.redis", "group", CK_STR, source.redis.group, CHK_RKEY),
	STR("source.redis", "consumer", CK_STR, source.redis.consumer,
	    CHK_ANY),
	KEY("source.redis", "claim_idle", CK_DUR, source.redis.claim_idle_ms,
	    300, DUR_MAX),
	STR("batch", "urls", CK_STRV, batch.urls, CHK_NONEMPTY),
	KEY("batch", "dedupe", CK_BOOL, batch.dedupe, 0, 0),
	KEY("batch", "dedupe_memory", CK_SIZE, batch.dedupe_memory, 64 << 10,
	    UINT64_MAX),
	ENUM("log", "level", log.level, level_names),
};

const size_t config_n_keys = sizeof(config_keys) / sizeof(config_keys[0]);

const struct config_key *config_key_find(const char *section,
					 const char *name)
{
	for (size_t i = 0; i < config_n_keys; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

char *config_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

void *config_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort();
	return p;
}

/* --- parsing scalars ---------------------------------------------------- */

/* A plain decimal integer. Returns 0, -EINVAL, or -ERANGE (too large). */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -ERANGE;
	}
	*out = v;
	return 0;
}

static bool is_negative_number(const char *s)
{
	return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
}

static int range_fail(struct config_ctx *ctx, const struct config_key *k,
		      const struct cy_node *v, const char *path, bool low)
{
	char b[UNITS_FMT_MAX];

	config_key_format_num(k, low ? k->min : k->max, b, sizeof(b));
	return config_fail(ctx, v, path, "must be at %s %s",
			   low ? "least" : "most", b);
}

/* Check a parsed number against k's range; -ERANGE from a parser means
 * it was too large for any field. */
static int check_range(struct config_ctx *ctx, const struct config_key *k,
		       const struct cy_node *v, const char *path, int rc,
		       uint64_t val)
{
	if (rc == -ERANGE || (rc == 0 && val > k->max))
		return range_fail(ctx, k, v, path, false);
	if (rc == 0 && val < k->min)
		return range_fail(ctx, k, v, path, true);
	return 0;
}

static int want_scalar(struct config_ctx *ctx, const struct cy_node *v,
		       const char *path, const char *expect)
{
	if (v->kind == CY_SCALAR && !cy_is_null(v) &&
	    strlen(v->str) == v->len)
		return 0;
	return config_fail(ctx, v, path, "%s", expect);
}

/* Integers, booleans and numbers must be plain: "8" in quotes is a string. */
static int want_plain(struct config_ctx *ctx, const struct cy_node *v,
		      const char *path, const char *expect)
{
	if (want_scalar(ctx, v, path, expect))
		return -1;
	if (!v->plain)
		return config_fail(ctx, v, path, "%s", expect);
	return 0;
}

/* A plain scalar and no negative number, which gets k's range in its
 * message rather than the syntax. Returns 0, or -1 with the error told. */
static int want_unsigned(struct config_ctx *ctx, const struct config_key *k,
			 const struct cy_node *v, const char *path,
			 const char *expect)
{
	if (want_plain(ctx, v, path, expect))
		return -1;
	if (is_negative_number(v->str))
		return range_fail(ctx, k, v, path, true);
	return 0;
}

/* A plain integer within k's range, as set_u32() and the statuses take. */
static int parse_int(const struct config_key *k, const struct cy_node *v,
		     struct config_ctx *ctx, const char *path,
		     const char *expect, uint64_t *out)
{
	int rc;

	if (want_unsigned(ctx, k, v, path, expect))
		return -1;
	rc = parse_u64(v->str, out);
	if (rc == -EINVAL)
		return config_fail(ctx, v, path, "%s", expect);
	return check_range(ctx, k, v, path, rc, *out);
}

static int set_u32(const struct config_key *k, struct config *c,
		   const struct cy_node *v, struct config_ctx *ctx,
		   const char *path)
{
	bool workers = k->type == CK_WORKERS;
	uint64_t val = 0;

	/* "auto" is the default's name: as many workers as CPUs */
	if (workers && v->kind == CY_SCALAR && v->plain &&
	    strcmp(v->str, "auto") == 0) {
		*FIELD(c, k, uint32_t) = 0;
		return 0;
	}
	if (parse_int(k, v, ctx, path, workers ? "expected an integer or auto" :
		      "expected an integer", &val))
		return -1;
	*FIELD(c, k, uint32_t) = (uint32_t)val;
	return 0;
}

static int set_units(const struct config_key *k, struct config *c,
		     const struct cy_node *v, struct config_ctx *ctx,
		     const char *path)
{
	const char *expect = k->type == CK_DUR ?
		"expected a duration like 250ms, 5s, 2m, 1h" :
		"expected a size like 512, 64KiB, 10MiB";
	uint64_t val = 0;
	int rc;

	if (want_scalar(ctx, v, path, expect))
		return -1;
	if (k->type == CK_DUR)
		rc = units_parse_duration_ms(v->str, &val);
	else
		rc = units_parse_size(v->str, &val);
	if (rc == -EINVAL)
		return config_fail(ctx, v, path, "%s", expect);
	if (check_range(ctx, k, v, path, rc, val))
		return -1;
	*FIELD(c, k, uint64_t) = val;
	return 0;
}

/* YAML 1.1 reads 0660 as octal and people write modes that way; 0o660 is
 * the YAML 1.2 spelling; a plain decimal (432) is taken as it is. */
static int set_mode(const struct config_key *k, struct config *c,
		    const struct cy_node *v, struct config_ctx *ctx,
		    const char *path)
{
	static const char expect[] = "expected a file mode like 0660";
	const char *s;
	uint64_t val = 0;
	int base = 10;

	if (want_scalar(ctx, v, path, expect))
		return -1;
	s = v->str;
	if (s[0] == '0' && s[1] == 'o')
		s += 2, base = 8;
	else if (s[0] == '0' && s[1])
		s += 1, base = 8;
	if (!*s)
		return config_fail(ctx, v, path, "%s", expect);
	for (; *s; s++) {
		if (*s < '0' || *s >= '0' + base)
			return config_fail(ctx, v, path, "%s", expect);
		val = val * (uint64_t)base + (uint64_t)(*s - '0');
		if (val > k->max)
			return range_fail(ctx, k, v, path, false);
	}
	*FIELD(c, k, unsigned) = (unsigned)val;
	return 0;
}

/* Only true and false: YAML 1.1's yes/no/on/off surprise people ("NO" as a
 * country code) and are not worth the ambiguity. */
static int set_bool(const struct config_key *k, struct config *c,
		    const struct cy_node *v, struct config_ctx *ctx,
		    const char *path)
{
	bool auto_ok = k->type == CK_TRI;
	const char *expect = auto_ok ? "expected true, false or auto" :
				       "expected true or false";
	int val;

	if (want_plain(ctx, v, path, expect))
		return -1;
	if (strcmp(v->str, "true") == 0)
		val = 1;
	else if (strcmp(v->str, "false") == 0)
		val = 0;
	else if (auto_ok && strcmp(v->str, "auto") == 0)
		val = -1;
	else
		return config_fail(ctx, v, path, "%s", expect);
	if (auto_ok)
		*FIELD(c, k, int) = val;
	else
		*FIELD(c, k, bool) = val;
	return 0;
}

/* A non-negative decimal with at most RATE_DECIMALS fraction digits, so
 * that "%.6f" prints every accepted value back exactly. */
static int set_rate(const struct config_key *k, struct config *c,
		    const struct cy_node *v, struct config_ctx *ctx,
		    const char *path)
{
	static const char digits[] = "0123456789";
	static const char expect[] = "expected a number like 0, 2 or 0.5";
	size_t int_len, frac_len;
	const char *p;
	double val;

	if (want_unsigned(ctx, k, v, path, expect))
		return -1;
	int_len = strspn(v->str, digits);
	p = v->str + int_len;
	if (int_len == 0)
		return config_fail(ctx, v, path, "%s", expect);
	if (*p == '.') {
		frac_len = strspn(p + 1, digits);
		if (frac_len == 0 || frac_len > RATE_DECIMALS ||
		    p[1 + frac_len])
			return config_fail(ctx, v, path, "%s", expect);
	} else if (*p) {
		return config_fail(ctx, v, path, "%s", expect);
	}
	/* long digit strings would lose precision before the range check */
	val = int_len > 7 ? (double)k->max + 1 : strtod(v->str, NULL);
	if (val > (double)k->max)
		return range_fail(ctx, k, v, path, false);
	*FIELD(c, k, double) = val;
	return 0;
}

static int set_enum(const struct config_key *k, struct config *c,
		    const struct cy_node *v, struct config_ctx *ctx,
		    const char *path)
{
	char expect[64] = "expected ";
	size_t i, n;

	if (v->kind == CY_SCALAR && strlen(v->str) == v->len) {
		for (i = 0; k->names[i]; i++) {
			if (strcmp(v->str, k->names[i]) == 0) {
				*FIELD(c, k, int) = (int)i;
				return 0;
			}
		}
	}
	for (n = 0; k->names[n]; n++)
		;
	for (i = 0; i < n; i++) {
		size_t len = strlen(expect);

		snprintf(expect + len, sizeof(expect) - len, "%s%s",
			 i == 0 ? "" : i + 1 == n ? " or " : ", ", k->names[i]);
	}
	return config_fail(ctx, v, path, "%s", expect);
}

/* --- strings, lists and mappings ----------------------------------------- */

/* The string a scalar holds (null reads as ""), checked with chk. Returns
 * a pointer into v, or NULL after config_fail(). */
static const char *node_string(const struct cy_node *v, enum ck_check chk,
			       struct config_ctx *ctx, const char *path)
{
	const char *s = cy_is_null(v) ? "" : v->str;
	char why[128];

	if (v->kind != CY_SCALAR) {
		config_fail(ctx, v, path, "expected a string");
		return NULL;
	}
	if (strlen(v->str) != v->len) {
		config_fail(ctx, v, path, "must not contain NUL bytes");
		return NULL;
	}
	if (!config_check_str(chk, s, why, sizeof(why))) {
		config_fail(ctx, v, path, "%s", why);
		return NULL;
	}
	return s;
}

static int set_str(const struct config_key *k, struct config *c,
		   const struct cy_node *v, struct config_ctx *ctx,
		   const char *path)
{
	const char *s = node_string(v, k->check, ctx, path);
	char **field = FIELD(c, k, char *);

	if (!s)
		return -1;
	free(*field);
	*field = config_strdup(s);
	return 0;
}

/* A sequence (or null, the empty list) with at most max items. */
static int want_list(const struct cy_node *v, size_t max,
		     struct config_ctx *ctx, const char *path)
{
	if (cy_is_null(v))
		return 0;
	if (v->kind != CY_SEQ)
		return config_fail(ctx, v, path, "expected a list");
	if (v->n > max)
		return config_fail(ctx, v, path,
				   "must have at most %zu entries", max);
	return 0;
}

static int set_strv(const struct config_key *k, struct config *c,
		    const struct cy_node *v, struct config_ctx *ctx,
		    const char *path)
{
	struct config_strv *field = FIELD(c, k, struct config_strv);
	struct config_strv sv = { NULL, 0 };
	char item_path[160];
	const char *s;

	if (want_list(v, LIST_MAX, ctx, path))
		return -1;
	if (v->kind == CY_SEQ && v->n) {
		sv.v = config_xcalloc(v->n, sizeof(*sv.v));
		for (; sv.n < v->n; sv.n++) {
			snprintf(item_path, sizeof(item_path), "%s[%zu]", path,
				 sv.n);
			s = node_string(v->kids[sv.n], k->check, ctx,
					item_path);
			if (!s) {
				config_strv_free(&sv);
				return -1;
			}
			sv.v[sv.n] = config_strdup(s);
		}
	}
	config_strv_free(field);
	*field = sv;
	return 0;
}

static int set_statuses(const struct config_key *k, struct config *c,
			const struct cy_node *v, struct config_ctx *ctx,
			const char *path)
{
	uint16_t st[CONFIG_MAX_STATUSES];
	char item_path[160];
	uint64_t val;
	size_t i, n = 0;

	if (want_list(v, CONFIG_MAX_STATUSES, ctx, path))
		return -1;
	if (v->kind == CY_SEQ)
		n = v->n;
	for (i = 0; i < n; i++) {
		snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
		if (parse_int(k, v->kids[i], ctx, item_path,
			      "expected an integer", &val))
			return -1;
		st[i] = (uint16_t)val;
	}
	memcpy(c->retry.statuses, st, n * sizeof(*st));
	c->retry.n_statuses = n;
	return 0;
}

/* Why name may not be configured, or NULL. Framing and routing headers
 * are ringfetch's to write; a second Host or Content-Length would make the
 * request ambiguous to servers and proxies (RFC 9112 6.3, 3.2). */
static const char *header_refused(const char *name)
{
	static const char *const own[] = { "Host", "Content-Length",
					   "Transfer-Encoding", "Connection",
					   NULL };

	for (int i = 0; own[i]; i++)
		if (strcasecmp(name, own[i]) == 0)
			return "is set by ringfetch itself";
	if (strcasecmp(name, "User-Agent") == 0)
		return "use http.user_agent instead";
	return NULL;
}

/* Check entry i of mapping v as header name; fills hpath. */
static int check_header_name(const struct cy_node *v, size_t i,
			     struct config_ctx *ctx, const char *path,
			     char *hpath, size_t n)
{
	const struct cy_node *kn = v->kids[2 * i];
	const char *why;

	if (kn->kind != CY_SCALAR || strlen(kn->str) != kn->len)
		return config_fail(ctx, kn, path, "expected a header name");
	snprintf(hpath, n, "%s.%s", path, kn->str);
	if (!config_is_token(kn->str))
		return config_fail(ctx, kn, hpath, "not a valid header name");
	why = header_refused(kn->str);
	if (why)
		return config_fail(ctx, kn, hpath, "%s", why);
	/* field names are case-insensitive (RFC 9110 5.1) */
	for (size_t j = 0; j < i; j++)
		if (strcasecmp(v->kids[2 * j]->str, kn->str) == 0)
			return config_fail(ctx, kn, hpath, "duplicate key");
	return 0;
}

static int set_headers(const struct config_key *k, struct config *c,
		       const struct cy_node *v, struct config_ctx *ctx,
		       const char *path)
{
	struct config_header *h = NULL;
	char hpath[160];
	const char *val;
	size_t i, n = 0;

	(void)k;
	if (!cy_is_null(v) && v->kind != CY_MAP)
		return config_fail(ctx, v, path, "expected a mapping");
	if (v->kind == CY_MAP)
		n = v->n / 2;
	if (n > HEADERS_MAX)
		return config_fail(ctx, v, path, "must have at most %d entries",
				   HEADERS_MAX);
	if (n)
		h = config_xcalloc(n, sizeof(*h));
	for (i = 0; i < n; i++) {
		if (check_header_name(v, i, ctx, path, hpath, sizeof(hpath)))
			goto fail;
		val = node_string(v->kids[2 * i + 1], CHK_HDRVAL, ctx, hpath);
		if (!val)
			goto fail;
		h[i].name = config_strdup(v->kids[2 * i]->str);
		h[i].value = config_strdup(val);
	}
	config_headers_free(c->http.headers, c->http.n_headers);
	c->http.headers = h;
	c->http.n_headers = n;
	return 0;
fail:
	config_headers_free(h, i);
	return -1;
}

int config_key_set(const struct config_key *k, struct config *c,
		   const struct cy_node *v, struct config_ctx *ctx,
		   const char *path)
{
	switch (k->type) {
	case CK_STR:
		return set_str(k, c, v, ctx, path);
	case CK_MODE:
		return set_mode(k, c, v, ctx, path);
	case CK_DUR:
	case CK_SIZE:
		return set_units(k, c, v, ctx, path);
	case CK_U32:
	case CK_WORKERS:
		return set_u32(k, c, v, ctx, path);
	case CK_BOOL:
	case CK_TRI:
		return set_bool(k, c, v, ctx, path);
	case CK_RATE:
		return set_rate(k, c, v, ctx, path);
	case CK_STATUSES:
		return set_statuses(k, c, v, ctx, path);
	case CK_HEADERS:
		return set_headers(k, c, v, ctx, path);
	case CK_STRV:
		return set_strv(k, c, v, ctx, path);
	case CK_ENUM:
		return set_enum(k, c, v, ctx, path);
	}
	return config_fail(ctx, v, path, "unsupported key type");
}
