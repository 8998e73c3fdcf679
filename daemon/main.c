/* ringfetchd: argv, mode (batch, daemon, check-config), signals, exit codes. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("ringfetchd %s\n", RF_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: ringfetchd [-c FILE] --batch FILE...\n");
	return 2;
}
