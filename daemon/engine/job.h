/* One job: a URL on its way to exactly one result record. Owned by sched.c
 * from acceptance to sched_finish(); the fields below the line describe the
 * latest attempt and become the record. */
#ifndef RF_JOB_H
#define RF_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/list.h"
#include "event/timer.h"
#include "http/url.h"

struct host;
struct conn;
struct sched;
struct client;
struct config_header;
struct robots_fetch;

enum job_state {
	JS_QUEUED = 0,	/* in its host's queue, holding no slot */
	JS_RUNNING,	/* an attempt holds a slot (and a conn) */
	JS_BACKOFF,	/* waiting on timer to retry, holding nothing */
};

struct job {
	uint64_t num;		/* the daemon's job number, from 1 */
	char *id;		/* owned submitter id, or NULL */
	char *url_text;		/* owned: as submitted, NUL-terminated */
	size_t url_len;		/* its length (it may hold a NUL) */
	struct url url;		/* current target; changes on redirect */
	enum job_state state;
	struct host *host;	/* host of url, counted reference */
	struct list_node qnode;	/* in host.queue while JS_QUEUED */
	struct conn *conn;	/* while JS_RUNNING and attached */
	struct timer timer;	/* backoff wait */
	uint32_t attempts;	/* attempts on the current URL */
	uint32_t redirects;
	bool retry_free;	/* next attempt is a stale-pool retry, not counted */
	bool free_retry_used;	/* at most one such retry per job */
	bool local_shortage;	/* the last attempt found no descriptor */
	bool tls_probe;		/* this attempt fetches its host's TLS
				 * session (host_probe_start) */
	struct robots_fetch *robots; /* an internal job fetching a host's
				 * robots.txt (robots_gate.c): no record,
				 * not counted, not in sched.all; else NULL */
	struct sched *sched;	/* owner, for the backoff timer */
	struct list_node all_node; /* in sched.all while live, which daemon.c
				   * walks to cancel and spill */
	uint64_t t_accept_ms;	/* monotonic: accepted */
	uint64_t t_first_ms;	/* first attempt started, 0 before */
	uint64_t deadline_ms;	/* t_first_ms + timeouts.total */
	uint64_t retry_after_ms;/* from the last response, 0 if none */

	/* ---- daemon mode (daemon.c, control.c); zero in batch mode ---- */
	struct config_header *headers;	/* owned: the submitter's request
					 * headers (sched_job_header), freed
					 * with the job; or NULL */
	size_t n_headers;
	bool conditional;	/* sends validators: a 304 is its success */
	uint64_t duplicate_of;	/* batch.dedupe: the job fetching this URL */
	struct client *waiter;	/* control.c client owed the record, or NULL */
	bool journaled;		/* its accept line is in the journal: it owes
				 * a done mark once its record is durable */
	char *source;		/* owned "STREAM/ENTRY-ID" of a job taken from
				 * Redis (the record's source), or NULL */
	uint64_t origin;	/* its producer's tag (fleet.c: partition and
				 * lease epoch), 0 for none */

	/* ---- latest attempt ---- */
	enum rf_err err;
	char detail[192];
	int status;		/* 0 = no response */
	uint64_t bytes;
	uint64_t wire_bytes;	/* as received, content coding kept */
	char content_type[128];
	char content_encoding[24]; /* "" when none */
	char etag[128];		/* the response's validators, "" when none */
	char last_modified[40];
	char sha256[65];	/* "" when no body was hashed */
	char ip[48];		/* peer address, "" when none */
	uint64_t t_attempt_ms;	/* this attempt started */
	uint32_t ms_dns, ms_connect, ms_tls, ms_ttfb, ms_total;
	bool tls_used;		/* a TLS handshake completed on the conn */
	bool tls_resumed;	/* that handshake resumed a cached session */
	/* A queued job carries all of these, so each byte here is paid
	 * queue.capacity times: what is usually absent or static is a
	 * pointer. */
	const char *tls_version; /* "TLSv1.3" (wolfSSL's static string);
				  * NULL unless tls_used */
	const char *tls_cipher;	/* IANA name, static; NULL unless tls_used */
	char *body_path;	/* owned: the stored body, relative to
				 * output.dir ("bodies/ab/cd/SHA256" or
				 * "warc/FILE#OFFSET"); NULL when none */
};

#endif
