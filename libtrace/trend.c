/*
 * trend.c - is the weighed memory heading for the ceiling, steadily?
 *
 * A percentage level can only warn when the memory is nearly gone.  The
 * trend rule looks at the samples the daemon takes once a second (the last
 * hour of them) and asks whether they grow steadily enough to project
 * them: if so, the time to the ceiling at that rate (the ETA) is compared
 * with the horizons --eta-warn and --eta-crit.
 *
 * "Steadily" is the conjunction below, tried on suffixes of the history
 * 20 s long, then 25 % longer each time, up to the whole history; the
 * longest suffix that passes is the trend (its slope the rate, its length
 * the duration).  Over the suffix:
 *
 *   - it lasts at least TREND_MIN_S and holds TREND_MIN_SAMPLES samples;
 *   - the least-squares slope is positive, and the fitted growth is at
 *     least 1 % of the ceiling;
 *   - the fit is good: R^2 >= TREND_R2 (one step, a single burst, has an
 *     R^2 of at most 0.75 whatever its place, so it never passes);
 *   - the weighed bytes rose at TREND_RISES separate samples at least;
 *   - each half of the suffix grows at TREND_HALF of the suffix's rate or
 *     more: growth that stopped (a warm-up now holding) or only just began
 *     is not steady;
 *   - no fall: never more than half the growth given back;
 *   - new ground: the bytes now are above everything the history held
 *     before the suffix by a quarter of the growth, so a sawtooth climbing
 *     its next tooth is not a leak;
 *   - enough evidence for the projection: at most TREND_EVIDENCE seconds
 *     projected per second observed (a minute of steady growth per hour
 *     of ETA).
 *
 * The level then moves with hysteresis (trend_step): it rises as soon as
 * the rule says so, and comes down once the rule has failed (or projected
 * beyond 1.5 times the horizon) for a quarter of the trend's duration, at
 * least TREND_HOLD_S; a fall of half the trend's growth clears it at once.
 *
 * Everything here is pure: no session, no clock, no lock.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TREND_MIN_S	  20.0
#define TREND_MIN_SAMPLES 5
#define TREND_R2	  0.9
#define TREND_RISES	  3
#define TREND_HALF	  0.5
#define TREND_EVIDENCE	  60.0
#define TREND_HOLD_S	  10.0
#define TREND_STRETCH	  1.25 /* each suffix tried is this much longer */

/* Prefix sums of the samples, so that any range is fitted in O(1). */
struct sums {
	double *x, *y, *xx, *xy, *yy;
};

/* Least-squares slope and R^2 over samples [A, B); 0 when the range cannot be fitted. */
static int fit_range(const struct sums *p, size_t a, size_t b, double *slope, double *r2)
{
	double m = (double)(b - a);
	double sx = p->x[b] - p->x[a], sy = p->y[b] - p->y[a];
	double cxx = p->xx[b] - p->xx[a] - sx * sx / m;
	double cxy = p->xy[b] - p->xy[a] - sx * sy / m;
	double cyy = p->yy[b] - p->yy[a] - sy * sy / m;

	if (b < a + 2 || cxx <= 0)
		return 0;
	*slope = cxy / cxx;
	*r2 = cyy > 0 ? cxy * cxy / (cxx * cyy) : 0;
	return 1;
}

/* Fit the trend of samples V[0..N), oldest first, toward CEILING. */
int trend_fit(const struct mt_sample *v, size_t n, uint64_t ceiling, struct trend_fit *out)
{
	struct sums p;
	double *buf, *premax, *drop, *rises, cur, span, minright;
	size_t k;

	memset(out, 0, sizeof(*out));
	out->eta_s = -1;
	if (n < TREND_MIN_SAMPLES || !ceiling)
		return 0;
	if (!(buf = malloc(8 * (n + 1) * sizeof(double))))
		return -ENOMEM;
	p.x = buf, p.y = p.x + n + 1, p.xx = p.y + n + 1, p.xy = p.xx + n + 1, p.yy = p.xy + n + 1;
	premax = p.yy + n + 1, drop = premax + n + 1, rises = drop + n + 1;
	/* Seconds before the newest sample, and bytes relative to it: small numbers, exact sums. */
	cur = (double)v[n - 1].bytes;
	p.x[0] = p.y[0] = p.xx[0] = p.xy[0] = p.yy[0] = rises[0] = rises[1] = 0;
	premax[0] = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		double x = (double)(v[i].time_ns - v[n - 1].time_ns) / 1e9, y = (double)v[i].bytes - cur;

		p.x[i + 1] = p.x[i] + x;
		p.y[i + 1] = p.y[i] + y;
		p.xx[i + 1] = p.xx[i] + x * x;
		p.xy[i + 1] = p.xy[i] + x * y;
		p.yy[i + 1] = p.yy[i] + y * y;
		premax[i + 1] = fmax(premax[i], (double)v[i].bytes);
		if (i)
			rises[i + 1] = rises[i] + (v[i].bytes > v[i - 1].bytes);
	}
	/* drop[k]: the largest fall within samples [k, n), scanning back from the newest. */
	minright = INFINITY;
	drop[n] = 0;
	for (size_t i = n; i-- > 0;) {
		drop[i] = fmax(drop[i + 1], (double)v[i].bytes - minright);
		minright = fmin(minright, (double)v[i].bytes);
	}
	span = (double)(v[n - 1].time_ns - v[0].time_ns) / 1e9;
	k = n - 1;
	for (double want = TREND_MIN_S;; want *= TREND_STRETCH) {
		int last = want >= span;
		double d, b, r2, b1, r21, b2, r22, growth, eta;
		size_t h;

		if (last)
			want = span;
		while (k > 0 && (double)(v[n - 1].time_ns - v[k - 1].time_ns) / 1e9 <= want)
			k--;
		d = (double)(v[n - 1].time_ns - v[k].time_ns) / 1e9;
		/* Split at the middle of the suffix in time; both halves share sample h. */
		for (h = k; h < n - 1 && (double)(v[h].time_ns - v[k].time_ns) / 1e9 < d / 2; h++)
			;
		if (d < TREND_MIN_S || n - k < TREND_MIN_SAMPLES || !fit_range(&p, k, n, &b, &r2) ||
		    b <= 0)
			goto next;
		growth = b * d;
		if (growth < (double)ceiling / 100 || r2 < TREND_R2 ||
		    rises[n] - rises[k + 1] < TREND_RISES)
			goto next;
		if (!fit_range(&p, k, h + 1, &b1, &r21) || !fit_range(&p, h, n, &b2, &r22) ||
		    b1 < TREND_HALF * b || b2 < TREND_HALF * b)
			goto next;
		if (drop[k] > growth / 2 || (k > 0 && premax[k] + growth / 4 > cur))
			goto next;
		eta = cur >= (double)ceiling ? 0 : ((double)ceiling - cur) / b;
		if (eta > TREND_EVIDENCE * d)
			goto next;
		out->steady = 1;
		out->rate = b;
		out->duration_s = d;
		out->growth = growth;
		out->r2 = r2;
		out->eta_s = eta;
	next:
		if (last)
			break;
	}
	free(buf);
	return 0;
}

/* The level the fit F asks for under HORIZON[] (seconds; 0: off). */
static enum mt_level fit_level(const struct trend_fit *f, const double horizon[])
{
	if (!f->steady)
		return MT_LEVEL_OK;
	if (horizon[MT_LEVEL_CRIT] > 0 && f->eta_s <= horizon[MT_LEVEL_CRIT])
		return MT_LEVEL_CRIT;
	if (horizon[MT_LEVEL_WARN] > 0 && f->eta_s <= horizon[MT_LEVEL_WARN])
		return MT_LEVEL_WARN;
	return MT_LEVEL_OK;
}

/* Note that the trend in F, at BYTES, keeps the level up. */
static void step_confirm(struct trend_state *st, const struct trend_fit *f, uint64_t bytes)
{
	st->failing_since_ns = 0;
	st->hold_s = fmax(TREND_HOLD_S, f->duration_s / 4);
	st->peak = fmax(st->peak, (double)bytes);
	st->growth = f->growth;
}

/* Move the trend level of ST after fit F at BYTES, time NOW_NS; returns the new level. */
enum mt_level trend_step(struct trend_state *st, const struct trend_fit *f, const double horizon[],
			 uint64_t bytes, int64_t now_ns)
{
	enum mt_level want = fit_level(f, horizon), level = st->level;

	if (want > MT_LEVEL_OK && want >= level) {
		if (want > level)
			st->peak = 0;
		st->level = want;
		step_confirm(st, f, bytes);
		return want;
	}
	if (level == MT_LEVEL_OK)
		return level;
	/* The level in force holds while the trend projects within 1.5 times its horizon. */
	if (f->steady && horizon[level] > 0 && f->eta_s <= 1.5 * horizon[level]) {
		step_confirm(st, f, bytes);
		return level;
	}
	if (!st->failing_since_ns)
		st->failing_since_ns = now_ns;
	if ((double)bytes + st->growth / 2 < st->peak ||
	    (double)(now_ns - st->failing_since_ns) / 1e9 >= st->hold_s) {
		st->level = want;
		st->failing_since_ns = 0;
		if (want == MT_LEVEL_OK)
			st->peak = st->growth = 0;
	}
	return st->level;
}

/* Write SECONDS as "52 s", "14 min", "3.5 h" or "2.1 days". */
static void fmt_span(double seconds, char *buf, size_t size)
{
	if (seconds < 120)
		snprintf(buf, size, "%.0f s", seconds);
	else if (seconds < 7200)
		snprintf(buf, size, "%.0f min", seconds / 60);
	else if (seconds < 2 * 86400)
		snprintf(buf, size, "%.1f h", seconds / 3600);
	else
		snprintf(buf, size, "%.1f days", seconds / 86400);
}

/* Write BYTES per second as "4.3 MiB/s". */
static void fmt_rate(double bytes, char *buf, size_t size)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (bytes >= 1024 && u < 4)
		bytes /= 1024, u++;
	snprintf(buf, size, u ? "%.1f %s/s" : "%.0f %s/s", bytes, unit[u]);
}

/* Why the trend says what it says, into BUF: "+4.3 MiB/s for 40 s, ceiling in 52 s". */
void trend_reason(const struct trend_fit *f, char *buf, size_t size)
{
	char rate[32], dur[32], eta[32];

	if (!f->steady) {
		snprintf(buf, size, "no steady growth");
		return;
	}
	fmt_rate(f->rate, rate, sizeof(rate));
	fmt_span(f->duration_s, dur, sizeof(dur));
	fmt_span(f->eta_s, eta, sizeof(eta));
	if (f->eta_s <= 0)
		snprintf(buf, size, "+%s for %s, at the ceiling", rate, dur);
	else
		snprintf(buf, size, "+%s for %s, ceiling in %s", rate, dur, eta);
}
