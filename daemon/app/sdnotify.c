/* One datagram per message, MSG_DONTWAIT: the daemon's loop never waits
 * on its supervisor. */
#include "app/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sdnotify_open(struct sdnotify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(n->sa.sun_path))
		return;
	n->sa.sun_family = AF_UNIX;
	memcpy(n->sa.sun_path, path, len);
	if (path[0] == '@')
		n->sa.sun_path[0] = '\0';	/* abstract: no NUL after */
	n->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				(path[0] == '@' ? 0 : 1));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

void sdnotify_send(struct sdnotify *n, const char *msg)
{
	if (n->fd < 0)
		return;
	if (sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->sa, n->sa_len) < 0)
		n->dropped++;
}

void sdnotify_sendf(struct sdnotify *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (n->fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sdnotify_send(n, msg);
}

void sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
