/*
 * test_trend.c - the trend rule (trend.c) on synthetic series.
 *
 * Each test builds a series of samples as the daemon takes them (one every
 * DT seconds; the history the fit sees is the last hour, as in alert.c),
 * runs trend_fit() and trend_step() at every sample with the default
 * horizons (12 h warn, 10 min crit) and records when the level moved.
 * Then it asserts when the alert fired (relative to the moment the series
 * reaches the ceiling) and that it cleared, or that it never fired.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "unit.h"

#define MIB  (1ull << 20)
#define CH   16781312ull /* what glibc maps for malloc(16 MiB) */
#define HOUR 3600.0

/* What a run of the rule saw. */
struct run {
	double first_warn, first_crit; /* seconds; -1: never */
	double last_raised;	       /* when the level last went up; -1: never */
	double cleared;		       /* when it last came back to ok; -1: never */
	double reach;		       /* when the series first reached the ceiling; -1: never */
	unsigned raises;	       /* level increases */
	enum mt_level level;	       /* at the end */
	struct trend_fit fit;	       /* at the end */
};

typedef uint64_t (*series_fn)(double t);

/*
 * Sample F every DT seconds from 0 to END against CEILING, running the rule
 * at each sample as mt_session_sample() does.
 */
static struct run simulate(series_fn f, double dt, double end, uint64_t ceiling)
{
	const double horizon[] = {0, 12 * HOUR, 600};
	size_t cap = (size_t)(end / dt) + 2, n = 0, keep = (size_t)(HOUR / dt);
	struct mt_sample *v = calloc(cap, sizeof(*v));
	struct trend_state st = {0};
	struct run r = {-1, -1, -1, -1, -1, 0, MT_LEVEL_OK, {0}};

	ck_assert_ptr_nonnull(v);
	if (keep > HISTORY_SAMPLES)
		keep = HISTORY_SAMPLES;
	for (double t = 0; t <= end; t += dt) {
		int64_t ns = (int64_t)llround(t * 1e9) + 1000000000000000000ll;
		size_t from;
		enum mt_level before = st.level, now;

		v[n].time_ns = ns;
		v[n].bytes = f(t);
		n++;
		if (r.reach < 0 && v[n - 1].bytes >= ceiling)
			r.reach = t;
		from = n > keep ? n - keep : 0;
		ck_assert_int_eq(trend_fit(v + from, n - from, ceiling, &r.fit), 0);
		now = trend_step(&st, &r.fit, horizon, v[n - 1].bytes, ns);
		if (now > before) {
			r.raises++;
			r.last_raised = t;
		}
		if (now >= MT_LEVEL_WARN && r.first_warn < 0)
			r.first_warn = t;
		if (now >= MT_LEVEL_CRIT && r.first_crit < 0)
			r.first_crit = t;
		if (now == MT_LEVEL_OK && before != MT_LEVEL_OK)
			r.cleared = t;
	}
	r.level = st.level;
	free(v);
	return r;
}

/* A deterministic noise in [-1, 1] for time T. */
static double noise(double t)
{
	uint64_t x = (uint64_t)llround(t * 1000) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (double)(x % 2000001) / 1000000.0 - 1.0;
}

/*
 * The Netty case: a 16 MiB chunk every 3.75 s from t = 10 s, 256
 * MiB ceiling, reached about a minute later; the leak stops at 13 chunks
 * (t = 55 s) and everything is freed at t = 120 s.
 */
static uint64_t fast_leak(double t)
{
	double k = t < 10 ? 0 : floor((t - 10) / 3.75) + 1;

	if (t >= 120)
		return 0;
	return (uint64_t)fmin(k, 13) * CH;
}

/* The same leak, never stopping. */
static uint64_t fast_leak_on(double t)
{
	return t < 10 ? 0 : (uint64_t)(floor((t - 10) / 3.75) + 1) * CH;
}

START_TEST(test_fast_leak)
{
	struct run r = simulate(fast_leak_on, 1, 90, 256 * MIB);

	ck_assert_msg(r.reach > 0, "the series never reached the ceiling");
	ck_assert_msg(r.first_warn >= 10, "warn before the leak began (%.0f s)", r.first_warn);
	/* The goal: at least 30 s of warning on a leak that takes a minute. */
	ck_assert_msg(r.first_warn >= 0 && r.reach - r.first_warn >= 30,
		      "warn at %.0f s, ceiling at %.0f s: %.0f s of warning", r.first_warn, r.reach,
		      r.reach - r.first_warn);
	/* The ceiling is less than 10 minutes away: crit comes with it. */
	ck_assert_msg(r.first_crit >= 0 && r.reach - r.first_crit >= 30, "crit at %.0f s",
		      r.first_crit);
	printf("fast leak: warn %.0f s and crit %.0f s before the ceiling (t=%.0f s)\n",
	       r.reach - r.first_warn, r.reach - r.first_crit, r.reach);
}
END_TEST

/* The fast leak stops, holds, then is freed: the alert clears, once. */
START_TEST(test_fast_leak_clears)
{
	struct run r = simulate(fast_leak, 1, 200, 256 * MIB);

	ck_assert_msg(r.first_warn >= 0 && r.first_warn <= 40, "warn at %.0f s", r.first_warn);
	ck_assert_int_eq(r.raises, 1); /* ok to crit in one move, never again */
	ck_assert_msg(r.cleared >= 55 && r.cleared <= 121,
		      "cleared at %.0f s: not between the stop (55 s) and the fall (120 s)",
		      r.cleared);
	ck_assert_int_eq(r.level, MT_LEVEL_OK);
	printf("fast leak stopping at 55 s: cleared at %.0f s\n", r.cleared);
}
END_TEST

/* Plateau: the leak stops and holds; the trend clears without any fall. */
static uint64_t leak_then_hold(double t)
{
	return (uint64_t)fmin(t, 40) * 2 * MIB; /* 2 MiB/s for 40 s, then holds at 80 MiB */
}

START_TEST(test_leak_then_hold_clears)
{
	struct run r = simulate(leak_then_hold, 1, 300, 100 * MIB);

	ck_assert_msg(r.first_warn >= 0 && r.first_warn <= 25, "warn at %.0f s", r.first_warn);
	ck_assert_msg(r.cleared > 40 && r.cleared <= 90, "cleared at %.0f s", r.cleared);
	ck_assert_int_eq(r.raises, 1);
	ck_assert_int_eq(r.level, MT_LEVEL_OK);
}
END_TEST

/* 1 MiB buffers every 36 s from 64 MiB toward a 1 GiB ceiling: about 10 hours. */
static uint64_t slow_leak(double t)
{
	return 64 * MIB + (uint64_t)floor(t / 36) * MIB;
}

START_TEST(test_slow_leak)
{
	struct run r = simulate(slow_leak, 5, 11 * HOUR, 1024 * MIB);

	ck_assert_msg(r.reach > 9 * HOUR, "reach %.0f", r.reach);
	/* In its first minutes, hours before the ceiling. */
	ck_assert_msg(r.first_warn >= 0 && r.first_warn <= 15 * 60,
		      "warn at %.0f s on a leak reaching the ceiling at %.1f h", r.first_warn,
		      r.reach / HOUR);
	ck_assert_msg(r.first_crit >= 0 && r.first_crit <= r.reach - 300,
		      "crit at %.0f s, ceiling at %.0f s", r.first_crit, r.reach);
	ck_assert_msg(r.first_crit >= r.reach - 900, "crit too early: %.0f s before",
		      r.reach - r.first_crit);
	ck_assert_int_eq(r.raises, 2);
	printf("slow leak (%.1f h): warn after %.0f min, %.1f h before; crit %.0f min before\n",
	       r.reach / HOUR, r.first_warn / 60, (r.reach - r.first_warn) / HOUR,
	       (r.reach - r.first_crit) / 60);
}
END_TEST

/* 16 MiB chunks every 9 min toward a 1 GiB ceiling: 9.6 hours; coarse steps. */
static uint64_t slow_chunks(double t)
{
	return (uint64_t)floor(t / 540) * CH;
}

START_TEST(test_slow_chunks)
{
	struct run r = simulate(slow_chunks, 5, 10 * HOUR, 1024 * MIB);

	ck_assert_msg(r.first_warn >= 0 && r.first_warn <= HOUR && r.reach - r.first_warn > 8 * HOUR,
		      "warn at %.0f s, ceiling at %.0f s", r.first_warn, r.reach);
	printf("slow chunk leak (%.1f h): warn after %.0f min\n", r.reach / HOUR,
	       r.first_warn / 60);
}
END_TEST

/* A service warming up fast for ten seconds to 200 MiB (of 256), then holding. */
static uint64_t warmup(double t)
{
	double k = fmin(floor(t / 0.8), 12);

	return (uint64_t)k * CH + (uint64_t)((noise(t) + 1) * MIB);
}

/* The same warm-up over two minutes, in steps. */
static uint64_t slow_warmup(double t)
{
	return (uint64_t)fmin(floor(t / 10), 12) * CH;
}

START_TEST(test_warmup_plateau)
{
	struct run r = simulate(warmup, 1, 1800, 256 * MIB);

	ck_assert_msg(r.first_warn < 0, "a warm-up raised warn at %.0f s", r.first_warn);
	r = simulate(slow_warmup, 1, 1800, 256 * MIB);
	/*
	 * Growth for two minutes toward the ceiling is a trend while it lasts;
	 * it clears within two minutes of the plateau (120 s).
	 */
	if (r.first_warn >= 0)
		ck_assert_msg(r.cleared > 120 && r.cleared <= 240 && r.level == MT_LEVEL_OK,
			      "slow warm-up: warn at %.0f s never cleared (%.0f)", r.first_warn,
			      r.cleared);
}
END_TEST

/* Sawtooth: a chunk a second for 12 s (192 MiB of 256), all freed, again every 15 s. */
static uint64_t sawtooth(double t)
{
	return (uint64_t)fmin(floor(fmod(t, 15)), 12) * CH;
}

/* Slow teeth: a chunk every 2.5 s for 30 s, all freed at 31 s, every 32 s. */
static uint64_t slow_sawtooth(double t)
{
	double p = fmod(t, 32);

	return p >= 31 ? 0 : (uint64_t)(floor(p / 2.5) + 1) * CH;
}

START_TEST(test_sawtooth)
{
	struct run r = simulate(sawtooth, 1, 1800, 256 * MIB);

	ck_assert_msg(r.first_warn < 0, "a sawtooth raised warn at %.0f s", r.first_warn);
	r = simulate(slow_sawtooth, 1, 1800, 256 * MIB);
	/*
	 * A first tooth longer than 20 s is a leak by every measure until it
	 * falls; after that first fall, the teeth never reach new ground.
	 */
	ck_assert_msg(r.last_raised < 32, "slow sawtooth raised at %.0f s", r.last_raised);
	ck_assert_int_eq(r.level, MT_LEVEL_OK);
	if (r.first_warn >= 0)
		ck_assert_msg(r.cleared >= 31 && r.cleared <= 33, "cleared at %.0f s", r.cleared);
}
END_TEST

/* A leak on a sawtooth: the teeth climb a chunk each time: caught. */
static uint64_t climbing_sawtooth(double t)
{
	double cycle = floor(t / 15), p = fmod(t, 15);

	return (uint64_t)cycle * CH + (uint64_t)fmin(floor(p / 3), 4) * CH;
}

START_TEST(test_climbing_sawtooth)
{
	struct run r = simulate(climbing_sawtooth, 1, 600, 512 * MIB);

	ck_assert_msg(r.reach > 0 && r.first_warn >= 0 && r.first_warn < r.reach - 120,
		      "warn at %.0f s, ceiling at %.0f s", r.first_warn, r.reach);
}
END_TEST

/* A single burst: ten chunks in two seconds at t = 60 s, then nothing. */
static uint64_t burst(double t)
{
	return t < 60 ? 2 * CH : (uint64_t)fmin(2 + floor((t - 60) * 5), 12) * CH;
}

START_TEST(test_single_burst)
{
	struct run r = simulate(burst, 1, 1800, 256 * MIB);

	ck_assert_msg(r.first_warn < 0, "a single burst raised warn at %.0f s", r.first_warn);
}
END_TEST

/* Noise: 100 MiB +- 8 MiB; and a 1 MiB/s leak under the same noise. */
static uint64_t flat_noise(double t)
{
	return (uint64_t)(100.0 * MIB + noise(t) * 8 * MIB);
}

static uint64_t noisy_leak(double t)
{
	return (uint64_t)(100.0 * MIB + t * MIB + noise(t) * 8 * MIB);
}

START_TEST(test_noise)
{
	struct run r = simulate(flat_noise, 1, 3 * HOUR, 256 * MIB);

	ck_assert_msg(r.first_warn < 0, "noise raised warn at %.0f s", r.first_warn);
	r = simulate(noisy_leak, 1, 1000, 1024 * MIB);
	ck_assert_msg(r.first_warn >= 0 && r.first_warn < 120, "noisy leak: warn at %.0f s",
		      r.first_warn);
	ck_assert_msg(r.first_crit >= 0 && r.reach - r.first_crit >= 300,
		      "noisy leak: crit at %.0f s, ceiling at %.0f s", r.first_crit, r.reach);
	ck_assert_int_eq(r.raises, 2);
}
END_TEST

/* The fit itself: a clean line gives its slope, duration and ETA. */
START_TEST(test_fit_line)
{
	struct mt_sample v[61];
	struct trend_fit f;
	char why[96];

	for (int i = 0; i <= 60; i++)
		v[i] = (struct mt_sample){(int64_t)i * 1000000000, (uint64_t)i * 4508876};
	ck_assert_int_eq(trend_fit(v, 61, 512 * MIB, &f), 0);
	ck_assert(f.steady);
	ck_assert(fabs(f.rate - 4508876) < 1);
	ck_assert(fabs(f.duration_s - 60) < 1e-9);
	ck_assert(fabs(f.eta_s - (512.0 * MIB - 60 * 4508876.0) / 4508876) < 1e-6);
	trend_reason(&f, why, sizeof(why));
	ck_assert_str_eq(why, "+4.3 MiB/s for 60 s, ceiling in 59 s");
	/* Fewer than 5 samples, or no ceiling: nothing to say. */
	ck_assert_int_eq(trend_fit(v, 4, 512 * MIB, &f), 0);
	ck_assert(!f.steady && f.eta_s < 0);
	ck_assert_int_eq(trend_fit(v, 61, 0, &f), 0);
	ck_assert(!f.steady);
	trend_reason(&f, why, sizeof(why));
	ck_assert_str_eq(why, "no steady growth");
	/* At or over the ceiling: ETA 0. */
	ck_assert_int_eq(trend_fit(v, 61, 100 * MIB, &f), 0);
	ck_assert(f.steady && f.eta_s == 0);
}
END_TEST

/* Horizons of 0 turn a level off. */
START_TEST(test_step_off)
{
	const double off[] = {0, 0, 0}, warn_only[] = {0, 3600, 0};
	struct trend_fit f = {.steady = 1, .rate = 1e6, .duration_s = 60, .growth = 6e7, .eta_s = 30};
	struct trend_state st = {0};

	ck_assert_int_eq(trend_step(&st, &f, off, 1, 1), MT_LEVEL_OK);
	ck_assert_int_eq(trend_step(&st, &f, warn_only, 1, 2), MT_LEVEL_WARN);
}
END_TEST

Suite *trend_suite(void)
{
	Suite *su = suite_create("trend");
	TCase *tc = tcase_create("rule");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fit_line);
	tcase_add_test(tc, test_step_off);
	tcase_add_test(tc, test_fast_leak);
	tcase_add_test(tc, test_fast_leak_clears);
	tcase_add_test(tc, test_leak_then_hold_clears);
	tcase_add_test(tc, test_slow_leak);
	tcase_add_test(tc, test_slow_chunks);
	tcase_add_test(tc, test_warmup_plateau);
	tcase_add_test(tc, test_sawtooth);
	tcase_add_test(tc, test_climbing_sawtooth);
	tcase_add_test(tc, test_single_burst);
	tcase_add_test(tc, test_noise);
	suite_add_tcase(su, tc);
	return su;
}
