/* mkdir -p, for output, state and socket directories; write everything. */
#include "base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fs_mkdir_parent(const char *path)
{
	char tmp[PATH_MAX];
	char *slash;
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	slash = strrchr(tmp, '/');
	if (!slash || slash == tmp)
		return 0;
	*slash = '\0';
	return fs_mkdir_p(tmp);
}

/* The one blocking write loop: at the file position, or at pos when
 * pos >= 0 (pwrite). */
static int write_loop(int fd, const void *p, size_t n, off_t pos,
		      size_t *written)
{
	const char *c = p;
	size_t off = 0;
	int rc = 0;

	while (off < n) {
		ssize_t w = pos < 0 ? write(fd, c + off, n - off) :
			    pwrite(fd, c + off, n - off, pos + (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (written)
		*written = off;
	return rc;
}

int fs_write_all(int fd, const void *p, size_t n, size_t *written)
{
	return write_loop(fd, p, n, -1, written);
}

int fs_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	return write_loop(fd, p, n, (off_t)off, NULL);
}

void fs_sync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	fd = open(slash ? (dir[0] ? dir : "/") : ".",
		  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}
