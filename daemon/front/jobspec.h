/* The optional fields of a job as a submitter writes them in JSON, the
 * same in a control-socket submit and in a URL-file line that starts with
 * '{' (so a result log is itself a URL file): "id", "headers" (an object
 * of strings), and "etag" / "last_modified", the validators of an earlier
 * fetch, sent back as If-None-Match and If-Modified-Since so that an
 * unchanged page answers 304 and transfers nothing. */
#ifndef RF_JOBSPEC_H
#define RF_JOBSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/json.h"

struct job;

#define JOBSPEC_HEADERS_MAX 64

/* Check obj's optional fields: types, header names that are tokens,
 * values without CR or LF, no NUL bytes. null counts as absent. Returns
 * 0, or -1 with a sentence in why naming the field. */
int jobspec_check(const struct json_val *obj, char *why, size_t whylen);

/* The submitter's id in obj (checked), or NULL. */
const char *jobspec_id(const struct json_val *obj);

/* Give j the headers of hdrs, a checked JSON object of strings (NULL or
 * anything else: none). Returns 0, or -ENOMEM (j keeps what fitted). */
int jobspec_headers(struct job *j, const struct json_val *hdrs);

/* Give j obj's headers and validators (obj checked by jobspec_check).
 * Returns 0, or -ENOMEM (j then carries what fitted; the caller logs). */
int jobspec_apply(struct job *j, const struct json_val *obj);

#endif
