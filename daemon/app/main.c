/* ringfetchd: argv, mode (daemon, batch, check-config, print-config), exit
 * codes: 0 every job ok, 1 some failed, 2 usage or configuration, 3 fatal,
 * 128 + signal number for an interrupted crawl. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config/config.h"
#include "app/crawl.h"
#include "app/daemon.h"
#include "base/log.h"
#include "net/tls.h"
#include "version.h"	/* generated: RF_VERSION, RF_COMMIT */

struct opts {
	const char *config_file;
	bool batch, check_config, print_config;
	struct crawl_opts crawl;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ringfetchd [-c FILE] [options]                    run as a daemon\n"
"       ringfetchd [-c FILE] [options] --batch FILE...   batch crawl\n"
"       ringfetchd [-c FILE] --check-config | --print-config\n"
"       ringfetchd --version | --help\n"
"\n"
"  -c, --config FILE        YAML configuration (default: built-in defaults)\n"
"      --batch              fetch every URL in the FILEs, one a line ('-' is\n"
"                           stdin; none: batch.urls), then exit\n"
"      --check-config       validate the configuration and exit 0 or 2\n"
"      --print-config       print the effective configuration as YAML\n"
"      --concurrency N      requests in flight in all (limits.concurrency)\n"
"      --per-host N         requests in flight per host (limits.per_host)\n"
"      --out DIR            where results.jsonl goes (output.dir)\n"
"      --timeout DURATION   per job, e.g. 30s (timeouts.total)\n"
"      --set KEY=VALUE      set any configuration key, VALUE is YAML\n"
"                           (--set retry.statuses=[429,503]); repeatable\n"
"      --summary-json FILE  also write the end-of-crawl summary as JSON\n"
"      --resume             continue the crawl of the same FILEs into the\n"
"                           same --out: lines with a record are skipped\n"
"  -q, --quiet              no progress line and no summary on stderr\n"
"      --version            print the version and exit\n"
"  -h, --help               print this help and exit\n"
"\n"
"Options override the configuration file whatever their order. A progress\n"
"line is drawn on stderr when it is a terminal.\n"
"\n"
"Exit status: 0 every job ok, 1 some jobs failed, 2 usage or configuration\n"
"error (nothing fetched), 3 fatal runtime error, 130/143 interrupted by\n"
"SIGINT/SIGTERM.\n");
}

/* What the command line set, in order, for the daemon's reloads; reachable
 * until exit. */
static struct config_override *g_ov;
static size_t g_n_ov;

static void remember(const char *opt, const char *key, const char *val)
{
	struct config_override *ov = realloc(g_ov, (g_n_ov + 1) * sizeof(*ov));

	if (!ov)
		return;		/* a reload then keeps only the file's value */
	g_ov = ov;
	ov[g_n_ov].opt = opt;
	ov[g_n_ov].key = strdup(key);
	ov[g_n_ov].val = strdup(val);
	if (ov[g_n_ov].key && ov[g_n_ov].val)
		g_n_ov++;
	else
		free(ov[g_n_ov].key), free(ov[g_n_ov].val);
}

/* Apply one override; an error names the option as the user typed it. */
static int override(struct config *c, const char *opt, const char *key,
		    const char *val)
{
	char err[512];

	if (config_set(c, key, val, err, sizeof(err)) == 0) {
		remember(opt, key, val);
		return 0;
	}
	/* err starts with the key: "--set KEY: problem" reads as typed. */
	if (strcmp(opt, "--set") == 0)
		fprintf(stderr, "ringfetchd: --set %s\n", err);
	else
		fprintf(stderr, "ringfetchd: %s %s: %s\n", opt, val, err);
	return -1;
}

static int parse_set(struct config *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[128];

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
		fprintf(stderr, "ringfetchd: --set %s: expected KEY=VALUE\n", arg);
		return -1;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	return override(c, "--set", key, eq + 1);
}

enum { OPT_BATCH = 256, OPT_CHECK, OPT_PRINT, OPT_CONC, OPT_PERHOST, OPT_OUT,
       OPT_TIMEOUT, OPT_SET, OPT_SUMMARY, OPT_VERSION, OPT_RESUME };

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "print-config", no_argument, NULL, OPT_PRINT },
	{ "concurrency", required_argument, NULL, OPT_CONC },
	{ "per-host", required_argument, NULL, OPT_PERHOST },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "set", required_argument, NULL, OPT_SET },
	{ "summary-json", required_argument, NULL, OPT_SUMMARY },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The config file is loaded first, so overrides win whatever their order
 * on the command line: this pass only finds -c. */
static const char *find_config(int argc, char **argv)
{
	const char *file = NULL;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:qh", long_opts, NULL)) != -1)
		if (ch == 'c')
			file = optarg;
	optind = 0;	/* 0, not 1: glibc then starts afresh */
	opterr = 1;
	return file;
}

/* Options that stand for one config key each. */
static const struct shorthand {
	int opt;
	const char *flag, *key;
} shorthands[] = {
	{ OPT_CONC, "--concurrency", "limits.concurrency" },
	{ OPT_PERHOST, "--per-host", "limits.per_host" },
	{ OPT_OUT, "--out", "output.dir" },
	{ OPT_TIMEOUT, "--timeout", "timeouts.total" },
};

static const struct shorthand *shorthand_find(int opt)
{
	for (size_t i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
		if (shorthands[i].opt == opt)
			return &shorthands[i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct config *c, struct opts *o)
{
	const struct shorthand *sh;
	int ch, bad = 0;

	while ((ch = getopt_long(argc, argv, "c:qh", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': break;
		case OPT_BATCH: o->batch = true; break;
		case OPT_CHECK: o->check_config = true; break;
		case OPT_PRINT: o->print_config = true; break;
		case OPT_SET: bad |= parse_set(c, optarg); break;
		case OPT_SUMMARY: o->crawl.summary_json = optarg; break;
		case OPT_RESUME: o->crawl.resume = true; break;
		case 'q': o->crawl.quiet = true; break;
		case OPT_VERSION:
			printf("ringfetchd %s (%s)\n", RF_VERSION, RF_COMMIT);
			exit(EXIT_ALL_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_ALL_OK);
		default:
			sh = shorthand_find(ch);
			if (sh) {
				bad |= override(c, sh->flag, sh->key, optarg);
				break;
			}
			/* getopt has named the option already */
			fprintf(stderr, "Try 'ringfetchd --help'.\n");
			return -1;
		}
	}
	o->crawl.files = argv + optind;
	o->crawl.n_files = (size_t)(argc - optind);
	return bad ? -1 : 0;
}

static int load_config(struct config *c, struct opts *o, int argc, char **argv)
{
	char err[512];

	o->config_file = find_config(argc, argv);
	if (o->config_file &&
	    config_load_file(c, o->config_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (parse_args(argc, argv, c, o) < 0)
		return -1;
	if (config_validate(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfetchd: %s\n", err);
		return -1;
	}
	log_set_threshold(c->log.level);
	return 0;
}

/* A bad tls.ca_file is a configuration error: say so before anything
 * starts rather than fail every https job with tls_verify. */
static int tls_startup(const struct config *c)
{
	char err[512];

	if (tls_global_init(c, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "ringfetchd: tls: %s\n", err);
	return -1;
}

/* Every request holds a socket: take every descriptor the hard limit
 * allows (the soft default of 1024 is a shell's, not a crawler's). What
 * is still short shows as a lower concurrency (sched.c), never as failed
 * jobs. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the descriptor limit to %llu: %s",
			 (unsigned long long)rl.rlim_max, strerror(errno));
}

int main(int argc, char **argv)
{
	struct config c;
	struct opts o = { 0 };
	int rc;

	config_init(&c);
	if (load_config(&c, &o, argc, argv) < 0) {
		config_fini(&c);
		return EXIT_USAGE;
	}
	if (o.print_config) {
		config_print(&c, stdout);
		rc = EXIT_ALL_OK;
	} else if (tls_startup(&c) < 0) {
		rc = EXIT_USAGE;
	} else if (o.check_config) {
		rc = EXIT_ALL_OK;
	} else if (o.batch) {
		raise_nofile();
		rc = crawl_run(&c, &o.crawl);
	} else if (o.crawl.n_files || o.crawl.resume) {
		fprintf(stderr, "ringfetchd: %s needs --batch\n",
			o.crawl.resume ? "--resume" : "URL files");
		rc = EXIT_USAGE;
	} else {
		raise_nofile();
		rc = daemon_run(&c, o.config_file, g_ov, g_n_ov);
	}
	config_fini(&c);
	return rc;
}
