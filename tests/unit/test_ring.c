/*
 * test_ring.c - the bounded event ring: sequence numbers, wraparound and
 * dropped-event accounting.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "unit.h"

/* An event whose fields are all derived from N, to spot mixed-up slots. */
static struct mt_event mkev(uint64_t n)
{
	struct mt_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = 0xdeadbeef; /* ring_push must overwrite it */
	ev.time_ns = (int64_t)n * 1000;
	ev.dur_ns = n + 1;
	ev.pid = 100;
	ev.tid = (pid_t)(100 + n % 7);
	ev.sys = (uint8_t)(n % MT_SYS_COUNT);
	ev.done = 1;
	for (int i = 0; i < 6; i++)
		ev.args[i] = n * 10 + (uint64_t)i;
	ev.ret = -(int64_t)n;
	return ev;
}

/* EV (as returned by ring_get) is the one mkev(N) built, pushed as seq N. */
static void check_ev(const struct mt_event *ev, uint64_t n)
{
	ck_assert_ptr_nonnull(ev);
	ck_assert_uint_eq(ev->seq, n);
	ck_assert_int_eq(ev->time_ns, (int64_t)n * 1000);
	ck_assert_uint_eq(ev->dur_ns, n + 1);
	ck_assert_int_eq(ev->tid, 100 + n % 7);
	ck_assert_uint_eq(ev->sys, n % MT_SYS_COUNT);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(ev->args[i], n * 10 + (uint64_t)i);
	ck_assert_int_eq(ev->ret, -(int64_t)n);
}

START_TEST(test_init_invalid)
{
	struct ring r = {.ev = NULL, .cap = 77, .head = 5};

	ck_assert_int_eq(ring_init(&r, 0), -EINVAL);
	ck_assert_int_eq(ring_init(&r, SIZE_MAX), -EINVAL);
	ck_assert_int_eq(ring_init(&r, SIZE_MAX / sizeof(struct mt_event) + 1), -EINVAL);
	/* Left untouched on failure. */
	ck_assert_ptr_null(r.ev);
	ck_assert_uint_eq(r.cap, 77);
	ck_assert_uint_eq(r.head, 5);
}
END_TEST

START_TEST(test_empty)
{
	struct ring r;

	ck_assert_int_eq(ring_init(&r, 8), 0);
	ck_assert_ptr_nonnull(r.ev);
	ck_assert_uint_eq(r.cap, 8);
	ck_assert_uint_eq(r.head, 0);
	ck_assert_uint_eq(ring_dropped(&r), 0);
	ck_assert_ptr_null(ring_get(&r, 0));
	ck_assert_ptr_null(ring_get(&r, 1));
	ck_assert_ptr_null(ring_get(&r, UINT64_MAX));
	ring_free(&r);
	ck_assert_ptr_null(r.ev);
	ck_assert_uint_eq(r.cap, 0);
	ck_assert_uint_eq(r.head, 0);
	/* Freeing twice, or a zeroed ring, is harmless. */
	ring_free(&r);
	struct ring z;
	memset(&z, 0, sizeof(z));
	ring_free(&z);
}
END_TEST

START_TEST(test_push_get)
{
	struct ring r;

	ck_assert_int_eq(ring_init(&r, 16), 0);
	for (uint64_t n = 1; n <= 10; n++) {
		struct mt_event ev = mkev(n);

		ring_push(&r, &ev);
		/* The caller's event is not modified. */
		ck_assert_uint_eq(ev.seq, 0xdeadbeef);
		ck_assert_uint_eq(r.head, n);
		check_ev(ring_get(&r, n), n);
		ck_assert_ptr_null(ring_get(&r, n + 1));
	}
	ck_assert_uint_eq(ring_dropped(&r), 0);
	/* Sequence numbers start at 1; 0 is never an event. */
	ck_assert_ptr_null(ring_get(&r, 0));
	for (uint64_t n = 1; n <= 10; n++)
		check_ev(ring_get(&r, n), n);
	ring_free(&r);
}
END_TEST

START_TEST(test_fill_exactly)
{
	struct ring r;

	ck_assert_int_eq(ring_init(&r, 4), 0);
	for (uint64_t n = 1; n <= 4; n++) {
		struct mt_event ev = mkev(n);
		ring_push(&r, &ev);
	}
	/* Full but nothing overwritten yet. */
	ck_assert_uint_eq(ring_dropped(&r), 0);
	for (uint64_t n = 1; n <= 4; n++)
		check_ev(ring_get(&r, n), n);
	struct mt_event ev = mkev(5);
	ring_push(&r, &ev);
	ck_assert_uint_eq(ring_dropped(&r), 1);
	ck_assert_ptr_null(ring_get(&r, 1));
	for (uint64_t n = 2; n <= 5; n++)
		check_ev(ring_get(&r, n), n);
	ring_free(&r);
}
END_TEST

START_TEST(test_first_after)
{
	/* Nothing overwritten: the one after AFTER, held or not yet pushed. */
	ck_assert_uint_eq(ring_first_after(0, 3, 4), 1);
	ck_assert_uint_eq(ring_first_after(2, 4, 4), 3);
	ck_assert_uint_eq(ring_first_after(4, 4, 4), 5);
	/* 10 pushed into 4 slots: 7..10 are held. */
	ck_assert_uint_eq(ring_first_after(0, 10, 4), 7);
	ck_assert_uint_eq(ring_first_after(5, 10, 4), 7);
	ck_assert_uint_eq(ring_first_after(6, 10, 4), 7);
	ck_assert_uint_eq(ring_first_after(7, 10, 4), 8);
	ck_assert_uint_eq(ring_first_after(10, 10, 4), 11);
}
END_TEST

START_TEST(test_wraparound)
{
	const size_t cap = 4;
	struct ring r;

	ck_assert_int_eq(ring_init(&r, cap), 0);
	for (uint64_t n = 1; n <= 1000; n++) {
		struct mt_event ev = mkev(n);

		ring_push(&r, &ev);
		ck_assert_uint_eq(r.head, n);
		ck_assert_uint_eq(ring_dropped(&r), n > cap ? n - cap : 0);
		/* The newest is always there with the right data... */
		check_ev(ring_get(&r, n), n);
		/* ...the last CAP are all readable... */
		for (uint64_t k = n > cap ? n - cap + 1 : 1; k <= n; k++)
			check_ev(ring_get(&r, k), k);
		/* ...the one just overwritten is gone, and the future is not there yet. */
		if (n > cap)
			ck_assert_ptr_null(ring_get(&r, n - cap));
		ck_assert_ptr_null(ring_get(&r, n + 1));
	}
	ck_assert_uint_eq(ring_dropped(&r), 996);
	for (uint64_t k = 1; k <= 996; k++)
		ck_assert_ptr_null(ring_get(&r, k));
	for (uint64_t k = 997; k <= 1000; k++)
		check_ev(ring_get(&r, k), k);
	ck_assert_ptr_null(ring_get(&r, 1001));
	ck_assert_ptr_null(ring_get(&r, 0));
	ck_assert_ptr_null(ring_get(&r, UINT64_MAX));
	ring_free(&r);
}
END_TEST

START_TEST(test_cap_one)
{
	struct ring r;

	ck_assert_int_eq(ring_init(&r, 1), 0);
	for (uint64_t n = 1; n <= 50; n++) {
		struct mt_event ev = mkev(n);

		ring_push(&r, &ev);
		check_ev(ring_get(&r, n), n);
		ck_assert_ptr_null(ring_get(&r, n - 1));
		ck_assert_uint_eq(ring_dropped(&r), n - 1);
	}
	ring_free(&r);
}
END_TEST

START_TEST(test_dropped_inline)
{
	struct ring r = {.ev = NULL, .cap = 10, .head = 0};

	ck_assert_uint_eq(ring_dropped(&r), 0);
	r.head = 10;
	ck_assert_uint_eq(ring_dropped(&r), 0);
	r.head = 11;
	ck_assert_uint_eq(ring_dropped(&r), 1);
	r.head = UINT64_MAX;
	ck_assert_uint_eq(ring_dropped(&r), UINT64_MAX - 10);
}
END_TEST

START_TEST(test_large_sparse)
{
	/* The storage is reserved, not committed: a big ring is cheap. */
	struct ring r;
	const size_t cap = 1u << 20;

	ck_assert_int_eq(ring_init(&r, cap), 0);
	for (uint64_t n = 1; n <= 3; n++) {
		struct mt_event ev = mkev(n);
		ring_push(&r, &ev);
	}
	check_ev(ring_get(&r, 1), 1);
	check_ev(ring_get(&r, 3), 3);
	ck_assert_uint_eq(ring_dropped(&r), 0);
	ring_free(&r);
}
END_TEST

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_init_invalid);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_push_get);
	tcase_add_test(tc, test_fill_exactly);
	tcase_add_test(tc, test_first_after);
	tcase_add_test(tc, test_wraparound);
	tcase_add_test(tc, test_cap_one);
	tcase_add_test(tc, test_dropped_inline);
	tcase_add_test(tc, test_large_sparse);
	suite_add_tcase(s, tc);
	return s;
}
