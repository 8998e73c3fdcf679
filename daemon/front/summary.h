/* The end-of-crawl account: the scheduler's counters plus the hosts that
 * failed most, as text on stderr and as --summary-json. Jobs cancelled by an
 * interrupt, and lines it left unstarted, are counted apart from failures:
 * "failed", the rate and the success ratio are about jobs that were
 * fetched. */
#ifndef RF_SUMMARY_H
#define RF_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/sched.h"
#include "http/url.h"

#define SUMMARY_HOSTS 64 /* failing hosts counted exactly, at most */
#define SUMMARY_TOP 5	 /* hosts reported */

struct job;

struct summary_host {
	char name[URL_HOST_MAX + 9]; /* "name:port", "[v6]:port"; "" = free */
	uint32_t hash;		     /* of name */
	uint64_t failed;	     /* jobs that failed for the host's sake */
};

#define SUMMARY_PARKED_TOP 5

/* Failures by host in a fixed table, so a crawl of a million failing hosts
 * costs no more than one of five. Once more than SUMMARY_HOSTS hosts have
 * failed, the table keeps the heavy hitters the Space-Saving way (a new host
 * takes the slot of the least-failed one and inherits its count), so every
 * host that caused more than 1/SUMMARY_HOSTS of the failures is still in it,
 * and counts become upper bounds: approximate says so. */
struct summary {
	struct summary_host hosts[SUMMARY_HOSTS];
	unsigned n_hosts; /* slots in use, <= SUMMARY_HOSTS */
	bool approximate; /* a host was evicted */
	int signo;	  /* the signal that interrupted the crawl, or 0 */
	uint64_t cancelled;   /* jobs that ended cancelled (in st->failed) */
	uint64_t not_modified; /* 304s to validators (in ok too) */
	uint64_t duplicates;  /* batch.dedupe's (in st->failed) */
	uint64_t not_started; /* lines dropped by the interrupt, no record;
			       * set by the crawl */
	uint64_t already_done; /* lines --resume skipped: they had a record */
	uint64_t parked_peak;  /* most lines parked at once (Fair intake);
				* set by the crawl, as the two below */
	unsigned n_parked_top; /* <= SUMMARY_PARKED_TOP */
	struct {
		char name[URL_HOST_MAX + 8]; /* name:port */
		uint64_t parked;	     /* lines it parked, all told */
	} parked_top[SUMMARY_PARKED_TOP]; /* most parked first */
};

/* Empty sm. Never fails. */
void summary_init(struct summary *sm);

/* Count j: a cancelled job apart, and a failure that is the host's (no
 * answer, a broken one, or a 5xx: not a 404, an invalid URL or a robots
 * rule) against its host, the one of its final URL. Meant for a sched
 * observer. Never allocates. */
void summary_note(struct summary *sm, const struct job *j);

/* Jobs that ended failed, cancelled ones not included. */
uint64_t summary_failed(const struct summary *sm, const struct sched_stats *st);

/* Print the human summary of st and sm over elapsed_ms to f. */
void summary_print(FILE *f, const struct summary *sm,
		   const struct sched_stats *st, uint64_t elapsed_ms);

/* Write the same as one JSON object (and a newline) to fd (borrowed: an
 * open file, replaced from its start); total counts records, so ok +
 * failed + cancelled = total. Returns 0 or -errno. */
int summary_write_json(int fd, const struct summary *sm,
		       const struct sched_stats *st, uint64_t elapsed_ms);

#endif
