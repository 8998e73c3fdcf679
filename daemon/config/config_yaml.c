/* YAML text to a small document tree, through libyaml's event API. Anchors,
 * aliases, tags and multiple documents are refused: a config file needs none
 * of them, and each would make "where was this key set" ambiguous. */
#include "config/config_impl.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Bounds that no sane config reaches; they keep hostile input (the fuzzer)
 * from exhausting the stack of a recursive walk or memory. */
#define CY_DEPTH_MAX 16
#define CY_NODES_MAX 100000

struct cy_builder {
	struct cy_doc *doc;
	struct cy_node *stack[CY_DEPTH_MAX];
	int depth;
	int n_docs;
	char *err;
	size_t errlen;
	unsigned long line, col;
};

static int cy_error(struct cy_builder *b, const yaml_mark_t *m,
		    const char *problem)
{
	/* libyaml marks are 0-based; people count from 1 */
	b->line = (unsigned long)m->line + 1;
	b->col = (unsigned long)m->column + 1;
	snprintf(b->err, b->errlen, "%s", problem);
	return -1;
}

static struct cy_node *cy_new(struct cy_builder *b, enum cy_kind kind,
			      const yaml_mark_t *m)
{
	struct cy_node *n;

	if (b->doc->n_nodes >= CY_NODES_MAX) {
		cy_error(b, m, "too many YAML nodes");
		return NULL;
	}
	n = config_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = (unsigned long)m->line + 1;
	n->col = (unsigned long)m->column + 1;
	n->next_alloc = b->doc->all;
	b->doc->all = n;
	b->doc->n_nodes++;
	return n;
}

/* Hang n under the innermost open collection, or make it the root. */
static void cy_attach(struct cy_builder *b, struct cy_node *n)
{
	struct cy_node *parent;

	if (b->depth == 0) {
		b->doc->root = n;
		return;
	}
	parent = b->stack[b->depth - 1];
	if (parent->n == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->kids = realloc(parent->kids,
				       parent->cap * sizeof(*parent->kids));
		if (!parent->kids)
			abort();
	}
	parent->kids[parent->n++] = n;
}

/* Refuse what this loader does not support, before building a node. */
static int cy_check_props(struct cy_builder *b, const yaml_event_t *ev,
			  const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor)
		return cy_error(b, &ev->start_mark,
				"YAML anchors are not supported");
	if (tag)
		return cy_error(b, &ev->start_mark,
				"YAML tags are not supported");
	return 0;
}

static int cy_scalar(struct cy_builder *b, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = ev->data.scalar.anchor;
	const yaml_char_t *tag = ev->data.scalar.tag;
	struct cy_node *n;

	if (cy_check_props(b, ev, anchor, tag))
		return -1;
	n = cy_new(b, CY_SCALAR, &ev->start_mark);
	if (!n)
		return -1;
	n->len = ev->data.scalar.length;
	n->str = malloc(n->len + 1);
	if (!n->str)
		abort();
	memcpy(n->str, ev->data.scalar.value, n->len);
	n->str[n->len] = '\0';
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	cy_attach(b, n);
	return 0;
}

static int cy_open(struct cy_builder *b, const yaml_event_t *ev,
		   enum cy_kind kind)
{
	const yaml_char_t *anchor, *tag;
	struct cy_node *n;

	if (kind == CY_SEQ) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	if (cy_check_props(b, ev, anchor, tag))
		return -1;
	if (b->depth == CY_DEPTH_MAX)
		return cy_error(b, &ev->start_mark, "YAML nesting too deep");
	n = cy_new(b, kind, &ev->start_mark);
	if (!n)
		return -1;
	cy_attach(b, n);
	b->stack[b->depth++] = n;
	return 0;
}

/* Feed one event. Returns 1 at the end of the stream, 0 to go on, -1. */
static int cy_event(struct cy_builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (b->n_docs++)
			return cy_error(b, &ev->start_mark,
					"only one YAML document is allowed");
		return 0;
	case YAML_SCALAR_EVENT:
		return cy_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return cy_open(b, ev, CY_SEQ);
	case YAML_MAPPING_START_EVENT:
		return cy_open(b, ev, CY_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	case YAML_ALIAS_EVENT:
		return cy_error(b, &ev->start_mark,
				"YAML aliases are not supported");
	default:
		return 0;
	}
}

/* Whether the error at byte index at lies in the leading white space of
 * its line and that white space holds a tab: YAML forbids tabs there, and
 * libyaml says so only as "found character that cannot start any token". */
static bool tab_indent(const char *data, size_t len, size_t at)
{
	size_t start = at < len ? at : len;
	bool tab = false;

	while (start > 0 && data[start - 1] != '\n')
		start--;
	for (size_t i = start; i < len && (data[i] == ' ' || data[i] == '\t');
	     i++) {
		tab |= data[i] == '\t';
		if (i >= at)
			return tab;
	}
	return false;
}

/* Turn libyaml's error state into one line and a position. */
static void cy_syntax_error(struct cy_builder *b, const yaml_parser_t *p,
			    const char *data, size_t len)
{
	yaml_mark_t m = p->problem_mark;
	char msg[256];
	int k;

	if (p->error == YAML_MEMORY_ERROR)
		abort();
	if (p->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset instead of a mark */
		memset(&m, 0, sizeof(m));
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (data[i] == '\n') {
				m.line++;
				m.column = 0;
			} else {
				m.column++;
			}
		}
	}
	if (p->error != YAML_READER_ERROR &&
	    tab_indent(data, len, m.index)) {
		cy_error(b, &m, "YAML syntax error: tabs are not allowed for "
			 "indentation; indent with spaces");
		return;
	}
	k = snprintf(msg, sizeof(msg), "YAML syntax error: %s",
		     p->problem ? p->problem : "unknown error");
	if (p->context && k > 0 && (size_t)k < sizeof(msg))
		snprintf(msg + k, sizeof(msg) - (size_t)k, " (%s at %lu:%lu)",
			 p->context, (unsigned long)p->context_mark.line + 1,
			 (unsigned long)p->context_mark.column + 1);
	cy_error(b, &m, msg);
}

int cy_parse(const char *data, size_t len, struct cy_doc *doc, char *err,
	     size_t errlen, unsigned long *line, unsigned long *col)
{
	struct cy_builder b = { .doc = doc, .err = err, .errlen = errlen };
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0;

	memset(doc, 0, sizeof(*doc));
	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			cy_syntax_error(&b, &p, data, len);
			rc = -1;
			break;
		}
		rc = cy_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc < 0) {
		*line = b.line;
		*col = b.col;
		cy_free(doc);
		return -1;
	}
	return 0;
}

void cy_free(struct cy_doc *doc)
{
	struct cy_node *n, *next;

	for (n = doc->all; n; n = next) {
		next = n->next_alloc;
		free(n->str);
		free(n->kids);
		free(n);
	}
	memset(doc, 0, sizeof(*doc));
}

bool cy_is_null(const struct cy_node *n)
{
	if (n->kind != CY_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	       strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	       strcmp(n->str, "NULL") == 0;
}
