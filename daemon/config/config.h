/* struct config: every knob of SPEC's configuration table, with its default,
 * loaded from YAML and overridden from the command line. Other modules read
 * it; it drives nothing. Durations are milliseconds, sizes bytes. */
#ifndef RF_CONFIG_H
#define RF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/log.h"

#define CONFIG_MAX_STATUSES 32

struct config_header {
	char *name;			/* owned, never NULL */
	char *value;			/* owned, never NULL */
};

struct config_strv {
	char **v;			/* owned array of owned strings */
	size_t n;
};

enum config_compress { COMPRESS_NONE = 0, COMPRESS_GZIP, COMPRESS_ZSTD };
enum config_bodies { BODIES_NONE = 0, BODIES_FILES, BODIES_WARC };
enum config_hash { HASH_SHA256 = 0, HASH_NONE };
enum config_sync { SYNC_BATCH = 0, SYNC_NONE };

struct config {
	struct {
		char *socket;			/* owned path */
		unsigned socket_mode;		/* e.g. 0660 */
		uint64_t shutdown_grace_ms;
		uint32_t max_clients;		/* control clients at once, >= 1 */
		char *state_dir;		/* owned; "" = $STATE_DIRECTORY or /var/lib/ringfetch */
	} daemon;
	struct {
		uint32_t capacity;		/* >= 1 */
		char *spill_file;		/* owned; "" = in the state dir */
		int journal;			/* -1 = default (on in daemon mode), 0, 1 */
		double host_share;		/* 0..1: of capacity one host may
						 * hold (at least 4 x per_host) */
		uint64_t park_max;		/* bytes a batch crawl may park */
	} queue;
	struct {
		uint32_t concurrency;		/* >= 1 */
		uint32_t per_host;		/* 1..concurrency */
		double per_host_rate;		/* starts/s per host, 0 = unlimited */
		bool adaptive;
		uint32_t workers;		/* 0 = number of CPUs */
	} limits;
	struct {
		uint64_t connect_ms, tls_ms, first_byte_ms, idle_ms;
		uint64_t total_ms;		/* per job, from its first attempt */
	} timeouts;
	struct {
		uint32_t attempts;		/* attempts in all, >= 1 */
		uint64_t backoff_base_ms, backoff_max_ms;
		bool jitter;
		uint16_t statuses[CONFIG_MAX_STATUSES];
		size_t n_statuses;
	} retry;
	struct {
		char *user_agent;		/* owned */
		struct config_header *headers;	/* owned array */
		size_t n_headers;
		uint32_t max_redirects;		/* 0 = do not follow */
		uint64_t max_body;		/* bytes */
		uint64_t keepalive_idle_ms;
		bool decode;			/* Accept-Encoding, decode bodies */
	} http;
	struct {
		bool verify;
		char *ca_file;			/* owned; "" = system bundle */
		bool session_resumption;
	} tls;
	struct {
		struct config_strv servers;	/* "IP" or "IP:port"; empty = resolv.conf */
		uint64_t timeout_ms;
		uint32_t attempts;
		uint64_t cache_min_ttl_ms, cache_max_ttl_ms;
	} dns;
	struct {
		bool obey;
		uint64_t cache_ttl_ms, max_delay_ms;
	} robots;
	struct {
		struct config_strv deny, allow;	/* CIDRs or "private" */
		char *proxy;			/* owned; "" = direct */
		struct config_strv no_proxy;	/* names, .suffixes, CIDRs */
	} network;
	struct {
		char *dir;			/* owned; "" = ./ringfetch-out (batch) or state dir (daemon) */
		uint64_t rotate_size;		/* bytes, 0 = never */
		uint64_t rotate_interval_ms;	/* 0 = off */
		uint32_t rotate_keep;
		enum config_compress compress;
		enum config_bodies bodies;
		enum config_hash hash;		/* sha256 of each body, or none */
		enum config_sync sync;		/* batch: fdatasync, group commit */
		uint64_t sync_interval_ms;	/* longest a record waits for it */
		struct {
			char *url;		/* owned; "" = off */
			char *stream;		/* owned: the results stream */
			uint32_t maxlen;	/* approximate trim, 0 = none */
		} redis;
	} output;
	struct {
		char *listen;			/* owned; "" = off */
		char *textfile;			/* owned; "" = off */
	} metrics;
	struct {
		struct {
			char *url;		/* owned; "" = off */
			char *stream;		/* owned: prefix of PREFIX:0..N-1 */
			uint32_t partitions;	/* N, >= 1 */
			char *group;		/* owned: the consumer group */
			char *consumer;		/* owned; "" = HOSTNAME-PID */
			uint64_t claim_idle_ms;	/* a lease not renewed this
						 * long is taken over */
		} redis;
	} source;
	struct {
		struct config_strv urls;	/* URL files for --batch */
		bool dedupe;			/* fetch each URL once */
		uint64_t dedupe_memory;		/* bytes for its set */
	} batch;
	struct {
		enum log_level level;
	} log;
};

/* Longest source.redis.stream, .group, output.redis.stream: a key is
 * built from one with a suffix on the stack. */
#define CONFIG_RKEY_MAX 200

/* Fill c with SPEC's defaults. Never fails (aborts on out of memory). */
void config_init(struct config *c);

/* Free everything c owns; c may be config_init()ed again afterwards. */
void config_fini(struct config *c);

/* Load a YAML file over c (keys not in the file keep their value), then run
 * config_validate()'s checks, pointing at the line of the key that broke
 * them. Returns 0, or -1 with one line "FILE:LINE:COL: key.path: problem"
 * (or "FILE: cannot read: REASON") in err; c is then unchanged. */
int config_load_file(struct config *c, const char *path, char *err,
		     size_t errlen);

/* As config_load_file(), from len bytes at data (any content; the fuzz
 * target's entry); name stands for the file in messages. */
int config_load_buffer(struct config *c, const char *name, const char *data,
		       size_t len, char *err, size_t errlen);

/* Set one key from a YAML value, as --set KEY=VALUE does ("8", "5s",
 * "[429,503]", "{X-A: b}"); KEY may also name a whole section with a
 * mapping value. Checks the value's type and range, but not how it relates
 * to other keys: that would make the order of several --set matter, so the
 * caller runs config_validate() after the last one. Returns 0, or -1 with
 * "KEY: problem" in err (the caller prefixes "--set ") and c unchanged. */
int config_set(struct config *c, const char *key, const char *yaml_value,
	       char *err, size_t errlen);

/* One KEY=VALUE from the command line (--set, or --per-host and the like
 * by the key they stand for). The daemon keeps them to apply again over a
 * reloaded file: the command line wins on SIGHUP as at start. */
struct config_override {
	const char *opt;	/* as typed: "--set", "--per-host" */
	char *key, *val;
};

/* Every key's range, then cross-key checks (per_host <= concurrency,
 * cache_min_ttl <= cache_max_ttl, backoff_base <= backoff_max), for values
 * set by code or --set. Returns 0, or -1 with "key.path: problem" in err. */
int config_validate(const struct config *c, char *err, size_t errlen);

/* Print every key as YAML, in config/ringfetch.yaml's order, durations and
 * sizes in their shortest exact units; config_load_file() reads it back to
 * an equal struct. http.user_agent is left out while it is the built-in
 * default, which names the version: a saved configuration does not pin
 * the version that saved it. Returns 0 or -EIO when f fails. */
int config_print(const struct config *c, FILE *f);

#endif
