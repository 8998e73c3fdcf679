/* A ring-wide pool of receive buffers the kernel picks from (a provided
 * buffer ring, 5.19+, with multishot recv, 6.0+): a connection holds a
 * buffer only from the completion that filled it until it hands it back,
 * so waiting connections cost no receive memory at all. liburing 2.3 has
 * no io_uring_setup_buf_ring(), so the ring is set up here by hand. */
#ifndef RF_BUFPOOL_H
#define RF_BUFPOOL_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufpool {
	struct io_uring *ring;		/* borrowed; registered on it */
	struct io_uring_buf_ring *br;	/* owned, shared with the kernel */
	char *mem;			/* owned: nbufs buffers of size */
	unsigned nbufs;			/* a power of two, <= 32768 */
	unsigned size;			/* bytes per buffer */
	uint16_t bgid;			/* the buffer group SQEs select */
	uint64_t enobufs;		/* receives that found it empty */
};

/* Register a pool of nbufs (rounded down to a power of two, at least 8)
 * buffers of size bytes as buffer group bgid on ring, and check that a
 * multishot recv selecting from it works. Must run before anything else
 * is in flight on ring (it waits for its own completions). Returns 0, or
 * -errno with a sentence in why (-EINVAL/-ENOTSUP: the kernel lacks
 * buffer rings or multishot recv) and *p untouched for bufpool_fini(). */
int bufpool_init(struct bufpool *p, struct io_uring *ring, uint16_t bgid,
		 unsigned nbufs, unsigned size, char *why, size_t whylen);

/* Free the pool once its ring is gone (io_uring_queue_exit() drops the
 * registration with it): until then the kernel may still fill buffers.
 * Harmless on a pool that failed to init. */
void bufpool_fini(struct bufpool *p);

/* Prepare sqe as a multishot recv on fd that takes buffers from p. */
void bufpool_prep_recv(struct bufpool *p, struct io_uring_sqe *sqe, int fd);

/* The buffer id a completion's flags name (valid with IORING_CQE_F_BUFFER). */
static inline uint16_t bufpool_id(unsigned cqe_flags)
{
	return (uint16_t)(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
}

static inline char *bufpool_data(const struct bufpool *p, uint16_t bid)
{
	return p->mem + (size_t)bid * p->size;
}

/* Hand buffer bid back to the kernel. Its bytes must not be read after. */
static inline void bufpool_put(struct bufpool *p, uint16_t bid)
{
	io_uring_buf_ring_add(p->br, bufpool_data(p, bid), p->size, bid,
			      io_uring_buf_ring_mask(p->nbufs), 0);
	io_uring_buf_ring_advance(p->br, 1);
}

#endif
