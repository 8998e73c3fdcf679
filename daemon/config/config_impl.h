/* Internals shared by config.c, config_yaml.c and config_keys.c: a small
 * YAML document tree, and the table that maps each key to its field. */
#ifndef RF_CONFIG_IMPL_H
#define RF_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

/*
 * The loader first turns the whole document into this tree, then walks it
 * against the key table. Two passes keep libyaml's event order out of the
 * key logic, and let --set values (also YAML) share every setter.
 */
enum cy_kind { CY_SCALAR, CY_SEQ, CY_MAP };

struct cy_node {
	enum cy_kind kind;
	unsigned long line, col;	/* 1-based start of the node */
	char *str;			/* CY_SCALAR: owned, NUL-terminated */
	size_t len;			/* CY_SCALAR: bytes; may hold NULs */
	bool plain;			/* CY_SCALAR: unquoted */
	struct cy_node **kids;		/* SEQ: items; MAP: key, value... */
	size_t n, cap;			/* entries used / allocated in kids */
	struct cy_node *next_alloc;	/* every node of a doc, for cy_free() */
};

struct cy_doc {
	struct cy_node *root;		/* NULL when the stream is empty */
	struct cy_node *all;		/* owned chain through next_alloc */
	size_t n_nodes;
};

/* Parse data (len bytes, any content) into doc. Returns 0, or -1 with a
 * problem ("YAML syntax error: ...", "YAML aliases are not supported")
 * in err and its 1-based position in *line and *col; doc is then empty.
 * Free doc with cy_free() either way. */
int cy_parse(const char *data, size_t len, struct cy_doc *doc, char *err,
	     size_t errlen, unsigned long *line, unsigned long *col);

/* Free every node of doc. */
void cy_free(struct cy_doc *doc);

/* True for the YAML nulls: an empty plain scalar, "~" and "null". */
bool cy_is_null(const struct cy_node *n);

enum ck_type {
	CK_STR,		/* char * */
	CK_MODE,	/* unsigned, octal file mode */
	CK_DUR,		/* uint64_t milliseconds */
	CK_SIZE,	/* uint64_t bytes */
	CK_U32,		/* uint32_t */
	CK_BOOL,	/* bool */
	CK_TRI,		/* int: -1 auto, 0, 1 */
	CK_WORKERS,	/* uint32_t, 0 printed as auto */
	CK_RATE,	/* double */
	CK_STATUSES,	/* retry.statuses */
	CK_HEADERS,	/* http.headers */
	CK_STRV,	/* struct config_strv */
	CK_ENUM,	/* int-sized enum, names in names[] */
};

/* How a string (or each string of a list) is checked. */
enum ck_check {
	CHK_ANY = 0,
	CHK_NONEMPTY,
	CHK_SOCKPATH,	/* fits sockaddr_un.sun_path */
	CHK_HDRVAL,	/* an HTTP field value: no CR, LF or NUL */
	CHK_LISTEN,	/* "" or HOST:PORT */
	CHK_DNS,	/* IP, IP:port, [v6]:port */
	CHK_CIDR,	/* CIDR, plain IP, or "private" */
	CHK_PROXY,	/* "" or a proxy URL (base/addr.h) */
	CHK_NOPROXY,	/* a host name, .suffix, or CIDR */
	CHK_REDIS,	/* "" or a Redis URL (base/addr.h) */
	CHK_RKEY,	/* a Redis key part: printable, no spaces, at most
			 * CONFIG_RKEY_MAX bytes */
};

struct config_key {
	const char *section;
	const char *name;
	enum ck_type type;
	size_t off;			/* offsetof(struct config, field) */
	uint64_t min, max;		/* numeric types: inclusive range */
	enum ck_check check;
	const char *const *names;	/* CK_ENUM: NULL-terminated */
};

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->off))
#define CFIELD(c, k, type) ((const type *)((const char *)(c) + (k)->off))

extern const struct config_key config_keys[];
extern const size_t config_n_keys;

/* The key called section.name, or NULL. */
const struct config_key *config_key_find(const char *section,
					 const char *name);

/* Error sink of one load or set. mark[] remembers where each key was set,
 * so that cross-key checks can point at the line that caused them. */
struct config_ctx {
	const char *file;		/* NULL for --set: no position */
	char *err;
	size_t errlen;
	const struct cy_node **mark;	/* config_n_keys entries */
};

/* Write "FILE:LINE:COL: PATH: problem" (or "PATH: problem" without a file,
 * or without PATH when it is NULL) into ctx->err as one line. Returns -1. */
int config_fail(struct config_ctx *ctx, const struct cy_node *at,
		const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Set key k of c from node v; path names it in errors. Returns 0, or -1
 * via config_fail() with c's field unchanged. */
int config_key_set(const struct config_key *k, struct config *c,
		   const struct cy_node *v, struct config_ctx *ctx,
		   const char *path);

/* Print key k of c as one "name: value" line, indented by indent. */
void config_key_print(const struct config_key *k, const struct config *c,
		      FILE *f, int indent);

/* Key k's value as a number: CK_MODE, CK_DUR, CK_SIZE, CK_U32, CK_WORKERS. */
uint64_t config_key_num(const struct config_key *k, const struct config *c);

/* Format v as key k prints it ("256", "30s", "64MiB", "0660"). */
char *config_key_format_num(const struct config_key *k, uint64_t v,
			    char *buf, size_t n);

/* Free every string of sv and the array; sv is left empty. */
void config_strv_free(struct config_strv *sv);

/* Free n headers and the array h. */
void config_headers_free(struct config_header *h, size_t n);

/* Format key k's numeric value for messages ("256", "30s"). */
char *config_key_format(const struct config_key *k, const struct config *c,
			char *buf, size_t n);

/* Check key k's numeric value against its range; on failure writes the
 * problem ("must be at least 1") to buf and returns false. */
bool config_key_in_range(const struct config_key *k, const struct config *c,
			 char *buf, size_t n);

/* Free what key k owns in c and zero the field. */
void config_key_free(const struct config_key *k, struct config *c);

/* Replace key k's owned field in dst (a shallow copy of src) by a deep copy
 * of src's. */
void config_key_dup(const struct config_key *k, struct config *dst,
		    const struct config *src);

/* Check string s against chk. Returns true, or false with the problem
 * ("expected a CIDR like ...") in why. */
bool config_check_str(enum ck_check chk, const char *s, char *why, size_t n);

/* True when s is an HTTP token (RFC 9110 5.6.2), as field names must be. */
bool config_is_token(const char *s);

/* strdup() that aborts on out of memory, as config_init() promises. */
char *config_strdup(const char *s);
void *config_xcalloc(size_t n, size_t size);

#endif
