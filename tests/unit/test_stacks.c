/*
 * test_stacks.c - the stack table (stacks.c): interning pcs as frames
 * relative to the executable regions of the snapshot, one id per distinct
 * stack, dense from 1, and reading a stack back by id.
 */
#include <stdlib.h>
#include <string.h>

#include "hotspot.h"
#include "internal.h"
#include "unit.h"

static struct mt_session *s;

/* Two executable regions: object 1 at file offset 0x1000, object 2 at 0. */
static struct region regions[] = {
	{.start = 0x400000, .end = 0x401000, .offset = 0x1000, .obj = 1},
	{.start = 0x7f0000000000, .end = 0x7f0000010000, .offset = 0, .obj = 2},
};

static void setup(void)
{
	s = calloc(1, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	s->stacks.regions = malloc(sizeof(regions));
	ck_assert_ptr_nonnull(s->stacks.regions);
	memcpy(s->stacks.regions, regions, sizeof(regions));
	s->stacks.nregions = 2;
}

static void teardown(void)
{
	stack_free(&s->stacks);
	free(s);
}

START_TEST(test_region_lookup)
{
	ck_assert_ptr_eq(stack_region(s, 0x400000), &s->stacks.regions[0]);
	ck_assert_ptr_eq(stack_region(s, 0x400fff), &s->stacks.regions[0]);
	ck_assert_ptr_null(stack_region(s, 0x401000));
	ck_assert_ptr_null(stack_region(s, 0x3fffff));
	ck_assert_ptr_eq(stack_region(s, 0x7f000000ffff), &s->stacks.regions[1]);
	ck_assert_ptr_null(stack_region(s, 0x7f0000010000));
}
END_TEST

START_TEST(test_intern_frames)
{
	uint64_t pcs[] = {0x400123, 0x7f0000000456, 0x12345, HS_TAG_INTERP | 0x7000};
	struct frame f[8];
	uint32_t id = stack_intern(s, pcs, NULL, 4);

	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(stack_get(s, id, f, 8), 4);
	/* In a region: the object and the offset in its file. */
	ck_assert_uint_eq(f[0].obj, 1);
	ck_assert_uint_eq(f[0].off, 0x1123);
	ck_assert_uint_eq(f[1].obj, 2);
	ck_assert_uint_eq(f[1].off, 0x456);
	/* Outside every region: the pc itself. */
	ck_assert_uint_eq(f[2].obj, 0);
	ck_assert_uint_eq(f[2].off, 0x12345);
	/* An interpreted Java frame: its Method*. */
	ck_assert_uint_eq(f[3].obj, HS_FRAME_INTERP);
	ck_assert_uint_eq(f[3].off, 0x7000);
	/* MAX cuts the copy, not the stack. */
	ck_assert_uint_eq(stack_get(s, id, f, 2), 2);
	ck_assert_uint_eq(f[1].off, 0x456);
}
END_TEST

/* Java frames keep what was read of their code at the stop; it tells stacks apart. */
START_TEST(test_intern_compile_ids)
{
	uint64_t pcs[] = {0x12345, 0x400123, 0x12345, HS_TAG_INTERP | 0x7000};
	uint64_t ids[] = {HS_FRAME_NMETHOD_MAKE(9), HS_FRAME_NMETHOD_MAKE(4), 0,
			  HS_FRAME_INTERP_MAKE(0x9000)},
		 other[] = {HS_FRAME_NMETHOD_MAKE(10), HS_FRAME_NMETHOD_MAKE(4), 0,
			    HS_FRAME_INTERP_MAKE(0x9000)};
	struct frame f[4];
	uint32_t id = stack_intern(s, pcs, ids, 4);

	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(stack_get(s, id, f, 4), 4);
	ck_assert(HS_FRAME_IS_NMETHOD(f[0].obj));
	ck_assert_int_eq(HS_FRAME_COMPILE_ID(f[0].obj), 9);
	ck_assert_uint_eq(f[0].off, 0x12345);
	/* In an object's region: no nmethod there, whatever the id says. */
	ck_assert_uint_eq(f[1].obj, 1);
	/* No id: the pc alone, as before. */
	ck_assert_uint_eq(f[2].obj, 0);
	ck_assert(!HS_FRAME_IS_NMETHOD(HS_FRAME_INTERP));
	/* An interpreted frame keeps its ConstMethod*. */
	ck_assert(HS_FRAME_IS_INTERP(f[3].obj));
	ck_assert_uint_eq(HS_FRAME_CONST_METHOD(f[3].obj), 0x9000);
	ck_assert_uint_eq(f[3].off, 0x7000);
	ck_assert(!HS_FRAME_IS_INTERP(f[0].obj));
	/* The same pcs in another compilation: another stack. */
	ck_assert_uint_eq(stack_intern(s, pcs, other, 4), 2);
	ck_assert_uint_eq(stack_intern(s, pcs, ids, 4), 1);
	ck_assert_uint_eq(stack_intern(s, pcs, NULL, 4), 3);
}
END_TEST

START_TEST(test_intern_same_and_different)
{
	uint64_t a[] = {0x400010, 0x400020}, b[] = {0x400010, 0x400030};
	uint64_t c[] = {0x400010, 0x400020, 0x400030};

	ck_assert_uint_eq(stack_intern(s, a, NULL, 2), 1);
	ck_assert_uint_eq(stack_intern(s, b, NULL, 2), 2);
	ck_assert_uint_eq(stack_intern(s, a, NULL, 2), 1);
	ck_assert_uint_eq(stack_intern(s, c, NULL, 3), 3); /* a prefix is another stack */
	ck_assert_uint_eq(stack_intern(s, c, NULL, 2), 1);
	ck_assert_uint_eq(stack_intern(s, a, NULL, 0), 0); /* no frames: no stack */
}
END_TEST

START_TEST(test_get_unknown_ids)
{
	uint64_t a[] = {0x400010};
	struct frame f[2];

	ck_assert_uint_eq(stack_get(s, 0, f, 2), 0);
	ck_assert_uint_eq(stack_get(s, 1, f, 2), 0);
	ck_assert_uint_eq(stack_intern(s, a, NULL, 1), 1);
	ck_assert_uint_eq(stack_get(s, 1, f, 2), 1);
	ck_assert_uint_eq(stack_get(s, 2, f, 2), 0);
}
END_TEST

START_TEST(test_too_deep_is_cut)
{
	uint64_t pcs[MT_STACK_MAX + 5];
	struct frame f[MT_STACK_MAX + 5];

	for (unsigned i = 0; i < MT_STACK_MAX + 5; i++)
		pcs[i] = 0x100000 + i;
	ck_assert_uint_eq(stack_intern(s, pcs, NULL, MT_STACK_MAX + 5), 1);
	ck_assert_uint_eq(stack_get(s, 1, f, MT_STACK_MAX + 5), MT_STACK_MAX);
	/* Equal in the first MT_STACK_MAX frames: the same stack. */
	pcs[MT_STACK_MAX + 1] = 0;
	ck_assert_uint_eq(stack_intern(s, pcs, NULL, MT_STACK_MAX + 3), 1);
}
END_TEST

START_TEST(test_many_stacks_through_rehash)
{
	enum { N = 5000 }; /* past the first hash table's 1024 slots, and the next ones */
	uint64_t pcs[2];
	struct frame f[2];

	for (uint32_t i = 0; i < N; i++) {
		pcs[0] = 0x1000 + i;
		pcs[1] = 0x2000000 + (i % 7);
		ck_assert_uint_eq(stack_intern(s, pcs, NULL, 2), i + 1);
	}
	for (uint32_t i = 0; i < N; i++) {
		pcs[0] = 0x1000 + i;
		pcs[1] = 0x2000000 + (i % 7);
		ck_assert_uint_eq(stack_intern(s, pcs, NULL, 2), i + 1);
		ck_assert_uint_eq(stack_get(s, i + 1, f, 2), 2);
		ck_assert_uint_eq(f[0].off, 0x1000 + i);
	}
	ck_assert_uint_eq(s->stacks.nstacks, N);
}
END_TEST

/* The stacks suite. */
Suite *stacks_suite(void)
{
	Suite *su = suite_create("stacks");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_region_lookup);
	tcase_add_test(tc, test_intern_frames);
	tcase_add_test(tc, test_intern_compile_ids);
	tcase_add_test(tc, test_intern_same_and_different);
	tcase_add_test(tc, test_get_unknown_ids);
	tcase_add_test(tc, test_too_deep_is_cut);
	tcase_add_test(tc, test_many_stacks_through_rehash);
	suite_add_tcase(su, tc);
	return su;
}
