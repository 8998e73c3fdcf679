/* One control-protocol request line turned into an operation: a bare URL
 * line or a JSON object with "op", its members checked. Sees only the
 * buffer (no client, no daemon), so a fuzz target drives it alone;
 * control.c acts on the result. */
#ifndef RF_CONTROL_REQ_H
#define RF_CONTROL_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/json.h"

enum control_op {
	CTL_BLANK = 0,		/* white space only: not a request */
	CTL_SUBMIT,
	CTL_STATUS,
	CTL_WATCH,
	CTL_CANCEL,
	CTL_ERROR,		/* answer err_class and detail */
};

struct control_req {
	enum control_op op;
	/* CTL_SUBMIT: url (url_len bytes, not checked to parse), optional
	 * id (a string without NUL), headers (an object of at most 64
	 * header-safe strings, or NULL), wait, nowait */
	const char *url;
	size_t url_len;
	const char *id;
	const struct json_val *headers;
	const struct json_val *fields;	/* the request object (id, headers,
					 * etag, last_modified checked by
					 * jobspec_check), or NULL for a bare
					 * URL line */
	bool wait, nowait;
	/* CTL_CANCEL: has_job and job (any integer) or id */
	bool has_job;
	int64_t job;
	/* CTL_ERROR */
	const char *err_class;		/* a SPEC error class */
	char detail[256];
	struct json_doc doc;		/* what the pointers above point into
					 * (besides the line itself) */
};

/* Parse the n bytes at line (one request, without its newline). Returns
 * rq->op; every pointer in rq points into line or rq->doc, so both must
 * outlive their use. Free with control_req_fini() whatever the answer. */
enum control_op control_req_parse(struct control_req *rq, const char *line,
				  size_t n);

void control_req_fini(struct control_req *rq);

#endif
