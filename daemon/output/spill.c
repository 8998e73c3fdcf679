/* The spill file, read and written with plain blocking calls: it is touched
 * only before the loop starts and after it ends. */
#include "output/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "config/config.h"
#include "engine/job.h"
#include "base/json.h"
#include "base/log.h"

int spill_format(struct buf *b, const struct job *j)
{
	size_t start = b->len;
	int rc;

	buf_puts(b, "{\"job\":");
	json_put_u64(b, j->num);
	buf_puts(b, ",\"id\":");
	json_put_str_or_null(b, j->id);
	buf_puts(b, ",\"url\":");
	json_put_str(b, j->url_text);
	if (j->n_headers) {
		buf_puts(b, ",\"headers\":{");
		for (size_t i = 0; i < j->n_headers; i++) {
			if (i)
				buf_putc(b, ',');
			json_put_str(b, j->headers[i].name);
			buf_putc(b, ':');
			json_put_str(b, j->headers[i].value);
		}
		buf_putc(b, '}');
	}
	rc = buf_puts(b, "}\n");
	if (rc < 0)
		buf_truncate(b, start);	/* never half a line */
	return rc;
}

int spill_write(const char *path, const struct buf *b, uint64_t next_job,
		char *err, size_t errlen)
{
	char tmp[4096], head[64];
	int fd, rc, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return rc;
	}
	n = snprintf(head, sizeof(head), "{\"next_job\":%llu}\n",
		     (unsigned long long)next_job);
	rc = fs_write_all(fd, head, (size_t)n, NULL);
	if (rc == 0 && b->len)
		rc = fs_write_all(fd, b->p, b->len, NULL);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

enum spill_line spill_parse(const char *p, size_t n, struct json_doc *doc,
			    struct spill_entry *e, uint64_t *num, char *err,
			    size_t errlen)
{
	const struct json_val *v;
	int64_t i;

	memset(e, 0, sizeof(*e));
	*num = 0;
	if (json_parse(p, n, doc, err, errlen) < 0)
		return SPILL_BAD;
	if (json_as_int(json_get(doc->root, "next_job"), &i) && i > 0) {
		*num = (uint64_t)i;
		return SPILL_NEXT;
	}
	if (json_as_int(json_get(doc->root, "done"), &i) && i > 0) {
		*num = (uint64_t)i;
		return SPILL_DONE;
	}
	v = json_get(doc->root, "url");
	if (!json_as_str(v) || !json_as_int(json_get(doc->root, "job"), &i) ||
	    i <= 0) {
		snprintf(err, errlen, "not a job line");
		return SPILL_BAD;
	}
	e->num = (uint64_t)i;
	e->url = v->str;
	e->url_len = v->len;
	e->id = json_as_str(json_get(doc->root, "id"));
	v = json_get(doc->root, "headers");
	e->headers = v && v->type == JSON_OBJECT ? v : NULL;
	return SPILL_JOB;
}

/* One line: the counter, or a job handed to fn. Returns 1 for a job. */
static int load_line(const char *path, unsigned long no, const char *p,
		     size_t n, void (*fn)(void *, const struct spill_entry *),
		     void *arg, uint64_t *next_job)
{
	struct json_doc doc = { 0 };
	struct spill_entry e;
	uint64_t num;
	char err[160];
	int rc = 0;

	switch (spill_parse(p, n, &doc, &e, &num, err, sizeof(err))) {
	case SPILL_JOB:
		fn(arg, &e);
		rc = 1;
		break;
	case SPILL_NEXT:
		*next_job = num;
		break;
	case SPILL_DONE:	/* a journal's, not a spill file's */
		break;
	case SPILL_BAD:
		log_error("%s:%lu: skipped: %s", path, no, err);
		break;
	}
	json_doc_free(&doc);
	return rc;
}

int spill_load(const char *path,
	       void (*fn)(void *arg, const struct spill_entry *e), void *arg,
	       uint64_t *next_job, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned long no = 0;
	ssize_t n;
	int count = 0;

	*next_job = 0;
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		no++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n)
			count += load_line(path, no, line, (size_t)n, fn, arg,
					   next_job);
	}
	free(line);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return count;
}
