/*
 * test_account.c - the glibc header checks account.c uses when it seeds
 * the table at attach: account_glibc_block() (an mmapped chunk's header)
 * and account_glibc_heap() (an arena heap's heap_info).
 */
#include <stdint.h>

#include "internal.h"
#include "unit.h"

#define PG       4096ull
#define HEAP_MAX (64ull << 20) /* account.c's: glibc's HEAP_MAX_SIZE on 64-bit */
#define CH       16781312ull   /* what glibc maps for malloc(16 MiB) */
#define A        0x7f0000000000ull

START_TEST(test_block_valid)
{
	uint64_t h[2] = {0, CH | 2};

	ck_assert_uint_eq(account_glibc_block(h, A, A + CH), CH);
	ck_assert_uint_eq(account_glibc_block(h, A, A + 4 * CH), CH);
	h[1] = PG | 2; /* the smallest block glibc maps */
	ck_assert_uint_eq(account_glibc_block(h, A, A + PG), PG);
}
END_TEST

START_TEST(test_block_rejects)
{
	uint64_t h[2];

	/* prev_size of an mmapped chunk is 0. */
	h[0] = 16, h[1] = CH | 2;
	ck_assert_uint_eq(account_glibc_block(h, A, A + CH), 0);
	/* IS_MMAPPED clear, or NON_MAIN_ARENA or PREV_INUSE set. */
	h[0] = 0, h[1] = CH;
	ck_assert_uint_eq(account_glibc_block(h, A, A + CH), 0);
	h[1] = CH | 6;
	ck_assert_uint_eq(account_glibc_block(h, A, A + CH), 0);
	h[1] = CH | 3;
	ck_assert_uint_eq(account_glibc_block(h, A, A + CH), 0);
	/* Not a whole number of pages, or nothing. */
	h[1] = (CH + 16) | 2;
	ck_assert_uint_eq(account_glibc_block(h, A, A + 2 * CH), 0);
	h[1] = 2;
	ck_assert_uint_eq(account_glibc_block(h, A, A + CH), 0);
	/* Longer than the region holding it, or past its end. */
	h[1] = CH | 2;
	ck_assert_uint_eq(account_glibc_block(h, A, A + CH - PG), 0);
	ck_assert_uint_eq(account_glibc_block(h, A + CH, A + CH), 0);
	ck_assert_uint_eq(account_glibc_block(h, A + 2 * CH, A + CH), 0);
	/* A length that would wrap around the address space. */
	h[1] = (UINT64_MAX & ~(PG - 1)) | 2;
	ck_assert_uint_eq(account_glibc_block(h, A, UINT64_MAX), 0);
}
END_TEST

START_TEST(test_heap_first_of_arena)
{
	/* heap_info {ar_ptr, prev, size, mprotect_size}; the arena right after it. */
	uint64_t h[4] = {A + 32, 0, 33 * PG, 33 * PG};

	ck_assert_int_eq(account_glibc_heap(h, A, A + 33 * PG), 1);
	h[0] = A + 48; /* newer glibc: a larger heap_info */
	ck_assert_int_eq(account_glibc_heap(h, A, A + 33 * PG), 1);
	h[0] = A + 64;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 33 * PG), 0);
	h[0] = 0;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 33 * PG), 0);
}
END_TEST

START_TEST(test_heap_later_of_arena)
{
	/* A later heap points back to the one before, HEAP_MAX-aligned. */
	uint64_t h[4] = {A + 32, A - HEAP_MAX, 8 * PG, 8 * PG};

	ck_assert_int_eq(account_glibc_heap(h, A, A + 8 * PG), 1);
	h[1] = A - HEAP_MAX + PG;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 8 * PG), 0);
}
END_TEST

START_TEST(test_heap_sizes)
{
	uint64_t h[4] = {A + 32, 0, 8 * PG, 8 * PG};

	/* size and mprotect_size whole pages, size <= mprotect_size. */
	h[2] = 8 * PG + 8;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 8 * PG), 0);
	h[2] = 9 * PG;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 8 * PG), 0);
	h[2] = 0;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 8 * PG), 0);
	/* size below mprotect_size: glibc shrank it, the protection stayed. */
	h[2] = 4 * PG;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 8 * PG), 1);
	/* Read-write exactly as far as mprotect_size says... */
	ck_assert_int_eq(account_glibc_heap(h, A, A + 9 * PG), 0);
	ck_assert_int_eq(account_glibc_heap(h, A, A + 7 * PG), 0);
	/* ...unless the whole HEAP_MAX is, and the region may go on. */
	h[3] = HEAP_MAX;
	ck_assert_int_eq(account_glibc_heap(h, A, A + HEAP_MAX), 1);
	ck_assert_int_eq(account_glibc_heap(h, A, A + 2 * HEAP_MAX), 1);
	h[3] = HEAP_MAX + PG;
	ck_assert_int_eq(account_glibc_heap(h, A, A + 2 * HEAP_MAX), 0);
	/* An empty or inverted region. */
	h[3] = 8 * PG;
	ck_assert_int_eq(account_glibc_heap(h, A, A), 0);
	ck_assert_int_eq(account_glibc_heap(h, A, A - PG), 0);
}
END_TEST

/* The account suite. */
Suite *account_suite(void)
{
	Suite *s = suite_create("account");
	TCase *tc = tcase_create("glibc");

	tcase_add_test(tc, test_block_valid);
	tcase_add_test(tc, test_block_rejects);
	tcase_add_test(tc, test_heap_first_of_arena);
	tcase_add_test(tc, test_heap_later_of_arena);
	tcase_add_test(tc, test_heap_sizes);
	suite_add_tcase(s, tc);
	return s;
}
