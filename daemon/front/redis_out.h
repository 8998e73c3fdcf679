/* output.redis: every result record also XADDed (field "record") to a
 * Redis stream, trimmed approximately to output.redis.maxlen, over one
 * connection on the loop. The result files stay the source of truth:
 * while Redis cannot be reached, records wait in a bounded buffer
 * (REDIS_OUT_BUFFER_MAX bytes) and those beyond it are not published,
 * only counted. In daemon and batch mode alike. */
#ifndef RF_REDIS_OUT_H
#define RF_REDIS_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define REDIS_OUT_BUFFER_MAX (16u << 20)

struct loop;
struct config;
struct redis_out;

/* Connect (in the background) to cfg's output.redis.url. Returns an owned
 * object, or NULL with a sentence in err (bad URL, out of memory). */
struct redis_out *redis_out_new(struct loop *l, const struct config *cfg,
				char *err, size_t errlen);

/* Publish one record: n bytes at rec, its newline included. */
void redis_out_record(struct redis_out *o, const char *rec, size_t n);

/* Whether every record handed over was answered, or cannot be sent now
 * (Redis down): what the end of a run waits for. */
bool redis_out_idle(const struct redis_out *o);

/* Append ringfetch_redis_results_* metrics to b. */
int redis_out_metrics(const void *o, struct buf *b);

/* Log what was not published, close, free (NULL is harmless); the loop
 * must turn until redis_draining() is 0 before it goes. */
void redis_out_free(struct redis_out *o);

#endif
