/*
 * test_sites.c - allocation sites for leak suspects (sites.c): a pass read
 * in slices while the table changes between them counts what the table
 * holds at its end, and the verdicts of sites_rank() on sites followed
 * through such passes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "unit.h"

#define PG  4096ull
#define B   0x7f0000000000ull
#define SEC 1000000000ll

#define REQUIRE(c, ...)                                                                            \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

static struct maps_entry ent(uint64_t page, uint64_t pages, uint32_t stack, pid_t tid, int64_t t,
			     unsigned kind)
{
	struct maps_entry e = {.start = B + page * PG,
			       .len = pages * PG,
			       .prot = PROT_READ | PROT_WRITE,
			       .flags = MAP_PRIVATE | MAP_ANONYMOUS,
			       .kind = kind,
			       .tid = tid,
			       .time_ns = t,
			       .stack_id = stack};
	return e;
}

static void map(struct maps *m, struct maps_entry e)
{
	ck_assert_int_eq(maps_map(m, &e), 0);
}

/* What a whole walk of the table says of one site, as sites did before passes. */
struct truth {
	uint32_t stack;
	pid_t tid;
	uint64_t bytes, count;
	int64_t oldest;
};

static int truth_one(const struct maps_entry *e, void *arg)
{
	struct truth *w = arg;

	if (!e->tid || !(e->kind & MT_MAP_ANON) || (e->kind & MT_MAP_PREEXISTING))
		return 0;
	if (e->stack_id != w->stack || e->tid != w->tid)
		return 0;
	w->bytes += e->len;
	w->count++;
	if (e->time_ns && (!w->oldest || e->time_ns < w->oldest))
		w->oldest = e->time_ns;
	return 0;
}

static struct truth truth(const struct maps *m, uint32_t stack, pid_t tid)
{
	struct truth w = {stack, tid, 0, 0, 0};

	maps_foreach(m, truth_one, &w);
	return w;
}

static const struct site *find(const struct site_table *t, uint32_t stack, pid_t tid)
{
	for (size_t i = 0; i < t->shown; i++)
		if (t->v[i].stack_id == stack && t->v[i].tid == tid)
			return &t->v[i];
	return NULL;
}

/* A whole pass at NOW, BUDGET entries a slice; returns the number of slices. */
static unsigned pass(struct site_table *t, struct maps *m, int64_t now, size_t budget)
{
	unsigned slices = 1;

	ck_assert_int_eq(sites_begin(t, m, now), 0);
	while (sites_step(t, m, budget))
		slices++;
	sites_end(t, m, now);
	return slices;
}

/* Sites are (stack, thread); preexisting, file and tid-0 mappings are nobody's. */
START_TEST(test_pass_counts_sites)
{
	struct maps m;
	struct site_table t = {0};
	const struct site *x;
	uint64_t pg = 0;

	maps_init(&m, 16 << 20, 8192);
	for (int i = 0; i < 30; i++) {
		map(&m, ent(pg, 1 + i % 3, 1 + i % 3, 100 + i % 2, (i + 1) * SEC, MT_MAP_ANON));
		pg += 8;
	}
	map(&m, ent(pg, 4, 1, 100, 0, MT_MAP_ANON | MT_MAP_PREEXISTING));
	map(&m, ent(pg + 8, 4, 1, 100, 5 * SEC, 0)); /* a file */
	map(&m, ent(pg + 16, 4, 1, 0, 5 * SEC, MT_MAP_ANON));
	ck_assert_uint_gt(pass(&t, &m, 40 * SEC, 4), 5);
	ck_assert_uint_eq(t.shown, 6);
	for (uint32_t st = 1; st <= 3; st++)
		for (pid_t tid = 100; tid <= 101; tid++) {
			struct truth w = truth(&m, st, tid);

			ck_assert_ptr_nonnull(x = find(&t, st, tid));
			ck_assert_uint_eq(x->bytes, w.bytes);
			ck_assert_uint_eq(x->count, w.count);
			ck_assert_int_eq(x->oldest_ns, w.oldest);
			ck_assert_int_eq(x->first_ns, w.oldest);
			ck_assert_uint_eq(x->npoints, 1);
		}
	ck_assert_uint_eq(t.untracked_bytes, 0);
	ck_assert_ptr_null(m.watch);
	sites_free(&t);
	maps_clear(&m);
}
END_TEST

/*
 * Random maps, unmaps, moves and protects between the slices of passes: at
 * the end of each pass every site's bytes and count are the table's; its
 * oldest is the table's unless the site lost a mapping during the pass, and
 * then no younger.  A pass with only new mappings gets the oldest exact.
 */
struct lost_arg {
	unsigned n;
	unsigned (*lost)[3];
};

/* Note that E's site loses (part of) a mapping. */
static int mark_lost(const struct maps_entry *e, void *arg)
{
	struct lost_arg *a = arg;

	a->n++;
	a->lost[e->stack_id][e->tid - 200] = 1;
	return 0;
}

static void churn_through_passes(int removals)
{
	struct maps m;
	struct site_table t = {0};
	unsigned seed = 12345 + removals;
	int64_t now = SEC;
	unsigned lost[5][3] = {{0}};
	int64_t start_oldest[5][3];

	maps_init(&m, 16 << 20, 8192);
	for (int i = 0; i < 3000; i++)
		map(&m, ent((uint64_t)rand_r(&seed) % 60000, 1 + rand_r(&seed) % 4,
			    1 + rand_r(&seed) % 4, 200 + rand_r(&seed) % 3, now++, MT_MAP_ANON));
	for (int round = 0; round < 6; round++) {
		uint64_t before_shown;

		ck_assert_int_eq(sites_begin(&t, &m, now), 0);
		before_shown = t.shown;
		memset(lost, 0, sizeof(lost));
		for (uint32_t st = 1; st <= 4; st++)
			for (pid_t tid = 200; tid <= 202; tid++)
				start_oldest[st][tid - 200] = truth(&m, st, tid).oldest;
		for (int more = 1; more;) {
			more = sites_step(&t, &m, 64);
			for (int k = 0; k < 20; k++) {
				int op = removals ? rand_r(&seed) % 4 : 0;
				uint64_t pg = (uint64_t)rand_r(&seed) % 60000,
					 len = 1 + rand_r(&seed) % 8;
				const struct maps_entry *e;

				now += 1000;
				e = maps_find(&m, B + pg * PG);
				if (!removals) {
					struct lost_arg la = {0, lost};

					/* only new mappings: a range nothing holds */
					maps_foreach_range(&m, B + pg * PG, len * PG, mark_lost,
							   &la);
					if (la.n)
						continue;
				} else if (op == 2 && e) {
					lost[e->stack_id][e->tid - 200] = 1;
					maps_foreach_range(&m, e->start + e->len, PG, mark_lost,
							   &(struct lost_arg){0, lost});
				} else {
					maps_foreach_range(&m, B + pg * PG, len * PG, mark_lost,
							   &(struct lost_arg){0, lost});
				}
				if (op == 0) {
					map(&m, ent(pg, len, 1 + rand_r(&seed) % 3,
						    200 + rand_r(&seed) % 3, now, MT_MAP_ANON));
				} else if (op == 1) {
					ck_assert_int_eq(maps_unmap(&m, B + pg * PG, len * PG), 0);
				} else if (op == 2 && e) {
					uint64_t to = (uint64_t)rand_r(&seed) % 60000;

					ck_assert_int_eq(maps_remap(&m, e->start, e->len,
								    B + to * PG, e->len + PG, 0,
								    NULL),
							 0);
				} else {
					ck_assert_int_eq(
					    maps_protect(&m, B + pg * PG, len * PG, PROT_READ), 0);
				}
			}
			/* The figures shown stay those of the last pass until this one ends. */
			ck_assert_uint_eq(t.shown, before_shown);
		}
		sites_end(&t, &m, now);
		for (uint32_t st = 1; st <= 4; st++)
			for (pid_t tid = 200; tid <= 202; tid++) {
				struct truth w = truth(&m, st, tid);
				const struct site *x = find(&t, st, tid);

				if (!w.count && !x)
					continue;
				ck_assert_ptr_nonnull(x);
				REQUIRE(x->bytes == w.bytes && x->count == w.count,
					"round %d site %u/%d: %llu bytes %llu entries, the table "
					"%llu %llu",
					round, st, tid, (unsigned long long)x->bytes,
					(unsigned long long)x->count, (unsigned long long)w.bytes,
					(unsigned long long)w.count);
				if (!removals || !lost[st][tid - 200])
					ck_assert_int_eq(x->oldest_ns, w.oldest);
				else if (w.count) /* between the oldest at the start and at the end
						   */
					REQUIRE(x->oldest_ns <= w.oldest &&
						    x->oldest_ns >= start_oldest[st][tid - 200],
						"round %d site %u/%d: oldest %lld, %lld at the "
						"start, %lld at the end",
						round, st, tid, (long long)x->oldest_ns,
						(long long)start_oldest[st][tid - 200],
						(long long)w.oldest);
				else
					ck_assert_int_eq(x->oldest_ns, 0);
			}
		ck_assert_uint_eq(t.untracked_bytes, 0);
	}
	sites_free(&t);
	maps_clear(&m);
}

START_TEST(test_pass_through_new_mappings)
{
	churn_through_passes(0);
}
END_TEST

START_TEST(test_pass_through_changes)
{
	churn_through_passes(1);
}
END_TEST

/* Past SITE_MAX sites the rest are counted in untracked_bytes, not followed. */
START_TEST(test_pass_table_full)
{
	struct maps m;
	struct site_table t = {0};
	uint64_t followed = 0, all = 0;

	maps_init(&m, 16 << 20, 8192);
	for (uint32_t i = 0; i < SITE_MAX + 10; i++)
		map(&m, ent(2 * i, 1 + i % 2, i + 1, 300, SEC, MT_MAP_ANON));
	ck_assert_int_eq(sites_begin(&t, &m, 2 * SEC), 0);
	for (uint32_t i = 0; sites_step(&t, &m, 100); i++)
		/* a change where the pass has been, of a site not followed: counted too */
		if (t.n == SITE_MAX && i % 7 == 0)
			map(&m, ent(2 * (SITE_MAX + 20 + i), 1, SITE_MAX + 1, 300, 2 * SEC,
				    MT_MAP_ANON));
	map(&m, ent(1, 1, SITE_MAX + 2, 300, 2 * SEC, MT_MAP_ANON));
	sites_end(&t, &m, 2 * SEC);
	ck_assert_uint_eq(t.shown, SITE_MAX);
	for (size_t i = 0; i < t.shown; i++)
		followed += t.v[i].bytes;
	for (uint32_t st = 1; st <= SITE_MAX + 10; st++)
		all += truth(&m, st, 300).bytes;
	ck_assert_uint_eq(t.untracked_bytes + followed, all);
	ck_assert_uint_gt(t.untracked_bytes, 10 * PG);
	sites_free(&t);
	maps_clear(&m);
}
END_TEST

/*
 * Twelve passes 2 s apart, with the changes made in the middle of each
 * pass: a leaker mapping more every time, a churner replacing what it
 * holds, a holder keeping what it mapped at first, and a newcomer.
 */
START_TEST(test_verdicts_through_passes)
{
	struct maps m;
	struct site_table t = {0};
	struct mt_suspect out[8];
	int64_t now = 0;
	enum { LEAK = 1, CHURN, HOLD, NEW };

	maps_init(&m, 16 << 20, 8192);
	for (int i = 0; i < 5; i++)
		map(&m, ent(50000 + 4 * i, 2, HOLD, 400, SEC, MT_MAP_ANON));
	for (int i = 0; i < 2000; i++) /* filler, so each pass takes many slices */
		map(&m, ent(100000 + 2 * i, 1, 99, 0, SEC, MT_MAP_ANON));
	for (int round = 0; round < 12; round++) {
		unsigned slices = 0;

		now = (int64_t)(round + 1) * 2 * SEC;
		ck_assert_int_eq(sites_begin(&t, &m, now), 0);
		while (sites_step(&t, &m, 128))
			if (++slices == 8) {
				/* below the cursor and above it */
				map(&m, ent(10 + 8 * round, 4, LEAK, 400, now, MT_MAP_ANON));
				map(&m, ent(200000 + 8 * round, 4, LEAK, 400, now, MT_MAP_ANON));
				if (round)
					ck_assert_int_eq(
					    maps_unmap(&m, B + (20000 + 8 * (round - 1)) * PG,
						       4 * PG),
					    0);
				map(&m, ent(20000 + 8 * round, 4, CHURN, 400, now, MT_MAP_ANON));
				if (round == 11)
					map(&m, ent(30000, 4, NEW, 400, now, MT_MAP_ANON));
			}
		ck_assert_uint_ge(slices, 8);
		sites_end(&t, &m, now + SEC / 100);
	}
	ck_assert_uint_eq(t.shown, 4);
	sites_rank(t.v, t.shown, t.last_ns, out);
	ck_assert_uint_eq(out[0].stack_id, LEAK);
	ck_assert_int_eq(out[0].verdict, MT_VERDICT_LEAKING);
	ck_assert_uint_eq(out[0].bytes, 12 * 8 * PG);
	ck_assert_uint_eq(out[0].freed_bytes, 0);
	ck_assert_uint_eq(out[1].stack_id, HOLD);
	ck_assert_int_eq(out[1].verdict, MT_VERDICT_HOLDING);
	ck_assert_uint_eq(out[2].stack_id, NEW);
	ck_assert_int_eq(out[2].verdict, MT_VERDICT_NEW);
	ck_assert_uint_eq(out[3].stack_id, CHURN);
	ck_assert_int_eq(out[3].verdict, MT_VERDICT_CHURNING);
	ck_assert_uint_eq(out[3].bytes, 4 * PG);
	/* It replaced its mapping where the pass had been: the one before may count. */
	ck_assert(out[3].oldest_age_s > 0.005 && out[3].oldest_age_s < 2.02);
	sites_free(&t);
	maps_clear(&m);
}
END_TEST

/*
 * A session's pass as the daemon's control loop takes it: begun by
 * sites_sample() when due, never twice at once, read a slice per
 * mt_session_sites_step() with the table changing between calls, ending at
 * its last slice with the figures of the whole table; suspects show the
 * pass before until then; nothing to do once it ended.
 */
START_TEST(test_session_steps)
{
	struct mt_config cfg;
	struct mt_session *s = NULL;
	struct mt_suspect *out = NULL;
	uint64_t untracked, cursor;
	const uint64_t n = 2 * SITE_SLICE + 100;
	struct truth w;
	unsigned steps = 0;
	long gap;
	ssize_t k;

	mt_config_default(&cfg);
	ck_assert_int_eq(mt_session_new(&cfg, &s), 0);
	/* Nothing under way: a step does nothing and asks for no other. */
	ck_assert_int_eq(mt_session_sites_step(s), 0);
	for (uint64_t i = 0; i < n; i++)
		map(&s->maps, ent(2 * i, 1, 7, 100, 1 + (int64_t)i, MT_MAP_ANON));
	ck_assert_int_eq(sites_sample(s, 10 * SEC), 0);
	ck_assert_uint_eq(s->sites.shown, 0);
	do {
		gap = mt_session_sites_step(s);
		steps++;
		if (steps == 1) {
			/* Due again meanwhile: the pass under way goes on, none begins. */
			cursor = s->sites.cursor;
			ck_assert_uint_gt(cursor, B);
			ck_assert_int_eq(sites_sample(s, 100 * SEC), 0);
			ck_assert_uint_eq(s->sites.cursor, cursor);
			/* Suspects show no pass yet. */
			k = mt_session_suspects(s, &out, &untracked);
			ck_assert_int_eq(k, 0);
			free(out);
			/* Changes behind the cursor and ahead of it, between two steps. */
			ck_assert_int_eq(maps_unmap(&s->maps, B, 2 * PG), 0);
			map(&s->maps, ent(1, 1, 7, 100, 5, MT_MAP_ANON));
			map(&s->maps, ent(2 * n + 1, 3, 7, 100, 6, MT_MAP_ANON));
			map(&s->maps, ent(2 * n + 9, 1, 8, 101, 7, MT_MAP_ANON));
		}
		ck_assert(gap == 0 || gap == SITE_GAP_NS);
	} while (gap);
	/* A slice per step: the last one ends the pass. */
	ck_assert_uint_eq(steps, (n + 2 + SITE_SLICE - 1) / SITE_SLICE);
	ck_assert_uint_eq(s->sites.shown, 2);
	w = truth(&s->maps, 7, 100);
	ck_assert_uint_eq(find(&s->sites, 7, 100)->bytes, w.bytes);
	ck_assert_uint_eq(find(&s->sites, 7, 100)->count, w.count);
	ck_assert_uint_eq(find(&s->sites, 7, 100)->count, n + 1);
	/* The oldest counted went where the pass had been: no younger than the table's now. */
	ck_assert_int_ge(find(&s->sites, 7, 100)->oldest_ns, 1);
	ck_assert_int_le(find(&s->sites, 7, 100)->oldest_ns, w.oldest);
	ck_assert_uint_eq(find(&s->sites, 8, 101)->bytes, PG);
	k = mt_session_suspects(s, &out, &untracked);
	ck_assert_int_eq(k, 2);
	free(out);
	/* Ended: no step to take, and the next pass is not due before its period. */
	ck_assert_int_eq(mt_session_sites_step(s), 0);
	ck_assert_int_eq(sites_sample(s, 10 * SEC + SITE_PERIOD_NS / 2), 0);
	ck_assert_int_eq(mt_session_sites_step(s), 0);
	ck_assert_int_eq(sites_sample(s, 10 * SEC + SITE_PERIOD_NS), 0);
	ck_assert_int_eq(mt_session_sites_step(s), SITE_GAP_NS);
	mt_session_free(s);
}
END_TEST

Suite *sites_suite(void)
{
	Suite *su = suite_create("sites");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_pass_counts_sites);
	tcase_add_test(tc, test_pass_through_new_mappings);
	tcase_add_test(tc, test_pass_through_changes);
	tcase_add_test(tc, test_pass_table_full);
	tcase_add_test(tc, test_verdicts_through_passes);
	tcase_add_test(tc, test_session_steps);
	suite_add_tcase(su, tc);
	return su;
}
