/* Job numbers across runs: the highest number an output directory has
 * seen, so that a run into a directory that already holds records goes on
 * numbering after them and a job number names one job there (SPEC). */
#ifndef RF_JOBNUM_H
#define RF_JOBNUM_H

#include <stdint.h>

/* The highest job number recorded under dir, 0 for none. A run that ended
 * cleanly left it in DIR/.jobnum (jobnum_save()); when results.jsonl was
 * written after that mark (a run killed or crashed since), its records are
 * read as well, and when it holds none (it had just rotated) the newest
 * uncompressed rotated file is. Reads files only; one that cannot be read
 * counts as empty. Blocking: for start-up. */
uint64_t jobnum_load(const char *dir);

/* Record that numbers up to last are taken, replacing DIR/.jobnum
 * atomically (a temporary file renamed over it). Returns 0 or -errno. */
int jobnum_save(const char *dir, uint64_t last);

#endif
