/*
 * maps.h - the accounting table: every outstanding mapping of one address
 * space, with exact interval semantics.
 *
 * The table is a set of disjoint intervals [start, start+len) keyed by start
 * (a treap: O(log n) per operation plus the entries an operation covers).
 * Every operation keeps running totals per size class, reserved (PROT_NONE)
 * and committed bytes, the per-owner and per-stack outstanding counters, so
 * a query of the totals is O(1), and each node knows the longest entry of
 * its subtree, so the N longest entries take O(N log n).  Nodes come from
 * slabs of the table's own, without a malloc header each, and go back when
 * the table is empty.
 *
 * Lengths are in bytes and the caller passes page-rounded values; the table
 * itself never rounds.  All functions are for a single thread; the session
 * serialises access.
 */
#ifndef MAPS_H
#define MAPS_H

#include "libtrace.h"

/* Outstanding figures of one owner (a thread), updated by the table. */
struct maps_owner {
	uint64_t count, bytes;
	uint64_t chunk_count, chunk_bytes;
	uint64_t direct_count, direct_bytes;
};

/* What one mapping carries. */
struct maps_entry {
	uint64_t start, len;
	int prot, flags;          /* PROT_*, MAP_* of the creating call */
	unsigned kind;            /* MT_MAP_* */
	pid_t tid;                /* creator; 0 when preexisting */
	int64_t time_ns;          /* creation; 0 when preexisting */
	uint32_t stack_id;        /* 0: none */
	uint64_t id;              /* seq of the creating event; 0 when preexisting */
	struct maps_owner *owner; /* may be NULL; must outlive the entry */
};

struct maps_totals {
	uint64_t count[MT_CLASS_COUNT], bytes[MT_CLASS_COUNT];
	uint64_t count_all, bytes_all;
	uint64_t reserved_bytes;  /* prot == PROT_NONE */
	uint64_t committed_bytes; /* everything else */
	uint64_t brk_bytes;       /* kind & MT_MAP_BRK */
	uint64_t arena_bytes;     /* committed, anonymous, MAP_NORESERVE (glibc heaps) */
	uint64_t direct_count, direct_bytes; /* kind & MT_MAP_DIRECT */
	uint64_t direct_arena_bytes; /* of those, in an arena heap's committed part or the brk heap */
	uint64_t seeded_chunk_bytes; /* chunk class and preexisting: of unknown origin */
};

/* Outstanding figures of the entries of one allocating stack (stack_id). */
struct maps_stack {
	uint32_t id, used; /* used: the slot is taken (internal) */
	uint64_t count[MT_CLASS_COUNT], bytes[MT_CLASS_COUNT];
	uint64_t direct_count, direct_bytes;
};

struct maps_node;
struct maps_slab;

struct maps {
	struct maps_node *root;
	uint64_t chunk_size, chunk_slack;
	uint64_t rng; /* treap priorities, deterministic */
	struct maps_totals totals;
	struct maps_stack *stacks; /* hashed by stack_id; stacks_cap slots */
	size_t stacks_cap, stacks_used;
	struct maps_slab *slabs;       /* where the nodes live */
	struct maps_node *free_nodes;  /* unused nodes of the slabs */
	/*
	 * When set, called with every entry as it goes into the totals (ADD 1)
	 * or out of them (0): made, removed, cut, changed.  It must not change
	 * the table.
	 */
	void (*watch)(void *arg, const struct maps_entry *e, int add);
	void *watch_arg;
};

/* Initialise an empty table with the chunk classification parameters. */
void maps_init(struct maps *m, uint64_t chunk_size, uint64_t chunk_slack);
/*
 * Classify every entry again for a new chunk size (the totals and owners'
 * chunk counters follow).
 */
void maps_set_chunk_size(struct maps *m, uint64_t chunk_size);
/* Free every entry; the table stays usable and empty. */
void maps_clear(struct maps *m);

/*
 * Class of a mapping of LEN bytes and KIND: chunk when anonymous, neither
 * brk nor NOCHUNK, and chunk_size <= len <= chunk_size + chunk_slack; else large when
 * len >= chunk_size; else small.
 */
enum mt_class maps_classify(const struct maps *m, uint64_t len, unsigned kind);

/* Insert E, first removing whatever overlaps [E.start, E.start+E.len). */
int maps_map(struct maps *m, const struct maps_entry *e);
/* Remove [START, START+LEN); entries are split where the range cuts them. */
int maps_unmap(struct maps *m, uint64_t start, uint64_t len);
/* Set PROT on the parts of existing entries inside [START, START+LEN). */
int maps_protect(struct maps *m, uint64_t start, uint64_t len, int prot);
/*
 * A successful mremap: the old range [OLD, OLD+OLD_LEN) moved or resized to
 * [NEW_START, NEW_START+NEW_LEN).  The new entry takes its attributes from
 * the entry that contained OLD (prot, flags, kind, tid, time, stack, owner),
 * or from FALLBACK when none did.  Unless KEEP_OLD (MREMAP_DONTUNMAP, or
 * OLD_LEN == 0), the old range is removed first.
 */
int maps_remap(struct maps *m, uint64_t old, uint64_t old_len, uint64_t new_start,
	       uint64_t new_len, int keep_old, const struct maps_entry *fallback);

/* The entry containing ADDR, or NULL.  Valid until the next change. */
const struct maps_entry *maps_find(const struct maps *m, uint64_t addr);
/* The entry ending exactly at END (end = start+len), or NULL. */
const struct maps_entry *maps_find_ending(const struct maps *m, uint64_t end);

/* Call FN for each entry in address order until it returns non-zero. */
int maps_foreach(const struct maps *m, int (*fn)(const struct maps_entry *e, void *arg),
		 void *arg);

/* Call FN for each entry overlapping [START, START+LEN), in address order. */
int maps_foreach_range(const struct maps *m, uint64_t start, uint64_t len,
		       int (*fn)(const struct maps_entry *e, void *arg), void *arg);

/*
 * The longest entries of at least MIN_LEN bytes for which MATCH (when not
 * NULL) returns non-zero, longest first, equal lengths by address: up to MAX
 * of them into OUT.  Returns how many.  Entries MATCH rejects still cost
 * their visit.  The pointers are valid until the next change.
 */
size_t maps_top(const struct maps *m, uint64_t min_len,
		int (*match)(const struct maps_entry *e, void *arg), void *arg,
		const struct maps_entry **out, size_t max);

/* The sums of stack ID's entries, or NULL when it never had one. */
const struct maps_stack *maps_stack_sums(const struct maps *m, uint32_t id);

/*
 * The per-stack sums: m->stacks[0..stacks_cap), the slots with USED set;
 * a stack whose entries are all gone may still have a slot, all zero.
 */

/* Number of entries. */
static inline uint64_t maps_count(const struct maps *m)
{
	return m->totals.count_all;
}

#endif
