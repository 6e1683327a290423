/*
 * test_tmem.c - tmem.c on this process's own memory: which pages are
 * resident, and reads that leave the others untouched.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../libtrace/internal.h"
#include "unit.h"

#define NPAGES 8

/* A private anonymous area whose pages 1 and 4-5 are written, the rest never touched. */
static unsigned char *area(void)
{
	unsigned char *p = mmap(NULL, NPAGES * page_size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p + page_size, 0x11, page_size);
	memset(p + 4 * page_size, 0x44, 2 * page_size);
	return p;
}

/* Whether the page at P is in memory, by mincore(). */
static int in_core(const void *p)
{
	unsigned char v = 0;

	ck_assert_int_eq(mincore((void *)p, page_size, &v), 0);
	return v & 1;
}

START_TEST(page_resident)
{
	unsigned char *p = area();
	int pm = tmem_open(getpid());

	ck_assert_int_ge(pm, 0);
	for (int i = 0; i < NPAGES; i++) {
		int want = i == 1 || i == 4 || i == 5;

		/* Any address in the page answers for the page. */
		ck_assert_int_eq(tmem_page_resident(pm, (uint64_t)(uintptr_t)(p + i * page_size)),
				 want);
		ck_assert_int_eq(
		    tmem_page_resident(pm, (uint64_t)(uintptr_t)(p + i * page_size + 123)), want);
	}
	/* Asking faulted nothing in. */
	ck_assert(!in_core(p));
	ck_assert(!in_core(p + 7 * page_size));
	ck_assert_int_eq(tmem_page_resident(-1, (uint64_t)(uintptr_t)(p + page_size)), 0);
	close(pm);
	munmap(p, NPAGES * page_size);
}
END_TEST

START_TEST(read_resident_only)
{
	unsigned char *p = area(), buf[3 * 4096];
	int pm = tmem_open(getpid());

	ck_assert_uint_eq(page_size, 4096);
	memset(buf, 0xff, sizeof(buf));
	/* Pages 3, 4, 5: the first never touched reads as zeros and stays out of memory. */
	ck_assert_int_eq(tmem_read(pm, getpid(), (uint64_t)(uintptr_t)(p + 3 * page_size), buf,
				   sizeof(buf), NULL, NULL),
			 (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], i < 4096 ? 0 : 0x44);
	ck_assert(!in_core(p + 3 * page_size));
	close(pm);
	munmap(p, NPAGES * page_size);
}
END_TEST

Suite *tmem_suite(void)
{
	Suite *s = suite_create("tmem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, page_resident);
	tcase_add_test(tc, read_resident_only);
	suite_add_tcase(s, tc);
	return s;
}
