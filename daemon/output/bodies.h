/* Body storage (output.bodies): each response body is spooled to a
 * temporary file as it streams (in files mode, a body under 32 KiB is
 * held in memory instead until its hash is known, and not written at all
 * when that hash is stored already), then on success either renamed to
 * DIR/bodies/ab/cd/SHA256 (files: content-addressed, so a body fetched
 * twice is stored once) or archived with its request into a WARC file
 * (warc.c). On failure the temporary file is removed: nothing half-written
 * stays. Open spool files are bounded; past the bound a sink reopens its
 * file for each piece instead of holding it.
 *
 * Writes are plain write() calls on the loop thread, not ring SQEs: the
 * pieces live in the connection's receive buffer, which the next receive
 * overwrites, so a queued write would need a copy and its own lifetime, and
 * buffered file writes go to io_uring's worker threads anyway.
 *
 * Threads (worker rings): a sink is used by one thread at a time: started,
 * fed and perhaps aborted on the worker running its fetch, committed or
 * aborted on the main thread once the result has crossed to it. The store
 * is shared: its counters are atomic and the rest is read-only after
 * bodies_new(), except what bodies_commit() does (WARC writer, renames),
 * which runs on one thread at a time (the main thread). */
#ifndef RF_BODIES_H
#define RF_BODIES_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct job;
struct bodies;
struct body_sink;

/* The store for output directory dir, in cfg->output.bodies's mode (which
 * must not be BODIES_NONE; later changes of the key are not seen). Clears
 * spool files a crashed run left. cfg is borrowed. Returns owned store
 * (free with bodies_free, after every sink has ended) or NULL with err. */
struct bodies *bodies_new(const struct config *cfg, const char *dir,
			  char *err, size_t errlen);
void bodies_free(struct bodies *b);

/* A sink for the response to the request req (len bytes, copied for WARC).
 * Returns owned sink, to end with bodies_commit() or bodies_abort(); NULL
 * when out of memory (the body is then not stored). Opens no file yet.
 * Contract: worker threads call it under a mutex the caller holds (the
 * spool number is atomic besides, so the names never collide). */
struct body_sink *bodies_start(struct bodies *b, const char *req,
			       size_t len);

/* Whether the sink wants the raw response bytes (WARC: head, body and
 * chunking as received, through bodies_raw) rather than the decoded body
 * (files: through bodies_body, an http_resp on_body callback). */
bool bodies_wants_raw(const struct bodies *b);

/* Append a piece of the decoded body; arg is the struct body_sink. A write
 * error marks the sink failed (logged once per store): it then stores
 * nothing. On the sink's worker, while other sinks commit on the main
 * thread: it touches only s and the store's atomic counters. */
void bodies_body(void *arg, const char *p, size_t n);

/* Append raw response bytes, as bodies_body(). */
void bodies_raw(struct body_sink *s, const char *p, size_t n);

/* The response for j completed (j->sha256, url, ip set): store it, set
 * j->body_path (relative to the output directory; NULL when storing
 * failed) and free s. Returns 0, or -EMFILE when a spool, body or WARC
 * file could not be opened for want of a descriptor (EMFILE, ENFILE): a
 * local shortage, and the caller should fetch again rather than record a
 * job without its body. */
int bodies_commit(struct body_sink *s, struct job *j);

/* The response failed: remove the spool file, free s. Harmless on NULL. */
void bodies_abort(struct body_sink *s);

/* The functions above as sched's body hooks (engine/ does not include
 * output/): set sched.body_ops to this when setting sched.bodies. */
extern const struct sched_body_ops bodies_sched_ops;

#endif
