/*
 * maps.c - the accounting table as a treap of disjoint intervals.
 *
 * Nodes are ordered by start and heap-ordered by a priority drawn from a
 * deterministic xorshift64, so the expected height is O(log n) and the
 * recursive helpers below never go deeper than that.  An operation on
 * [s, e) first cuts the (at most two) entries straddling s and e in two,
 * then drops or changes the whole entries inside in one pass; an insertion
 * descends to its priority's level and splits the subtree there.  The nodes
 * the cuts and the insertion need are counted and allocated before anything
 * changes, so -ENOMEM leaves the table as it was.  account() moves an
 * entry's contribution in or out of the totals and its owner's counters
 * whenever an entry appears, disappears or changes length or prot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "maps.h"

#define ANY_PROT (-1) /* cut() regardless of the entry's prot */

struct maps_node {
	struct maps_entry e;
	struct maps_node *left, *right;
	uint64_t prio;
};

/* Nodes allocated up front for one operation (a remap needs at most 5). */
struct spare {
	struct maps_node *n[5];
	int k;
};

/* Draw the next treap priority. */
static uint64_t next_prio(struct maps *m)
{
	uint64_t x = m->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return m->rng = x;
}

/* Initialise an empty table. */
void maps_init(struct maps *m, uint64_t chunk_size, uint64_t chunk_slack)
{
	memset(m, 0, sizeof(*m));
	m->chunk_size = chunk_size;
	m->chunk_slack = chunk_slack;
	m->rng = 0x9e3779b97f4a7c15ull;
}

/* Classify a mapping of LEN bytes and KIND. */
enum mt_class maps_classify(const struct maps *m, uint64_t len, unsigned kind)
{
	if ((kind & MT_MAP_ANON) && !(kind & (MT_MAP_BRK | MT_MAP_NOCHUNK)) && len >= m->chunk_size &&
	    len - m->chunk_size <= m->chunk_slack)
		return MT_CLASS_CHUNK;
	return len >= m->chunk_size ? MT_CLASS_LARGE : MT_CLASS_SMALL;
}

/* Add E to (ADD) or take it out of the totals and its owner's counters. */
static void account(struct maps *m, const struct maps_entry *e, int add)
{
	/* Subtracting is adding the two's complement, modulo 2^64. */
	uint64_t n = add ? 1 : UINT64_MAX, b = n * e->len;
	enum mt_class c = maps_classify(m, e->len, e->kind);
	struct maps_totals *t = &m->totals;

	t->count[c] += n;
	t->bytes[c] += b;
	t->count_all += n;
	t->bytes_all += b;
	if (e->prot == 0)
		t->reserved_bytes += b;
	else
		t->committed_bytes += b;
	if (e->kind & MT_MAP_BRK)
		t->brk_bytes += b;
	/* Committed parts of MAP_NORESERVE reservations: glibc's arena heaps. */
	if (e->prot != 0 && (e->flags & MAP_NORESERVE) && (e->kind & MT_MAP_ANON))
		t->arena_bytes += b;
	if (e->kind & MT_MAP_DIRECT) {
		t->direct_count += n;
		t->direct_bytes += b;
		if ((e->kind & MT_MAP_BRK) || (e->prot != 0 && (e->flags & MAP_NORESERVE)))
			t->direct_arena_bytes += b;
	}
	if (c == MT_CLASS_CHUNK && (e->kind & MT_MAP_PREEXISTING))
		t->seeded_chunk_bytes += b;
	if (e->owner) {
		if (e->kind & MT_MAP_DIRECT) {
			e->owner->direct_count += n;
			e->owner->direct_bytes += b;
		}
		e->owner->count += n;
		e->owner->bytes += b;
		if (c == MT_CLASS_CHUNK) {
			e->owner->chunk_count += n;
			e->owner->chunk_bytes += b;
		}
	}
}

/* Split T into the nodes starting before KEY (*L) and the rest (*R). */
static void split(struct maps_node *t, uint64_t key, struct maps_node **l, struct maps_node **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (t->e.start < key) {
		*l = t;
		split(t->right, key, &t->right, r);
	} else {
		*r = t;
		split(t->left, key, l, &t->left);
	}
}

/* Join A and B, every node of A starting before every node of B. */
static struct maps_node *merge(struct maps_node *a, struct maps_node *b)
{
	if (!a || !b)
		return a ? a : b;
	if (a->prio > b->prio) {
		a->right = merge(a->right, b);
		return a;
	}
	b->left = merge(a, b->left);
	return b;
}

/* Find the node with the greatest start <= ADDR, or NULL. */
static struct maps_node *floor_node(const struct maps *m, uint64_t addr)
{
	struct maps_node *t = m->root, *best = NULL;

	while (t) {
		if (t->e.start <= addr) {
			best = t;
			t = t->right;
		} else {
			t = t->left;
		}
	}
	return best;
}

/* Find the node strictly containing X (start < X < end) unless its prot is PROT. */
static struct maps_node *straddler(const struct maps *m, uint64_t x, int prot)
{
	struct maps_node *n = floor_node(m, x);

	if (!n || n->e.start == x || x - n->e.start >= n->e.len)
		return NULL;
	return prot == ANY_PROT || n->e.prot != prot ? n : NULL;
}

/*
 * The cuts an operation on [S, E) needs: bit 0 at S, bit 1 at E.  Cutting
 * at one end never changes whether the other needs a cut, and removing a
 * range only shrinks entries, so a mask taken first stays an upper bound.
 */
static unsigned cuts(const struct maps *m, uint64_t s, uint64_t e, int prot)
{
	return (straddler(m, s, prot) ? 1u : 0) | (straddler(m, e, prot) ? 2u : 0);
}

/* Free every node left in SP. */
static void release(struct spare *sp)
{
	while (sp->k)
		free(sp->n[--sp->k]);
}

/* Allocate NEED nodes into SP, or none and return -ENOMEM. */
static int reserve(struct spare *sp, int need)
{
	sp->k = 0;
	while (sp->k < need) {
		struct maps_node *n = malloc(sizeof(*n));

		if (!n) {
			release(sp);
			return -ENOMEM;
		}
		sp->n[sp->k++] = n;
	}
	return 0;
}

/* Put N into T below the nodes of higher priority; return the new subtree. */
static struct maps_node *insert_node(struct maps_node *t, struct maps_node *n)
{
	if (!t)
		return n;
	if (n->prio > t->prio) {
		split(t, n->e.start, &n->left, &n->right);
		return n;
	}
	if (n->e.start < t->e.start)
		t->left = insert_node(t->left, n);
	else
		t->right = insert_node(t->right, n);
	return t;
}

/* Insert a spare node holding E, which overlaps nothing. */
static void insert(struct maps *m, struct spare *sp, const struct maps_entry *e)
{
	struct maps_node *n = sp->n[--sp->k];

	n->e = *e;
	n->left = n->right = NULL;
	n->prio = next_prio(m);
	m->root = insert_node(m->root, n);
	account(m, e, 1);
}

/* Cut the entry straddling X (unless its prot is PROT) into two at X. */
static void cut(struct maps *m, uint64_t x, int prot, struct spare *sp)
{
	struct maps_node *n = straddler(m, x, prot);
	struct maps_entry tail;

	if (!n)
		return;
	tail = n->e;
	tail.start = x;
	tail.len = n->e.start + n->e.len - x;
	account(m, &n->e, 0);
	n->e.len = x - n->e.start;
	account(m, &n->e, 1);
	insert(m, sp, &tail);
}

/* Cut at S and E where MASK (from cuts()) says. */
static void cut_ends(struct maps *m, uint64_t s, uint64_t e, unsigned mask, int prot,
		     struct spare *sp)
{
	if (mask & 1)
		cut(m, s, prot, sp);
	if (mask & 2)
		cut(m, e, prot, sp);
}

/*
 * Free the nodes of T starting in [S, E) and return what is left.  Only the
 * topmost node removed can have survivors on both sides, so the merges cost
 * O(height) in all.
 */
static struct maps_node *drop(struct maps *m, struct maps_node *t, uint64_t s, uint64_t e)
{
	struct maps_node *l, *r;

	if (!t)
		return NULL;
	if (t->e.start < s) {
		t->right = drop(m, t->right, s, e);
		return t;
	}
	if (t->e.start >= e) {
		t->left = drop(m, t->left, s, e);
		return t;
	}
	l = drop(m, t->left, s, e);
	r = drop(m, t->right, s, e);
	account(m, &t->e, 0);
	free(t);
	return merge(l, r);
}

/* Remove [S, E) from the table, cutting where MASK (from cuts()) says. */
static void remove_range(struct maps *m, uint64_t s, uint64_t e, unsigned mask, struct spare *sp)
{
	cut_ends(m, s, e, mask, ANY_PROT, sp);
	m->root = drop(m, m->root, s, e);
}

/* Set PROT on the entries of T starting in [S, E). */
static void set_prot(struct maps *m, struct maps_node *t, uint64_t s, uint64_t e, int prot)
{
	if (!t)
		return;
	if (t->e.start > s)
		set_prot(m, t->left, s, e, prot);
	if (t->e.start >= s && t->e.start < e && t->e.prot != prot) {
		account(m, &t->e, 0);
		t->e.prot = prot;
		account(m, &t->e, 1);
	}
	if (t->e.start < e)
		set_prot(m, t->right, s, e, prot);
}

/* Insert a copy of E, replacing whatever overlaps it. */
int maps_map(struct maps *m, const struct maps_entry *e)
{
	struct maps_entry copy = *e; /* E may point into the table */
	uint64_t end = copy.start + copy.len;
	struct spare sp;
	unsigned mask;

	if (copy.len > UINT64_MAX - copy.start)
		return -EINVAL;
	if (!copy.len)
		return 0;
	mask = cuts(m, copy.start, end, ANY_PROT);
	if (reserve(&sp, 1 + __builtin_popcount(mask)))
		return -ENOMEM;
	remove_range(m, copy.start, end, mask, &sp);
	insert(m, &sp, &copy);
	release(&sp);
	return 0;
}

/* Remove [START, START+LEN), splitting the entries it cuts. */
int maps_unmap(struct maps *m, uint64_t start, uint64_t len)
{
	struct spare sp;
	unsigned mask;

	if (len > UINT64_MAX - start)
		return -EINVAL;
	if (!len)
		return 0;
	mask = cuts(m, start, start + len, ANY_PROT);
	if (reserve(&sp, __builtin_popcount(mask)))
		return -ENOMEM;
	remove_range(m, start, start + len, mask, &sp);
	release(&sp);
	return 0;
}

/* Set PROT on the covered parts of entries; entries already at PROT are not split. */
int maps_protect(struct maps *m, uint64_t start, uint64_t len, int prot)
{
	struct spare sp;
	unsigned mask;

	if (len > UINT64_MAX - start)
		return -EINVAL;
	if (!len)
		return 0;
	mask = cuts(m, start, start + len, prot);
	if (reserve(&sp, __builtin_popcount(mask)))
		return -ENOMEM;
	cut_ends(m, start, start + len, mask, prot, &sp);
	set_prot(m, m->root, start, start + len, prot);
	release(&sp);
	return 0;
}

/* Record a successful mremap (see maps.h). */
int maps_remap(struct maps *m, uint64_t old, uint64_t old_len, uint64_t new_start, uint64_t new_len,
	       int keep_old, const struct maps_entry *fallback)
{
	const struct maps_entry *src = maps_find(m, old);
	struct maps_entry e = src ? *src : fallback ? *fallback : (struct maps_entry){0};
	uint64_t new_end = new_start + new_len;
	unsigned old_mask = 0, new_mask = 0;
	struct spare sp;

	if (old_len > UINT64_MAX - old || new_len > UINT64_MAX - new_start)
		return -EINVAL;
	keep_old = keep_old || !old_len;
	if (!keep_old)
		old_mask = cuts(m, old, old + old_len, ANY_PROT);
	if (new_len)
		new_mask = cuts(m, new_start, new_end, ANY_PROT);
	if (reserve(&sp, __builtin_popcount(old_mask) + __builtin_popcount(new_mask) + !!new_len))
		return -ENOMEM;
	if (!keep_old)
		remove_range(m, old, old + old_len, old_mask, &sp);
	if (new_len) {
		e.start = new_start;
		e.len = new_len;
		remove_range(m, new_start, new_end, new_mask, &sp);
		insert(m, &sp, &e);
	}
	release(&sp);
	return 0;
}

/* Find the entry containing ADDR. */
const struct maps_entry *maps_find(const struct maps *m, uint64_t addr)
{
	const struct maps_node *n = floor_node(m, addr);

	return n && addr - n->e.start < n->e.len ? &n->e : NULL;
}

/* Find the entry ending exactly at END. */
const struct maps_entry *maps_find_ending(const struct maps *m, uint64_t end)
{
	const struct maps_node *n = end ? floor_node(m, end - 1) : NULL;

	return n && n->e.start + n->e.len == end ? &n->e : NULL;
}

/* Visit T in order until FN returns non-zero. */
static int walk(const struct maps_node *t, int (*fn)(const struct maps_entry *e, void *arg),
		void *arg)
{
	int ret;

	if (!t)
		return 0;
	ret = walk(t->left, fn, arg);
	if (!ret)
		ret = fn(&t->e, arg);
	return ret ? ret : walk(t->right, fn, arg);
}

/* Call FN for each entry in address order until it returns non-zero. */
int maps_foreach(const struct maps *m, int (*fn)(const struct maps_entry *e, void *arg), void *arg)
{
	return walk(m->root, fn, arg);
}

/* Visit the nodes of T overlapping [S, E) in order until FN returns non-zero. */
static int walk_range(const struct maps_node *t, uint64_t s, uint64_t e,
		      int (*fn)(const struct maps_entry *en, void *arg), void *arg)
{
	int ret = 0;

	if (!t)
		return 0;
	if (t->e.start > s)
		ret = walk_range(t->left, s, e, fn, arg);
	if (!ret && t->e.start < e && t->e.start + t->e.len > s)
		ret = fn(&t->e, arg);
	if (!ret && t->e.start < e)
		ret = walk_range(t->right, s, e, fn, arg);
	return ret;
}

/* Call FN for each entry overlapping [START, START+LEN), in order. */
int maps_foreach_range(const struct maps *m, uint64_t start, uint64_t len,
		       int (*fn)(const struct maps_entry *e, void *arg), void *arg)
{
	if (!len || start + len < start)
		return 0;
	return walk_range(m->root, start, start + len, fn, arg);
}

/* Free every entry, taking each out of its owner's counters. */
void maps_clear(struct maps *m)
{
	m->root = drop(m, m->root, 0, UINT64_MAX); /* every start is below UINT64_MAX */
	memset(&m->totals, 0, sizeof(m->totals));
}

/* Take T's entries out of the totals (ADD 0) or put them back (1). */
static void account_all(struct maps *m, const struct maps_node *t, int add)
{
	if (!t)
		return;
	account_all(m, t->left, add);
	account(m, &t->e, add);
	account_all(m, t->right, add);
}

/* Classify every entry again for CHUNK_SIZE. */
void maps_set_chunk_size(struct maps *m, uint64_t chunk_size)
{
	if (chunk_size == m->chunk_size)
		return;
	account_all(m, m->root, 0);
	m->chunk_size = chunk_size;
	account_all(m, m->root, 1);
}
