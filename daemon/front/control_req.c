/* SPEC's "Control socket" requests, checked member by member; the
 * answers to bad ones are the protocol's error classes. */
#include "front/control_req.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "front/jobspec.h"

static enum control_op fail(struct control_req *rq, const char *cls,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum control_op fail(struct control_req *rq, const char *cls,
			    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rq->detail, sizeof(rq->detail), fmt, ap);
	va_end(ap);
	rq->err_class = cls;
	return rq->op = CTL_ERROR;
}

/* "wait" and "nowait": true, false or null. */
static int flag(struct control_req *rq, const char *key, bool *out)
{
	const struct json_val *v = json_get(rq->doc.root, key);

	if (v && v->type != JSON_BOOL && v->type != JSON_NULL) {
		fail(rq, "invalid_json", "\"%s\" must be true or false", key);
		return -1;
	}
	*out = v && v->type == JSON_BOOL && v->b;
	return 0;
}

/* id, headers, etag and last_modified: checked as the URL files' JSON
 * lines are (jobspec.c), so both ways in take the same jobs. */
static int fields(struct control_req *rq)
{
	const struct json_val *h;
	char why[192];

	if (jobspec_check(rq->doc.root, why, sizeof(why)) < 0) {
		fail(rq, "invalid_json", "%s", why);
		return -1;
	}
	h = json_get(rq->doc.root, "headers");
	rq->headers = h && h->type == JSON_OBJECT ? h : NULL;
	rq->fields = rq->doc.root;
	return 0;
}

static enum control_op submit(struct control_req *rq)
{
	const struct json_val *u = json_get(rq->doc.root, "url");
	const struct json_val *v = json_get(rq->doc.root, "id");

	if (!json_as_str(u))
		return fail(rq, "invalid_url", "submit needs \"url\" (a string)");
	rq->url = u->str;
	rq->url_len = u->len;
	if (v && v->type != JSON_NULL && !(rq->id = json_as_str(v)))
		return fail(rq, "invalid_json", "\"id\" must be a string");
	if (rq->id && strlen(rq->id) != v->len)
		return fail(rq, "invalid_json", "\"id\" holds a NUL byte");
	if (flag(rq, "wait", &rq->wait) < 0 ||
	    flag(rq, "nowait", &rq->nowait) < 0 || fields(rq) < 0)
		return CTL_ERROR;
	return rq->op = CTL_SUBMIT;
}

static enum control_op cancel(struct control_req *rq)
{
	const struct json_val *vj = json_get(rq->doc.root, "job");

	rq->id = json_as_str(json_get(rq->doc.root, "id"));
	rq->has_job = vj != NULL;
	if (vj && !json_as_int(vj, &rq->job))
		return fail(rq, "invalid_json", "\"job\" must be an integer");
	if (!vj && !rq->id)
		return fail(rq, "invalid_json", "cancel needs \"job\" (a "
			    "number) or \"id\" (a string)");
	return rq->op = CTL_CANCEL;
}

static enum control_op object(struct control_req *rq, const char *p,
			      size_t n)
{
	char err[160];
	const char *op;

	if (json_parse(p, n, &rq->doc, err, sizeof(err)) < 0)
		return fail(rq, "invalid_json", "%s", err);
	op = json_as_str(json_get(rq->doc.root, "op"));
	if (!op)
		return fail(rq, "unknown_op", "a request needs \"op\" (submit, "
			    "status, watch or cancel)");
	if (!strcmp(op, "submit"))
		return submit(rq);
	if (!strcmp(op, "status"))
		return rq->op = CTL_STATUS;
	if (!strcmp(op, "watch"))
		return rq->op = CTL_WATCH;
	if (!strcmp(op, "cancel"))
		return cancel(rq);
	return fail(rq, "unknown_op", "unknown op %.64s", op);
}

enum control_op control_req_parse(struct control_req *rq, const char *p,
				  size_t n)
{
	memset(rq, 0, sizeof(*rq));
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (!n)
		return rq->op = CTL_BLANK;
	if (*p == '{')
		return object(rq, p, n);
	/* a bare URL line is shorthand for a submit of it */
	rq->url = p;
	rq->url_len = n;
	return rq->op = CTL_SUBMIT;
}

void control_req_fini(struct control_req *rq)
{
	json_doc_free(&rq->doc);
}
