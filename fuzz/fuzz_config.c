/* libFuzzer target: a config file from memory. Beyond "no crash, no leak",
 * it checks two promises: every error is one line, and whatever loads
 * prints back to YAML that loads to the same configuration.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Idaemon -D_GNU_SOURCE \
 *     fuzz/fuzz_config.c daemon/config*.c daemon/units.c -lyaml \
 *     -o build/fuzz_config && build/fuzz_config fuzz/corpus/config
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* config_print() into an owned string. */
static char *print_str(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f || config_print(c, f) != 0)
		abort();
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c, again;
	char err[512];
	char *first, *second;

	config_init(&c);
	if (config_load_buffer(&c, "fuzz", (const char *)data, size, err,
			       sizeof(err)) != 0) {
		if (strchr(err, '\n') || strncmp(err, "fuzz:", 5) != 0)
			abort();
		config_fini(&c);
		return 0;
	}
	first = print_str(&c);
	config_init(&again);
	if (config_load_buffer(&again, "print", first, strlen(first), err,
			       sizeof(err)) != 0) {
		fprintf(stderr, "reload failed: %s\n%s", err, first);
		abort();
	}
	second = print_str(&again);
	if (strcmp(first, second) != 0) {
		fprintf(stderr, "round trip differs:\n%s---\n%s", first,
			second);
		abort();
	}
	free(first);
	free(second);
	config_fini(&again);
	config_fini(&c);
	return 0;
}
