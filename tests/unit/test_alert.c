/*
 * test_alert.c - alert levels with hysteresis, growth and projection,
 * history and the alert ring (alert.c).
 *
 * alert_check() is internal and wants a session whose table changed, so
 * these tests include "internal.h": they build a real session with
 * mt_session_new() (never launched), change its table directly with
 * maps_map()/maps_unmap() on s->maps as the accounting code would, and call
 * alert_check() with the session lock held, as record() does after every
 * accounting change.  Thread records come from task_new(), the tracer's
 * own constructor.
 *
 * Growth uses the real clock (mt_session_sample() stamps samples with
 * mt_now_ns()), so those tests take samples a few tens of milliseconds
 * apart and check the rate against a least-squares fit of the samples the
 * session itself reports through mt_session_history(): exact, whatever the
 * scheduling delays.  Only the window test sleeps for over a second.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"
#include "unit.h"

#define CH   16781312ull	  /* what glibc maps for malloc(16 MiB): a chunk */
#define CEIL (100 * CH)		  /* so that N chunks are N percent */
#define BASE 0x100000000000ull	  /* where the test puts its chunks */
#define STRIDE (32ull << 20)	  /* chunk i at BASE + i * STRIDE */
#define LARGE_AT 0x200000000000ull /* a large mapping, for count_large */

static struct mt_session *s;
static unsigned nchunks; /* chunks now in s->maps */

static struct mt_session *session(uint64_t ceiling, int count_large, double window_s)
{
	struct mt_config cfg;
	struct mt_session *n = NULL;

	mt_config_default(&cfg);
	cfg.ceiling = ceiling;
	cfg.count_large = count_large;
	cfg.ring_events = 64;
	if (window_s > 0)
		cfg.window_s = window_s;
	ck_assert_int_eq(mt_session_new(&cfg, &n), 0);
	ck_assert_ptr_nonnull(n);
	nchunks = 0;
	return n;
}

static void teardown(void)
{
	mt_session_free(s);
	s = NULL;
}

/* Insert one anonymous RW mapping, owned by OWNER (may be NULL). */
static void map_one(uint64_t start, uint64_t len, struct maps_owner *owner)
{
	struct maps_entry e = {
		.start = start,
		.len = len,
		.prot = PROT_READ | PROT_WRITE,
		.flags = MAP_PRIVATE | MAP_ANONYMOUS,
		.kind = MT_MAP_ANON,
		.tid = 1,
		.time_ns = mt_now_ns(),
		.owner = owner,
	};

	pthread_mutex_lock(&s->lock);
	ck_assert_int_eq(maps_map(&s->maps, &e), 0);
	pthread_mutex_unlock(&s->lock);
}

/* alert_check() as record() calls it; returns its result. */
static int check(void)
{
	int made;

	pthread_mutex_lock(&s->lock);
	made = alert_check(s);
	pthread_mutex_unlock(&s->lock);
	return made;
}

/*
 * Move to N chunks one mapping at a time, checking after each change as
 * the tracer does (STEP 1), or all at once with one check (STEP 0).
 */
static void chunks_to(unsigned n, int step)
{
	while (nchunks != n) {
		if (nchunks < n) {
			map_one(BASE + nchunks * STRIDE, CH, NULL);
			nchunks++;
		} else {
			nchunks--;
			pthread_mutex_lock(&s->lock);
			ck_assert_int_eq(maps_unmap(&s->maps, BASE + nchunks * STRIDE, CH), 0);
			pthread_mutex_unlock(&s->lock);
		}
		if (step)
			check();
	}
	if (!step)
		check();
	ck_assert_uint_eq(s->maps.totals.bytes[MT_CLASS_CHUNK], (uint64_t)nchunks * CH);
}

static enum mt_level level_now(void)
{
	struct mt_status st;

	mt_session_status(s, &st);
	return st.level;
}

/* Every alert so far, oldest first; returns how many. */
static size_t all_alerts(struct mt_alert *out)
{
	uint64_t newest = 0;
	size_t n = mt_session_alerts(s, 0, out, ALERT_RING, &newest);

	ck_assert_uint_eq(newest, s->alert_seq);
	return n;
}

static void expect_alert(const struct mt_alert *a, enum mt_level level, int raised, uint64_t bytes)
{
	ck_assert_msg(a->level == level && a->raised == raised,
		      "alert %llu is %s %s, want %s %s", (unsigned long long)a->seq,
		      mt_level_name(a->level), a->raised ? "raised" : "cleared", mt_level_name(level),
		      raised ? "raised" : "cleared");
	ck_assert_uint_eq(a->bytes, bytes);
	ck_assert_uint_eq(a->ceiling, s->ceiling);
	ck_assert_int_gt(a->time_ns, 0);
}

/* Crossing 80% raises warn once; more growth below 95% raises nothing more. */
START_TEST(test_warn_once)
{
	struct mt_alert a[ALERT_RING];

	s = session(CEIL, 0, 0);
	chunks_to(79, 1);
	ck_assert_uint_eq(all_alerts(a), 0);
	ck_assert_int_eq(level_now(), MT_LEVEL_OK);
	chunks_to(80, 1);
	ck_assert_uint_eq(all_alerts(a), 1);
	expect_alert(&a[0], MT_LEVEL_WARN, 1, 80 * CH);
	ck_assert_uint_eq(a[0].seq, 1);
	ck_assert_int_eq(level_now(), MT_LEVEL_WARN);
	chunks_to(94, 1);
	ck_assert_uint_eq(all_alerts(a), 1);
	/* No further change: checking again makes nothing. */
	ck_assert_int_eq(check(), 0);
	ck_assert_uint_eq(all_alerts(a), 1);
	teardown();
}
END_TEST

/* Hovering between 75% and 94% never flaps; only below 75% clears. */
START_TEST(test_hysteresis_warn)
{
	struct mt_alert a[ALERT_RING];
	static const unsigned path[] = {76, 84, 79, 81, 75, 80, 75, 90, 78, 75};

	s = session(CEIL, 0, 0);
	chunks_to(80, 1);
	ck_assert_uint_eq(all_alerts(a), 1);
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		chunks_to(path[i], 1);
		ck_assert_msg(all_alerts(a) == 1, "an alert at %u%% while hovering", path[i]);
		ck_assert_int_eq(level_now(), MT_LEVEL_WARN);
	}
	/* 75% is the clear line itself: still warn.  74% clears, once. */
	chunks_to(74, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	expect_alert(&a[1], MT_LEVEL_WARN, 0, 74 * CH);
	ck_assert_int_eq(level_now(), MT_LEVEL_OK);
	chunks_to(60, 1);
	chunks_to(79, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	/* And it is raised again at 80%. */
	chunks_to(80, 1);
	ck_assert_uint_eq(all_alerts(a), 3);
	expect_alert(&a[2], MT_LEVEL_WARN, 1, 80 * CH);
	teardown();
}
END_TEST

/* Crit at 95%, cleared below 90% back to warn, which stays. */
START_TEST(test_hysteresis_crit)
{
	struct mt_alert a[ALERT_RING];

	s = session(CEIL, 0, 0);
	chunks_to(95, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	expect_alert(&a[0], MT_LEVEL_WARN, 1, 80 * CH);
	expect_alert(&a[1], MT_LEVEL_CRIT, 1, 95 * CH);
	ck_assert_int_eq(level_now(), MT_LEVEL_CRIT);
	chunks_to(91, 1);
	chunks_to(99, 1);
	chunks_to(90, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	chunks_to(89, 1);
	ck_assert_uint_eq(all_alerts(a), 3);
	expect_alert(&a[2], MT_LEVEL_CRIT, 0, 89 * CH);
	ck_assert_int_eq(level_now(), MT_LEVEL_WARN);
	chunks_to(76, 1);
	ck_assert_uint_eq(all_alerts(a), 3);
	chunks_to(95, 1);
	ck_assert_uint_eq(all_alerts(a), 4);
	expect_alert(&a[3], MT_LEVEL_CRIT, 1, 95 * CH);
	teardown();
}
END_TEST

/* ok -> crit in one change raises warn, then crit; crit -> ok clears crit, then warn. */
START_TEST(test_jumps)
{
	struct mt_alert a[ALERT_RING];

	s = session(CEIL, 0, 0);
	chunks_to(10, 1);
	chunks_to(97, 0);
	ck_assert_uint_eq(all_alerts(a), 2);
	expect_alert(&a[0], MT_LEVEL_WARN, 1, 97 * CH);
	expect_alert(&a[1], MT_LEVEL_CRIT, 1, 97 * CH);
	ck_assert_uint_eq(a[1].seq, a[0].seq + 1);
	ck_assert_int_le(a[0].time_ns, a[1].time_ns);
	ck_assert_int_eq(level_now(), MT_LEVEL_CRIT);

	chunks_to(3, 0);
	ck_assert_uint_eq(all_alerts(a), 4);
	expect_alert(&a[2], MT_LEVEL_CRIT, 0, 3 * CH);
	expect_alert(&a[3], MT_LEVEL_WARN, 0, 3 * CH);
	ck_assert_int_eq(level_now(), MT_LEVEL_OK);

	/* Warn -> crit -> (crit clear only) in jumps. */
	chunks_to(85, 0);
	chunks_to(99, 0);
	chunks_to(80, 0);
	ck_assert_uint_eq(all_alerts(a), 7);
	expect_alert(&a[4], MT_LEVEL_WARN, 1, 85 * CH);
	expect_alert(&a[5], MT_LEVEL_CRIT, 1, 99 * CH);
	expect_alert(&a[6], MT_LEVEL_CRIT, 0, 80 * CH);
	ck_assert_int_eq(level_now(), MT_LEVEL_WARN);
	teardown();
}
END_TEST

/* Above the ceiling itself nothing new happens: crit is the top. */
START_TEST(test_over_ceiling)
{
	struct mt_alert a[ALERT_RING];

	s = session(CEIL, 0, 0);
	chunks_to(150, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	ck_assert_int_eq(level_now(), MT_LEVEL_CRIT);
	teardown();
}
END_TEST

/* With count_large, large mappings weigh too; without, they do not. */
START_TEST(test_count_large)
{
	struct mt_alert a[ALERT_RING];
	struct mt_growth g;

	for (int large = 0; large <= 1; large++) {
		s = session(CEIL, large, 0);
		chunks_to(70, 1);
		map_one(LARGE_AT, 12 * CH, NULL); /* far above a chunk: large */
		ck_assert_uint_eq(s->maps.totals.bytes[MT_CLASS_LARGE], 12 * CH);
		check();
		mt_session_growth(s, &g);
		if (large) {
			ck_assert_uint_eq(g.bytes, 82 * CH);
			ck_assert_uint_eq(all_alerts(a), 1);
			expect_alert(&a[0], MT_LEVEL_WARN, 1, 82 * CH);
			/* Chunks alone would be 70%, but 70 + 12 stays above the clear line. */
			chunks_to(66, 1);
			ck_assert_uint_eq(all_alerts(a), 1);
			chunks_to(62, 1);
			ck_assert_uint_eq(all_alerts(a), 2);
			expect_alert(&a[1], MT_LEVEL_WARN, 0, 74 * CH);
		} else {
			ck_assert_uint_eq(g.bytes, 70 * CH);
			ck_assert_uint_eq(all_alerts(a), 0);
			ck_assert_int_eq(level_now(), MT_LEVEL_OK);
		}
		teardown();
	}
}
END_TEST

/* No ceiling: no alerts, however much is mapped. */
START_TEST(test_no_ceiling)
{
	struct mt_alert a[ALERT_RING];
	struct mt_growth g;

	s = session(0, 1, 0);
	chunks_to(300, 1);
	map_one(LARGE_AT, 50 * CH, NULL);
	ck_assert_int_eq(check(), 0);
	ck_assert_uint_eq(all_alerts(a), 0);
	ck_assert_int_eq(level_now(), MT_LEVEL_OK);
	mt_session_sample(s);
	mt_session_growth(s, &g);
	ck_assert(g.eta_s < 0);
	teardown();
}
END_TEST

/* Other percentages and margin: warn 50, crit 60, margin 20. */
START_TEST(test_custom_levels)
{
	struct mt_config cfg;
	struct mt_alert a[ALERT_RING];

	mt_config_default(&cfg);
	cfg.ceiling = CEIL;
	cfg.warn_percent = 50;
	cfg.crit_percent = 60;
	cfg.clear_margin = 20;
	cfg.ring_events = 64;
	ck_assert_int_eq(mt_session_new(&cfg, &s), 0);
	nchunks = 0;
	chunks_to(60, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	expect_alert(&a[0], MT_LEVEL_WARN, 1, 50 * CH);
	expect_alert(&a[1], MT_LEVEL_CRIT, 1, 60 * CH);
	/* crit clears below 40, warn below 30. */
	chunks_to(40, 1);
	ck_assert_uint_eq(all_alerts(a), 2);
	chunks_to(39, 1);
	ck_assert_uint_eq(all_alerts(a), 3);
	expect_alert(&a[2], MT_LEVEL_CRIT, 0, 39 * CH);
	chunks_to(30, 1);
	ck_assert_uint_eq(all_alerts(a), 3);
	chunks_to(29, 1);
	ck_assert_uint_eq(all_alerts(a), 4);
	expect_alert(&a[3], MT_LEVEL_WARN, 0, 29 * CH);
	teardown();
}
END_TEST

/* The ring keeps the last 256 alerts; mt_session_alerts pages through them. */
START_TEST(test_alert_ring)
{
	static struct mt_alert a[ALERT_RING + 8];
	uint64_t newest = 0;
	size_t n;

	s = session(CEIL, 0, 0);
	for (int i = 0; i < 200; i++) {
		chunks_to(80, 0);
		chunks_to(74, 0);
	}
	ck_assert_uint_eq(s->alert_seq, 400);
	n = mt_session_alerts(s, 0, a, ALERT_RING + 8, &newest);
	ck_assert_uint_eq(n, ALERT_RING);
	ck_assert_uint_eq(newest, 400);
	ck_assert_uint_eq(a[0].seq, 400 - ALERT_RING + 1);
	for (size_t i = 1; i < n; i++) {
		ck_assert_uint_eq(a[i].seq, a[i - 1].seq + 1);
		ck_assert_int_eq(a[i].raised, !a[i - 1].raised);
	}
	ck_assert_int_eq(a[n - 1].raised, 0);
	n = mt_session_alerts(s, 390, a, ALERT_RING, &newest);
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(a[0].seq, 391);
	n = mt_session_alerts(s, 390, a, 3, &newest);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(a[2].seq, 393);
	n = mt_session_alerts(s, 400, a, ALERT_RING, &newest);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(newest, 400);
	teardown();
}
END_TEST

/* An alert lists the (at most 5) threads holding the most chunk bytes, most first. */
START_TEST(test_top_threads)
{
	static const unsigned held[] = {3, 9, 1, 7, 5, 0, 11};
	struct mt_alert a[ALERT_RING];
	uint64_t at = BASE;
	json_t *j, *top;

	s = session(CEIL, 0, 0);
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
		struct task *t = task_new(s, 1000 + (pid_t)i, 1000, TASK_TARGET_MM);

		ck_assert_ptr_nonnull(t);
		snprintf(t->th->comm, sizeof(t->th->comm), "nioEventLoop-%zu", i);
		for (unsigned k = 0; k < held[i]; k++, at += STRIDE)
			map_one(at, CH, &t->th->own);
		/* A small mapping is no chunk and does not rank. */
		map_one(at, 4096, &t->th->own);
		at += STRIDE;
	}
	/* 36 chunks; make it 96 with ownerless ones, then check. */
	for (unsigned k = 0; k < 60; k++, at += STRIDE)
		map_one(at, CH, NULL);
	check();
	ck_assert_uint_eq(all_alerts(a), 2);
	for (int k = 0; k < 2; k++) {
		static const pid_t want_tid[] = {1006, 1001, 1003, 1004, 1000};
		static const unsigned want_n[] = {11, 9, 7, 5, 3};

		for (int i = 0; i < 5; i++) {
			ck_assert_int_eq(a[k].top[i].tid, want_tid[i]);
			ck_assert_uint_eq(a[k].top[i].chunk_count, want_n[i]);
			ck_assert_uint_eq(a[k].top[i].chunk_bytes, want_n[i] * CH);
		}
	}
	ck_assert_str_eq(a[1].top[0].comm, "nioEventLoop-6");
	j = mt_proto_alert(&a[1]);
	top = json_object_get(j, "top_threads");
	ck_assert_uint_eq(json_array_size(top), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "name")),
			 "nioEventLoop-6");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(top, 4), "tid")), 1000);
	json_decref(j);
	teardown();
}
END_TEST

/* Fewer than 5 threads: the list ends with tid 0. */
START_TEST(test_top_threads_short)
{
	struct mt_alert a[ALERT_RING];
	struct task *t;

	s = session(CEIL, 0, 0);
	t = task_new(s, 4242, 4242, TASK_TARGET_MM);
	ck_assert_ptr_nonnull(t);
	for (unsigned k = 0; k < 81; k++)
		map_one(BASE + k * STRIDE, CH, &t->th->own);
	check();
	ck_assert_uint_eq(all_alerts(a), 1);
	ck_assert_int_eq(a[0].top[0].tid, 4242);
	ck_assert_uint_eq(a[0].top[0].chunk_count, 81);
	ck_assert_int_eq(a[0].top[1].tid, 0);
	teardown();
}
END_TEST

/* The alert object of the protocol. */
START_TEST(test_alert_json)
{
	struct mt_alert a[ALERT_RING];
	json_t *j;

	s = session(CEIL, 0, 0);
	chunks_to(81, 0);
	ck_assert_uint_eq(all_alerts(a), 1);
	/* No samples: no growth, no projection. */
	ck_assert_str_eq(a[0].trend, "unknown");
	ck_assert(a[0].eta_s < 0);
	j = mt_proto_alert(&a[0]);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "raised");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes")), (json_int_t)(81 * CH));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "ceiling")), (json_int_t)CEIL);
	ck_assert_double_eq_tol(json_real_value(json_object_get(j, "percent")), 81.0, 1e-9);
	ck_assert(json_is_null(json_object_get(j, "eta_s")));
	ck_assert(json_is_number(json_object_get(j, "rate_bytes_per_s")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "trend")), "unknown");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 1);
	ck_assert(json_is_array(json_object_get(j, "top_threads")));
	json_decref(j);
	teardown();
}
END_TEST

START_TEST(test_level_names)
{
	ck_assert_str_eq(mt_level_name(MT_LEVEL_OK), "ok");
	ck_assert_str_eq(mt_level_name(MT_LEVEL_WARN), "warn");
	ck_assert_str_eq(mt_level_name(MT_LEVEL_CRIT), "crit");
	ck_assert_str_eq(mt_level_name((enum mt_level)7), "?");
	ck_assert_int_eq(mt_level_from_name("ok"), MT_LEVEL_OK);
	ck_assert_int_eq(mt_level_from_name("warn"), MT_LEVEL_WARN);
	ck_assert_int_eq(mt_level_from_name("crit"), MT_LEVEL_CRIT);
	ck_assert_int_eq(mt_level_from_name("critical"), -1);
	ck_assert_int_eq(mt_level_from_name(""), -1);
}
END_TEST

/* ---- growth -------------------------------------------------------- */

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The least-squares slope of the samples the session holds (bytes/s). */
static double fit_rate(void)
{
	struct mt_sample smp[HISTORY_SAMPLES];
	size_t n = mt_session_history(s, smp, HISTORY_SAMPLES);
	double sx = 0, sy = 0, sxx = 0, sxy = 0, t0;

	ck_assert_uint_ge(n, 2);
	t0 = (double)smp[0].time_ns / 1e9;
	for (size_t i = 0; i < n; i++) {
		double x = (double)smp[i].time_ns / 1e9 - t0, y = (double)smp[i].bytes;

		sx += x, sy += y, sxx += x * x, sxy += x * y;
	}
	return ((double)n * sxy - sx * sy) / ((double)n * sxx - sx * sx);
}

/* Take samples GAP_MS apart with the chunk counts in COUNTS. */
static void samples(const unsigned *counts, size_t n, long gap_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			nap_ms(gap_ms);
		chunks_to(counts[i], 1);
		mt_session_sample(s);
	}
}

START_TEST(test_growth_unknown)
{
	struct mt_growth g;

	s = session(CEIL, 0, 0);
	chunks_to(5, 1);
	mt_session_growth(s, &g);
	ck_assert_str_eq(g.trend, "unknown");
	ck_assert(g.eta_s < 0);
	ck_assert(g.rate == 0);
	ck_assert_uint_eq(g.bytes, 5 * CH);
	mt_session_sample(s);
	mt_session_growth(s, &g);
	ck_assert_str_eq(g.trend, "unknown");
	ck_assert(g.eta_s < 0);
	teardown();
}
END_TEST

START_TEST(test_growth_growing)
{
	static const unsigned counts[] = {10, 11, 12, 13, 14};
	struct mt_growth g;
	int64_t before, after;
	double want, eta;

	int64_t call;

	s = session(CEIL, 0, 0);
	before = mt_now_ns();
	samples(counts, 5, 30);
	call = mt_now_ns();
	mt_session_growth(s, &g);
	after = mt_now_ns();
	want = fit_rate();
	ck_assert_str_eq(g.trend, "growing");
	ck_assert_msg(fabs(g.rate - want) <= 1e-6 * want, "rate %f, least squares %f", g.rate, want);
	/* About one chunk per 30 ms, give or take scheduling. */
	ck_assert_msg(g.rate > CH / 1.0 && g.rate < CH / 0.02, "rate %f", g.rate);
	ck_assert_uint_eq(g.bytes, 14 * CH);
	eta = (double)(CEIL - 14 * CH) / g.rate;
	ck_assert_msg(fabs(g.eta_s - eta) <= 1e-6 * eta, "eta %f, want %f", g.eta_s, eta);
	ck_assert(g.window_s > 0.1 && g.window_s <= (double)(after - before) / 1e9);
	/* Overall rate: from the first sample to now (the moment of the call). */
	ck_assert(g.overall_rate > 0);
	{
		struct mt_sample h[8];
		double lo, hi;

		ck_assert_uint_eq(mt_session_history(s, h, 8), 5);
		lo = 4.0 * CH / ((double)(after - h[0].time_ns) / 1e9);
		hi = 4.0 * CH / ((double)(call - h[0].time_ns) / 1e9);
		ck_assert_msg(g.overall_rate >= lo * (1 - 1e-9) && g.overall_rate <= hi * (1 + 1e-9),
			      "overall rate %f not in [%f, %f]", g.overall_rate, lo, hi);
	}
	teardown();
}
END_TEST

START_TEST(test_growth_flat_and_falling)
{
	static const unsigned flat[] = {20, 20, 20, 20};
	static const unsigned falling[] = {30, 28, 26, 24};
	struct mt_growth g;

	s = session(CEIL, 0, 0);
	samples(flat, 4, 20);
	mt_session_growth(s, &g);
	ck_assert_str_eq(g.trend, "flat");
	/* Zero but for rounding in the sums. */
	ck_assert_msg(fabs(g.rate) < 1.0, "rate %f", g.rate);
	ck_assert(g.eta_s < 0);
	teardown();

	s = session(CEIL, 0, 0);
	samples(falling, 4, 20);
	mt_session_growth(s, &g);
	ck_assert_str_eq(g.trend, "falling");
	ck_assert(g.rate < 0);
	ck_assert(fabs(g.rate - fit_rate()) <= 1e-6 * fabs(g.rate));
	ck_assert(g.eta_s < 0);
	ck_assert(g.overall_rate < 0);
	teardown();
}
END_TEST

/* Less than half a chunk over the window is noise: flat, no projection. */
START_TEST(test_growth_noise)
{
	struct mt_growth g;

	s = session(CEIL, 1, 0);
	for (int i = 0; i < 5; i++) {
		if (i) {
			nap_ms(20);
			pthread_mutex_lock(&s->lock);
			maps_unmap(&s->maps, LARGE_AT, 64ull << 20);
			pthread_mutex_unlock(&s->lock);
		}
		/* A large mapping growing by one page per sample. */
		map_one(LARGE_AT, (32ull << 20) + (uint64_t)i * 4096, NULL);
		mt_session_sample(s);
	}
	mt_session_growth(s, &g);
	ck_assert_msg(g.rate > 0, "rate %f", g.rate);
	ck_assert_str_eq(g.trend, "flat");
	ck_assert(g.eta_s < 0);
	teardown();
}
END_TEST

/* Samples older than the window do not count. */
START_TEST(test_growth_window)
{
	static const unsigned falling[] = {40, 35, 30};
	static const unsigned growing[] = {31, 33, 35};
	struct mt_growth g;

	s = session(CEIL, 0, 1.0);
	samples(falling, 3, 20);
	nap_ms(1300);
	samples(growing, 3, 20);
	mt_session_growth(s, &g);
	ck_assert_msg(!strcmp(g.trend, "growing"), "trend %s rate %f", g.trend, g.rate);
	ck_assert(g.window_s < 1.0);
	ck_assert(g.eta_s > 0);
	/* overall_rate still starts at the very first sample: falling overall. */
	ck_assert(g.overall_rate < 0);
	teardown();
}
END_TEST

/* Growing past the ceiling: the projection is 0, not negative. */
START_TEST(test_growth_past_ceiling)
{
	static const unsigned counts[] = {98, 100, 102};
	struct mt_growth g;

	s = session(CEIL, 0, 0);
	samples(counts, 3, 20);
	mt_session_growth(s, &g);
	ck_assert_str_eq(g.trend, "growing");
	ck_assert(g.eta_s == 0);
	teardown();
}
END_TEST

/* An alert made while growing carries the rate and the projection. */
START_TEST(test_alert_carries_growth)
{
	static const unsigned counts[] = {70, 72, 74, 76, 78};
	struct mt_alert a[ALERT_RING];
	json_t *j;

	s = session(CEIL, 0, 0);
	samples(counts, 5, 20);
	chunks_to(80, 1);
	ck_assert_uint_eq(all_alerts(a), 1);
	ck_assert_str_eq(a[0].trend, "growing");
	ck_assert(a[0].rate > 0);
	ck_assert(a[0].eta_s > 0);
	ck_assert(fabs(a[0].eta_s - (double)(20 * CH) / a[0].rate) <= 1e-6 * a[0].eta_s);
	/* The overall rate: 10 chunks from the first sample to the moment of the alert. */
	{
		struct mt_sample h[8];
		double lo, hi;

		ck_assert_uint_eq(mt_session_history(s, h, 8), 5);
		lo = 10.0 * CH / ((double)(mt_now_ns() - h[0].time_ns) / 1e9);
		hi = 10.0 * CH / ((double)(a[0].time_ns - h[0].time_ns) / 1e9);
		ck_assert_msg(a[0].overall_rate >= lo * (1 - 1e-9) && a[0].overall_rate <= hi * (1 + 1e-9),
			      "overall rate %f not in [%f, %f]", a[0].overall_rate, lo, hi);
	}
	j = mt_proto_alert(&a[0]);
	ck_assert(json_is_real(json_object_get(j, "eta_s")));
	ck_assert_double_eq_tol(json_real_value(json_object_get(j, "rate_bytes_per_s")), a[0].rate,
				1e-3);
	ck_assert_double_eq_tol(json_real_value(json_object_get(j, "overall_rate_bytes_per_s")),
				a[0].overall_rate, 1e-3);
	ck_assert_str_eq(json_string_value(json_object_get(j, "trend")), "growing");
	json_decref(j);
	teardown();
}
END_TEST

/* ---- history -------------------------------------------------------- */

START_TEST(test_history_spread)
{
	struct mt_sample h[64];
	size_t n;

	s = session(CEIL, 0, 0);
	ck_assert_uint_eq(mt_session_history(s, h, 64), 0);
	for (unsigned i = 1; i <= 10; i++) {
		chunks_to(i, 1);
		mt_session_sample(s);
	}
	n = mt_session_history(s, h, 64);
	ck_assert_uint_eq(n, 10);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(h[i].bytes, (i + 1) * CH);
	/* Four spread over ten: the first, the last and two between. */
	n = mt_session_history(s, h, 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(h[0].bytes, 1 * CH);
	ck_assert_uint_eq(h[1].bytes, 4 * CH);
	ck_assert_uint_eq(h[2].bytes, 7 * CH);
	ck_assert_uint_eq(h[3].bytes, 10 * CH);
	ck_assert_uint_eq(mt_session_history(s, h, 0), 0);
	teardown();
}
END_TEST

/* More samples than the history holds: the oldest are gone, order kept. */
START_TEST(test_history_wrap)
{
	static struct mt_sample h[HISTORY_SAMPLES];
	size_t n;

	s = session(0, 0, 0);
	for (unsigned i = 1; i <= HISTORY_SAMPLES + 400; i++) {
		chunks_to(i, 0);
		mt_session_sample(s);
	}
	n = mt_session_history(s, h, HISTORY_SAMPLES);
	ck_assert_uint_eq(n, HISTORY_SAMPLES);
	ck_assert_uint_eq(h[0].bytes, 401 * CH);
	ck_assert_uint_eq(h[n - 1].bytes, (uint64_t)(HISTORY_SAMPLES + 400) * CH);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_eq(h[i].bytes, h[i - 1].bytes + CH);
	n = mt_session_history(s, h, 60);
	ck_assert_uint_eq(n, 60);
	ck_assert_uint_eq(h[0].bytes, 401 * CH);
	ck_assert_uint_eq(h[59].bytes, (uint64_t)(HISTORY_SAMPLES + 400) * CH);
	for (size_t i = 1; i < n; i++)
		ck_assert(h[i].bytes > h[i - 1].bytes && h[i].time_ns >= h[i - 1].time_ns);
	teardown();
}
END_TEST

/*
 * Asking for one sample must give one of the samples taken.  Today
 * mt_session_history(s, out, 1) computes i * (have - 1) / (max - 1) =
 * 0 / 0 = NaN, converts it to an index (2^63 on x86-64, slot 1808 of the
 * ring) and returns a never-written, all-zero sample.
 */
START_TEST(test_history_one)
{
	struct mt_sample h[1];

	s = session(CEIL, 0, 0);
	for (unsigned i = 1; i <= 10; i++) {
		chunks_to(i, 1);
		mt_session_sample(s);
	}
	ck_assert_uint_eq(mt_session_history(s, h, 1), 1);
	ck_assert_msg(h[0].time_ns > 0 && h[0].bytes >= CH && h[0].bytes <= 10 * CH,
		      "history(max 1) gave {time_ns %lld, bytes %llu}, not a sample taken",
		      (long long)h[0].time_ns, (unsigned long long)h[0].bytes);
	teardown();
}
END_TEST

Suite *alert_suite(void)
{
	Suite *su = suite_create("alert");
	TCase *lv = tcase_create("levels");
	TCase *gr = tcase_create("growth");
	TCase *hi = tcase_create("history");

	tcase_add_test(lv, test_warn_once);
	tcase_add_test(lv, test_hysteresis_warn);
	tcase_add_test(lv, test_hysteresis_crit);
	tcase_add_test(lv, test_jumps);
	tcase_add_test(lv, test_over_ceiling);
	tcase_add_test(lv, test_count_large);
	tcase_add_test(lv, test_no_ceiling);
	tcase_add_test(lv, test_custom_levels);
	tcase_add_test(lv, test_alert_ring);
	tcase_add_test(lv, test_top_threads);
	tcase_add_test(lv, test_top_threads_short);
	tcase_add_test(lv, test_alert_json);
	tcase_add_test(lv, test_level_names);
	suite_add_tcase(su, lv);
	tcase_add_test(gr, test_growth_unknown);
	tcase_add_test(gr, test_growth_growing);
	tcase_add_test(gr, test_growth_flat_and_falling);
	tcase_add_test(gr, test_growth_noise);
	tcase_add_test(gr, test_growth_window);
	tcase_add_test(gr, test_growth_past_ceiling);
	tcase_add_test(gr, test_alert_carries_growth);
	tcase_set_timeout(gr, 20);
	suite_add_tcase(su, gr);
	tcase_add_test(hi, test_history_spread);
	tcase_add_test(hi, test_history_wrap);
	tcase_add_test(hi, test_history_one);
	suite_add_tcase(su, hi);
	return su;
}
