/* The systemd notification protocol (sd_notify(3)) without ever blocking:
 * libsystemd's sd_notify() sends on a blocking socket, and a receiver that
 * stops reading (a full queue: net.unix.max_dgram_qlen is 10 by default)
 * would stop the whole event loop. Here each message is one non-blocking
 * datagram; one that finds the queue full is dropped and counted (a later
 * STATUS= says the same anew; READY=1 goes first, to an empty queue). */
#ifndef RF_SDNOTIFY_H
#define RF_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify {
	int fd;				/* -1: NOTIFY_SOCKET unset, or no socket */
	struct sockaddr_un sa;
	socklen_t sa_len;
	uint64_t dropped;		/* messages the queue had no room for */
};

/* Connect to $NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace). Without it, or when it is unusable, n stays off and every
 * send does nothing. Never fails. */
void sdnotify_open(struct sdnotify *n);

/* Whether messages go anywhere. */
static inline bool sdnotify_on(const struct sdnotify *n)
{
	return n->fd >= 0;
}

/* Send one message ("READY=1", "STATUS=..."), at once or not at all. */
void sdnotify_send(struct sdnotify *n, const char *msg);

/* As sdnotify_send() with printf formatting. */
void sdnotify_sendf(struct sdnotify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void sdnotify_close(struct sdnotify *n);

#endif
