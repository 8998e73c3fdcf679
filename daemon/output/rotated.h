/* Rotated result files: one helper thread compresses each one
 * (output.compress: .gz or .zst through a synced temporary name, the
 * original removed once its copy is whole) and then deletes the oldest
 * beyond output.rotate_keep, so the event loop never waits on either. */
#ifndef RF_ROTATED_H
#define RF_ROTATED_H

#include <stdint.h>

#include "config/config.h"

struct rotated_worker;

/* Queue path, a file just rotated out of dir: compress it as how says
 * (COMPRESS_NONE: leave it), then prune dir to its keep newest rotated
 * files (0: keep all). Starts the thread on first use (*w NULL). Never
 * waits for the work; when the task cannot be queued, logs that path stays
 * as it is. */
void rotated_push(struct rotated_worker **w, const char *dir,
		  const char *path, enum config_compress how, uint32_t keep);

/* Finish every queued task, join the thread, free. Harmless on NULL. */
void rotated_stop(struct rotated_worker *w);

#endif
