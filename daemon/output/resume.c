/* The crawl manifest and the scan behind --resume. The manifest is one
 * JSON line, replaced whole (tmp, fsync, rename):
 *   {"first":F,"lines":N|null,"files":[{"path":..,"size":..,"mtime_ns":..}]}
 * "lines" is null until the crawl has read every line; the next crawl then
 * starts after F + lines, or after F + the files' total size (a line holds
 * at least one byte) when the crawl never got that far. */
#include "output/resume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/json.h"
#include "base/log.h"
#include "output/results.h"

#define SCAN_CHUNK (256 * 1024)

/* ---- reading result files, plain or compressed ------------------------- */

struct lines {
	void (*fn)(void *arg, const char *line, size_t n);
	void *arg;
	struct buf b;			/* a partial line carried over */
};

static int lines_feed(struct lines *l, const char *p, size_t n)
{
	const char *nl, *end = p + n;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		if (l->b.len) {
			if (buf_append(&l->b, p, (size_t)(nl - p)) < 0)
				return -ENOMEM;
			l->fn(l->arg, l->b.p, l->b.len);
			buf_reset(&l->b);
		} else {
			l->fn(l->arg, p, (size_t)(nl - p));
		}
		p = nl + 1;
	}
	if (p < end && buf_append(&l->b, p, (size_t)(end - p)) < 0)
		return -ENOMEM;
	return 0;
}

static int scan_plain(const char *path, struct lines *l, char *in)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while ((r = read(fd, in, SCAN_CHUNK)) > 0)
		if ((rc = lines_feed(l, in, (size_t)r)) < 0)
			break;
	if (r < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int scan_gz(const char *path, struct lines *l, char *in)
{
	gzFile g = gzopen(path, "rb");
	int r, rc = 0;

	if (!g)
		return errno ? -errno : -ENOMEM;
	while ((r = gzread(g, in, SCAN_CHUNK)) > 0)
		if ((rc = lines_feed(l, in, (size_t)r)) < 0)
			break;
	if (r < 0)
		rc = -EIO;
	gzclose(g);
	return rc;
}

static int scan_zst(const char *path, struct lines *l, char *in)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t outcap = ZSTD_DStreamOutSize();
	char *out = malloc(outcap);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t r = 0;

	if (!dc || !out || fd < 0) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out_free;
	}
	while (rc == 0 && (r = read(fd, in, SCAN_CHUNK)) > 0) {
		ZSTD_inBuffer zi = { in, (size_t)r, 0 };

		while (rc == 0 && zi.pos < zi.size) {
			ZSTD_outBuffer zo = { out, outcap, 0 };
			size_t z = ZSTD_decompressStream(dc, &zo, &zi);

			if (ZSTD_isError(z))
				rc = -EIO;
			else
				rc = lines_feed(l, out, zo.pos);
		}
	}
	if (r < 0)
		rc = -errno;
out_free:
	if (fd >= 0)
		close(fd);
	free(out);
	ZSTD_freeDCtx(dc);
	return rc;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && strcmp(s + a - b, tail) == 0;
}

static int scan_one(const char *dir, const char *name, struct lines *l,
		    char *in, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf_reset(&l->b);
	if (ends_with(name, ".gz"))
		rc = scan_gz(path, l, in);
	else if (ends_with(name, ".zst"))
		rc = scan_zst(path, l, in);
	else
		rc = scan_plain(path, l, in);
	/* what is left in l->b had no newline: a torn record, not one */
	if (rc < 0)
		snprintf(err, errlen, "%s: cannot be read back: %s", path,
			 strerror(-rc));
	return rc;
}

int results_scan_dir(const char *dir,
		     void (*fn)(void *arg, const char *line, size_t n),
		     void *arg, char *err, size_t errlen)
{
	struct lines l = { .fn = fn, .arg = arg };
	DIR *d = opendir(dir);
	char *in = malloc(SCAN_CHUNK);
	struct dirent *de;
	int rc = 0;

	buf_init(&l.b, SIZE_MAX / 2);
	if (!d || !in) {
		rc = !d ? -errno : -ENOMEM;
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		goto out;
	}
	while (rc == 0 && (de = readdir(d))) {
		const char *n = de->d_name;

		if (strncmp(n, "results-", 8) || !(ends_with(n, ".jsonl") ||
		    ends_with(n, ".jsonl.gz") || ends_with(n, ".jsonl.zst")))
			continue;
		rc = scan_one(dir, n, &l, in, err, errlen);
	}
	if (rc == 0)
		rc = scan_one(dir, "results.jsonl", &l, in, err, errlen);
out:
	if (d)
		closedir(d);
	free(in);
	buf_fini(&l.b);
	return rc;
}

/* ---- the manifest ------------------------------------------------------ */

struct manifest {
	uint64_t first;
	int64_t lines;			/* -1: not known */
	struct buf files;		/* the "files" array, as JSON */
	uint64_t bytes;			/* their total size */
};

/* The files as the manifest describes them. stdin cannot be resumed. */
static int describe(char **files, size_t n, struct manifest *m, bool resume,
		    char *err, size_t errlen)
{
	buf_puts(&m->files, "[");
	for (size_t i = 0; i < n; i++) {
		char real[PATH_MAX];
		struct stat st;

		if (!strcmp(files[i], "-")) {
			if (resume) {
				snprintf(err, errlen, "--resume cannot "
					 "continue a crawl of stdin ('-')");
				return -EINVAL;
			}
			buf_printf(&m->files, "%s{\"path\":\"-\",\"size\":0,"
				   "\"mtime_ns\":0}", i ? "," : "");
			continue;
		}
		if (!realpath(files[i], real) || stat(real, &st) < 0) {
			snprintf(err, errlen, "%s: %s", files[i],
				 strerror(errno));
			return resume ? -EINVAL : -errno;
		}
		buf_puts(&m->files, i ? ",{\"path\":" : "{\"path\":");
		json_put_str(&m->files, real);
		buf_printf(&m->files, ",\"size\":%lld,\"mtime_ns\":%lld}",
			   (long long)st.st_size, (long long)st.st_mtim.tv_sec *
			   1000000000LL + st.st_mtim.tv_nsec);
		m->bytes += (uint64_t)st.st_size;
	}
	return buf_puts(&m->files, "]");
}

static int manifest_write(const char *dir, const struct manifest *m)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	struct buf b;
	int fd, rc;

	buf_init(&b, SIZE_MAX / 2);
	buf_printf(&b, "{\"first\":%llu,\"lines\":", (unsigned long long)m->first);
	if (m->lines < 0)
		buf_puts(&b, "null");
	else
		buf_printf(&b, "%lld", (long long)m->lines);
	buf_puts(&b, ",\"files\":");
	buf_append(&b, m->files.p, m->files.len);
	rc = buf_puts(&b, "}\n");
	snprintf(path, sizeof(path), "%s/.crawl", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = rc < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0644);
	if (fd < 0) {
		rc = rc < 0 ? rc : -errno;
		goto out;
	}
	rc = fs_write_all(fd, b.p, b.len, NULL);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
out:
	buf_fini(&b);
	return rc;
}

/* Read dir/.crawl into m (files as JSON text). Returns 0, -ENOENT when
 * there is none, -EINVAL when it is not one. */
static int manifest_read(const char *dir, struct manifest *m,
			 struct json_doc *doc)
{
	char path[PATH_MAX], text[1 << 16];
	const struct json_val *v;
	int64_t i;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/.crawl", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n <= 0 || json_parse(text, (size_t)n, doc, NULL, 0) < 0 ||
	    !json_as_int(json_get(doc->root, "first"), &i) || i < 1)
		return -EINVAL;
	m->first = (uint64_t)i;
	m->lines = -1;
	if (json_as_int(json_get(doc->root, "lines"), &i) && i >= 0)
		m->lines = i;
	v = json_get(doc->root, "files");
	if (!v || v->type != JSON_ARRAY)
		return -EINVAL;
	for (v = json_first(v); v; v = json_next(v))
		if (json_as_int(json_get(v, "size"), &i) && i > 0)
			m->bytes += (uint64_t)i;
	return 0;
}

/* The "files" member of the manifest text at doc, as compact JSON. */
static void files_json(const struct json_doc *doc, struct buf *b)
{
	const struct json_val *v = json_get(doc->root, "files");

	buf_puts(b, "[");
	for (const struct json_val *f = json_first(v); f; f = json_next(f)) {
		int64_t size = 0, mt = 0;

		json_as_int(json_get(f, "size"), &size);
		json_as_int(json_get(f, "mtime_ns"), &mt);
		buf_puts(b, f == json_first(v) ? "{\"path\":" : ",{\"path\":");
		json_put_str(b, json_as_str(json_get(f, "path")) ?
			     json_as_str(json_get(f, "path")) : "");
		buf_printf(b, ",\"size\":%lld,\"mtime_ns\":%lld}",
			   (long long)size, (long long)mt);
	}
	buf_puts(b, "]");
}

/* ---- --resume's bitmap ------------------------------------------------- */

struct marking {
	struct crawl_bits *bits;
	uint64_t first, limit;		/* lines first .. first + limit - 1 */
	int err;
};

static int bits_grow(struct crawl_bits *b, uint64_t need)
{
	uint64_t n = b->n ? b->n : 4096;
	uint8_t *v;

	while (n <= need)
		n *= 2;
	v = realloc(b->v, (size_t)(n / 8));
	if (!v)
		return -ENOMEM;
	memset(v + b->n / 8, 0, (size_t)((n - b->n) / 8));
	b->v = v;
	b->n = n;
	return 0;
}

static void mark_line(void *arg, const char *p, size_t n)
{
	struct marking *m = arg;
	uint64_t num, i;

	if (m->err || !results_line_job(p, n, &num) || num < m->first ||
	    num - m->first >= m->limit)
		return;
	i = num - m->first;
	if (i >= m->bits->n && bits_grow(m->bits, i) < 0) {
		m->err = -ENOMEM;
		return;
	}
	if (!(m->bits->v[i / 8] >> (i % 8) & 1))
		m->bits->set++;
	m->bits->v[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int resume(const char *dir, struct manifest *now, uint64_t *first,
		  struct crawl_bits *bits, char *err, size_t errlen)
{
	struct manifest was = { 0 };
	struct json_doc doc = { 0 };
	struct marking mk = { .bits = bits };
	struct buf f;
	int rc;

	buf_init(&f, SIZE_MAX / 2);
	rc = manifest_read(dir, &was, &doc);
	if (rc < 0) {
		snprintf(err, errlen, "--resume: %s/.crawl %s: no crawl to "
			 "resume there (run without --resume to start one)",
			 dir, rc == -ENOENT ? "is missing" : "is damaged");
		rc = -EINVAL;
		goto out;
	}
	files_json(&doc, &f);
	if (f.len != now->files.len || memcmp(f.p, now->files.p, f.len)) {
		snprintf(err, errlen, "--resume: the URL files differ from the "
			 "crawl's in %s/.crawl (other paths, or changed since: "
			 "size or modification time); resume needs the same "
			 "files, unchanged", dir);
		rc = -EINVAL;
		goto out;
	}
	*first = mk.first = was.first;
	mk.limit = was.bytes + 1;
	rc = results_scan_dir(dir, mark_line, &mk, err, errlen);
	if (rc == 0 && mk.err) {
		rc = mk.err;
		snprintf(err, errlen, "--resume: out of memory");
	}
out:
	json_doc_free(&doc);
	buf_fini(&f);
	return rc;
}

int crawl_begin(const char *dir, char **files, size_t n, bool resume_it,
		uint64_t *first, struct crawl_bits *bits, char *err,
		size_t errlen)
{
	struct manifest now = { .first = 1, .lines = -1 }, was = { 0 };
	struct json_doc doc = { 0 };
	int rc;

	memset(bits, 0, sizeof(*bits));
	buf_init(&now.files, SIZE_MAX / 2);
	rc = describe(files, n, &now, resume_it, err, errlen);
	if (rc < 0)
		goto out;
	if (resume_it) {
		rc = resume(dir, &now, first, bits, err, errlen);
		goto out;
	}
	/* a new crawl: its numbers follow every earlier crawl's */
	if (manifest_read(dir, &was, &doc) == 0)
		now.first = was.first + (was.lines >= 0 ? (uint64_t)was.lines :
					 was.bytes + 1);
	/* nor may they reuse a number that other runs (the daemon, a crawl
	 * from before manifests) left in dir: *first is their floor */
	if (*first > now.first)
		now.first = *first;
	*first = now.first;
	rc = manifest_write(dir, &now);
	if (rc < 0)
		snprintf(err, errlen, "%s/.crawl: %s", dir, strerror(-rc));
out:
	json_doc_free(&doc);
	buf_fini(&now.files);
	return rc;
}

int crawl_end(const char *dir, uint64_t lines)
{
	struct manifest m = { 0 };
	struct json_doc doc = { 0 };
	int rc;

	buf_init(&m.files, SIZE_MAX / 2);
	rc = manifest_read(dir, &m, &doc);
	if (rc == 0) {
		files_json(&doc, &m.files);
		m.lines = (int64_t)lines;
		rc = manifest_write(dir, &m);
	}
	json_doc_free(&doc);
	buf_fini(&m.files);
	return rc;
}

void crawl_bits_free(struct crawl_bits *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}
