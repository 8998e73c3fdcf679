/* libFuzzer target for control_req.c: one control-protocol request line
 * turned into an operation, as control.c does for every line a client
 * sends. Checks what control.c relies on: an error names a class and a
 * detail, a submit's url lies inside the input or the parsed document, a
 * headers member is an object of strings.
 *
 *   make fuzz CC=clang       (scripts/fuzz.sh)
 *   build/asan/fuzz_control fuzz/corpus/control/...   (replay) */
#include "front/control_req.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_req rq;
	const char *p = (const char *)data;

	switch (control_req_parse(&rq, p, size)) {
	case CTL_ERROR:
		if (!rq.err_class || !rq.detail[0])
			abort();
		break;
	case CTL_SUBMIT:
		if (!rq.url || rq.url_len > size)
			abort();
		if (rq.headers && rq.headers->type != JSON_OBJECT)
			abort();
		if (rq.id && strlen(rq.id) > size)
			abort();
		break;
	case CTL_CANCEL:
		if (!rq.has_job && !rq.id)
			abort();
		break;
	case CTL_BLANK:
	case CTL_STATUS:
	case CTL_WATCH:
		break;
	}
	control_req_fini(&rq);
	return 0;
}
