/* Small filesystem helpers shared by the writers (results, daemon state,
 * control socket). Blocking, so for start-up and rare events only. */
#ifndef RF_FSUTIL_H
#define RF_FSUTIL_H

/* Make dir and its parents (mode 0755); existing ones are fine. Returns 0
 * or -errno. */
int fs_mkdir_p(const char *dir);

/* Make the directory that will hold path. Returns 0 or -errno. */
int fs_mkdir_parent(const char *path);

#endif
