/*
 * test_maps.c - the accounting table: targeted edge cases, a million-entry
 * run and a randomised differential test against a naive interval list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "maps.h"
#include "unit.h"

#define PG    4096ull
#define MIB   (1024ull * 1024)
#define CHUNK (16 * MIB)
#define SLACK (8 * 1024ull)
#define B     0x7f0000000000ull /* base address of the targeted tests */
#define P(n)  (B + (uint64_t)(n)*PG)
#define RW    (PROT_READ | PROT_WRITE)
#define ANON  MT_MAP_ANON
#define BRK   MT_MAP_BRK

/* ck_assert_* records a location on success, far too slow for hot loops. */
#define REQUIRE(c, ...)                                                                            \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

/* Build an entry with recognisable attributes. */
static struct maps_entry ent(uint64_t start, uint64_t len, int prot, unsigned kind,
			     struct maps_owner *o)
{
	struct maps_entry e = {.start = start,
			       .len = len,
			       .prot = prot,
			       .flags = MAP_PRIVATE | MAP_ANONYMOUS,
			       .kind = kind,
			       .tid = 42,
			       .time_ns = 1000,
			       .stack_id = 7,
			       .owner = o};
	return e;
}

/* Map E, which must succeed. */
static void map(struct maps *m, struct maps_entry e)
{
	ck_assert_int_eq(maps_map(m, &e), 0);
}

/* The class of an entry, written independently of maps_classify(). */
/* check_against() checks the queries too at one call in QUERY_EVERY. */
static unsigned long checks, query_every = 1;

static int same_entry(const struct maps_entry *a, const struct maps_entry *b);
static void check_queries(const struct maps *m, const struct maps_entry *es, size_t n);

static enum mt_class klass(uint64_t len, unsigned kind, uint64_t chunk, uint64_t slack)
{
	int anon = (kind & MT_MAP_ANON) && !(kind & MT_MAP_BRK);

	if (anon && len >= chunk && len <= chunk + slack)
		return MT_CLASS_CHUNK;
	return len >= chunk ? MT_CLASS_LARGE : MT_CLASS_SMALL;
}

struct collect {
	struct maps_entry *e;
	size_t n, cap;
};

/* Append E to the collection (foreach callback). */
static int collect_cb(const struct maps_entry *e, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap)
		return -ENOSPC;
	c->e[c->n++] = *e;
	return 0;
}

/*
 * Check the table's entries are sorted, disjoint and non-empty, that its
 * totals match ES, and that each of the NO owners' counters match too.
 */
static void check_against(const struct maps *m, const struct maps_entry *es, size_t n,
			  struct maps_owner **owners, size_t no)
{
	struct maps_totals t = {0};
	struct maps_owner want[8] = {{0}};

	for (size_t i = 0; i < n; i++) {
		const struct maps_entry *e = &es[i];
		enum mt_class c = klass(e->len, e->kind, m->chunk_size, m->chunk_slack);

		REQUIRE(e->len > 0, "empty entry at %zu", i);
		REQUIRE(i == 0 || es[i - 1].start + es[i - 1].len <= e->start,
			"entries %zu and %zu overlap or are unsorted", i - 1, i);
		t.count[c]++;
		t.bytes[c] += e->len;
		t.count_all++;
		t.bytes_all += e->len;
		*(e->prot ? &t.committed_bytes : &t.reserved_bytes) += e->len;
		if (e->kind & MT_MAP_BRK)
			t.brk_bytes += e->len;
		if (e->kind & MT_MAP_DIRECT) {
			t.direct_count++;
			t.direct_bytes += e->len;
		}
		if (c == MT_CLASS_CHUNK && (e->kind & MT_MAP_PREEXISTING))
			t.seeded_chunk_bytes += e->len;
		for (size_t k = 0; k < no; k++) {
			if (e->owner != owners[k])
				continue;
			want[k].count++;
			want[k].bytes += e->len;
			if (e->kind & MT_MAP_DIRECT) {
				want[k].direct_count++;
				want[k].direct_bytes += e->len;
			}
			if (c == MT_CLASS_CHUNK) {
				want[k].chunk_count++;
				want[k].chunk_bytes += e->len;
			}
		}
	}
	REQUIRE(!memcmp(&t, &m->totals, sizeof(t)),
		"totals differ: count_all %lu/%lu bytes_all %lu/%lu reserved %lu/%lu",
		(unsigned long)m->totals.count_all, (unsigned long)t.count_all,
		(unsigned long)m->totals.bytes_all, (unsigned long)t.bytes_all,
		(unsigned long)m->totals.reserved_bytes, (unsigned long)t.reserved_bytes);
	for (size_t k = 0; k < no; k++)
		REQUIRE(!memcmp(&want[k], owners[k], sizeof(want[k])),
			"owner %zu: count %lu/%lu bytes %lu/%lu chunks %lu/%lu", k,
			(unsigned long)owners[k]->count, (unsigned long)want[k].count,
			(unsigned long)owners[k]->bytes, (unsigned long)want[k].bytes,
			(unsigned long)owners[k]->chunk_count, (unsigned long)want[k].chunk_count);
	if (++checks % query_every == 0)
		check_queries(m, es, n);
}

/* Order of maps_top(): longest first, then by address. */
static int by_len_desc(const void *a, const void *b)
{
	const struct maps_entry *x = *(const struct maps_entry *const *)a,
				*y = *(const struct maps_entry *const *)b;

	if (x->len != y->len)
		return x->len < y->len ? 1 : -1;
	return (x->start > y->start) - (x->start < y->start);
}

static int by_stack(const void *a, const void *b)
{
	const struct maps_entry *x = *(const struct maps_entry *const *)a,
				*y = *(const struct maps_entry *const *)b;

	return (x->stack_id > y->stack_id) - (x->stack_id < y->stack_id);
}

/* Match the anonymous entries (a filter for maps_top()). */
static int anon_only(const struct maps_entry *e, void *arg)
{
	(void)arg;
	return !!(e->kind & ANON);
}

/*
 * Check the per-stack sums and maps_top() of M against the N entries ES
 * (in address order): the top 7 by length, with and without a minimum
 * length and a filter, must be the first of ES sorted by length.
 */
static void check_queries(const struct maps *m, const struct maps_entry *es, size_t n)
{
	const struct maps_entry **v = malloc((n ? n : 1) * sizeof(*v)), *top[8];
	size_t got, k, live = 0;

	REQUIRE(v != NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = &es[i];
	qsort(v, n, sizeof(*v), by_stack);
	for (size_t i = 0; i < n;) {
		struct maps_stack want = {0};
		const struct maps_stack *have = maps_stack_sums(m, v[i]->stack_id);
		uint32_t id = v[i]->stack_id;

		for (; i < n && v[i]->stack_id == id; i++) {
			enum mt_class c = klass(v[i]->len, v[i]->kind, m->chunk_size, m->chunk_slack);

			want.count[c]++;
			want.bytes[c] += v[i]->len;
			if (v[i]->kind & MT_MAP_DIRECT) {
				want.direct_count++;
				want.direct_bytes += v[i]->len;
			}
		}
		live++;
		REQUIRE(have && have->id == id, "stack %u has no sums", id);
		REQUIRE(!memcmp(want.count, have->count, sizeof(want.count)) &&
				!memcmp(want.bytes, have->bytes, sizeof(want.bytes)) &&
				want.direct_count == have->direct_count &&
				want.direct_bytes == have->direct_bytes,
			"stack %u: sums differ", id);
	}
	/* Every other slot counts nothing. */
	for (size_t i = 0; i < m->stacks_cap; i++) {
		const struct maps_stack *st = &m->stacks[i];
		uint64_t c = st->direct_count;

		for (int j = 0; j < MT_CLASS_COUNT; j++)
			c += st->count[j];
		live -= st->used && c;
	}
	REQUIRE(live == 0, "%zu stacks with entries have no slot or too many do", live);

	qsort(v, n, sizeof(*v), by_len_desc);
	got = maps_top(m, 0, NULL, NULL, top, 7);
	REQUIRE(got == (n < 7 ? n : 7), "top: %zu of %zu", got, n);
	for (size_t i = 0; i < got; i++)
		REQUIRE(top[i] == maps_find(m, v[i]->start) && same_entry(top[i], v[i]),
			"top: entry %zu differs", i);
	for (k = 0; k < n && v[k]->len >= m->chunk_size; k++)
		;
	got = maps_top(m, m->chunk_size, NULL, NULL, top, 7);
	REQUIRE(got == (k < 7 ? k : 7), "top over chunk size: %zu of %zu", got, k);
	for (size_t i = 0; i < got; i++)
		REQUIRE(same_entry(top[i], v[i]), "top over chunk size: entry %zu differs", i);
	got = maps_top(m, 0, anon_only, NULL, top, 7);
	k = 0;
	for (size_t i = 0; i < n && k < 7; i++) {
		if (!(v[i]->kind & ANON))
			continue;
		REQUIRE(k < got && same_entry(top[k], v[i]), "top of anonymous: entry %zu differs", k);
		k++;
	}
	REQUIRE(got == k, "top of anonymous: %zu, want %zu", got, k);
	free(v);
}

/* Compare every field of two entries (memcmp would see the padding). */
static int same_entry(const struct maps_entry *a, const struct maps_entry *b)
{
	return a->start == b->start && a->len == b->len && a->prot == b->prot &&
	       a->flags == b->flags && a->kind == b->kind && a->tid == b->tid &&
	       a->time_ns == b->time_ns && a->stack_id == b->stack_id && a->owner == b->owner;
}

static struct maps_entry snap[64];

/* Copy the table into snap[], check its invariants and return the count. */
static size_t verify(const struct maps *m, struct maps_owner **owners, size_t no)
{
	struct collect c = {snap, 0, 64};

	ck_assert_int_eq(maps_foreach(m, collect_cb, &c), 0);
	check_against(m, snap, c.n, owners, no);
	ck_assert_uint_eq(maps_count(m), c.n);
	return c.n;
}

/* Check snap[I] spans pages [S, S+N) with PROT. */
#define ASSERT_SPAN(i, s, n, pr)                                                                   \
	do {                                                                                       \
		ck_assert_uint_eq(snap[i].start, P(s));                                            \
		ck_assert_uint_eq(snap[i].len, (n)*PG);                                            \
		ck_assert_int_eq(snap[i].prot, pr);                                                \
	} while (0)

static struct maps m;
static struct maps_owner o1, o2, o3;
static struct maps_owner *owners[] = {&o1, &o2, &o3};

/* Fresh table and owners for each targeted test. */
static void setup(void)
{
	maps_init(&m, CHUNK, SLACK);
	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	memset(&o3, 0, sizeof(o3));
}

/* Free the table after each targeted test. */
static void teardown(void)
{
	maps_clear(&m);
}

/* Check OWNER's count and bytes (in pages). */
static void owner_is(const struct maps_owner *o, uint64_t count, uint64_t pages)
{
	ck_assert_uint_eq(o->count, count);
	ck_assert_uint_eq(o->bytes, pages * PG);
}

START_TEST(test_classify)
{
	ck_assert_int_eq(maps_classify(&m, CHUNK, ANON), MT_CLASS_CHUNK);
	ck_assert_int_eq(maps_classify(&m, CHUNK + SLACK, ANON), MT_CLASS_CHUNK);
	ck_assert_int_eq(maps_classify(&m, CHUNK + SLACK + 1, ANON), MT_CLASS_LARGE);
	ck_assert_int_eq(maps_classify(&m, CHUNK - 1, ANON), MT_CLASS_SMALL);
	ck_assert_int_eq(maps_classify(&m, CHUNK, 0), MT_CLASS_LARGE);
	ck_assert_int_eq(maps_classify(&m, CHUNK, ANON | BRK), MT_CLASS_LARGE);
	ck_assert_int_eq(maps_classify(&m, CHUNK, ANON | MT_MAP_PREEXISTING), MT_CLASS_CHUNK);
	ck_assert_int_eq(maps_classify(&m, PG, 0), MT_CLASS_SMALL);
	ck_assert_int_eq(maps_classify(&m, 0, ANON), MT_CLASS_SMALL);
}
END_TEST

START_TEST(test_noops_and_overflow)
{
	struct maps_entry e = ent(P(0), 0, RW, ANON, &o1);

	ck_assert_ptr_null(maps_find(&m, P(0)));
	ck_assert_ptr_null(maps_find_ending(&m, 0));
	ck_assert_int_eq(maps_map(&m, &e), 0);
	ck_assert_int_eq(maps_unmap(&m, P(0), 4 * PG), 0);
	ck_assert_int_eq(maps_protect(&m, P(0), 4 * PG, 0), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 0);

	/* Zero-length unmap and protect must not split what they touch. */
	map(&m, ent(P(0), 4 * PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_unmap(&m, P(2), 0), 0);
	ck_assert_int_eq(maps_protect(&m, P(2), 0, 0), 0);
	ck_assert_int_eq(maps_remap(&m, P(2), 0, P(2), 0, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 0, 4, RW);

	e = ent(UINT64_MAX - PG + 1, 2 * PG, RW, ANON, &o1);
	ck_assert_int_eq(maps_map(&m, &e), -EINVAL);
	ck_assert_int_eq(maps_unmap(&m, UINT64_MAX - PG + 1, 2 * PG), -EINVAL);
	ck_assert_int_eq(maps_protect(&m, 1, UINT64_MAX, 0), -EINVAL);
	ck_assert_int_eq(maps_remap(&m, P(0), UINT64_MAX, P(8), PG, 0, NULL), -EINVAL);
	ck_assert_int_eq(maps_remap(&m, P(0), PG, UINT64_MAX, PG, 0, NULL), -EINVAL);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	owner_is(&o1, 1, 4);

	/* Near the top of the address space (an end of 2^64 is not representable). */
	uint64_t top = UINT64_MAX - 3 * PG + 1;

	map(&m, ent(top, 2 * PG, RW, ANON, &o2));
	ck_assert_ptr_nonnull(maps_find(&m, top + 2 * PG - 1));
	ck_assert_ptr_null(maps_find(&m, UINT64_MAX));
	ck_assert_ptr_nonnull(maps_find_ending(&m, top + 2 * PG));
	ck_assert_int_eq(maps_unmap(&m, top + PG, 2 * PG - 1), 0);
	owner_is(&o2, 1, 1);
}
END_TEST

START_TEST(test_find)
{
	map(&m, ent(P(0), 4 * PG, RW, ANON, &o1));
	map(&m, ent(P(4), 2 * PG, PROT_READ, ANON, &o2));
	map(&m, ent(P(10), PG, 0, 0, NULL));
	ck_assert_uint_eq(maps_find(&m, P(0))->start, P(0));
	ck_assert_uint_eq(maps_find(&m, P(4) - 1)->start, P(0));
	ck_assert_uint_eq(maps_find(&m, P(4))->start, P(4));
	ck_assert_uint_eq(maps_find(&m, P(10) + 5)->start, P(10));
	ck_assert_ptr_null(maps_find(&m, P(0) - 1));
	ck_assert_ptr_null(maps_find(&m, P(6)));
	ck_assert_ptr_null(maps_find(&m, P(9)));
	ck_assert_ptr_null(maps_find(&m, P(11)));
	ck_assert_uint_eq(maps_find_ending(&m, P(4))->start, P(0));
	ck_assert_uint_eq(maps_find_ending(&m, P(6))->start, P(4));
	ck_assert_uint_eq(maps_find_ending(&m, P(11))->start, P(10));
	ck_assert_ptr_null(maps_find_ending(&m, P(5)));
	ck_assert_ptr_null(maps_find_ending(&m, P(10)));
	ck_assert_ptr_null(maps_find_ending(&m, P(0)));
	ck_assert_ptr_null(maps_find_ending(&m, P(12)));
	/* Re-mapping an entry from a pointer into the table itself. */
	ck_assert_int_eq(maps_map(&m, maps_find(&m, P(1))), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 3);
	ASSERT_SPAN(0, 0, 4, RW);
	ck_assert_int_eq(snap[0].tid, 42);
	owner_is(&o1, 1, 4);
}
END_TEST

START_TEST(test_unmap_head)
{
	map(&m, ent(P(0), 10 * PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_unmap(&m, P(0), 3 * PG), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 3, 7, RW);
	ck_assert_int_eq(snap[0].tid, 42);
	ck_assert_int_eq(snap[0].time_ns, 1000);
	ck_assert_uint_eq(snap[0].stack_id, 7);
	owner_is(&o1, 1, 7);
}
END_TEST

START_TEST(test_unmap_tail)
{
	map(&m, ent(P(0), 10 * PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_unmap(&m, P(7), 5 * PG), 0); /* runs on into the gap */
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 0, 7, RW);
	owner_is(&o1, 1, 7);
	ck_assert_uint_eq(maps_find_ending(&m, P(7))->start, P(0));
}
END_TEST

START_TEST(test_unmap_middle)
{
	map(&m, ent(P(0), 10 * PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_unmap(&m, P(3), 2 * PG), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 2);
	ASSERT_SPAN(0, 0, 3, RW);
	ASSERT_SPAN(1, 5, 5, RW);
	ck_assert_ptr_eq(snap[1].owner, &o1);
	owner_is(&o1, 2, 8);
	ck_assert_uint_eq(m.totals.committed_bytes, 8 * PG);
	ck_assert_int_eq(maps_unmap(&m, P(0), 10 * PG), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 0);
	owner_is(&o1, 0, 0);
}
END_TEST

/* Entries at pages [0,4) [6,8) [8,12) [15,20) [25,30), owners 1 2 1 2 1. */
static void five(void)
{
	map(&m, ent(P(0), 4 * PG, RW, ANON, &o1));
	map(&m, ent(P(6), 2 * PG, RW, ANON, &o2));
	map(&m, ent(P(8), 4 * PG, 0, ANON, &o1));
	map(&m, ent(P(15), 5 * PG, RW, 0, &o2));
	map(&m, ent(P(25), 5 * PG, PROT_READ, ANON, &o1));
}

START_TEST(test_unmap_several)
{
	five();
	ck_assert_uint_eq(verify(&m, owners, 3), 5);
	ck_assert_int_eq(maps_unmap(&m, P(2), 15 * PG), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 3);
	ASSERT_SPAN(0, 0, 2, RW);
	ASSERT_SPAN(1, 17, 3, RW);
	ASSERT_SPAN(2, 25, 5, PROT_READ);
	owner_is(&o1, 2, 7);
	owner_is(&o2, 1, 3);
	ck_assert_uint_eq(m.totals.reserved_bytes, 0);
	ck_assert_uint_eq(m.totals.bytes_all, 10 * PG);
}
END_TEST

START_TEST(test_map_fixed_over)
{
	five();
	map(&m, ent(P(3), 13 * PG, PROT_READ, 0, &o3));
	ck_assert_uint_eq(verify(&m, owners, 3), 4);
	ASSERT_SPAN(0, 0, 3, RW);
	ASSERT_SPAN(1, 3, 13, PROT_READ);
	ASSERT_SPAN(2, 16, 4, RW);
	ASSERT_SPAN(3, 25, 5, PROT_READ);
	owner_is(&o1, 2, 8);
	owner_is(&o2, 1, 4);
	owner_is(&o3, 1, 13);

	/* Exactly over one entry, then inside one (splitting it in three). */
	map(&m, ent(P(25), 5 * PG, RW, ANON, &o2));
	owner_is(&o1, 1, 3);
	owner_is(&o2, 2, 9);
	map(&m, ent(P(1), PG, 0, ANON, &o3));
	ck_assert_uint_eq(verify(&m, owners, 3), 6);
	ASSERT_SPAN(0, 0, 1, RW);
	ASSERT_SPAN(1, 1, 1, 0);
	ASSERT_SPAN(2, 2, 1, RW);
	owner_is(&o1, 2, 2);
	owner_is(&o3, 2, 14);
	ck_assert_uint_eq(m.totals.reserved_bytes, PG);
}
END_TEST

START_TEST(test_protect_split3)
{
	map(&m, ent(P(0), 10 * PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_protect(&m, P(3), 4 * PG, PROT_NONE), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 3);
	ASSERT_SPAN(0, 0, 3, RW);
	ASSERT_SPAN(1, 3, 4, PROT_NONE);
	ASSERT_SPAN(2, 7, 3, RW);
	ck_assert_uint_eq(m.totals.reserved_bytes, 4 * PG);
	ck_assert_uint_eq(m.totals.committed_bytes, 6 * PG);
	owner_is(&o1, 3, 10);

	/* Back to RW: the pieces stay pieces. */
	ck_assert_int_eq(maps_protect(&m, P(0), 10 * PG, RW), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 3);
	ck_assert_uint_eq(m.totals.reserved_bytes, 0);
	ck_assert_uint_eq(m.totals.committed_bytes, 10 * PG);

	/* Across a gap: the gap stays unmapped. */
	map(&m, ent(P(20), 5 * PG, RW, ANON, &o2));
	ck_assert_int_eq(maps_protect(&m, P(8), 14 * PG, PROT_READ), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 6);
	ASSERT_SPAN(2, 7, 1, RW);
	ASSERT_SPAN(3, 8, 2, PROT_READ);
	ASSERT_SPAN(4, 20, 2, PROT_READ);
	ASSERT_SPAN(5, 22, 3, RW);
	ck_assert_ptr_null(maps_find(&m, P(15)));
	owner_is(&o1, 4, 10);
	owner_is(&o2, 2, 5);

	/* Same prot: no split. */
	ck_assert_int_eq(maps_protect(&m, P(23), PG, RW), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 6);
}
END_TEST

START_TEST(test_remap_grow_shrink)
{
	struct maps_entry e = ent(P(0), 4 * PG, RW, ANON, &o1);

	e.time_ns = 555;
	map(&m, e);
	ck_assert_int_eq(maps_remap(&m, P(0), 4 * PG, P(0), 8 * PG, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 0, 8, RW);
	ck_assert_int_eq(snap[0].time_ns, 555);
	owner_is(&o1, 1, 8);
	ck_assert_int_eq(maps_remap(&m, P(0), 8 * PG, P(0), 3 * PG, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 0, 3, RW);
	ck_assert_int_eq(snap[0].time_ns, 555);
	owner_is(&o1, 1, 3);
}
END_TEST

START_TEST(test_remap_move)
{
	map(&m, ent(P(0), 4 * PG, PROT_READ, ANON, &o1));
	map(&m, ent(P(100), 2 * PG, RW, ANON, &o2)); /* in the way */
	ck_assert_int_eq(maps_remap(&m, P(0), 4 * PG, P(99), 6 * PG, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 99, 6, PROT_READ);
	ck_assert_ptr_eq(snap[0].owner, &o1);
	ck_assert_ptr_null(maps_find(&m, P(0)));
	owner_is(&o1, 1, 6);
	owner_is(&o2, 0, 0);

	/* Moving part of an entry splits it. */
	ck_assert_int_eq(maps_remap(&m, P(100), 2 * PG, P(200), 2 * PG, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 3);
	ASSERT_SPAN(0, 99, 1, PROT_READ);
	ASSERT_SPAN(1, 102, 3, PROT_READ);
	ASSERT_SPAN(2, 200, 2, PROT_READ);
	owner_is(&o1, 3, 6);
}
END_TEST

START_TEST(test_remap_keep_old)
{
	map(&m, ent(P(0), 4 * PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_remap(&m, P(0), 4 * PG, P(50), 4 * PG, 1, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 2);
	ASSERT_SPAN(0, 0, 4, RW);
	ASSERT_SPAN(1, 50, 4, RW);
	owner_is(&o1, 2, 8);
	/* OLD_LEN == 0 keeps the old range as well. */
	ck_assert_int_eq(maps_remap(&m, P(0), 0, P(60), 2 * PG, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 3);
	ASSERT_SPAN(0, 0, 4, RW);
	ASSERT_SPAN(2, 60, 2, RW);
	owner_is(&o1, 3, 10);
}
END_TEST

START_TEST(test_remap_unknown_old)
{
	struct maps_entry fb = ent(0, 0, PROT_READ, 0, &o2);

	fb.tid = 77;
	ck_assert_int_eq(maps_remap(&m, P(200), 4 * PG, P(300), 4 * PG, 0, &fb), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
	ASSERT_SPAN(0, 300, 4, PROT_READ);
	ck_assert_int_eq(snap[0].tid, 77);
	owner_is(&o2, 1, 4);
	/* No fallback: zeroed attributes. */
	ck_assert_int_eq(maps_remap(&m, P(200), 4 * PG, P(400), PG, 0, NULL), 0);
	ck_assert_uint_eq(verify(&m, owners, 3), 2);
	ASSERT_SPAN(1, 400, 1, 0);
	ck_assert_ptr_null(snap[1].owner);
	ck_assert_uint_eq(m.totals.reserved_bytes, PG);
}
END_TEST

START_TEST(test_chunk_reclassify)
{
	uint64_t big = 0x100000000ull;

	map(&m, ent(big, CHUNK + PG, RW, ANON, &o1));
	ck_assert_uint_eq(m.totals.count[MT_CLASS_CHUNK], 1);
	ck_assert_uint_eq(o1.chunk_count, 1);
	ck_assert_uint_eq(o1.chunk_bytes, CHUNK + PG);
	/* Down to exactly CHUNK: still a chunk. */
	ck_assert_int_eq(maps_unmap(&m, big + CHUNK, PG), 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_CHUNK], 1);
	ck_assert_uint_eq(o1.chunk_bytes, CHUNK);
	/* One page less: small. */
	ck_assert_int_eq(maps_unmap(&m, big, PG), 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_CHUNK], 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_SMALL], 1);
	ck_assert_uint_eq(m.totals.bytes[MT_CLASS_SMALL], CHUNK - PG);
	ck_assert_uint_eq(o1.chunk_count, 0);
	ck_assert_uint_eq(o1.chunk_bytes, 0);
	owner_is(&o1, 1, CHUNK / PG - 1);
	maps_clear(&m);
	ck_assert_uint_eq(o1.count, 0);

	/* A hole in the middle: two smalls. */
	map(&m, ent(big, CHUNK + PG, RW, ANON, &o1));
	ck_assert_int_eq(maps_unmap(&m, big + 8 * MIB, PG), 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_SMALL], 2);
	ck_assert_uint_eq(o1.chunk_count, 0);
	ck_assert_uint_eq(o1.count, 2);
	maps_clear(&m);

	/* Large trimmed into the chunk window, then grown out of it. */
	map(&m, ent(big, 2 * CHUNK, RW, ANON, &o1));
	ck_assert_uint_eq(m.totals.count[MT_CLASS_LARGE], 1);
	ck_assert_int_eq(maps_unmap(&m, big + CHUNK + PG, CHUNK - PG), 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_LARGE], 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_CHUNK], 1);
	ck_assert_uint_eq(o1.chunk_count, 1);
	ck_assert_int_eq(maps_remap(&m, big, CHUNK + PG, big, 2 * CHUNK, 0, NULL), 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_LARGE], 1);
	ck_assert_uint_eq(o1.chunk_count, 0);
	/* Moved at chunk size: a chunk again, still o1's. */
	ck_assert_int_eq(maps_remap(&m, big, 2 * CHUNK, 4 * big, CHUNK, 0, NULL), 0);
	ck_assert_uint_eq(o1.chunk_count, 1);
	ck_assert_uint_eq(o1.chunk_bytes, CHUNK);
	/* mprotect of a part splits it into smalls; of the whole, keeps it. */
	ck_assert_int_eq(maps_protect(&m, 4 * big, CHUNK, PROT_READ), 0);
	ck_assert_uint_eq(o1.chunk_count, 1);
	ck_assert_int_eq(maps_protect(&m, 4 * big, PG, PROT_NONE), 0);
	ck_assert_uint_eq(o1.chunk_count, 0);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_SMALL], 2);
	ck_assert_uint_eq(m.totals.reserved_bytes, PG);
	maps_clear(&m);

	/* File-backed at chunk size: large, never chunk. */
	map(&m, ent(big, CHUNK, PROT_READ, 0, &o1));
	ck_assert_uint_eq(m.totals.count[MT_CLASS_LARGE], 1);
	ck_assert_uint_eq(o1.chunk_count, 0);
}
END_TEST

START_TEST(test_brk_never_chunk)
{
	map(&m, ent(P(0), CHUNK, RW, ANON | BRK, &o1));
	ck_assert_uint_eq(m.totals.count[MT_CLASS_LARGE], 1);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_CHUNK], 0);
	ck_assert_uint_eq(m.totals.brk_bytes, CHUNK);
	ck_assert_uint_eq(o1.chunk_count, 0);
	/* brk grows: remap in place keeps the kind. */
	ck_assert_int_eq(maps_remap(&m, P(0), CHUNK, P(0), CHUNK + PG, 0, NULL), 0);
	ck_assert_uint_eq(m.totals.brk_bytes, CHUNK + PG);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_CHUNK], 0);
	ck_assert_int_eq(maps_unmap(&m, P(0), CHUNK - PG), 0);
	ck_assert_uint_eq(m.totals.brk_bytes, 2 * PG);
	ck_assert_uint_eq(m.totals.count[MT_CLASS_SMALL], 1);
	map(&m, ent(P(10000), 4 * PG, RW, BRK, &o2));
	ck_assert_uint_eq(m.totals.brk_bytes, 6 * PG);
	ck_assert_uint_eq(verify(&m, owners, 3), 2);
	ck_assert_uint_eq(o1.chunk_count + o2.chunk_count, 0);
}
END_TEST

/* Count visits and stop at the third (foreach callback). */
static int stop_third(const struct maps_entry *e, void *arg)
{
	uint64_t *seen = arg;

	ck_assert_uint_eq(e->start, P(seen[0] * 10));
	return ++seen[0] == 3 ? 7 : 0;
}

START_TEST(test_foreach_stop)
{
	uint64_t seen = 0;

	for (int i = 4; i >= 0; i--)
		map(&m, ent(P(i * 10), PG, RW, ANON, NULL));
	ck_assert_int_eq(maps_foreach(&m, stop_third, &seen), 7);
	ck_assert_uint_eq(seen, 3);
}
END_TEST

START_TEST(test_clear)
{
	five();
	map(&m, ent(0x100000000ull, CHUNK, RW, ANON, &o3));
	maps_clear(&m);
	ck_assert_uint_eq(maps_count(&m), 0);
	ck_assert_ptr_null(maps_find(&m, P(0)));
	ck_assert_uint_eq(m.chunk_size, CHUNK);
	ck_assert_uint_eq(m.chunk_slack, SLACK);
	ck_assert_uint_eq(verify(&m, owners, 3), 0);
	map(&m, ent(P(0), CHUNK, RW, ANON, &o3));
	ck_assert_uint_eq(o3.chunk_count, 1);
	ck_assert_uint_eq(verify(&m, owners, 3), 1);
}
END_TEST

/* A million disjoint entries in, checked, then out again. */
START_TEST(test_million)
{
	const uint64_t n = 1000000, stride = 8 * PG, cs = 4 * PG, sl = PG;
	struct maps mm;
	struct maps_owner o = {0};
	struct maps_totals want = {0};
	struct maps_entry e = ent(0, 0, RW, ANON, &o);

	maps_init(&mm, cs, sl);
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = k * 999983 % n; /* a permutation: 999983 is prime */
		enum mt_class c;

		e.start = B + i * stride;
		e.len = (1 + i % 6) * PG;
		e.kind = i % 5 == 0 ? ANON | BRK : i % 2 ? ANON : 0;
		e.prot = i % 3 ? RW : 0;
		c = klass(e.len, e.kind, cs, sl);
		want.count[c]++;
		want.bytes[c] += e.len;
		want.count_all++;
		want.bytes_all += e.len;
		*(e.prot ? &want.committed_bytes : &want.reserved_bytes) += e.len;
		want.brk_bytes += e.kind & BRK ? e.len : 0;
		REQUIRE(maps_map(&mm, &e) == 0, "map %lu", (unsigned long)i);
	}
	ck_assert_mem_eq(&want, &mm.totals, sizeof(want));
	ck_assert_uint_eq(o.count, n);
	ck_assert_uint_eq(o.bytes, want.bytes_all);
	for (uint64_t i = 0; i < n; i += 997) {
		const struct maps_entry *f = maps_find(&mm, B + i * stride + PG - 1);

		REQUIRE(f && f->start == B + i * stride, "find %lu", (unsigned long)i);
		f = maps_find_ending(&mm, B + i * stride + (1 + i % 6) * PG);
		REQUIRE(f && f->start == B + i * stride, "find_ending %lu", (unsigned long)i);
		REQUIRE(!maps_find(&mm, B + i * stride + 7 * PG), "gap %lu", (unsigned long)i);
	}
	/* Odd entries one by one, in scrambled order; the rest in one go. */
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = k * 999983 % n;

		if (i % 2)
			REQUIRE(maps_unmap(&mm, B + i * stride, stride) == 0, "unmap");
	}
	ck_assert_uint_eq(maps_count(&mm), n / 2);
	ck_assert_uint_eq(o.count, n / 2);
	ck_assert_int_eq(maps_unmap(&mm, B, n * stride), 0);
	ck_assert_uint_eq(maps_count(&mm), 0);
	want = (struct maps_totals){0};
	ck_assert_mem_eq(&want, &mm.totals, sizeof(want));
	ck_assert_uint_eq(o.count, 0);
	ck_assert_uint_eq(o.bytes, 0);
	ck_assert_ptr_null(mm.root);
}
END_TEST

/*
 * The differential model: a sorted array of disjoint entries, each
 * operation rebuilding it in O(n) by the plain definition.
 */
#define W   2048 /* window of the random test, in pages */
#define CAP (W + 8)

struct model {
	struct maps_entry *e, *next;
	size_t n;
};

/* Append E to the model's next array. */
static void emit(struct model *md, size_t *k, struct maps_entry e, uint64_t s, uint64_t end)
{
	e.start = s;
	e.len = end - s;
	REQUIRE(*k < CAP, "model overflow");
	md->next[(*k)++] = e;
}

/* Rebuild the model with [S, END) removed, or set to PROT when PROT >= 0. */
static void model_apply(struct model *md, uint64_t s, uint64_t end, int prot)
{
	size_t k = 0;

	if (s == end)
		return;
	for (size_t i = 0; i < md->n; i++) {
		struct maps_entry x = md->e[i];
		uint64_t xe = x.start + x.len;

		if (xe <= s || x.start >= end || x.prot == prot) {
			md->next[k++] = x;
			continue;
		}
		if (x.start < s)
			emit(md, &k, x, x.start, s);
		if (prot >= 0) {
			struct maps_entry y = x;

			y.prot = prot;
			emit(md, &k, y, x.start > s ? x.start : s, xe < end ? xe : end);
		}
		if (xe > end)
			emit(md, &k, x, end, xe);
	}
	struct maps_entry *t = md->e;
	md->e = md->next;
	md->next = t;
	md->n = k;
}

/* Insert E into the model, replacing what it overlaps. */
static void model_map(struct model *md, const struct maps_entry *e)
{
	size_t i = 0;

	if (!e->len)
		return;
	model_apply(md, e->start, e->start + e->len, -1);
	while (i < md->n && md->e[i].start < e->start)
		i++;
	memmove(&md->e[i + 1], &md->e[i], (md->n - i) * sizeof(*e));
	md->e[i] = *e;
	md->n++;
}

/* The model entry containing ADDR, or NULL. */
static const struct maps_entry *model_find(const struct model *md, uint64_t addr)
{
	for (size_t i = 0; i < md->n; i++)
		if (md->e[i].start <= addr && addr < md->e[i].start + md->e[i].len)
			return &md->e[i];
	return NULL;
}

/* Next number of a fixed-seed splitmix64. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A random length in pages around the random test's classes, clipped to the window. */
static uint64_t rnd_pages(uint64_t *r, uint64_t from)
{
	uint64_t n;

	switch (rnd(r) % 10) {
	case 0:
		n = 0;
		break;
	case 1:
	case 2:
	case 3:
	case 4:
		n = 1 + rnd(r) % 8;
		break;
	case 5:
	case 6:
	case 7:
		n = 15 + rnd(r) % 5; /* around chunk size 16 + slack 2 */
		break;
	default:
		n = 1 + rnd(r) % 200;
	}
	return from + n > W ? W - from : n;
}

/* A random entry at page START for N pages. */
static struct maps_entry rnd_entry(uint64_t *r, uint64_t start, uint64_t n, int64_t t,
				   struct maps_owner *os)
{
	static const int prots[] = {0, PROT_READ, RW, PROT_READ | PROT_EXEC};
	static const unsigned kinds[] = {ANON, ANON, 0, ANON | BRK, BRK, ANON | MT_MAP_PREEXISTING,
					 ANON | MT_MAP_DIRECT};
	uint64_t o = rnd(r) % 5;
	struct maps_entry e = {.start = B + start * PG,
			       .len = n * PG,
			       .prot = prots[rnd(r) % 4],
			       .flags = (int)(rnd(r) % 4),
			       .kind = kinds[rnd(r) % 7],
			       .tid = (pid_t)(rnd(r) % 1000),
			       .time_ns = t,
			       /* 16 stacks, spread over the ids */
			       .stack_id = (uint32_t)(rnd(r) % 16) * 2654435761u,
			       .owner = o < 4 ? &os[o] : NULL};
	return e;
}

START_TEST(test_random_differential)
{
	const long ops = 1000000;
	struct maps mm;
	struct maps_owner os[4] = {{0}};
	struct maps_owner *op[4] = {&os[0], &os[1], &os[2], &os[3]};
	struct model md = {calloc(CAP, sizeof(struct maps_entry)),
			   calloc(CAP, sizeof(struct maps_entry)), 0};
	struct collect c = {calloc(CAP, sizeof(struct maps_entry)), 0, CAP};
	uint64_t r = 0x5eed, stats[4] = {0};

	ck_assert_ptr_nonnull(md.e);
	ck_assert_ptr_nonnull(md.next);
	ck_assert_ptr_nonnull(c.e);
	maps_init(&mm, 16 * PG, 2 * PG);
	query_every = 16; /* a million operations: the queries' check sorts the model twice */
	for (long t = 1; t <= ops; t++) {
		uint64_t what = rnd(&r) % 100, s = rnd(&r) % W, n = rnd_pages(&r, s);
		struct maps_entry e = rnd_entry(&r, s, n, t, os);
		int ret;

		/* A chunk size learned anew: every entry is classified again. */
		if (t % 100000 == 0)
			maps_set_chunk_size(&mm, (t / 100000) % 2 ? 4 * PG : 16 * PG);
		if (what < 35) {
			ret = maps_map(&mm, &e);
			model_map(&md, &e);
			stats[0]++;
		} else if (what < 60) {
			ret = maps_unmap(&mm, e.start, e.len);
			model_apply(&md, e.start, e.start + e.len, -1);
			stats[1]++;
		} else if (what < 80) {
			ret = maps_protect(&mm, e.start, e.len, e.prot);
			model_apply(&md, e.start, e.start + e.len, e.prot);
			stats[2]++;
		} else {
			/* Old range: mostly inside an existing entry, else anywhere. */
			uint64_t old = s, on;
			int keep = rnd(&r) % 4 == 0;

			if (md.n && rnd(&r) % 10 < 7) {
				const struct maps_entry *x = &md.e[rnd(&r) % md.n];

				old = (x->start - B) / PG + rnd(&r) % (x->len / PG);
			}
			on = rnd(&r) % 3 ? rnd_pages(&r, old) : 0;
			if (rnd(&r) % 3 == 0) { /* in place */
				e.start = B + old * PG;
				e.len = rnd_pages(&r, old) * PG;
			}
			const struct maps_entry *src = model_find(&md, B + old * PG);
			struct maps_entry ne = src ? *src : e;

			ret = maps_remap(&mm, B + old * PG, on * PG, e.start, e.len, keep, &e);
			ne.start = e.start;
			ne.len = e.len;
			if (!keep && on)
				model_apply(&md, B + old * PG, B + (old + on) * PG, -1);
			model_map(&md, &ne);
			stats[3]++;
		}
		REQUIRE(ret == 0, "op %ld returned %d", t, ret);

		c.n = 0;
		REQUIRE(maps_foreach(&mm, collect_cb, &c) == 0, "op %ld: too many entries", t);
		REQUIRE(c.n == md.n, "op %ld: %zu entries, model %zu", t, c.n, md.n);
		for (size_t i = 0; i < md.n; i++)
			REQUIRE(same_entry(&c.e[i], &md.e[i]), "op %ld: entry %zu differs", t, i);
		check_against(&mm, md.e, md.n, op, 4);

		uint64_t probe = B + rnd(&r) % (W * PG);
		const struct maps_entry *f = maps_find(&mm, probe), *g = model_find(&md, probe);

		REQUIRE(f ? g && same_entry(f, g) : !g, "op %ld: find differs", t);
		f = maps_find_ending(&mm, probe & ~(PG - 1));
		g = model_find(&md, (probe & ~(PG - 1)) - 1);
		if (g && g->start + g->len != (probe & ~(PG - 1)))
			g = NULL;
		REQUIRE(f ? g && same_entry(f, g) : !g, "op %ld: find_ending differs", t);
	}
	ck_assert_uint_gt(stats[3], ops / 10);
	query_every = 1;
	maps_clear(&mm);
	for (int k = 0; k < 4; k++)
		ck_assert_uint_eq(os[k].count, 0);
	free(md.e);
	free(md.next);
	free(c.e);
}
END_TEST

/* The maps suite. */
Suite *maps_suite(void)
{
	Suite *s = suite_create("maps");
	TCase *tc = tcase_create("edges");
	TCase *big = tcase_create("scale");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_noops_and_overflow);
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_unmap_head);
	tcase_add_test(tc, test_unmap_tail);
	tcase_add_test(tc, test_unmap_middle);
	tcase_add_test(tc, test_unmap_several);
	tcase_add_test(tc, test_map_fixed_over);
	tcase_add_test(tc, test_protect_split3);
	tcase_add_test(tc, test_remap_grow_shrink);
	tcase_add_test(tc, test_remap_move);
	tcase_add_test(tc, test_remap_keep_old);
	tcase_add_test(tc, test_remap_unknown_old);
	tcase_add_test(tc, test_chunk_reclassify);
	tcase_add_test(tc, test_brk_never_chunk);
	tcase_add_test(tc, test_foreach_stop);
	tcase_add_test(tc, test_clear);
	suite_add_tcase(s, tc);

	/* Generous for sanitizer builds; a normal build needs a few seconds. */
	tcase_set_timeout(big, 120);
	tcase_add_test(big, test_million);
	tcase_add_test(big, test_random_differential);
	suite_add_tcase(s, big);
	return s;
}
