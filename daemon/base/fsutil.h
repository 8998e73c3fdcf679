/* Small filesystem helpers shared by the writers (results, bodies, WARC,
 * spill, metrics textfile, daemon state, control socket). Blocking, so for
 * start-up, rare events and local files only. */
#ifndef RF_FSUTIL_H
#define RF_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Make dir and its parents (mode 0755); existing ones are fine. Returns 0
 * or -errno. */
int fs_mkdir_p(const char *dir);

/* Make the directory that will hold path. Returns 0 or -errno. */
int fs_mkdir_parent(const char *path);

/* Write all n bytes of p to fd (blocking), going on after short writes
 * and EINTR. Returns 0, or -errno (-EIO when write() makes no progress);
 * *written, unless NULL, says how many bytes went out either way. */
int fs_write_all(int fd, const void *p, size_t n, size_t *written);

/* As fs_write_all() at file offset off (pwrite), the file position left
 * alone. Returns 0 or -errno. */
int fs_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* fsync the directory holding path, so a rename into it reaches the disk.
 * Best effort: failures are ignored (the rename itself succeeded). */
void fs_sync_dir_of(const char *path);

#endif
