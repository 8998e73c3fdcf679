/* Replay driver: without libFuzzer (gcc, make check), run a fuzz target's
 * LLVMFuzzerTestOneInput() once per file named on the command line, so the
 * seed corpus is exercised under ASan/UBSan on every check. Prints TAP. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		/* exactly n bytes, so ASan sees any read past the input */
		p = malloc(n ? (size_t)n : 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return p;
}

int main(int argc, char **argv)
{
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		size_t len = 0;
		unsigned char *data = slurp(argv[i], &len);

		if (!data) {
			printf("not ok %d - %s (unreadable)\n", i, argv[i]);
			failed = 1;
			continue;
		}
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		printf("ok %d - %s\n", i, argv[i]);
	}
	printf("1..%d\n", argc - 1);
	return failed;
}
