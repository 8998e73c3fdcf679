/* source.redis: this daemon's part of a crawl shared through Redis Streams.
 *
 * Jobs wait in N streams PREFIX:0 .. PREFIX:N-1 (a host's jobs all in one),
 * read through one consumer group. Each partition is leased to one daemon
 * at a time: a key PREFIX:lease:I holding the owner's fencing token, set
 * with NX and a TTL of claim_idle and renewed well within it by compare
 * and set. Daemons announce themselves in PREFIX:members (a sorted set of
 * last heartbeats, by Redis's clock) and each holds at most
 * ceil(N / members) partitions: one with more drains the extra ones (stops
 * reading, gives back what is queued, waits for what runs, releases the
 * lease), one with fewer takes free leases. On taking a partition its
 * pending entries are claimed first (XAUTOCLAIM), so a dead owner's jobs
 * finish here.
 *
 * An entry is read only while the bounded queue has room (backpressure
 * reaches Redis) and acknowledged (XACK, fenced by the lease token) only
 * once its record is durable (results.synced): the group's pending list
 * is the fleet's journal. A job whose partition's lease was lost, or
 * re-taken since, ends without a record (sched.keep): the owner fetches
 * it. Redis being unreachable pauses intake; fetching goes on. */
#ifndef RF_FLEET_H
#define RF_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "engine/sched.h"
#include "event/loop.h"
#include "event/timer.h"

struct redis;
struct results;
struct config;
struct fleet_part;
struct fleet_ack;
struct ack_batch;
struct job;

struct fleet_stats {
	uint64_t taken;		/* entries read or claimed into jobs */
	uint64_t claimed;	/* of which by XAUTOCLAIM */
	uint64_t invalid;	/* of which not jobs (ended invalid_url) */
	uint64_t acked;		/* XACKed after their record was durable */
	uint64_t dropped;	/* ended without a record: lease lost */
	uint64_t given_back;	/* queued jobs handed back on a rebalance */
	uint64_t leases_taken, leases_lost, leases_released;
};

struct fleet {
	struct loop *loop;
	struct sched *sched;
	const struct results *results;	/* synced: when an entry may be acked */
	const struct config *cfg;	/* source.redis.* read at start */
	struct redis *rc;
	char *prefix, *group;		/* owned copies */
	char consumer[160];
	char token_base[200];		/* consumer + a random boot value */
	uint64_t token_seq;
	uint64_t claim_idle_ms, tick_ms;
	uint32_t n;			/* partitions */
	struct fleet_part *parts;	/* [n] */
	uint32_t members;		/* daemons alive, at the last beat */
	uint32_t read_from;		/* rotation of the first stream read */
	bool up;			/* connected and groups made */
	bool groups_busy;
	bool read_busy;			/* an XREADGROUP/XAUTOCLAIM in flight */
	bool beat_busy;
	bool stopping;			/* no new reads or leases */
	uint64_t next_read_ms;		/* idle polling */
	uint32_t idle_reads;
	struct fleet_ack *acks;		/* ring: records waiting to be durable */
	size_t ack_head, ack_len, ack_cap;
	uint32_t acks_busy;		/* XACK commands in flight */
	struct ack_batch *resend;	/* XACKs to send again: the connection
					 * dropped before their answers */
	struct timer t_tick;
	struct timer t_read;
	struct loop_hook hook;		/* acks as records become durable */
	struct sched_room_wait room;
	struct sched_observer obs;	/* after the record writer */
	struct buf cmd;			/* scratch: one command */
	char last_error[256];
	struct fleet_stats st;
};

/* Start taking jobs for s from cfg's source.redis (url set): connects in
 * the background; nothing here waits for Redis. r is the record writer
 * whose synced count gates acknowledgements. Returns 0, or -errno with a
 * sentence in err (a bad URL, out of memory). */
int fleet_open(struct fleet *f, struct loop *l, struct sched *s,
	       const struct results *r, const struct config *cfg, char *err,
	       size_t errlen);

/* Stop reading and leasing (shutdown); acknowledgements still go out. */
void fleet_stop(struct fleet *f);

/* Whether j came from the fleet (its record is owed through Redis, not
 * through the journal or spill file). */
bool fleet_owns_job(const struct job *j);

/* Take j, not finished, out of the scheduler without a record: it stays
 * pending in Redis, where this daemon or the partition's next owner
 * claims it again. */
void fleet_give_back(struct fleet *f, struct job *j);

/* At shutdown, after the last records were synced: send the last
 * acknowledgements and release every lease (so others need not wait out
 * claim_idle). */
void fleet_release_all(struct fleet *f);

/* Whether nothing of f is in flight (acks sent and answered). */
bool fleet_idle(const struct fleet *f);

/* Append the status object's "redis" member value (an object) to b. */
int fleet_status(const struct fleet *f, struct buf *b);

/* Append the ringfetch_redis_* metrics to b. */
int fleet_metrics(const void *f, struct buf *b);

void fleet_fini(struct fleet *f);

#endif
