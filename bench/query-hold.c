/*
 * query-hold - how long each query holds the session lock at most, measured
 * on the table alone: N one-page entries (as bench/workloads/manymaps
 * holds), then the work each query does under the lock, timed R times:
 * the 100 longest entries (outstanding --limit 100, status's chunk search
 * over chunk_size), one slice of a slice walk (2048 entries), the per-stack
 * sums (stacks), and for comparison the whole walk the queries did before;
 * then the suspects' pass over the sites (sites.c): its slices, the whole
 * pass in slices as the daemon makes it, and the same in one hold of the
 * lock as before.
 *
 * usage: make && cc -O2 -D_GNU_SOURCE -Ilibtrace -o build/query-hold bench/query-hold.c \
 *            build/libtrace.a $(pkg-config --libs libseccomp libunwind-ptrace libelf) \
 *            -pthread -lm -lstdc++
 *        build/query-hold [N [R]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int count_one(const struct maps_entry *e, void *arg)
{
	(void)e;
	return ++*(size_t *)arg >= 2048 && 0;
}

struct slice {
	size_t n;
	uint64_t sink;
};

static int slice_one(const struct maps_entry *e, void *arg)
{
	struct slice *s = arg;

	s->sink += e->len;
	return ++s->n >= 2048;
}

/* Print p50, p99 and max of the R times in T. */
static void report(const char *what, double *t, int r)
{
	qsort(t, r, sizeof(*t), cmp);
	printf("%-40s p50 %8.4f  p99 %8.4f  max %8.4f ms\n", what, t[r / 2], t[r * 99 / 100],
	       t[r - 1]);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, r = argc > 2 ? atol(argv[2]) : 1000;
	double *t = malloc(r * sizeof(*t));
	const struct maps_entry **top = malloc(100 * sizeof(*top));
	struct maps m;

	maps_init(&m, 16 << 20, 8192);
	for (long i = 0; i < n; i++) {
		struct maps_entry e = {.start = 0x10000000000ull + (uint64_t)i * 8192,
				       .len = 4096,
				       .prot = PROT_READ | PROT_WRITE,
				       .kind = MT_MAP_ANON,
				       .tid = 100 + i % 4,
				       .stack_id = 1 + i % 64,
				       .time_ns = i + 1,
				       .id = (uint64_t)i + 1};

		if (maps_map(&m, &e))
			return 1;
	}
	printf("%ld entries\n", n);
	for (long i = 0; i < r; i++) {
		double t0 = now_ms();

		if (maps_top(&m, 0, NULL, NULL, top, 100) != 100)
			return 1;
		t[i] = now_ms() - t0;
	}
	report("100 longest (outstanding)", t, r);
	for (long i = 0; i < r; i++) {
		double t0 = now_ms();

		maps_top(&m, m.chunk_size, NULL, NULL, top, 100);
		t[i] = now_ms() - t0;
	}
	report("chunks' search (status)", t, r);
	for (long i = 0; i < r; i++) {
		struct slice s = {0, 0};
		uint64_t at = 0x10000000000ull + (uint64_t)(rand() % n) * 8192;
		double t0 = now_ms();

		maps_foreach_range(&m, at, UINT64_MAX - at, slice_one, &s);
		t[i] = now_ms() - t0;
	}
	report("one slice of 2048 (other filters)", t, r);
	for (long i = 0; i < r; i++) {
		uint64_t sum = 0;
		double t0 = now_ms();

		for (size_t k = 0; k < m.stacks_cap; k++)
			if (m.stacks[k].used)
				sum += m.stacks[k].count[0];
		t[i] = now_ms() - t0;
		if (sum != (uint64_t)n)
			return 1;
	}
	report("per-stack sums (stacks)", t, r);
	for (long i = 0; i < (r < 20 ? r : 20); i++) {
		size_t c = 0;
		double t0 = now_ms();

		maps_foreach(&m, count_one, &c);
		t[i] = now_ms() - t0;
	}
	report("whole walk (before)", t, r < 20 ? r : 20);
	{
		struct site_table st = {0};
		double *slice = malloc((n / SITE_SLICE + 2) * sizeof(*slice));
		long passes = r < 20 ? r : 20, k = 0;
		uint64_t counted = 0;

		for (long i = 0; i < passes; i++) {
			double t0 = now_ms(), t1;
			int more;

			if (sites_begin(&st, &m, i))
				return 1;
			do {
				t1 = now_ms();
				more = sites_step(&st, &m, SITE_SLICE);
				if (i == passes - 1)
					slice[k++] = now_ms() - t1;
			} while (more);
			t1 = now_ms();
			sites_end(&st, &m, i);
			if (i == passes - 1)
				slice[k++] = now_ms() - t1;
			t[i] = now_ms() - t0;
		}
		report("suspects pass, one slice or its end", slice, (int)k);
		report("suspects pass, all its slices", t, passes);
		/* The same work in one hold, as the whole walk of sites_sample() was. */
		for (long i = 0; i < passes; i++) {
			double t0 = now_ms();

			if (sites_begin(&st, &m, passes + i))
				return 1;
			sites_step(&st, &m, SIZE_MAX);
			sites_end(&st, &m, passes + i);
			t[i] = now_ms() - t0;
		}
		report("suspects pass in one hold (before)", t, passes);
		for (size_t i = 0; i < st.shown; i++)
			counted += st.v[i].count;
		if (counted != (uint64_t)n || st.shown != (size_t)(n < 64 ? n : 64)) {
			fprintf(stderr, "the pass counted %llu mappings in %zu sites\n",
				(unsigned long long)counted, st.shown);
			return 1;
		}
		sites_free(&st);
		free(slice);
	}
	maps_clear(&m);
	free(t);
	free(top);
	return 0;
}
