/* WARC/1.1 writer (ISO 28500:2017): each fetched exchange becomes a
 * request, a response and a metadata record in DIR/warc/, every record a
 * gzip member of its own so a reader can seek to any record's offset. The
 * files rotate by output.rotate_size and output.rotate_interval and are
 * never deleted (they are the archive). Synchronous: called by bodies.c
 * once a response is complete, with the raw response spooled to a file. */
#ifndef RF_WARC_H
#define RF_WARC_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct warc;

/* One request/response exchange to archive; everything is borrowed. */
struct warc_exchange {
	const char *target_uri;		/* the URL fetched (this hop) */
	const char *ip;			/* peer address, "" if unknown */
	uint64_t wall_ms;		/* when the response completed */
	uint64_t job;			/* job number, for the metadata */
	const char *req;		/* the request bytes as sent */
	size_t req_len;
	int resp_fd;			/* raw response, from offset 0 */
	uint64_t resp_len;		/* its length in bytes */
	const uint8_t *resp_sha256;	/* digest of those bytes */
	const uint8_t *payload_sha256;	/* digest of the decoded body; NULL
					 * with output.hash: none */
};

/* A writer for dir (created if needed; its files start when the first
 * exchange comes). cfg is borrowed and read at each rotation check.
 * Returns owned writer (free with warc_free) or NULL with err set. */
struct warc *warc_new(const struct config *cfg, const char *dir, char *err,
		      size_t errlen);

/* Close the open file. Harmless on NULL. */
void warc_free(struct warc *w);

/* Append x's three records. Returns 0 with "NAME#OFFSET" of the response
 * record in where (NAME relative to dir), or -errno: then nothing of x is
 * left in the file (a partial write is cut back off). */
int warc_write(struct warc *w, const struct warc_exchange *x, char *where,
	       size_t cap);

/* "sha256:" and the RFC 4648 base32 of d, into out[64]. */
void warc_digest(const uint8_t d[32], char out[64]);

#endif
