/*
 * test_arena.c - direct memory served from malloc arenas (account.c).
 *
 * The glibc trap: with its mmap threshold raised, glibc serves chunk-sized
 * blocks from an arena, growing a thread arena's heap by mprotect or the
 * main arena by brk.  These tests drive account_mmap, account_mprotect and
 * account_brk on a real (never launched) session the way the tracer does,
 * with the event's direct flag as the stack probe would set it, and check
 * what the table weighs as direct memory.
 */
#include <sys/mman.h>

#include "internal.h"
#include "unit.h"

#define HEAP	 0x7f0000000000ull /* a HEAP_MAX-aligned arena heap */
#define HEAP_MAX (64ull << 20)
#define CH4	 4198400ull /* what a 4 MiB chunk grows the heap by, page-rounded */

static struct mt_session *s;
static struct task *t;
static uint64_t seq;

static void setup(void)
{
	struct mt_config cfg;

	mt_config_default(&cfg);
	cfg.ring_events = 64;
	ck_assert_int_eq(mt_session_new(&cfg, &s), 0);
	t = task_new(s, 4242, 4242, TASK_TARGET_MM);
	ck_assert_ptr_nonnull(t);
	seq = 0;
}

static void teardown(void)
{
	mt_session_free(s);
	s = NULL;
}

/* An event of SYS with ARGS and result RET, on the direct path or not. */
static struct mt_event ev(enum mt_sys sys, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			  int64_t ret, int direct)
{
	return (struct mt_event){.seq = ++seq, .time_ns = (int64_t)seq, .pid = 4242, .tid = 4242,
				 .sys = (uint8_t)sys, .done = 1, .direct = (uint8_t)direct,
				 .args = {a0, a1, a2, a3}, .ret = ret};
}

/* glibc's new_heap: a HEAP_MAX reservation, PROT_NONE, MAP_NORESERVE. */
static void reserve_heap(int direct)
{
	struct mt_event e = ev(MT_SYS_MMAP, 0, HEAP_MAX, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, (int64_t)HEAP, direct);

	account_mmap(s, t, &e);
}

/* glibc's grow_heap: make [AT, AT+LEN) of the heap read-write. */
static void grow(uint64_t at, uint64_t len, int direct)
{
	struct mt_event e = ev(MT_SYS_MPROTECT, at, len, PROT_READ | PROT_WRITE, 0, 0, direct);

	account_mprotect(s, t, &e);
}

/* A reservation is not direct memory even when the direct path made it. */
START_TEST(test_reservation_not_direct)
{
	reserve_heap(1);
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 0);
	ck_assert_uint_eq(s->maps.totals.direct_arena_bytes, 0);
	ck_assert_uint_eq(s->maps.totals.reserved_bytes, HEAP_MAX);
}
END_TEST

/* Heap growth on the direct path is weighed; growth by other mallocs is not. */
START_TEST(test_heap_growth_weighed)
{
	uint64_t at = HEAP;
	struct mt_event unmap;

	reserve_heap(0);
	grow(at, 132 * 1024, 0); /* the first part: heap_info, arena, small blocks */
	at += 132 * 1024;
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 0);
	ck_assert_uint_eq(s->maps.totals.arena_bytes, 132 * 1024);
	for (int i = 0; i < 10; i++, at += CH4)
		grow(at, CH4, 1);
	grow(at, 8192, 0);
	at += 8192;
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 10 * CH4);
	ck_assert_uint_eq(s->maps.totals.direct_count, 10);
	ck_assert_uint_eq(s->maps.totals.direct_arena_bytes, 10 * CH4);
	ck_assert_uint_eq(s->maps.totals.arena_bytes, 132 * 1024 + 10 * CH4 + 8192);
	/* Owned by the thread that grew it, as direct memory. */
	ck_assert_uint_eq(t->th->own.direct_bytes, 10 * CH4);
	/* A direct piece is never a chunk (its length may be one). */
	ck_assert_uint_eq(s->maps.totals.count[MT_CLASS_CHUNK], 0);
	/* Hidden: the arena's bytes not weighed as direct (needs a JVM). */
	s->jvm = 1;
	ck_assert_uint_eq(direct_hidden(s), 132 * 1024 + 8192 + s->maps.totals.brk_bytes);
	/* Growing an already committed range again changes nothing. */
	grow(HEAP + 132 * 1024, CH4, 1);
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 10 * CH4);
	/* glibc unmapping the heap (heap_trim, delete_heap) takes it all back. */
	unmap = ev(MT_SYS_MUNMAP, HEAP, HEAP_MAX, 0, 0, 0, 0);
	account_munmap_enter(s, t, &unmap);
	account_munmap(s, t, &unmap);
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 0);
	ck_assert_uint_eq(s->maps.totals.direct_arena_bytes, 0);
	ck_assert_uint_eq(s->maps.totals.arena_bytes, 0);
}
END_TEST

/* mprotect on the direct path outside any arena heap marks nothing. */
START_TEST(test_mprotect_elsewhere)
{
	struct mt_event e = ev(MT_SYS_MMAP, 0, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			       (int64_t)HEAP, 0);

	account_mmap(s, t, &e);
	grow(HEAP, 1 << 20, 1);
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 0);
}
END_TEST

/* The main arena: brk growth on the direct path is direct, a shrink gives it back. */
START_TEST(test_brk_growth)
{
	uint64_t base = 0x555555000000ull;
	struct mt_event e = ev(MT_SYS_BRK, 0, 0, 0, 0, (int64_t)base, 0);

	account_brk(s, t, &e);
	e = ev(MT_SYS_BRK, base + 135168, 0, 0, 0, (int64_t)(base + 135168), 0);
	account_brk(s, t, &e);
	e = ev(MT_SYS_BRK, base + 135168 + CH4, 0, 0, 0, (int64_t)(base + 135168 + CH4), 1);
	account_brk(s, t, &e);
	ck_assert_uint_eq(s->maps.totals.brk_bytes, 135168 + CH4);
	ck_assert_uint_eq(s->maps.totals.direct_bytes, CH4);
	ck_assert_uint_eq(s->maps.totals.direct_arena_bytes, CH4);
	e = ev(MT_SYS_BRK, base + 135168, 0, 0, 0, (int64_t)(base + 135168), 0);
	account_brk(s, t, &e);
	ck_assert_uint_eq(s->maps.totals.direct_bytes, 0);
	ck_assert_uint_eq(s->maps.totals.direct_arena_bytes, 0);
}
END_TEST

Suite *arena_suite(void)
{
	Suite *su = suite_create("arena");
	TCase *tc = tcase_create("glibc trap");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reservation_not_direct);
	tcase_add_test(tc, test_heap_growth_weighed);
	tcase_add_test(tc, test_mprotect_elsewhere);
	tcase_add_test(tc, test_brk_growth);
	suite_add_tcase(su, tc);
	return su;
}
