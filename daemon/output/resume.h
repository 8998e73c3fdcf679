/* What a batch crawl leaves in its output directory so that --resume can
 * continue it: OUT/.crawl, the manifest (the URL files by path, size and
 * modification time, and the number of the crawl's first job), and, read
 * back from every result file there (rotated and compressed ones too), a
 * bitmap of the lines that already have a record.
 *
 * A crawl numbers its jobs first + line index (each URL line in file
 * order), so a record's "job" names its line: no copy of the records is
 * kept, one bit per line. Blocking: before the crawl starts. */
#ifndef RF_RESUME_H
#define RF_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crawl_bits {
	uint8_t *v;			/* owned; bit i: line i has a record */
	uint64_t n;			/* bits allocated (lines seen so far) */
	uint64_t set;			/* bits set */
};

/* Begin a crawl of the n files into dir (which exists). A new crawl
 * (resume false) numbers its jobs after every earlier crawl recorded in
 * dir/.crawl, and from *first at least (the next number dir's records
 * leave free), and writes a new manifest. With resume, the manifest must
 * name the same files, unchanged; *first is the interrupted crawl's and
 * bits gets the lines whose record is in dir. Returns 0; -EINVAL with a
 * sentence in err when the crawl cannot be resumed (a usage error: exit
 * 2); another -errno with a sentence when a file cannot be read or
 * written. */
int crawl_begin(const char *dir, char **files, size_t n, bool resume,
		uint64_t *first, struct crawl_bits *bits, char *err,
		size_t errlen);

/* Every line of the crawl was read: note how many job lines there were,
 * so the next crawl numbers on right after them (without it, after the
 * most the files could hold). Returns 0 or -errno. */
int crawl_end(const char *dir, uint64_t lines);

/* Whether line i has a record already. */
static inline bool crawl_bits_test(const struct crawl_bits *b, uint64_t i)
{
	return i < b->n && (b->v[i / 8] >> (i % 8) & 1);
}

void crawl_bits_free(struct crawl_bits *b);

/* Call fn with every line (without its newline) of every result file in
 * dir: results-*.jsonl, .jsonl.gz and .jsonl.zst, then results.jsonl; a
 * torn last line is not passed. Returns 0, or -errno with a sentence in
 * err (a file that cannot be read or decompressed). */
int results_scan_dir(const char *dir,
		     void (*fn)(void *arg, const char *line, size_t n),
		     void *arg, char *err, size_t errlen);

#endif
