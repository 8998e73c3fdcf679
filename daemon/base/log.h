/* The daemon's own log: one line an event on stderr, key=value context. */
#ifndef RF_LOG_H
#define RF_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;	/* events above it are dropped */

/* Print "ringfetchd: LEVEL: message\n" to stderr when level <= threshold. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* Call fn(arg) before each line is written (NULL: nothing), so a status
 * line redrawn on the terminal (progress.c) can step aside and every event
 * still stands on a line of its own. */
void log_set_before(void (*fn)(void *arg), void *arg);

/* Parse "error", "warn", "info", "debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

#endif
