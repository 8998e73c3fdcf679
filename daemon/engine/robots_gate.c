/* robots.obey: a job's start asks its host's rules (cached, or fetched
 * first by an internal job), and a fetch's end turns its response into
 * rules per RFC 9309 2.3.1: 2xx is parsed, other 4xx (and a redirect chain
 * that does not end) allow everything, and 5xx, 429 or no answer at all
 * disallow everything for a while. */
#include "engine/robots_gate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/job.h"
#include "http/url.h"

#define BODY_FIRST 4096		/* first capture buffer; doubles up to
				 * ROBOTS_MAX_BYTES */

int robots_gate_init(struct robots_gate *g, const struct config *cfg,
		     struct host_table *hosts)
{
	memset(g, 0, sizeof(*g));
	g->cfg = cfg;
	g->hosts = hosts;
	list_init(&g->fetches);
	g->user_agent = strdup(cfg->http.user_agent ? cfg->http.user_agent :
			       "");
	if (!g->user_agent)
		return -ENOMEM;
	if (robots_cache_init(&g->cache) < 0) {
		free(g->user_agent);
		return -ENOMEM;
	}
	return 0;
}

void robots_gate_fini(struct robots_gate *g)
{
	robots_cache_fini(&g->cache);
	free(g->user_agent);
	g->user_agent = NULL;
}

void robots_gate_apply_config(struct robots_gate *g)
{
	const char *ua = g->cfg->http.user_agent ? g->cfg->http.user_agent :
			 "";
	char *copy;

	if (strcmp(ua, g->user_agent) == 0)
		return;
	copy = strdup(ua);
	if (!copy)
		return;		/* keep the old rules: polite enough */
	free(g->user_agent);
	g->user_agent = copy;
	if (g->cache.count)
		log_info("reload: http.user_agent changed: the robots.txt "
			 "rules of %u hosts are forgotten", g->cache.count);
	robots_cache_clear(&g->cache);
}

/* h uses e from now on (e's reference passes to h). */
static void attach(struct robots_gate *g, struct host *h,
		   struct robots_entry *e)
{
	uint64_t delay = e->rules.crawl_delay_ms;

	if (h->robots)
		robots_entry_put(h->robots);
	h->robots = e;
	if (delay > g->cfg->robots.max_delay_ms)
		delay = g->cfg->robots.max_delay_ms;
	h->delay_ms = delay;
}

static void fetch_free(struct robots_fetch *f)
{
	free(f->body);
	free(f);
}

/* A new internal job for h's robots.txt, holding a reference to h as its
 * host and another as f->origin; NULL when out of memory. */
static struct job *fetch_new(struct robots_gate *g, struct host *h)
{
	bool v6 = strchr(h->name, ':') != NULL;
	struct robots_fetch *f = calloc(1, sizeof(*f));
	struct job *j = calloc(1, sizeof(*j));
	char text[URL_HOST_MAX + 48];
	int n;

	if (!f || !j)
		goto out_free;
	n = snprintf(text, sizeof(text), "%s://%s%s%s:%u/robots.txt",
		     h->https ? "https" : "http", v6 ? "[" : "", h->name,
		     v6 ? "]" : "", h->port);
	j->url_text = strdup(text);
	if (!j->url_text || url_parse(&j->url, text, (size_t)n, NULL, 0) !=
	    URL_OK)
		goto out_free;
	j->url_len = (size_t)n;
	j->host = host_get(g->hosts, &j->url);
	if (j->host != h)	/* NULL (out of memory); never another host */
		goto out_put;
	h->refs++;		/* f->origin's */
	f->origin = h;
	f->job = j;
	j->robots = f;
	list_push_back(&g->fetches, &f->node);
	g->fetches_total++;
	return j;
out_put:
	if (j->host)
		host_put(g->hosts, j->host);
out_free:
	if (j)
		url_fini(&j->url);
	if (j)
		free(j->url_text);
	free(j);
	free(f);
	return NULL;
}

/* h's rules now, fresh, or NULL when they must be fetched. */
static struct robots_entry *rules_of(struct robots_gate *g, struct host *h,
				     uint64_t now_ms)
{
	struct robots_entry *e = h->robots;

	/* expired, or forgotten on a reload */
	if (e && (now_ms >= e->expires_ms || !e->linked)) {
		robots_entry_put(e);
		h->robots = e = NULL;
	}
	if (!e) {
		e = robots_cache_get(&g->cache, h->name, h->port, h->https,
				     now_ms);
		if (e)
			attach(g, h, e);
	}
	return e;
}

enum robots_verdict robots_gate_check(struct robots_gate *g, struct job *j,
				      uint64_t now_ms, struct job **fetch)
{
	const struct robots_rule *why;
	struct robots_entry *e;
	const char *path;

	if (j->robots)
		return ROBOTS_GO;
	e = rules_of(g, j->host, now_ms);
	if (!e) {
		*fetch = fetch_new(g, j->host);
		if (*fetch)
			return ROBOTS_FETCH;
		j->err = RF_ROBOTS;
		snprintf(j->detail, sizeof(j->detail),
			 "robots.txt could not be fetched: out of memory");
		return ROBOTS_DENY;
	}
	path = url_path(&j->url);
	if (robots_allowed(&e->rules, path, strlen(path), &why))
		return ROBOTS_GO;
	j->err = RF_ROBOTS;
	if (why)
		snprintf(j->detail, sizeof(j->detail),
			 "disallowed by robots.txt: Disallow: %.*s",
			 (int)(why->len > 150 ? 150 : why->len),
			 e->rules.text + why->off);
	else
		snprintf(j->detail, sizeof(j->detail), "%s", e->why);
	return ROBOTS_DENY;
}

static void capture(void *arg, const char *p, size_t n)
{
	struct robots_fetch *f = arg;
	size_t room;

	if (f->len + n > f->cap && f->cap < ROBOTS_MAX_BYTES) {
		size_t cap = f->cap ? f->cap : BODY_FIRST;
		char *b;

		while (cap < f->len + n && cap < ROBOTS_MAX_BYTES)
			cap *= 2;
		if (cap > ROBOTS_MAX_BYTES)
			cap = ROBOTS_MAX_BYTES;
		b = realloc(f->body, cap);
		if (b) {		/* else: parse what fits */
			f->body = b;
			f->cap = cap;
		}
	}
	room = f->cap - f->len;
	if (n > room)
		n = room;
	if (n) {
		memcpy(f->body + f->len, p, n);
		f->len += n;
	}
}

void robots_gate_sink(struct job *j, struct conn_sink *out)
{
	j->robots->len = 0;	/* an earlier attempt or hop kept nothing */
	out->arg = j->robots;
	out->body = capture;
}

enum outcome {
	OUT_CUT,		/* the fetch was cut off: nothing learnt */
	OUT_RULES,		/* 2xx: parse the body */
	OUT_NONE,		/* 3xx not followed to the end, 4xx: no rules */
	OUT_UNREACHABLE,	/* 5xx, 429, no answer: disallow all */
};

/* RFC 9309 2.3.1.2-4; 429 counts as unreachable, as the SPEC says. */
static enum outcome classify(const struct job *j)
{
	if (j->err == RF_CANCELLED)
		return OUT_CUT;
	if (j->status >= 200 && j->status < 300 &&
	    (j->err == RF_OK || j->err == RF_BODY_TOO_LARGE))
		return OUT_RULES;
	if (j->status == 429 || j->status >= 500)
		return OUT_UNREACHABLE;
	if (j->status >= 300 &&
	    (j->err == RF_HTTP_STATUS || j->err == RF_TOO_MANY_REDIRECTS))
		return OUT_NONE;
	return OUT_UNREACHABLE;
}

/* The cause that j's host's jobs will carry in error_detail. */
static void unreachable_why(const struct job *j, char *why, size_t n)
{
	int len;

	if (j->status)
		len = snprintf(why, n, "robots.txt answered %d", j->status);
	else
		len = snprintf(why, n, "robots.txt unreachable: %s: %.80s",
			       rf_err_name(j->err), j->detail);
	if (j->attempts > 1 && len > 0 && (size_t)len < n)
		snprintf(why + len, n - (size_t)len, " (%u attempts)",
			 j->attempts);
}

struct host *robots_gate_done(struct robots_gate *g, struct job *j,
			      uint64_t now_ms)
{
	const char *ua = g->cfg->http.user_agent ? g->cfg->http.user_agent :
			 "";
	uint64_t ttl = g->cfg->robots.cache_ttl_ms;
	struct robots_fetch *f = j->robots;
	struct host *h = f->origin;
	struct robots_entry *e;
	struct robots r;
	char why[128] = "";

	j->robots = NULL;
	list_remove(&f->node);
	if (ttl < ROBOTS_MIN_TTL_MS)
		ttl = ROBOTS_MIN_TTL_MS;
	switch (classify(j)) {
	case OUT_CUT:
		fetch_free(f);
		return h;
	case OUT_RULES:
		/* out of memory leaves r allowing all: the file was there */
		(void)robots_parse(&r, f->body ? f->body : "", f->len, ua,
				   robots_product_token(ua));
		break;
	case OUT_NONE:
		robots_init_allow_all(&r);
		break;
	case OUT_UNREACHABLE:
		robots_init_disallow_all(&r);
		unreachable_why(j, why, sizeof(why));
		if (ttl > ROBOTS_UNREACHABLE_TTL_MS)
			ttl = ROBOTS_UNREACHABLE_TTL_MS;
		log_info("%s:%u: %s: its jobs end robots for the next %llu s "
			 "(robots.obey)", h->name, h->port, why,
			 (unsigned long long)(ttl / 1000));
		break;
	}
	fetch_free(f);
	e = robots_cache_add(&g->cache, h->name, h->port, h->https, &r,
			     why, now_ms + ttl);
	if (e)
		attach(g, h, e);
	return h;
}
