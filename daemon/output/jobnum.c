/* The job-number mark of an output directory. The mark file is the cheap
 * path: one number, written when a run ends. A run that did not end leaves
 * results.jsonl newer than the mark; then the records themselves are the
 * truth, read once, streaming, at start. Rotated files hold older, lower
 * numbers, so only the live file is read, and the newest rotated one when
 * the live file is empty. */
#include "output/jobnum.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARK ".jobnum"
#define SCAN_BUF (1 << 20)

/* The "job" of one record line; 0 when it has none. A record's top-level
 * "job" key is the only place the text "job": appears unescaped: inside
 * strings the quotes are escaped. */
static uint64_t line_job(const char *p, size_t n)
{
	static const char key[] = "\"job\":";
	const char *k = memmem(p, n, key, sizeof(key) - 1);
	uint64_t v = 0;

	if (!k)
		return 0;
	for (k += sizeof(key) - 1; k < p + n && *k >= '0' && *k <= '9'; k++)
		v = v * 10 + (uint64_t)(*k - '0');
	return v;
}

/* The highest job of the records in path; *records counts them. */
static uint64_t scan_file(const char *path, uint64_t *records)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t len = 0;
	uint64_t max = 0;
	bool skip = false; /* inside a line longer than the buffer */
	ssize_t n;

	*records = 0;
	if (fd < 0)
		return 0;
	buf = malloc(SCAN_BUF);
	if (!buf) {
		close(fd);
		return 0;
	}
	while ((n = read(fd, buf + len, SCAN_BUF - len)) > 0) {
		size_t end = len + (size_t)n, pos = 0;
		char *nl;

		while ((nl = memchr(buf + pos, '\n', end - pos))) {
			size_t ln = (size_t)(nl - (buf + pos));
			uint64_t v = skip ? 0 : line_job(buf + pos, ln);

			if (v) {
				(*records)++;
				if (v > max)
					max = v;
			}
			skip = false;
			pos += ln + 1;
		}
		len = end - pos;
		memmove(buf, buf + pos, len);
		if (len == SCAN_BUF) {
			/* a line this long is no record of ours: skip it */
			len = 0;
			skip = true;
		}
	}
	free(buf);
	close(fd);
	return max;
}

/* DIR/results-STAMP.jsonl with the greatest stamp (names sort by time),
 * into out; false when there is none. */
static bool newest_rotated(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[256] = "";

	if (!d)
		return false;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (strncmp(e->d_name, "results-", 8) != 0 || n < 14 ||
		    strcmp(e->d_name + n - 6, ".jsonl") != 0 ||
		    n >= sizeof(best))
			continue;
		if (strcmp(e->d_name, best) > 0)
			memcpy(best, e->d_name, n + 1);
	}
	closedir(d);
	if (!best[0])
		return false;
	snprintf(out, len, "%s/%s", dir, best);
	return true;
}

static bool newer(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec != b->st_mtim.tv_sec
		   ? a->st_mtim.tv_sec > b->st_mtim.tv_sec
		   : a->st_mtim.tv_nsec > b->st_mtim.tv_nsec;
}

uint64_t jobnum_load(const char *dir)
{
	char path[4096];
	struct stat mark_st, log_st;
	bool have_mark, have_log;
	uint64_t mark = 0, max, records;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" MARK, dir);
	have_mark = stat(path, &mark_st) == 0;
	f = have_mark ? fopen(path, "re") : NULL;
	if (f) {
		if (fscanf(f, "%" SCNu64, &mark) != 1)
			mark = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	have_log = stat(path, &log_st) == 0;
	if (have_mark && mark && (!have_log || !newer(&log_st, &mark_st)))
		return mark;
	records = 0;
	max = have_log ? scan_file(path, &records) : 0;
	if (!records && newest_rotated(dir, path, sizeof(path)))
		max = scan_file(path, &records);
	return max > mark ? max : mark;
}

int jobnum_save(const char *dir, uint64_t last)
{
	char path[4096], tmp[4200];
	int fd, rc = 0;
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", last);

	snprintf(path, sizeof(path), "%s/" MARK, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}
