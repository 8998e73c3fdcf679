/* The end-of-crawl account: the scheduler's counters plus the hosts that
 * failed most, as text on stderr and as --summary-json. */
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
	uint64_t failed;	     /* jobs that ended failed on this host */
};

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
	uint64_t already_done; /* lines --resume skipped: they had a record */
};

/* Empty sm. Never fails. */
void summary_init(struct summary *sm);

/* Count j's failure against its host (the one of its final URL); an ok
 * job, or one with no host (invalid_url), is ignored. Meant for
 * sched.on_finish. Never allocates. */
void summary_note(struct summary *sm, const struct job *j);

/* Print the human summary of st (and sm's top failing hosts, when sm is not
 * NULL) over elapsed_ms to f. */
void summary_print(FILE *f, const struct summary *sm,
		   const struct sched_stats *st, uint64_t elapsed_ms);

/* Write the same as one JSON object (and a newline) to path, replacing it.
 * Returns 0 or -errno. */
int summary_write_json(const char *path, const struct summary *sm,
		       const struct sched_stats *st, uint64_t elapsed_ms);

#endif
