/* One reading of a job's JSON fields for both ways in. */
#include "front/jobspec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/job.h"
#include "engine/sched.h"

/* A string member without NUL bytes, or NULL when absent or null. Sets
 * *bad when the member is there and is something else. */
static const char *str_member(const struct json_val *obj, const char *key,
			      bool *bad)
{
	const struct json_val *v = json_get(obj, key);
	const char *s;

	if (!v || v->type == JSON_NULL)
		return NULL;
	s = json_as_str(v);
	if (!s || strlen(s) != v->len) {
		*bad = true;
		return NULL;
	}
	return s;
}

static int check_headers(const struct json_val *v, char *why, size_t n)
{
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_OBJECT || v->len > JOBSPEC_HEADERS_MAX) {
		snprintf(why, n, "\"headers\" must be an object of at most %d "
			 "strings", JOBSPEC_HEADERS_MAX);
		return -1;
	}
	for (const struct json_val *h = json_first(v); h; h = json_next(h)) {
		const char *s = json_as_str(h);

		if (!s || !h->key_len || strlen(h->key) != h->key_len ||
		    strcspn(h->key, "\r\n: \t") != h->key_len ||
		    strlen(s) != h->len || strpbrk(s, "\r\n")) {
			snprintf(why, n, "\"headers\": bad header %.64s (names "
				 "are tokens, values strings without CR or "
				 "LF)", h->key);
			return -1;
		}
	}
	return 0;
}

int jobspec_check(const struct json_val *obj, char *why, size_t whylen)
{
	static const char *const strs[] = { "id", "etag", "last_modified" };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		bool bad = false;
		const char *s = str_member(obj, strs[i], &bad);

		if (bad || (s && i > 0 && strpbrk(s, "\r\n"))) {
			snprintf(why, whylen, "\"%s\" must be a string%s",
				 strs[i], i > 0 ? " without CR or LF" : "");
			return -1;
		}
	}
	return check_headers(json_get(obj, "headers"), why, whylen);
}

const char *jobspec_id(const struct json_val *obj)
{
	bool bad = false;

	return str_member(obj, "id", &bad);
}

int jobspec_headers(struct job *j, const struct json_val *hdrs)
{
	int rc = 0;

	if (!hdrs || hdrs->type != JSON_OBJECT)
		return 0;
	for (const struct json_val *v = json_first(hdrs); v && !rc;
	     v = json_next(v))
		if (json_as_str(v))
			rc = sched_job_header(j, v->key, v->str);
	return rc;
}

int jobspec_apply(struct job *j, const struct json_val *obj)
{
	int rc = jobspec_headers(j, json_get(obj, "headers"));
	const char *etag, *lm;
	bool bad = false;

	etag = str_member(obj, "etag", &bad);
	lm = str_member(obj, "last_modified", &bad);
	if (!rc && etag && etag[0])
		rc = sched_job_header(j, "If-None-Match", etag);
	if (!rc && lm && lm[0])
		rc = sched_job_header(j, "If-Modified-Since", lm);
	return rc;
}
