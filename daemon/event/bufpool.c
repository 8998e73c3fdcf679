/* The provided buffer ring: one registration per ring, buffers handed
 * back one at a time as their completions are done with. */
#include "event/bufpool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"

#define BR_ALIGN 4096		/* the kernel maps the ring by pages */
#define NBUFS_MAX 32768		/* the kernel's limit on ring entries */

void bufpool_prep_recv(struct bufpool *p, struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = p->bgid;
}

/* One completion of the probe, handing back its buffer. Returns 0 and
 * sets *res, *flags, or -errno when none came within a second. */
static int probe_cqe(struct bufpool *p, int *res, unsigned *flags)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	int rc = io_uring_wait_cqe_timeout(p->ring, &cqe, &ts);

	if (rc < 0)
		return rc;
	*res = cqe->res;
	*flags = cqe->flags;
	io_uring_cqe_seen(p->ring, cqe);
	if (*flags & IORING_CQE_F_BUFFER)
		bufpool_put(p, bufpool_id(*flags));
	return 0;
}

/* Kernels 5.19 register buffer rings but take a multishot recv as an
 * invalid request (6.0 added it): so receive one byte over a socketpair
 * and look for IORING_CQE_F_MORE. The peer's close then ends the
 * multishot, so nothing of the probe is left in flight. Its SQE carries
 * no io_op: a straggler would be ignored by the loop. */
static int probe_multishot(struct bufpool *p, char *why, size_t whylen)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(p->ring);
	unsigned flags = 0;
	int sv[2], res = 0, rc;

	if (!sqe ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "no socketpair or SQE for the probe");
		return -ENOTSUP;
	}
	bufpool_prep_recv(p, sqe, sv[0]);
	io_uring_sqe_set_data(sqe, NULL);
	rc = write(sv[1], "x", 1) == 1 ? io_uring_submit(p->ring) : -EIO;
	if (rc >= 0)
		rc = probe_cqe(p, &res, &flags);
	close(sv[1]);
	if (rc == 0 && res == 1 && (flags & IORING_CQE_F_MORE)) {
		/* drain to the multishot's last completion (the EOF) */
		while (probe_cqe(p, &res, &flags) == 0 &&
		       (flags & IORING_CQE_F_MORE))
			;
		close(sv[0]);
		return 0;
	}
	close(sv[0]);
	snprintf(why, whylen, "multishot recv not supported (%s)",
		 rc < 0 ? rf_strerror(-rc) : res < 0 ? rf_strerror(-res) :
		 "no IORING_CQE_F_MORE");
	return -ENOTSUP;
}

int bufpool_init(struct bufpool *p, struct io_uring *ring, uint16_t bgid,
		 unsigned nbufs, unsigned size, char *why, size_t whylen)
{
	struct io_uring_buf_reg reg;
	unsigned n = 8;
	void *br;
	int rc;

	memset(p, 0, sizeof(*p));
	while (n * 2 <= nbufs && n * 2 <= NBUFS_MAX)
		n *= 2;
	if (posix_memalign(&br, BR_ALIGN, n * sizeof(struct io_uring_buf))) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* Pages of the buffers become resident only once the kernel fills
	 * them, so a pool that is never drained deep costs what it used. */
	p->mem = malloc((size_t)n * size);
	if (!p->mem) {
		free(br);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	p->ring = ring;
	p->br = br;
	p->nbufs = n;
	p->size = size;
	p->bgid = bgid;
	io_uring_buf_ring_init(p->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)p->br;
	reg.ring_entries = n;
	reg.bgid = bgid;
	rc = io_uring_register_buf_ring(ring, &reg, 0);
	if (rc < 0) {
		snprintf(why, whylen, "cannot register a buffer ring (%s)",
			 rf_strerror(-rc));
		goto out_free;
	}
	for (unsigned i = 0; i < n; i++)
		io_uring_buf_ring_add(p->br, bufpool_data(p, (uint16_t)i), size,
				      (uint16_t)i, io_uring_buf_ring_mask(n),
				      (int)i);
	io_uring_buf_ring_advance(p->br, (int)n);
	rc = probe_multishot(p, why, whylen);
	if (rc < 0) {
		io_uring_unregister_buf_ring(ring, bgid);
		goto out_free;
	}
	return 0;
out_free:
	free(p->mem);
	free(p->br);
	memset(p, 0, sizeof(*p));
	return rc;
}

void bufpool_fini(struct bufpool *p)
{
	if (!p->br)
		return;
	free(p->mem);
	free(p->br);
	memset(p, 0, sizeof(*p));
}
