/* WARC/1.1 records as gzip members. A member is one deflate stream with
 * the gzip wrapper (zlib's windowBits 15 + 16), reset between records, so
 * concatenated members make a valid .warc.gz that gzip reads whole and a
 * WARC reader can enter at any member's offset. The three records of an
 * exchange are written as one unit: if any write fails the file is cut
 * back to where the unit began, so it never ends in half a record. */
#include "output/warc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "config/config.h"
#include "base/sha256.h"
#include "version.h"	/* generated: RF_VERSION */


#define WARC_IO (64 * 1024)		/* output and spool read buffers */
#define WARC_HEAD_MAX (64 * 1024)	/* one record's header */

struct warc {
	const struct config *cfg;	/* borrowed */
	char *dir;			/* owned */
	int fd;				/* open file, -1 before one */
	char name[64];			/* its name within dir */
	uint64_t size;			/* its length: whole members */
	uint64_t opened_ms;		/* wall clock when it was started */
	unsigned serial;		/* next file's -NNNNN */
	uint64_t rng[2];		/* xorshift128+ for record ids */
	z_stream z;			/* reset per member */
	unsigned char *out;		/* WARC_IO: compressed, unwritten */
	unsigned char *in;		/* WARC_IO spool bytes */
	size_t out_len;
	int err;			/* first failure of the current unit */
	struct buf head;		/* the record header being built */
};

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void warc_digest(const uint8_t d[32], char out[64])
{
	size_t o = 7;
	unsigned acc = 0, bits = 0;

	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	if (bits)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	while ((o - 7) % 8)
		out[o++] = '=';		/* 52 symbols padded to 56 */
	out[o] = '\0';
}

static uint64_t rng_next(struct warc *w)
{
	uint64_t a = w->rng[0], b = w->rng[1];

	w->rng[0] = b;
	a ^= a << 23;
	w->rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return w->rng[1] + b;
}

/* "<urn:uuid:...>", a random (version 4) UUID, RFC 9562. */
static void record_id(struct warc *w, char out[48])
{
	uint64_t hi = rng_next(w), lo = rng_next(w);

	hi = (hi & ~0xf000ULL) | 0x4000ULL;
	lo = (lo & ~(3ULL << 62)) | (2ULL << 62);
	snprintf(out, 48, "<urn:uuid:%08x-%04x-%04x-%04x-%012" PRIx64 ">",
		 (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xffff,
		 (unsigned)hi & 0xffff, (unsigned)(lo >> 48),
		 (uint64_t)(lo & 0xffffffffffffULL));
}

static void warc_date(uint64_t wall_ms, char out[24])
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct warc *warc_new(const struct config *cfg, const char *dir, char *err,
		      size_t errlen)
{
	struct warc *w = calloc(1, sizeof(*w));

	if (!w)
		goto out_nomem;
	w->fd = -1;	/* first: warc_free() undoes a partial warc_new() */
	if (!(w->dir = strdup(dir)) || !(w->out = malloc(WARC_IO)) ||
	    !(w->in = malloc(WARC_IO)))
		goto out_nomem;
	if (deflateInit2(&w->z, 6, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		goto out_nomem;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create directory: %s", dir,
			 strerror(errno));
		goto out_free;
	}
	w->cfg = cfg;
	buf_init(&w->head, WARC_HEAD_MAX);
	if (getrandom(w->rng, sizeof(w->rng), 0) != sizeof(w->rng))
		w->rng[0] = wall_now_ms() ^ (uint64_t)getpid() << 40;
	w->rng[1] |= 1;
	return w;
out_nomem:
	snprintf(err, errlen, "out of memory");
out_free:
	warc_free(w);
	return NULL;
}

void warc_free(struct warc *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	deflateEnd(&w->z);
	buf_fini(&w->head);
	free(w->in);
	free(w->out);
	free(w->dir);
	free(w);
}

/* ---- gzip members ------------------------------------------------------ */

static void out_flush(struct warc *w)
{
	size_t off = 0;

	if (!w->err)
		w->err = fs_write_all(w->fd, w->out, w->out_len, &off);
	w->size += off;
	w->out_len = 0;
}

/* Compress n bytes into the current member; finish ends the member. */
static void member_put(struct warc *w, const void *p, size_t n, bool finish)
{
	int rc;

	w->z.next_in = (Bytef *)p;
	w->z.avail_in = (uInt)n;
	do {
		w->z.next_out = w->out + w->out_len;
		w->z.avail_out = (uInt)(WARC_IO - w->out_len);
		rc = deflate(&w->z, finish ? Z_FINISH : Z_NO_FLUSH);
		w->out_len = WARC_IO - w->z.avail_out;
		if (w->out_len == WARC_IO)
			out_flush(w);
		if (rc == Z_STREAM_ERROR)
			w->err = -EIO;
	} while (!w->err && (w->z.avail_in || (finish && rc != Z_STREAM_END)));
	if (finish) {
		out_flush(w);
		deflateReset(&w->z);
	}
}

/* One record: w->head (ending in the blank line) and a block from memory
 * (mem) or from fd (len bytes from offset 0), then the two CRLFs. */
static void record_put(struct warc *w, const char *mem, int fd, uint64_t len)
{
	uint64_t off = 0;
	ssize_t n;

	member_put(w, w->head.p, w->head.len, false);
	if (mem) {
		member_put(w, mem, (size_t)len, false);
		len = 0;
	}
	while (!w->err && off < len) {
		n = pread(fd, w->in, len - off < WARC_IO ? len - off : WARC_IO,
			  (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->err = n < 0 ? -errno : -EIO;
			break;
		}
		member_put(w, w->in, (size_t)n, false);
		off += (uint64_t)n;
	}
	if (!w->err)
		member_put(w, "\r\n\r\n", 4, true);
	else
		deflateReset(&w->z);
}

/* The header lines every record carries; the caller adds its own and the
 * blank line goes in head_end(). */
static void head_start(struct warc *w, const char *type, const char *id,
		       const char *date)
{
	buf_reset(&w->head);
	buf_printf(&w->head, "WARC/1.1\r\nWARC-Type: %s\r\n"
		   "WARC-Record-ID: %s\r\nWARC-Date: %s\r\n", type, id, date);
}

static void head_end(struct warc *w, const char *ctype, uint64_t len,
		     const uint8_t block_sha[32])
{
	char dg[64];

	warc_digest(block_sha, dg);
	buf_printf(&w->head, "WARC-Block-Digest: %s\r\nContent-Type: %s\r\n"
		   "Content-Length: %" PRIu64 "\r\n\r\n", dg, ctype, len);
}

static void mem_record(struct warc *w, const char *ctype, const char *block,
		       size_t len)
{
	struct sha256 s;
	uint8_t d[32];

	sha256_init(&s);
	sha256_update(&s, block, len);
	sha256_final(&s, d);
	head_end(w, ctype, len, d);
	record_put(w, block, -1, len);
}

/* ---- files ------------------------------------------------------------- */

static void warcinfo(struct warc *w, uint64_t now_ms)
{
	char id[48], date[24], fields[256];
	int n;

	record_id(w, id);
	warc_date(now_ms, date);
	head_start(w, "warcinfo", id, date);
	buf_printf(&w->head, "WARC-Filename: %s\r\n", w->name);
	n = snprintf(fields, sizeof(fields), "software: ringfetch/%s\r\n"
		     "format: WARC File Format 1.1\r\n"
		     "conformsTo: http://iipc.github.io/warc-specifications/"
		     "specifications/warc-format/warc-1.1/\r\n", RF_VERSION);
	mem_record(w, "application/warc-fields", fields, (size_t)n);
}

/* Start DIR/ringfetch-STAMP-NNNNN.warc.gz (O_EXCL: never another's file)
 * with its warcinfo record. Returns 0 or -errno. */
static int file_open(struct warc *w, uint64_t now_ms)
{
	char stamp[20], path[4200];
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int tries = 0; tries < 1000; tries++) {
		snprintf(w->name, sizeof(w->name),
			 "ringfetch-%s-%05u.warc.gz", stamp, w->serial++);
		snprintf(path, sizeof(path), "%s/%s", w->dir, w->name);
		w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
			     O_CLOEXEC, 0644);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0)
		return -errno;
	w->size = 0;
	w->opened_ms = now_ms;
	w->err = 0;
	w->out_len = 0;
	warcinfo(w, now_ms);
	if (w->err) {
		close(w->fd);
		w->fd = -1;
		unlink(path);
		return w->err;
	}
	return 0;
}

static bool file_due(const struct warc *w, uint64_t now_ms)
{
	uint64_t size = w->cfg->output.rotate_size;
	uint64_t every = w->cfg->output.rotate_interval_ms;

	return (size && w->size >= size) ||
	       (every && now_ms - w->opened_ms >= every);
}

/* The response record, whose id the other two point at. */
static void response_record(struct warc *w, const struct warc_exchange *x,
			    const char *id, const char *date)
{
	char dg[64];

	head_start(w, "response", id, date);
	buf_printf(&w->head, "WARC-Target-URI: %s\r\n", x->target_uri);
	if (x->ip[0])
		buf_printf(&w->head, "WARC-IP-Address: %s\r\n", x->ip);
	/* output.hash: none leaves no digest to name */
	if (x->payload_sha256) {
		warc_digest(x->payload_sha256, dg);
		buf_printf(&w->head, "WARC-Payload-Digest: %s\r\n", dg);
	}
	head_end(w, "application/http;msgtype=response", x->resp_len,
		 x->resp_sha256);
	record_put(w, NULL, x->resp_fd, x->resp_len);
}

static void request_record(struct warc *w, const struct warc_exchange *x,
			   const char *resp_id, const char *date)
{
	char id[48];

	record_id(w, id);
	head_start(w, "request", id, date);
	buf_printf(&w->head, "WARC-Target-URI: %s\r\n", x->target_uri);
	if (x->ip[0])
		buf_printf(&w->head, "WARC-IP-Address: %s\r\n", x->ip);
	buf_printf(&w->head, "WARC-Concurrent-To: %s\r\n", resp_id);
	mem_record(w, "application/http;msgtype=request", x->req, x->req_len);
}

static void metadata_record(struct warc *w, const struct warc_exchange *x,
			    const char *resp_id, const char *date)
{
	char id[48], fields[128];
	int n;

	record_id(w, id);
	head_start(w, "metadata", id, date);
	buf_printf(&w->head, "WARC-Target-URI: %s\r\n", x->target_uri);
	buf_printf(&w->head, "WARC-Refers-To: %s\r\n", resp_id);
	n = snprintf(fields, sizeof(fields), "ringfetch-job: %" PRIu64 "\r\n"
		     "fetchTimeMs: %" PRIu64 "\r\n", x->job, x->wall_ms);
	mem_record(w, "application/warc-fields", fields, (size_t)n);
}

int warc_write(struct warc *w, const struct warc_exchange *x, char *where,
	       size_t cap)
{
	char resp_id[48], date[24];
	uint64_t now = wall_now_ms(), start, resp_at;
	int rc;

	if (w->fd >= 0 && file_due(w, now)) {
		close(w->fd);
		w->fd = -1;
	}
	if (w->fd < 0) {
		rc = file_open(w, now);
		if (rc < 0)
			return rc;
	}
	start = w->size;
	w->err = 0;
	record_id(w, resp_id);
	warc_date(x->wall_ms, date);
	request_record(w, x, resp_id, date);
	resp_at = w->size;
	response_record(w, x, resp_id, date);
	metadata_record(w, x, resp_id, date);
	if (w->err) {
		rc = w->err;
		w->out_len = 0;
		if (ftruncate(w->fd, (off_t)start) < 0) {
			/* the tail is unknown now: start a new file */
			close(w->fd);
			w->fd = -1;
		}
		w->size = start;
		return rc;
	}
	snprintf(where, cap, "%s#%" PRIu64, w->name, resp_at);
	return 0;
}
