/* The daemon's own log: one line an event on stderr.
 *
 * Any thread may log (worker rings log from conn.c's path). A line is
 * formatted on the caller's stack and leaves in one write(2) of at most
 * 1 KiB, under PIPE_BUF, so lines from several threads never mix, even
 * into a pipe; the lock only orders each line with the before hook. */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/* Recursive: the before hook runs with it held and may take it again
 * (progress_clear() does, when it is the hook). */
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static void (*before_fn)(void *arg);	/* under lock */
static void *before_arg;		/* under lock */

void log_set_before(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&lock);
	before_fn = fn;
	before_arg = arg;
	pthread_mutex_unlock(&lock);
}

void log_set_threshold(enum log_level level)
{
	__atomic_store_n(&log_threshold, level, __ATOMIC_RELAXED);
}

void log_lock(void)
{
	pthread_mutex_lock(&lock);
}

void log_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, m;

	if (level > __atomic_load_n(&log_threshold, __ATOMIC_RELAXED))
		return;
	n = snprintf(line, sizeof(line), "ringfetchd: %s: ", level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* a longer message is cut; its line still ends */
	n = m < 0 ? n : n + m > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 :
	    n + m;
	line[n++] = '\n';
	pthread_mutex_lock(&lock);
	if (before_fn)
		before_fn(before_arg);
	(void)fs_write_all(STDERR_FILENO, line, (size_t)n, NULL);
	pthread_mutex_unlock(&lock);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(*level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}
