/* struct config: SPEC's defaults, the YAML loader's walk over the key
 * table, --set overrides, cross-key validation and --print-config. */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_impl.h"
#include "base/units.h"
#include "version.h"	/* generated: RF_VERSION */

#define DEFAULT_USER_AGENT "ringfetch/" RF_VERSION


/* A config file is a few KiB; this bounds what a mistake (-c /dev/zero,
 * a log file) can make us read. */
#define CONFIG_FILE_MAX (1 << 20)
#define SUGGEST_DIST_MAX 2
#define NAME_LEN_MAX 63

static const uint16_t default_statuses[] = { 408, 429, 500, 502, 503, 504 };

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->daemon.socket = config_strdup("/run/ringfetch/ringfetch.sock");
	c->daemon.socket_mode = 0660;
	c->daemon.shutdown_grace_ms = 10 * 1000;
	c->daemon.max_clients = 256;
	c->daemon.state_dir = config_strdup("");
	c->queue.capacity = 10000;
	c->queue.spill_file = config_strdup("");
	c->queue.host_share = 0.25;
	c->queue.park_max = 1ull << 30;
	c->queue.journal = -1;
	c->limits.concurrency = 256;
	c->limits.per_host = 6;
	c->limits.per_host_rate = 0;
	c->limits.adaptive = true;
	c->limits.workers = 0;
	c->timeouts.connect_ms = 10 * 1000;
	c->timeouts.tls_ms = 10 * 1000;
	c->timeouts.first_byte_ms = 30 * 1000;
	c->timeouts.idle_ms = 30 * 1000;
	c->timeouts.total_ms = 120 * 1000;
	c->retry.attempts = 3;
	c->retry.backoff_base_ms = 500;
	c->retry.backoff_max_ms = 30 * 1000;
	c->retry.jitter = true;
	memcpy(c->retry.statuses, default_statuses, sizeof(default_statuses));
	c->retry.n_statuses = sizeof(default_statuses) /
			      sizeof(default_statuses[0]);
	c->http.user_agent = config_strdup(DEFAULT_USER_AGENT);
	c->http.max_redirects = 10;
	c->http.max_body = 64ULL << 20;
	c->http.keepalive_idle_ms = 30 * 1000;
	c->http.decode = true;
	c->tls.verify = true;
	c->tls.ca_file = config_strdup("");
	c->tls.session_resumption = true;
	c->dns.timeout_ms = 2 * 1000;
	c->dns.attempts = 2;
	c->dns.cache_min_ttl_ms = 5 * 1000;
	c->dns.cache_max_ttl_ms = 60 * 60 * 1000;
	c->robots.obey = false;
	c->robots.cache_ttl_ms = 24 * 60 * 60 * 1000;
	c->robots.max_delay_ms = 30 * 1000;
	c->batch.dedupe_memory = 64ULL << 20;
	c->network.proxy = config_strdup("");
	c->output.dir = config_strdup("");
	c->output.rotate_size = 256ULL << 20;
	c->output.rotate_interval_ms = 0;
	c->output.rotate_keep = 20;
	c->output.compress = COMPRESS_NONE;
	c->output.bodies = BODIES_NONE;
	c->output.sync = SYNC_BATCH;
	c->output.sync_interval_ms = 200;
	c->output.redis.url = config_strdup("");
	c->output.redis.stream = config_strdup("ringfetch:results");
	c->output.redis.maxlen = 1000000;
	c->source.redis.url = config_strdup("");
	c->source.redis.stream = config_strdup("ringfetch:jobs");
	c->source.redis.partitions = 16;
	c->source.redis.group = config_strdup("ringfetch");
	c->source.redis.consumer = config_strdup("");
	c->source.redis.claim_idle_ms = 60 * 1000;
	c->metrics.listen = config_strdup("");
	c->metrics.textfile = config_strdup("");
	c->log.level = LOG_INFO;
}

void config_fini(struct config *c)
{
	for (size_t i = 0; i < config_n_keys; i++)
		config_key_free(&config_keys[i], c);
	memset(c, 0, sizeof(*c));
}

/* Deep copy: loads work on a copy so that a failure leaves c untouched. */
static void config_dup(struct config *dst, const struct config *src)
{
	*dst = *src;
	for (size_t i = 0; i < config_n_keys; i++)
		config_key_dup(&config_keys[i], dst, src);
}

int config_fail(struct config_ctx *ctx, const struct cy_node *at,
		const char *path, const char *fmt, ...)
{
	char *p = ctx->err, *end = ctx->err + ctx->errlen;
	va_list ap;
	int n = 0;

	if (!ctx->errlen)
		return -1;
	if (ctx->file && at)
		n = snprintf(p, ctx->errlen, "%s:%lu:%lu: ", ctx->file,
			     at->line, at->col);
	else if (ctx->file)
		n = snprintf(p, ctx->errlen, "%s: ", ctx->file);
	if (n >= 0 && p + n < end && path)
		n += snprintf(p + n, (size_t)(end - p - n), "%s: ", path);
	if (n >= 0 && p + n < end) {
		va_start(ap, fmt);
		vsnprintf(p + n, (size_t)(end - p - n), fmt, ap);
		va_end(ap);
	}
	/* names come from the input: keep the message on one line */
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

/* Optimal string alignment distance: a swapped pair ("per_hots") costs 1,
 * the typo people make most. */
static size_t edit_distance(const char *a, const char *b)
{
	unsigned char d[NAME_LEN_MAX + 1][NAME_LEN_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j, best;

	if (la > NAME_LEN_MAX || lb > NAME_LEN_MAX)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned char)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned char)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1u < best)
				best = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < best)
				best = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1u < best)
				best = d[i - 2][j - 2] + 1u;
			d[i][j] = (unsigned char)best;
		}
	}
	return d[la][lb];
}

/* Whether name, dist edits away from a key, is a typo of it worth naming:
 * within SUGGEST_DIST_MAX edits and at most a third of its letters, so
 * that "foo" (two edits from "log") gets no suggestion but "per_hots"
 * does. */
static bool close_enough(const char *name, size_t dist)
{
	return dist <= SUGGEST_DIST_MAX && dist * 3 <= strlen(name);
}

/* The closest key name in section (a section name when section is NULL),
 * if it is close_enough(), else NULL. */
static const char *suggest(const char *section, const char *name)
{
	size_t best = SUGGEST_DIST_MAX + 1, dist;
	const char *found = NULL, *cand;

	for (size_t i = 0; i < config_n_keys; i++) {
		if (section && strcmp(config_keys[i].section, section) != 0)
			continue;
		cand = section ? config_keys[i].name : config_keys[i].section;
		dist = edit_distance(name, cand);
		if (dist < best && close_enough(name, dist)) {
			best = dist;
			found = cand;
		}
	}
	return found;
}

static int unknown_key(struct config_ctx *ctx, const struct cy_node *at,
		       const char *path, const char *hint)
{
	if (hint)
		return config_fail(ctx, at, path,
				   "unknown key (did you mean %s?)", hint);
	return config_fail(ctx, at, path, "unknown key");
}

/* A section is named by its keys' section, or is the parent of one:
 * "source" holds "source.redis". */
static bool section_exists(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < config_n_keys; i++) {
		const char *sec = config_keys[i].section;

		if (strncmp(sec, name, n) == 0 &&
		    (sec[n] == '\0' || sec[n] == '.'))
			return true;
	}
	return false;
}

/* Mapping keys must be scalars without NULs; YAML does not reject
 * repeats, so we do: the second would silently win otherwise. */
static int check_map_key(const struct cy_node *map, size_t i,
			 struct config_ctx *ctx, const char *parent,
			 const char *path)
{
	const struct cy_node *kn = map->kids[2 * i];

	if (kn->kind != CY_SCALAR || strlen(kn->str) != kn->len)
		return config_fail(ctx, kn, parent, "expected a key name");
	for (size_t j = 0; j < i; j++)
		if (strcmp(map->kids[2 * j]->str, kn->str) == 0)
			return config_fail(ctx, kn, path, "duplicate key");
	return 0;
}

static int apply_section(struct config *c, const char *section,
			 const struct cy_node *map, struct config_ctx *ctx)
{
	const struct config_key *k;
	const struct cy_node *kn;
	char path[160];

	if (cy_is_null(map))
		return 0;
	if (map->kind != CY_MAP)
		return config_fail(ctx, map, section, "expected a mapping");
	for (size_t i = 0; i < map->n / 2; i++) {
		kn = map->kids[2 * i];
		snprintf(path, sizeof(path), "%s.%s", section,
			 kn->kind == CY_SCALAR ? kn->str : "?");
		if (check_map_key(map, i, ctx, section, path))
			return -1;
		k = config_key_find(section, kn->str);
		if (!k && section_exists(path)) {
			if (apply_section(c, path, map->kids[2 * i + 1], ctx))
				return -1;
			continue;
		}
		if (!k)
			return unknown_key(ctx, kn, path,
					   suggest(section, kn->str));
		if (config_key_set(k, c, map->kids[2 * i + 1], ctx, path))
			return -1;
		ctx->mark[k - config_keys] = map->kids[2 * i + 1];
	}
	return 0;
}

static int apply_root(struct config *c, const struct cy_node *root,
		      struct config_ctx *ctx)
{
	const struct cy_node *kn;

	if (!root || cy_is_null(root))
		return 0;
	if (root->kind != CY_MAP)
		return config_fail(ctx, root, NULL,
				   "expected a mapping at the top level");
	for (size_t i = 0; i < root->n / 2; i++) {
		kn = root->kids[2 * i];
		if (check_map_key(root, i, ctx, NULL, kn->str))
			return -1;
		if (!section_exists(kn->str))
			return unknown_key(ctx, kn, kn->str,
					   suggest(NULL, kn->str));
		if (apply_section(c, kn->str, root->kids[2 * i + 1], ctx))
			return -1;
	}
	return 0;
}

/* Pairs that must satisfy lo <= hi. */
static const struct {
	const char *lo_sec, *lo, *hi_sec, *hi;
} cross_checks[] = {
	{ "limits", "per_host", "limits", "concurrency" },
	{ "dns", "cache_min_ttl", "dns", "cache_max_ttl" },
	{ "retry", "backoff_base", "retry", "backoff_max" },
};
#define N_CROSS (sizeof(cross_checks) / sizeof(cross_checks[0]))

/* Blame the side the input set, so the message points at its line: the
 * lower key when it was set (or neither was), else the upper one. */
static int cross_fail(const struct config *c, const struct config_key *lo,
		      const struct config_key *hi, struct config_ctx *ctx)
{
	size_t ilo = (size_t)(lo - config_keys);
	size_t ihi = (size_t)(hi - config_keys);
	const struct cy_node *at_lo = ctx->mark ? ctx->mark[ilo] : NULL;
	const struct cy_node *at_hi = ctx->mark ? ctx->mark[ihi] : NULL;
	char lo_path[64], hi_path[64], num[UNITS_FMT_MAX];

	snprintf(lo_path, sizeof(lo_path), "%s.%s", lo->section, lo->name);
	snprintf(hi_path, sizeof(hi_path), "%s.%s", hi->section, hi->name);
	if (at_hi && !at_lo)
		return config_fail(ctx, at_hi, hi_path,
				   "must be at least %s (%s)", lo_path,
				   config_key_format(lo, c, num, sizeof(num)));
	return config_fail(ctx, at_lo, lo_path, "must not exceed %s (%s)",
			   hi_path, config_key_format(hi, c, num, sizeof(num)));
}

static int validate(const struct config *c, struct config_ctx *ctx)
{
	const struct config_key *k, *lo, *hi;
	char path[64], why[96];

	for (size_t i = 0; i < config_n_keys; i++) {
		k = &config_keys[i];
		if (config_key_in_range(k, c, why, sizeof(why)))
			continue;
		snprintf(path, sizeof(path), "%s.%s", k->section, k->name);
		return config_fail(ctx, ctx->mark ? ctx->mark[i] : NULL, path,
				   "%s", why);
	}
	if (c->output.hash == HASH_NONE && c->output.bodies == BODIES_FILES) {
		size_t i = (size_t)(config_key_find("output", "hash") -
				    config_keys);

		return config_fail(ctx, ctx->mark ? ctx->mark[i] : NULL,
				   "output.hash", "none is not allowed with "
				   "output.bodies: files, whose files are named "
				   "by their hash");
	}
	for (size_t i = 0; i < N_CROSS; i++) {
		lo = config_key_find(cross_checks[i].lo_sec,
				     cross_checks[i].lo);
		hi = config_key_find(cross_checks[i].hi_sec,
				     cross_checks[i].hi);
		if (config_key_num(lo, c) > config_key_num(hi, c))
			return cross_fail(c, lo, hi, ctx);
	}
	return 0;
}

int config_validate(const struct config *c, char *err, size_t errlen)
{
	struct config_ctx ctx = { .err = err, .errlen = errlen };

	return validate(c, &ctx);
}

/* End a load or a set, all or nothing: tmp replaces c when rc is 0, else
 * tmp is dropped and c stays as it was. Frees ctx's marks and doc. */
static int commit(struct config *c, struct config *tmp,
		  struct config_ctx *ctx, struct cy_doc *doc, int rc)
{
	if (rc == 0) {
		config_fini(c);
		*c = *tmp;
	} else {
		config_fini(tmp);
	}
	free(ctx->mark);
	cy_free(doc);
	return rc;
}

int config_load_buffer(struct config *c, const char *name, const char *data,
		       size_t len, char *err, size_t errlen)
{
	struct config_ctx ctx = { .file = name, .err = err, .errlen = errlen };
	struct cy_doc doc;
	struct config tmp;
	unsigned long line, col;
	char why[256];
	int rc;

	if (len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", name,
			 CONFIG_FILE_MAX);
		return -1;
	}
	if (cy_parse(data, len, &doc, why, sizeof(why), &line, &col)) {
		struct cy_node at = { .line = line, .col = col };

		return config_fail(&ctx, &at, NULL, "%s", why);
	}
	ctx.mark = config_xcalloc(config_n_keys, sizeof(*ctx.mark));
	config_dup(&tmp, c);
	rc = apply_root(&tmp, doc.root, &ctx);
	if (rc == 0)
		rc = validate(&tmp, &ctx);
	return commit(c, &tmp, &ctx, &doc, rc);
}

/* Read all of path, up to CONFIG_FILE_MAX + 1 bytes. Returns the owned
 * buffer, or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nbuf;
	ssize_t r;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (n == cap || !buf) {
			cap = buf ? cap * 2 : cap;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				errno = ENOMEM;
				goto fail;
			}
			buf = nbuf;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0 || (n += (size_t)r) > CONFIG_FILE_MAX)
			break;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

int config_load_file(struct config *c, const char *path, char *err,
		     size_t errlen)
{
	size_t len;
	char *data = read_file(path, &len);
	int rc;

	if (!data) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror(errno));
		return -1;
	}
	rc = config_load_buffer(c, path, data, len, err, errlen);
	free(data);
	return rc;
}

/* Resolve "section.name" for --set; section alone sets a whole section. */
static int set_lookup(const char *key, char *section, size_t n,
		      const struct config_key **k, struct config_ctx *ctx)
{
	/* The key's name follows the last dot ("source.redis.url"); a
	 * whole section may be nested too ("output.redis"). */
	const char *dot = section_exists(key) ? NULL : strrchr(key, '.');
	size_t sl = dot ? (size_t)(dot - key) : strlen(key);
	char full[160];
	const char *hint = NULL;

	*k = NULL;
	snprintf(section, n, "%.*s", (int)sl, key);
	if (!section_exists(section)) {
		if (!dot)
			return unknown_key(ctx, NULL, key, suggest(NULL, key));
		/* a misspelt section: suggest the whole key */
		for (size_t i = 0; i < config_n_keys && !hint; i++) {
			snprintf(full, sizeof(full), "%s.%s",
				 config_keys[i].section, config_keys[i].name);
			if (close_enough(key, edit_distance(key, full)))
				hint = full;
		}
		return unknown_key(ctx, NULL, key, hint);
	}
	if (!dot)
		return 0;
	*k = config_key_find(section, dot + 1);
	if (!*k)
		return unknown_key(ctx, NULL, key, suggest(section, dot + 1));
	return 0;
}

int config_set(struct config *c, const char *key, const char *yaml_value,
	       char *err, size_t errlen)
{
	struct config_ctx ctx = { .err = err, .errlen = errlen };
	char nothing[1] = "";
	struct cy_node empty = { .kind = CY_SCALAR, .str = nothing,
				 .plain = true };
	const struct config_key *k;
	const struct cy_node *v;
	struct cy_doc doc;
	struct config tmp;
	unsigned long line, col;
	char section[64], why[256];
	int rc;

	if (set_lookup(key, section, sizeof(section), &k, &ctx))
		return -1;
	if (cy_parse(yaml_value, strlen(yaml_value), &doc, why, sizeof(why),
		     &line, &col))
		return config_fail(&ctx, NULL, key, "%s", why);
	v = doc.root ? doc.root : &empty;
	ctx.mark = config_xcalloc(config_n_keys, sizeof(*ctx.mark));
	config_dup(&tmp, c);
	if (k)
		rc = config_key_set(k, &tmp, v, &ctx, key);
	else
		rc = apply_section(&tmp, section, v, &ctx);
	return commit(c, &tmp, &ctx, &doc, rc);
}

/* Whether k is http.user_agent at its default (see config_print()). */
static bool default_user_agent(const struct config_key *k,
			       const struct config *c)
{
	return strcmp(k->section, "http") == 0 &&
	       strcmp(k->name, "user_agent") == 0 && c->http.user_agent &&
	       strcmp(c->http.user_agent, DEFAULT_USER_AGENT) == 0;
}

int config_print(const struct config *c, FILE *f)
{
	const char *section = "", *sec, *dot;
	size_t top;

	for (size_t i = 0; i < config_n_keys; i++) {
		if (default_user_agent(&config_keys[i], c))
			continue;
		sec = config_keys[i].section;
		dot = strchr(sec, '.');
		top = dot ? (size_t)(dot - sec) : strlen(sec);
		if (strcmp(section, sec) != 0) {
			/* a nested section follows its parent's keys, or
			 * opens its parent when that has none */
			if (strncmp(section, sec, top) != 0 ||
			    (section[top] != '\0' && section[top] != '.'))
				fprintf(f, "%.*s:\n", (int)top, sec);
			if (dot)
				fprintf(f, "  %s:\n", dot + 1);
			section = sec;
		}
		config_key_print(&config_keys[i], c, f, dot ? 4 : 2);
	}
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
