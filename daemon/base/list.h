/* The one intrusive doubly linked list: a struct list_node embedded in each
 * member, a struct list_node as the head. Circular with the head as
 * sentinel, so insert and remove never test for NULL and never allocate.
 * A node that is not on a list has next == NULL (list_node_init or zeroed
 * memory), so list_linked() tells whether it is. */
#ifndef RF_LIST_H
#define RF_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *next, *prev;
};

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

static inline void list_init(struct list_node *head)
{
	head->next = head->prev = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* Whether n is on some list (a zeroed or removed node is not). */
static inline bool list_linked(const struct list_node *n)
{
	return n->next != NULL;
}

static inline void list_insert_after(struct list_node *at,
				     struct list_node *n)
{
	n->prev = at;
	n->next = at->next;
	at->next->prev = n;
	at->next = n;
}

static inline void list_push_front(struct list_node *head,
				   struct list_node *n)
{
	list_insert_after(head, n);
}

static inline void list_push_back(struct list_node *head,
				  struct list_node *n)
{
	list_insert_after(head->prev, n);
}

/* Unlink n from its list; n is then not linked. */
static inline void list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

/* The first member, or NULL when the list is empty. */
static inline struct list_node *list_first(const struct list_node *head)
{
	return list_empty(head) ? NULL : head->next;
}

static inline struct list_node *list_last(const struct list_node *head)
{
	return list_empty(head) ? NULL : head->prev;
}

/* The member after n on head's list, or NULL at the end. */
static inline struct list_node *list_next(const struct list_node *head,
					  const struct list_node *n)
{
	return n->next == head ? NULL : n->next;
}

#define list_entry(node, type, member) container_of(node, type, member)

/* Walk head's list; the body may remove the current member (not others). */
#define list_for_each_safe(pos, tmp, head)                                  \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);    \
	     (pos) = (tmp), (tmp) = (pos)->next)

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#endif
