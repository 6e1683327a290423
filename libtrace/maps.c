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
 * whenever an entry appears, disappears or changes length or prot, and
 * tells the watcher, if any.
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
	uint32_t prio;
	uint32_t max_pages; /* ceil(greatest len in this subtree / PAGE), saturated */
};

#define PAGE_SHIFT 12
#define SLAB_NODES 1024 /* nodes per slab: 88 KiB */

/* A block of nodes; the table's nodes come from its slabs, free ones on a list. */
struct maps_slab {
	struct maps_slab *next;
	struct maps_node n[SLAB_NODES];
};

/* Nodes allocated up front for one operation (a remap needs at most 5). */
struct spare {
	struct maps_node *n[5];
	int k;
};

/* Draw the next treap priority. */
static uint32_t next_prio(struct maps *m)
{
	uint64_t x = m->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	m->rng = x;
	return (uint32_t)(x >> 32);
}

/* LEN in pages, rounded up, saturated at UINT32_MAX. */
static uint32_t len_pages(uint64_t len)
{
	uint64_t p = (len >> PAGE_SHIFT) + !!(len & ((1u << PAGE_SHIFT) - 1));

	return p > UINT32_MAX ? UINT32_MAX : (uint32_t)p;
}

/* Recompute T's subtree maximum from its entry and children. */
static void pull(struct maps_node *t)
{
	uint32_t x = len_pages(t->e.len);

	if (t->left && t->left->max_pages > x)
		x = t->left->max_pages;
	if (t->right && t->right->max_pages > x)
		x = t->right->max_pages;
	t->max_pages = x;
}

/* Take a node from the free list, adding a slab when it is empty; NULL when out of memory. */
static struct maps_node *node_get(struct maps *m)
{
	struct maps_node *n;

	if (!m->free_nodes) {
		struct maps_slab *sl = malloc(sizeof(*sl));

		if (!sl)
			return NULL;
		sl->next = m->slabs;
		m->slabs = sl;
		for (int i = SLAB_NODES - 1; i >= 0; i--) {
			sl->n[i].left = m->free_nodes;
			m->free_nodes = &sl->n[i];
		}
	}
	n = m->free_nodes;
	m->free_nodes = n->left;
	return n;
}

/* Put N back on the free list. */
static void node_put(struct maps *m, struct maps_node *n)
{
	n->left = m->free_nodes;
	m->free_nodes = n;
}

/* The slot of stack ID in the per-stack sums, or NULL. */
static struct maps_stack *stack_slot(const struct maps *m, uint32_t id)
{
	size_t mask = m->stacks_cap - 1;

	if (!m->stacks_cap)
		return NULL;
	for (size_t i = (id * 0x9e3779b1u) & mask;; i = (i + 1) & mask) {
		if (!m->stacks[i].used)
			return NULL;
		if (m->stacks[i].id == id)
			return &m->stacks[i];
	}
}

/* Whether stack sums S count nothing. */
static int stack_empty(const struct maps_stack *st)
{
	uint64_t c = st->direct_count;

	for (int i = 0; i < MT_CLASS_COUNT; i++)
		c |= st->count[i];
	return !c;
}

/* Put a zeroed slot for ID in the table of CAP slots V (which has room). */
static struct maps_stack *stack_add(struct maps_stack *v, size_t cap, uint32_t id)
{
	size_t i = (id * 0x9e3779b1u) & (cap - 1);

	while (v[i].used)
		i = (i + 1) & (cap - 1);
	memset(&v[i], 0, sizeof(v[i]));
	v[i].id = id;
	v[i].used = 1;
	return &v[i];
}

/*
 * Make sure stack ID has a slot in the per-stack sums (an open-addressed
 * hash, at most half full).  Slots that count nothing go when it is rebuilt.
 * -ENOMEM leaves the sums as they were.
 */
static int stacks_fit(struct maps *m, uint32_t id)
{
	size_t live = 0, cap = 64;
	struct maps_stack *v;

	if (stack_slot(m, id))
		return 0;
	if (2 * (m->stacks_used + 1) > m->stacks_cap) {
		for (size_t i = 0; i < m->stacks_cap; i++)
			live += m->stacks[i].used && !stack_empty(&m->stacks[i]);
		while (cap < 4 * (live + 1))
			cap *= 2;
		if (!(v = calloc(cap, sizeof(*v))))
			return -ENOMEM;
		for (size_t i = 0; i < m->stacks_cap; i++)
			if (m->stacks[i].used && !stack_empty(&m->stacks[i]))
				*stack_add(v, cap, m->stacks[i].id) = m->stacks[i];
		free(m->stacks);
		m->stacks = v;
		m->stacks_cap = cap;
		m->stacks_used = live;
	}
	stack_add(m->stacks, m->stacks_cap, id);
	m->stacks_used++;
	return 0;
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
	struct maps_stack *st;

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
	if ((st = stack_slot(m, e->stack_id))) { /* always: maps_map() and maps_remap() made it */
		st->count[c] += n;
		st->bytes[c] += b;
		if (e->kind & MT_MAP_DIRECT) {
			st->direct_count += n;
			st->direct_bytes += b;
		}
	}
	if (m->watch)
		m->watch(m->watch_arg, e, add);
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
		pull(t);
	} else {
		*r = t;
		split(t->left, key, l, &t->left);
		pull(t);
	}
}

/* Join A and B, every node of A starting before every node of B. */
static struct maps_node *merge(struct maps_node *a, struct maps_node *b)
{
	if (!a || !b)
		return a ? a : b;
	if (a->prio > b->prio) {
		a->right = merge(a->right, b);
		pull(a);
		return a;
	}
	b->left = merge(a, b->left);
	pull(b);
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

/* Return every node left in SP. */
static void release(struct maps *m, struct spare *sp)
{
	while (sp->k)
		node_put(m, sp->n[--sp->k]);
}

/* Take NEED nodes into SP, or none and return -ENOMEM. */
static int reserve(struct maps *m, struct spare *sp, int need)
{
	sp->k = 0;
	while (sp->k < need) {
		struct maps_node *n = node_get(m);

		if (!n) {
			release(m, sp);
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
		pull(n);
		return n;
	}
	if (n->e.start < t->e.start)
		t->left = insert_node(t->left, n);
	else
		t->right = insert_node(t->right, n);
	pull(t);
	return t;
}

/* Insert a spare node holding E, which overlaps nothing. */
static void insert(struct maps *m, struct spare *sp, const struct maps_entry *e)
{
	struct maps_node *n = sp->n[--sp->k];

	n->e = *e;
	n->left = n->right = NULL;
	n->prio = next_prio(m);
	n->max_pages = len_pages(e->len);
	m->root = insert_node(m->root, n);
	account(m, e, 1);
}

/* Recompute the subtree maxima on the path from T down to the node starting at KEY. */
static void pull_path(struct maps_node *t, uint64_t key)
{
	if (!t)
		return;
	if (key < t->e.start)
		pull_path(t->left, key);
	else if (key > t->e.start)
		pull_path(t->right, key);
	pull(t);
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
	pull_path(m->root, n->e.start);
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
		pull(t);
		return t;
	}
	if (t->e.start >= e) {
		t->left = drop(m, t->left, s, e);
		pull(t);
		return t;
	}
	l = drop(m, t->left, s, e);
	r = drop(m, t->right, s, e);
	account(m, &t->e, 0);
	node_put(m, t);
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

/*
 * Free the slabs and the per-stack sums of a table with no entries left:
 * an empty table holds no memory, as when every node was its own malloc.
 */
static void let_go(struct maps *m)
{
	if (m->root)
		return;
	while (m->slabs) {
		struct maps_slab *sl = m->slabs;

		m->slabs = sl->next;
		free(sl);
	}
	m->free_nodes = NULL;
	free(m->stacks);
	m->stacks = NULL;
	m->stacks_cap = m->stacks_used = 0;
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
	if (stacks_fit(m, copy.stack_id) || reserve(m, &sp, 1 + __builtin_popcount(mask))) {
		let_go(m);
		return -ENOMEM;
	}
	remove_range(m, copy.start, end, mask, &sp);
	insert(m, &sp, &copy);
	release(m, &sp);
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
	if (reserve(m, &sp, __builtin_popcount(mask)))
		return -ENOMEM;
	remove_range(m, start, start + len, mask, &sp);
	release(m, &sp);
	let_go(m);
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
	if (reserve(m, &sp, __builtin_popcount(mask)))
		return -ENOMEM;
	cut_ends(m, start, start + len, mask, prot, &sp);
	set_prot(m, m->root, start, start + len, prot);
	release(m, &sp);
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
	if ((new_len && stacks_fit(m, e.stack_id)) ||
	    reserve(m, &sp, __builtin_popcount(old_mask) + __builtin_popcount(new_mask) + !!new_len)) {
		let_go(m);
		return -ENOMEM;
	}
	if (!keep_old)
		remove_range(m, old, old + old_len, old_mask, &sp);
	if (new_len) {
		e.start = new_start;
		e.len = new_len;
		remove_range(m, new_start, new_end, new_mask, &sp);
		insert(m, &sp, &e);
	}
	release(m, &sp);
	let_go(m);
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

/* Free every entry, taking each out of its owner's counters, and the slabs. */
void maps_clear(struct maps *m)
{
	m->root = drop(m, m->root, 0, UINT64_MAX); /* every start is below UINT64_MAX */
	memset(&m->totals, 0, sizeof(m->totals));
	let_go(m);
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

/*
 * A candidate of maps_top(): a whole subtree or one entry.  LO is where the
 * candidate's entries may start at the lowest: the entry's start, or for a
 * subtree the end of the entry before it in address order (the subtrees
 * and entries in the heap never overlap).
 */
struct cand {
	uint64_t key; /* the entry's len, or an upper bound on the subtree's */
	uint64_t lo;
	const struct maps_node *n;
	int whole;
};

/*
 * Whether candidate A comes out of the heap before B: longer first, then
 * lower first, so that among equal lengths the lowest address comes out
 * first without opening every subtree that could hold the same length.
 */
static int cand_before(const struct cand *a, const struct cand *b)
{
	if (a->key != b->key)
		return a->key > b->key;
	if (a->lo != b->lo)
		return a->lo < b->lo;
	return a->whole > b->whole;
}

/* Push C on the binary heap H of *N items (room is there). */
static void cand_push(struct cand *h, size_t *n, struct cand c)
{
	size_t i = (*n)++;

	while (i && cand_before(&c, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = c;
}

/* Pop the first candidate of H. */
static struct cand cand_pop(struct cand *h, size_t *n)
{
	struct cand top = h[0], last = h[--*n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && cand_before(&h[c + 1], &h[c]))
			c++;
		if (!cand_before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

/* The subtree T, whose entries start at LO or above, as a candidate. */
static struct cand whole(const struct maps_node *t, uint64_t lo)
{
	uint64_t k = t->max_pages == UINT32_MAX ? UINT64_MAX : (uint64_t)t->max_pages << PAGE_SHIFT;

	return (struct cand){k, lo, t, 1};
}

/* The sums of stack ID's entries, or NULL when it never had one. */
const struct maps_stack *maps_stack_sums(const struct maps *m, uint32_t id)
{
	return stack_slot(m, id);
}

/*
 * Best-first over the subtree maxima: a subtree is opened only when its
 * bound could still beat what is left, so with no other filter the cost is
 * O(MAX log n), not O(n), even when every entry has the same length.
 */
size_t maps_top(const struct maps *m, uint64_t min_len,
		int (*match)(const struct maps_entry *e, void *arg), void *arg,
		const struct maps_entry **out, size_t max)
{
	struct cand *h = NULL;
	size_t n = 0, cap = 0, found = 0;

	if (!m->root || !max)
		return 0;
	cap = 64;
	if (!(h = malloc(cap * sizeof(*h))))
		return 0;
	cand_push(h, &n, whole(m->root, 0));
	while (n && found < max) {
		struct cand c = cand_pop(h, &n);

		if (c.key < min_len)
			break; /* nothing left is long enough */
		if (!c.whole) {
			if (!match || match(&c.n->e, arg))
				out[found++] = &c.n->e;
			continue;
		}
		if (n + 3 > cap) {
			struct cand *g = realloc(h, 2 * cap * sizeof(*h));

			if (!g)
				break;
			h = g;
			cap *= 2;
		}
		cand_push(h, &n, (struct cand){c.n->e.len, c.n->e.start, c.n, 0});
		if (c.n->left)
			cand_push(h, &n, whole(c.n->left, c.lo));
		if (c.n->right)
			cand_push(h, &n, whole(c.n->right, c.n->e.start + c.n->e.len));
	}
	free(h);
	return found;
}
