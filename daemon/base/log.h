/* The daemon's own log: one line an event on stderr, key=value context. */
#ifndef RF_LOG_H
#define RF_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Events above it are dropped. Read from any thread (atomically);
 * change it with log_set_threshold() once threads other than the main
 * one may log. */
extern enum log_level log_threshold;

/* Set log_threshold; safe while other threads log. */
void log_set_threshold(enum log_level level);

/* Print "ringfetchd: LEVEL: message\n" to stderr when level <= threshold,
 * in one write(2) (at most 1 KiB; a longer message is cut). Any thread. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { \
		if (__atomic_load_n(&log_threshold, __ATOMIC_RELAXED) >= \
		    LOG_DEBUG) \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/* Call fn(arg) before each line is written (NULL: nothing), so a status
 * line redrawn on the terminal (progress.c) can step aside and every event
 * still stands on a line of its own. fn runs on the logging thread, under
 * the log's lock (see log_lock()). */
void log_set_before(void (*fn)(void *arg), void *arg);

/* Hold the log: no line is written (and no before hook runs) until
 * log_unlock(). For a writer of its own to stderr whose state the before
 * hook touches (progress.c). Recursive, so the hook may take it too. */
void log_lock(void);
void log_unlock(void);

/* Parse "error", "warn", "info", "debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

#endif
