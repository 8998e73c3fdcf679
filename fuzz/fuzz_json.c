/* libFuzzer target for json.c: the parser must never misbehave on any
 * input, what it accepts must survive a write/parse round trip unchanged,
 * and the string writer must turn any bytes into a string it parses back.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Idaemon -o fuzz_json \
 *     fuzz/fuzz_json.c daemon/json.c daemon/buf.c
 *   ./fuzz_json fuzz/corpus/json
 *
 * Without libFuzzer (replaying the seeds under gcc and ASan), add
 * -DFUZZ_REPLAY_MAIN and pass the seed files as arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void write_val(struct buf *b, const struct json_val *v)
{
	const struct json_val *c;

	switch (v->type) {
	case JSON_NULL:
		json_put_null(b);
		break;
	case JSON_BOOL:
		json_put_bool(b, v->b);
		break;
	case JSON_NUMBER:
		if (v->is_int)
			json_put_i64(b, v->i);
		else
			json_put_double(b, v->num);
		break;
	case JSON_STRING:
		json_put_strn(b, v->str, v->len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		buf_putc(b, v->type == JSON_ARRAY ? '[' : '{');
		for (c = json_first(v); c; c = json_next(c)) {
			if (c != v->child)
				buf_putc(b, ',');
			if (c->key) {
				json_put_strn(b, c->key, c->key_len);
				buf_putc(b, ':');
			}
			write_val(b, c);
		}
		buf_putc(b, v->type == JSON_ARRAY ? ']' : '}');
		break;
	}
}

static void round_trip(const struct json_val *root)
{
	struct buf one, two;
	struct json_doc doc;
	char err[128];

	buf_init(&one, 16u << 20);
	buf_init(&two, 16u << 20);
	write_val(&one, root);
	if (json_parse(one.p, one.len, &doc, err, sizeof(err))) {
		fprintf(stderr, "rewritten document fails: %s\n", err);
		abort();
	}
	write_val(&two, doc.root);
	if (one.len != two.len || memcmp(one.p, two.p, one.len))
		abort();
	json_doc_free(&doc);
	buf_fini(&one);
	buf_fini(&two);
}

static void check_writer(const unsigned char *data, size_t size)
{
	struct json_doc doc;
	struct buf b;

	buf_init(&b, 16u << 20);
	if (json_put_strn(&b, (const char *)data, size))
		abort();
	if (json_parse(b.p, b.len, &doc, NULL, 0) ||
	    doc.root->type != JSON_STRING || doc.root->len > 3 * size)
		abort();
	json_doc_free(&doc);
	buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct json_doc doc;
	char err[128];

	if (json_parse((const char *)data, size, &doc, err, sizeof(err)) == 0) {
		round_trip(doc.root);
		json_get(doc.root, "op");
		json_doc_free(&doc);
	} else if (strncmp(err, "invalid JSON at byte ", 21) &&
		   strncmp(err, "JSON document too large", 23)) {
		abort();
	}
	if (size <= 4096)
		check_writer(data, size);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
int main(int argc, char **argv)
{
	static unsigned char data[1 << 20];
	int i;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(data, 1, sizeof(data), f);
		fclose(f);
		LLVMFuzzerTestOneInput(data, n);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
#endif
