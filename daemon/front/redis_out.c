/* output.redis: records to a Redis stream, buffered while Redis is away. */
#include "front/redis_out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/resp.h"
#include "config/config.h"
#include "event/loop.h"
#include "net/redis.h"

struct redis_out {
	struct redis *rc;
	char *stream;
	uint32_t maxlen;
	struct buf wait;	/* records not handed to the connection yet */
	struct buf cmd;		/* scratch: one XADD */
	struct loop_hook hook;	/* hands waiting records over when up */
	struct loop *loop;
	uint64_t published, dropped, errors;
	bool warned;
};

static void on_reply(void *arg, const struct resp_reply *r)
{
	struct redis_out *o = arg;

	if (r && r->type != RESP_ERROR) {
		o->published++;
		return;
	}
	/* lost with the connection, or refused: the file has it */
	o->errors++;
	if (r && !o->warned)
		log_warn("output.redis: XADD refused: %.*s (the result files "
			 "have every record)", (int)r->len, r->str);
	o->warned = o->warned || r;
}

/* Hand one record (without its newline) to the connection. */
static int send_one(struct redis_out *o, const char *rec, size_t n)
{
	int rc;

	resp_begin(&o->cmd, o->maxlen ? 8 : 5);
	resp_arg_str(&o->cmd, "XADD");
	resp_arg_str(&o->cmd, o->stream);
	if (o->maxlen) {
		resp_arg_str(&o->cmd, "MAXLEN");
		resp_arg_str(&o->cmd, "~");
		resp_arg_u64(&o->cmd, o->maxlen);
	}
	resp_arg_str(&o->cmd, "*");
	resp_arg_str(&o->cmd, "record");
	resp_arg(&o->cmd, rec, n);
	rc = redis_send(o->rc, &o->cmd, on_reply, o);
	buf_reset(&o->cmd);
	return rc;
}

static void keep_waiting(struct redis_out *o, const char *rec, size_t n)
{
	if (o->wait.len + n + 1 > REDIS_OUT_BUFFER_MAX ||
	    buf_append(&o->wait, rec, n) < 0 || buf_putc(&o->wait, '\n') < 0) {
		if (!o->dropped)
			log_warn("output.redis: Redis unreachable and %u MiB "
				 "of records waiting: later records are not "
				 "published until it is back (the result "
				 "files have them)",
				 REDIS_OUT_BUFFER_MAX >> 20);
		o->dropped++;
	}
}

/* Each turn while records wait: hand them over, oldest first. */
static void on_hook(struct loop_hook *h)
{
	struct redis_out *o = container_of(h, struct redis_out, hook);
	size_t at = 0;

	if (!o->wait.len || !redis_up(o->rc))
		return;
	while (at < o->wait.len) {
		const char *p = o->wait.p + at;
		const char *nl = memchr(p, '\n', o->wait.len - at);
		size_t n = (size_t)(nl - p);

		if (send_one(o, p, n) < 0)
			break;
		at += n + 1;
	}
	memmove(o->wait.p, o->wait.p + at, o->wait.len - at);
	o->wait.len -= at;
	if (o->wait.p)
		o->wait.p[o->wait.len] = '\0';
}

void redis_out_record(struct redis_out *o, const char *rec, size_t n)
{
	if (n && rec[n - 1] == '\n')
		n--;
	if (o->wait.len || !redis_up(o->rc) || send_one(o, rec, n) < 0)
		keep_waiting(o, rec, n);
}

bool redis_out_idle(const struct redis_out *o)
{
	return !o || !redis_up(o->rc) ||
	       (!o->wait.len && redis_pending(o->rc) == 0);
}

int redis_out_metrics(const void *arg, struct buf *b)
{
	const struct redis_out *o = arg;

	return buf_printf(b,
		"# HELP ringfetch_redis_results_published_total Records added to output.redis.stream.\n"
		"# TYPE ringfetch_redis_results_published_total counter\n"
		"ringfetch_redis_results_published_total %llu\n"
		"# HELP ringfetch_redis_results_dropped_total Records not published: Redis unreachable and the buffer full, or an XADD failed.\n"
		"# TYPE ringfetch_redis_results_dropped_total counter\n"
		"ringfetch_redis_results_dropped_total %llu\n",
		(unsigned long long)o->published,
		(unsigned long long)(o->dropped + o->errors));
}

struct redis_out *redis_out_new(struct loop *l, const struct config *cfg,
				char *err, size_t errlen)
{
	struct redis_out *o = calloc(1, sizeof(*o));

	if (!o || !(o->stream = strdup(cfg->output.redis.stream))) {
		free(o);
		snprintf(err, errlen, "output.redis: out of memory");
		return NULL;
	}
	o->maxlen = cfg->output.redis.maxlen;
	o->loop = l;
	buf_init(&o->wait, REDIS_OUT_BUFFER_MAX);
	buf_init(&o->cmd, REDIS_OUT_BUFFER_MAX);
	if (redis_new(&o->rc, l, cfg->output.redis.url, "ringfetchd-results",
		      err, errlen) < 0) {
		free(o->stream);
		free(o);
		return NULL;
	}
	o->hook.fn = on_hook;
	loop_add_hook(l, &o->hook);
	return o;
}

void redis_out_free(struct redis_out *o)
{
	size_t waiting = 0;

	if (!o)
		return;
	for (size_t i = 0; i < o->wait.len; i++)
		waiting += o->wait.p[i] == '\n';
	if (waiting + o->dropped)
		log_warn("output.redis: %zu records not published (Redis "
			 "unreachable); the result files have them",
			 waiting + (size_t)o->dropped);
	loop_remove_hook(o->loop, &o->hook);
	redis_free(o->rc);
	buf_fini(&o->wait);
	buf_fini(&o->cmd);
	free(o->stream);
	free(o);
}
