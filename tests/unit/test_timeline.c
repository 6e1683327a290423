/*
 * test_timeline.c - the bounded, downsampled timeline (timeline.c): what a
 * ten-hour run keeps, that a peak survives, that the newest sample ends it.
 */
#include <stdlib.h>
#include <string.h>

#include "timeline.h"
#include "unit.h"

#define NS_S 1000000000ll

/* Sample I of a run at 1 Hz: BYTES, chunk bytes half of it, thread 100+I%3. */
static struct mt_tl_point sample(uint64_t i, uint64_t bytes)
{
	struct mt_tl_point p;

	memset(&p, 0, sizeof(p));
	p.time_ns = 1700000000 * NS_S + (int64_t)i * NS_S;
	p.bytes = bytes;
	p.chunk_bytes = bytes / 2;
	p.threads[0].tid = 100 + (pid_t)(i % 3);
	p.threads[0].bytes = bytes;
	return p;
}

/* Points OUT[0..N) are in strictly increasing time. */
static void in_order(const struct mt_tl_point *out, size_t n)
{
	for (size_t i = 1; i < n; i++)
		ck_assert_msg(out[i].time_ns > out[i - 1].time_ns, "point %zu not after %zu", i,
			      i - 1);
}

START_TEST(test_short_run_keeps_every_sample)
{
	struct timeline *t = malloc(sizeof(*t));
	struct mt_tl_point out[TIMELINE_POINTS + 2];
	size_t n;

	ck_assert_ptr_nonnull(t);
	timeline_init(t);
	ck_assert_uint_eq(timeline_get(t, out, 10), 0);
	for (uint64_t i = 0; i < 600; i++) {
		struct mt_tl_point p = sample(i, i * 4096);

		timeline_add(t, &p);
	}
	n = timeline_get(t, out, TIMELINE_POINTS + 2);
	ck_assert_uint_eq(n, 600);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(out[i].bytes, i * 4096);
		ck_assert_uint_eq(out[i].chunk_bytes, i * 2048);
		ck_assert_int_eq(out[i].threads[0].tid, 100 + (pid_t)(i % 3));
	}
	/* Ten spread over the 600: the first and the newest are among them. */
	n = timeline_get(t, out, 10);
	ck_assert_uint_eq(n, 10);
	in_order(out, n);
	ck_assert_uint_eq(out[0].bytes, 0);
	ck_assert_uint_eq(out[9].bytes, 599 * 4096);
	free(t);
}
END_TEST

START_TEST(test_ten_hours_bounded)
{
	struct timeline *t = malloc(sizeof(*t));
	struct mt_tl_point out[TIMELINE_POINTS + 2];
	const uint64_t run = 10 * 3600;
	size_t n;

	ck_assert_ptr_nonnull(t);
	timeline_init(t);
	/* A steady climb: 1 MiB a second. */
	for (uint64_t i = 0; i < run; i++) {
		struct mt_tl_point p = sample(i, (i + 1) << 20);

		timeline_add(t, &p);
		ck_assert_uint_le(t->n, TIMELINE_POINTS);
	}
	ck_assert_uint_eq(t->step, 64);
	ck_assert_uint_ge(t->n, TIMELINE_POINTS / 2);
	n = timeline_get(t, out, TIMELINE_POINTS + 2);
	ck_assert_uint_le(n, TIMELINE_POINTS + 2);
	ck_assert_uint_ge(n, TIMELINE_POINTS / 2);
	in_order(out, n);
	/* It spans the run: the first point within a step of the start, the newest last. */
	ck_assert_int_le(out[0].time_ns - sample(0, 0).time_ns, 64 * NS_S);
	ck_assert_uint_eq(out[n - 1].bytes, run << 20);
	ck_assert_int_eq(out[n - 1].time_ns, sample(run - 1, 0).time_ns);
	/* No gap wider than two steps anywhere. */
	for (size_t i = 1; i < n; i++)
		ck_assert_int_le(out[i].time_ns - out[i - 1].time_ns, 2 * 64 * NS_S);
	free(t);
}
END_TEST

START_TEST(test_peak_survives)
{
	struct timeline *t = malloc(sizeof(*t));
	struct mt_tl_point out[TIMELINE_POINTS + 2];
	size_t n, found = 0;

	ck_assert_ptr_nonnull(t);
	timeline_init(t);
	/* Flat at 1 MiB for ten hours, but for one second at 1 GiB, off any step. */
	for (uint64_t i = 0; i < 36000; i++) {
		struct mt_tl_point p = sample(i, i == 20001 ? 1ull << 30 : 1ull << 20);

		timeline_add(t, &p);
	}
	n = timeline_get(t, out, TIMELINE_POINTS + 2);
	for (size_t i = 0; i < n; i++)
		if (out[i].bytes == 1ull << 30) {
			found++;
			ck_assert_int_eq(out[i].time_ns, sample(20001, 0).time_ns);
			/* The point is that sample whole, its threads with it. */
			ck_assert_int_eq(out[i].threads[0].tid, 100 + 20001 % 3);
		}
	ck_assert_uint_eq(found, 1);
	free(t);
}
END_TEST

START_TEST(test_newest_in_open_window)
{
	struct timeline *t = malloc(sizeof(*t));
	struct mt_tl_point out[TIMELINE_POINTS + 2];
	size_t n;

	ck_assert_ptr_nonnull(t);
	timeline_init(t);
	/* 1030 samples: step 2 after 1024, so the last window is open; its peak is 1027. */
	for (uint64_t i = 0; i < 1030; i++) {
		struct mt_tl_point p = sample(i, i == 1027 ? 1ull << 40 : i);

		timeline_add(t, &p);
	}
	n = timeline_get(t, out, TIMELINE_POINTS + 2);
	in_order(out, n);
	ck_assert_uint_eq(out[n - 1].bytes, 1029);
	ck_assert_uint_eq(out[n - 2].bytes, 1ull << 40);
	free(t);
}
END_TEST

Suite *timeline_suite(void)
{
	Suite *s = suite_create("timeline");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_short_run_keeps_every_sample);
	tcase_add_test(tc, test_ten_hours_bounded);
	tcase_add_test(tc, test_peak_survives);
	tcase_add_test(tc, test_newest_in_open_window);
	suite_add_tcase(s, tc);
	return s;
}
