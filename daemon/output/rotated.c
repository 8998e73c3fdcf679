/* The helper thread behind rotated.h. Rather than a forked child: it
 * shares nothing with the loop but a queue of file names under a mutex,
 * needs no reaping or SIGCHLD, runs at a lower priority, and stopping it
 * is a join, so a batch run ends with every rotated file compressed. Its
 * work runs in queue order, so a prune never races a compression of the
 * same file. */
#include "output/rotated.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/fsutil.h"
#include "base/log.h"

#define ROTATED_IO (64 * 1024)		/* compression read size */

struct rotated_task {
	struct rotated_task *next;
	char *dir;			/* owned */
	char *path;			/* owned: the rotated file */
	enum config_compress compress;
	uint32_t keep;			/* 0 = keep all */
};

struct rotated_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rotated_task *head, **tail;	/* FIFO, under mu */
	bool stop;			/* under mu: exit once empty */
};

/* Deflate (gzip wrapper) or zstd from fd in to fd out through the buffers
 * ib and ob of ROTATED_IO bytes. Returns 0 or -errno. */
static int compress_gzip(int in, int out, unsigned char *ib,
			 unsigned char *ob)
{
	z_stream z = { 0 };
	int flush, zrc = Z_OK, rc = 0;
	ssize_t n;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	do {
		n = read(in, ib, ROTATED_IO);
		if (n < 0) {
			rc = -errno;
			break;
		}
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = ib;
		z.avail_in = (uInt)n;
		do {
			z.next_out = ob;
			z.avail_out = ROTATED_IO;
			zrc = deflate(&z, flush);
			n = (ssize_t)(ROTATED_IO - z.avail_out);
			rc = fs_write_all(out, ob, (size_t)n, NULL);
		} while (!rc && z.avail_out == 0);
	} while (!rc && flush != Z_FINISH);
	deflateEnd(&z);
	return rc ? rc : zrc == Z_STREAM_END ? 0 : -EIO;
}

static int compress_zstd(int in, int out, unsigned char *ib,
			 unsigned char *ob)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_EndDirective mode;
	size_t left = 0;
	int rc = 0;
	ssize_t n;

	if (!cc)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	do {
		ZSTD_inBuffer zi = { ib, 0, 0 };

		n = read(in, ib, ROTATED_IO);
		if (n < 0) {
			rc = -errno;
			break;
		}
		zi.size = (size_t)n;
		mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
		do {
			ZSTD_outBuffer zo = { ob, ROTATED_IO, 0 };

			left = ZSTD_compressStream2(cc, &zo, &zi, mode);
			if (ZSTD_isError(left))
				rc = -EIO;
			else
				rc = fs_write_all(out, ob, zo.pos, NULL);
		} while (!rc && (mode == ZSTD_e_end ? left != 0 :
				 zi.pos < zi.size));
	} while (!rc && mode != ZSTD_e_end);
	ZSTD_freeCCtx(cc);
	return rc;
}

/* path -> path.gz (or .zst) through a synced temporary name; the original
 * goes only once its compressed copy is whole. A file pruned before its
 * turn is no error. */
static void compress_file(const char *path, enum config_compress how)
{
	char dst[4200], tmp[4300];
	unsigned char *io;
	int in, out, rc;

	snprintf(dst, sizeof(dst), "%s%s", path,
		 how == COMPRESS_GZIP ? ".gz" : ".zst");
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		if (errno != ENOENT)
			log_warn("compress %s: %s", path, strerror(errno));
		return;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		log_warn("compress %s: %s: %s", path, tmp, strerror(errno));
		close(in);
		return;
	}
	io = malloc(2 * ROTATED_IO);
	if (!io)
		rc = -ENOMEM;
	else if (how == COMPRESS_GZIP)
		rc = compress_gzip(in, out, io, io + ROTATED_IO);
	else
		rc = compress_zstd(in, out, io, io + ROTATED_IO);
	free(io);
	if (rc == 0 && fdatasync(out) < 0)
		rc = -errno;
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	close(in);
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0) {
		log_warn("compress %s: %s; kept uncompressed", path,
			 strerror(-rc));
		unlink(tmp);
		return;
	}
	unlink(path);
}

/* "results-STAMP[-N].jsonl[.gz|.zst]" -> 1 with its age key, else 0. */
static int rotated_key(const char *name, char *stamp, unsigned long *seq)
{
	const char *p = name + 8, *dot;
	char *end;

	if (strncmp(name, "results-", 8) != 0 || strlen(p) < 16)
		return 0;
	dot = strstr(p, ".jsonl");
	if (!dot || (strcmp(dot, ".jsonl") && strcmp(dot, ".jsonl.gz") &&
		     strcmp(dot, ".jsonl.zst")))
		return 0;
	memcpy(stamp, p, 16);
	stamp[16] = '\0';
	*seq = 0;
	if (p[16] == '-') {
		*seq = strtoul(p + 17, &end, 10);
		if (end != dot)
			return 0;
	} else if (p + 16 != dot) {
		return 0;
	}
	return 1;
}

struct old_file {
	char stamp[17];
	unsigned long seq;
	char *name;
};

static int old_file_cmp(const void *a, const void *b)
{
	const struct old_file *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Delete the oldest rotated files beyond keep. */
static void prune(const char *dir, uint32_t keep)
{
	struct old_file *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *e;
	char path[4400];
	DIR *d;

	if (keep == 0 || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		struct old_file r;

		if (!rotated_key(e->d_name, r.stamp, &r.seq))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		r.name = strdup(e->d_name);
		if (!r.name)
			break;
		v[n++] = r;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), old_file_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i + keep < n) {
			snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
			if (unlink(path) < 0 && errno != ENOENT)
				log_warn("rotate_keep: %s: %s", path,
					 strerror(errno));
		}
		free(v[i].name);
	}
	free(v);
}

static void *worker_main(void *arg)
{
	struct rotated_worker *w = arg;
	struct rotated_task *t;

	/* compression yields to the fetch loop on a busy machine */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		t = w->head;
		if (t) {
			w->head = t->next;
			if (!w->head)
				w->tail = &w->head;
		}
		pthread_mutex_unlock(&w->mu);
		if (!t)
			return NULL;
		if (t->compress != COMPRESS_NONE)
			compress_file(t->path, t->compress);
		prune(t->dir, t->keep);
		free(t->dir);
		free(t->path);
		free(t);
	}
}

/* Start the thread with every signal blocked: the loop reads its signals
 * from a signalfd, and the thread must never take one instead. */
static struct rotated_worker *worker_start(void)
{
	struct rotated_worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int rc;

	if (!w)
		return NULL;
	w->tail = &w->head;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		log_error("results: cannot start the compression thread: %s",
			  strerror(rc));
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

void rotated_push(struct rotated_worker **wp, const char *dir,
		  const char *path, enum config_compress how, uint32_t keep)
{
	struct rotated_task *t;

	if (!*wp)
		*wp = worker_start();
	t = calloc(1, sizeof(*t));
	if (!*wp || !t || !(t->dir = strdup(dir)) ||
	    !(t->path = strdup(path))) {
		if (t) {
			free(t->dir);
			free(t);
		}
		log_warn("results: %s left uncompressed and unpruned", path);
		return;
	}
	t->compress = how;
	t->keep = keep;
	pthread_mutex_lock(&(*wp)->mu);
	*(*wp)->tail = t;
	(*wp)->tail = &t->next;
	pthread_cond_signal(&(*wp)->cv);
	pthread_mutex_unlock(&(*wp)->mu);
}

void rotated_stop(struct rotated_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
