/* libFuzzer target for what a daemon start reads back: journal and spill
 * lines (spill_parse(), for STATE_DIR/journal.jsonl and the spill file)
 * and the job number of result records (results_line_job(), for the scan
 * of results.jsonl at start and for --resume). The input is split into
 * lines, as journal_read() does, and also given whole.
 *
 *   make fuzz CC=clang       (scripts/fuzz.sh)
 *   build/asan/fuzz_journal fuzz/corpus/journal/...   (replay) */
#include "output/results.h"
#include "output/spill.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *p, size_t n)
{
	struct json_doc doc = { 0 };
	struct spill_entry e;
	uint64_t num;
	char err[160];

	switch (spill_parse(p, n, &doc, &e, &num, err, sizeof(err))) {
	case SPILL_JOB:
		if (!e.num || !e.url || e.url_len > n)
			abort();
		if (e.headers && e.headers->type != JSON_OBJECT)
			abort();
		break;
	case SPILL_DONE:
	case SPILL_NEXT:
		if (!num)
			abort();
		break;
	case SPILL_BAD:
		if (!err[0])
			abort();
		break;
	}
	json_doc_free(&doc);
	if (results_line_job(p, n, &num) && !num)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		one_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	if (p < end)
		one_line(p, (size_t)(end - p));
	one_line((const char *)data, size);
	return 0;
}
