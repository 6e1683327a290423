/*
 * alert.c - alert levels with hysteresis, growth rate, projection, history.
 *
 * The weighed bytes (chunk bytes, or chunk + large with count_large) are
 * checked against the ceiling after every accounting change, on the tracer
 * thread: two comparisons in the common case.  A level is raised once when
 * the value reaches it and cleared once when the value falls clear_margin
 * points below it, so a value hovering at a line does not flap.  A jump
 * from ok to crit raises warn, then crit.
 *
 * Growth comes from samples the daemon takes about once a second
 * (mt_session_sample): the rate is the least-squares slope over the
 * window, the projection the time to the ceiling at that rate.  The last
 * hour of samples feeds growth and the trend; each sample is also offered
 * to the timeline (timeline.c), the whole run downsampled, with the
 * threads holding the most, for pictures.
 *
 * The trend alert is the second cause of a level, beside the percentages:
 * at each sample, trend.c fits the history and moves the trend level
 * (warn or crit when steady growth reaches the ceiling within --eta-warn
 * or --eta-crit).  A trend alert is raised only when the percentage level
 * is below it (one alert of a level is enough), and cleared only if it was
 * raised.  The level a user sees (status, check, watch) is the higher of
 * the two.  This costs nothing per event: it runs once a second, on the
 * daemon's thread, the fit outside the lock.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * The bytes alerts weigh: all direct memory when it is known (with the
 * chunks that were there before tracing began, whose stacks nobody saw),
 * else chunks, or chunks + large with count_large.
 */
static uint64_t weighed(const struct mt_session *s)
{
	const struct maps_totals *t = &s->maps.totals;

	if (direct_weighing(s))
		return t->direct_bytes + t->seeded_chunk_bytes;
	return t->bytes[MT_CLASS_CHUNK] + (s->cfg.count_large ? t->bytes[MT_CLASS_LARGE] : 0);
}

/* Compute the byte thresholds from the ceiling in force; lock held. */
void alert_configure(struct mt_session *s)
{
	double c = (double)s->ceiling, margin = s->cfg.clear_margin;

	s->on[MT_LEVEL_WARN] = (uint64_t)(c * s->cfg.warn_percent / 100.0);
	s->on[MT_LEVEL_CRIT] = (uint64_t)(c * s->cfg.crit_percent / 100.0);
	s->off[MT_LEVEL_WARN] = (uint64_t)(c * fmax(s->cfg.warn_percent - margin, 0) / 100.0);
	s->off[MT_LEVEL_CRIT] = (uint64_t)(c * fmax(s->cfg.crit_percent - margin, 0) / 100.0);
}

static void growth_locked(struct mt_session *s, struct mt_growth *g);

/*
 * Fill TOP[0..N) with the threads holding the most weighed (direct, or
 * chunk) bytes, most first, and THS[0..N) (when not NULL) with their
 * records; lock held.
 */
static size_t top_threads(struct mt_session *s, struct mt_top_thread *top, struct thread **ths,
			  size_t n)
{
	struct thread *dummy[8], **rec = ths ? ths : dummy;
	int direct = direct_weighing(s);
	size_t found = 0;

	if (!ths && n > sizeof(dummy) / sizeof(dummy[0]))
		n = sizeof(dummy) / sizeof(dummy[0]);
	memset(top, 0, n * sizeof(*top));
	for (struct thread *th = s->threads; th; th = th->next) {
		uint64_t held = direct ? th->own.direct_bytes : th->own.chunk_bytes;
		size_t i;

		if (!held)
			continue;
		for (i = n; i > 0 && (!top[i - 1].tid || (direct ? top[i - 1].direct_bytes
								   : top[i - 1].chunk_bytes) < held);
		     i--)
			;
		if (i == n)
			continue;
		memmove(&top[i + 1], &top[i], (n - i - 1) * sizeof(top[0]));
		memmove(&rec[i + 1], &rec[i], (n - i - 1) * sizeof(rec[0]));
		rec[i] = th;
		top[i].tid = th->tid;
		memcpy(top[i].comm, th->comm, sizeof(top[i].comm));
		thread_name(th, top[i].name);
		top[i].chunk_bytes = th->own.chunk_bytes;
		top[i].chunk_count = th->own.chunk_count;
		top[i].direct_bytes = th->own.direct_bytes;
		top[i].direct_count = th->own.direct_count;
		if (found < n)
			found++;
	}
	return found;
}

/* Copy the threads holding the most weighed bytes. */
size_t mt_session_top_threads(struct mt_session *s, struct mt_top_thread *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = top_threads(s, out, NULL, max);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * Fill A's top threads.  A thread is named (comm) at its first memory
 * event, which for a JVM thread can come before the JVM names it, and
 * re-read once a second (refresh_names); an alert says its names for good,
 * so those without a Java name have their comm read again now.
 */
static void top_alert_threads(struct mt_session *s, struct mt_alert *a)
{
	const size_t max = sizeof(a->top) / sizeof(a->top[0]);
	struct thread *th[sizeof(a->top) / sizeof(a->top[0])];
	size_t n = top_threads(s, a->top, th, max);

	for (size_t i = 0; i < n; i++) {
		char path[64], comm[16];

		if (th[i]->jname || !th[i]->alive)
			continue;
		snprintf(path, sizeof(path), "task/%d/comm", th[i]->tid);
		if (proc_read(th[i]->pid, path, comm, sizeof(comm)) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (!comm[0])
			continue;
		memcpy(th[i]->comm, comm, sizeof(th[i]->comm));
		memcpy(a->top[i].comm, comm, sizeof(a->top[i].comm));
		thread_name(th[i], a->top[i].name);
	}
}

/*
 * Append an alert to the ring, with the growth and the top threads of this
 * moment.  Alerts are rare, so this work on the tracer thread is too.
 */
static struct mt_alert *alert_push(struct mt_session *s, enum mt_level level, int raised,
				   uint64_t bytes)
{
	struct mt_alert *a = &s->alerts[s->alert_seq % ALERT_RING];
	struct mt_growth g;

	a->seq = ++s->alert_seq;
	a->time_ns = mt_now_ns();
	a->level = level;
	a->raised = raised;
	a->bytes = bytes;
	a->direct = direct_weighing(s);
	a->direct_bytes = s->maps.totals.direct_bytes;
	a->direct_count = s->maps.totals.direct_count;
	a->hidden_bytes = direct_hidden(s);
	a->arena_direct_bytes = s->maps.totals.direct_arena_bytes;
	a->ceiling = s->ceiling;
	growth_locked(s, &g);
	a->rate = g.rate;
	a->overall_rate = g.overall_rate;
	a->eta_s = g.eta_s;
	a->trend = g.trend;
	a->cause = "percent";
	if (raised)
		snprintf(a->reason, sizeof(a->reason), "%.1f%% of the ceiling, %s at %g%%",
			 s->ceiling ? 100.0 * (double)bytes / (double)s->ceiling : 0.0,
			 mt_level_name(level),
			 level == MT_LEVEL_CRIT ? s->cfg.crit_percent : s->cfg.warn_percent);
	else
		snprintf(a->reason, sizeof(a->reason), "%.1f%% of the ceiling, cleared under %g%%",
			 s->ceiling ? 100.0 * (double)bytes / (double)s->ceiling : 0.0,
			 fmax((level == MT_LEVEL_CRIT ? s->cfg.crit_percent : s->cfg.warn_percent) -
				      s->cfg.clear_margin, 0));
	top_alert_threads(s, a);
	return a;
}

/* Move the level after a change of the table; lock held.  Returns 1 when an alert was made. */
int alert_check(struct mt_session *s)
{
	enum mt_level level = s->level;
	uint64_t v;
	int made = 0;

	if (!s->ceiling)
		return 0;
	v = weighed(s);
	if ((level == MT_LEVEL_CRIT || v < s->on[level + 1]) &&
	    (level == MT_LEVEL_OK || v >= s->off[level]))
		return 0;
	while (level < MT_LEVEL_CRIT && v >= s->on[level + 1]) {
		level++;
		alert_push(s, level, 1, v);
		made = 1;
	}
	while (level > MT_LEVEL_OK && v < s->off[level]) {
		alert_push(s, level, 0, v);
		level--;
		made = 1;
	}
	s->level = level;
	return made;
}

/* Copy alerts newer than AFTER. */
size_t mt_session_alerts(struct mt_session *s, uint64_t after, struct mt_alert *out, size_t max,
			 uint64_t *newest)
{
	size_t n = 0;
	uint64_t seq;

	pthread_mutex_lock(&s->lock);
	for (seq = ring_first_after(after, s->alert_seq, ALERT_RING); seq <= s->alert_seq && n < max;
	     seq++)
		out[n++] = s->alerts[(seq - 1) % ALERT_RING];
	*newest = s->alert_seq;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * Re-read the names of live threads: a thread is named when its first
 * memory event is recorded, which for a JVM thread can come before the
 * JVM names it.  /proc is read without the lock; the names are stored
 * under it, matched by tid.
 */
static void refresh_names(struct mt_session *s)
{
	struct {
		struct thread *th; /* records live as long as the session */
		pid_t pid, tid;
		char comm[16];
	} *v;
	size_t n = 0, cap;

	pthread_mutex_lock(&s->lock);
	cap = s->threads_alive;
	pthread_mutex_unlock(&s->lock);
	if (!cap || cap > 65536 || !(v = calloc(cap, sizeof(*v))))
		return;
	pthread_mutex_lock(&s->lock);
	for (struct thread *th = s->threads; th && n < cap; th = th->next)
		if (th->alive)
			v[n].th = th, v[n].pid = th->pid, v[n++].tid = th->tid;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "task/%d/comm", v[i].tid);
		if (proc_read(v[i].pid, path, v[i].comm, sizeof(v[i].comm)) > 0)
			v[i].comm[strcspn(v[i].comm, "\n")] = '\0';
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++)
		if (v[i].th->alive && v[i].comm[0])
			memcpy(v[i].th->comm, v[i].comm, sizeof(v[i].th->comm));
	pthread_mutex_unlock(&s->lock);
	free(v);
}

/* Push a trend alert of LEVEL, raised or cleared, for fit F; lock held. */
static void trend_push(struct mt_session *s, enum mt_level level, int raised,
		       const struct trend_fit *f)
{
	struct mt_alert *a = alert_push(s, level, raised, weighed(s));

	a->cause = "trend";
	trend_reason(f, a->reason, sizeof(a->reason));
	if (f->steady) {
		/* The trend's own rate and projection, not the window's. */
		a->rate = f->rate;
		a->eta_s = f->eta_s;
	}
}

/*
 * Move the trend level after fit F of the sample SMP; lock held.  Each
 * level passed is an alert, as for the percentages; a raise the
 * percentage level already covers is not repeated.
 */
static int trend_apply(struct mt_session *s, const struct trend_fit *f, const struct mt_sample *smp)
{
	const double horizon[] = {0, s->cfg.eta_warn_s, s->cfg.eta_crit_s};
	enum mt_level from = s->trend.level, to;
	int made = 0;

	s->trend_fit = *f;
	to = trend_step(&s->trend, f, horizon, smp->bytes, smp->time_ns);
	for (enum mt_level l = from + 1; l <= to; l++)
		if (s->level < l) {
			trend_push(s, l, 1, f);
			s->trend_alerted |= 1u << l;
			made = 1;
		}
	for (enum mt_level l = from; l > to; l--)
		if (s->trend_alerted & (1u << l)) {
			trend_push(s, l, 0, f);
			s->trend_alerted &= ~(1u << l);
			made = 1;
		}
	return made;
}

/*
 * Fill P with the sample SMP, the chunk and outstanding bytes and the
 * threads holding the most outstanding bytes now; lock held.
 */
static void timeline_point(struct mt_session *s, const struct mt_sample *smp,
			   struct mt_tl_point *p)
{
	struct mt_tl_thread *top = p->threads;
	const size_t max = MT_TL_THREADS;

	memset(p, 0, sizeof(*p));
	p->time_ns = smp->time_ns;
	p->bytes = smp->bytes;
	p->chunk_bytes = s->maps.totals.bytes[MT_CLASS_CHUNK];
	p->outstanding_bytes = s->maps.totals.bytes_all;
	for (struct thread *th = s->threads; th; th = th->next) {
		uint64_t held = th->own.bytes;
		size_t i;

		if (!held)
			continue;
		for (i = max; i > 0 && (!top[i - 1].tid || top[i - 1].bytes < held); i--)
			;
		if (i == max)
			continue;
		memmove(&top[i + 1], &top[i], (max - i - 1) * sizeof(top[0]));
		top[i].tid = th->tid;
		top[i].bytes = held;
	}
}

/*
 * Record one sample of the weighed bytes, refresh thread names and move the
 * trend level.  The history is copied out under the lock and fitted
 * without it.  Returns 1 when an alert was made.  One caller at a time.
 */
int mt_session_sample(struct mt_session *s)
{
	struct mt_sample smp, *v;
	struct mt_tl_point point;
	struct trend_fit f;
	uint64_t have, ceiling;
	int made;

	refresh_names(s);
	direct_scan_jars(s);
	v = malloc(HISTORY_SAMPLES * sizeof(*v));
	pthread_mutex_lock(&s->lock);
	smp.time_ns = mt_now_ns();
	smp.bytes = weighed(s);
	if (!s->hist_n)
		s->hist_first = smp;
	s->hist[s->hist_n++ % HISTORY_SAMPLES] = smp;
	have = s->hist_n < HISTORY_SAMPLES ? s->hist_n : HISTORY_SAMPLES;
	for (uint64_t i = 0; v && i < have; i++)
		v[i] = s->hist[(s->hist_n - have + i) % HISTORY_SAMPLES];
	timeline_point(s, &smp, &point);
	timeline_add(s->timeline, &point);
	ceiling = s->ceiling;
	pthread_mutex_unlock(&s->lock);
	/* Suspects: a pass over the table begins every SITE_PERIOD_NS; mt_session_sites_step() reads it. */
	sites_sample(s, smp.time_ns);
	/* Out of memory: no fit, so the trend level decays as if growth had stopped. */
	if (!v || trend_fit(v, have, ceiling, &f) < 0) {
		memset(&f, 0, sizeof(f));
		f.eta_s = -1;
	}
	free(v);
	pthread_mutex_lock(&s->lock);
	made = trend_apply(s, &f, &smp);
	pthread_mutex_unlock(&s->lock);
	return made;
}

/* The trend alert's state and reason. */
void mt_session_trend(struct mt_session *s, struct mt_trend *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	out->level = s->trend.level;
	out->steady = s->trend_fit.steady;
	out->rate = s->trend_fit.steady ? s->trend_fit.rate : 0;
	out->duration_s = s->trend_fit.steady ? s->trend_fit.duration_s : 0;
	out->eta_s = s->trend_fit.steady ? s->trend_fit.eta_s : -1;
	out->eta_warn_s = s->cfg.eta_warn_s;
	out->eta_crit_s = s->cfg.eta_crit_s;
	trend_reason(&s->trend_fit, out->reason, sizeof(out->reason));
	pthread_mutex_unlock(&s->lock);
}

/* Growth over the window and the projection; lock held. */
static void growth_locked(struct mt_session *s, struct mt_growth *g)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0, t0, window;
	uint64_t first, now_bytes, ceiling, chunk;
	int64_t now = mt_now_ns(), oldest = now;

	memset(g, 0, sizeof(*g));
	g->eta_s = -1;
	g->trend = "unknown";
	now_bytes = weighed(s);
	ceiling = s->ceiling;
	chunk = s->maps.chunk_size;
	window = s->cfg.window_s;
	first = s->hist_n ? s->hist_n - (s->hist_n < HISTORY_SAMPLES ? s->hist_n : HISTORY_SAMPLES)
			  : 0;
	t0 = (double)now / 1e9;
	for (uint64_t i = first; i < s->hist_n; i++) {
		const struct mt_sample *p = &s->hist[i % HISTORY_SAMPLES];
		double x = (double)p->time_ns / 1e9 - t0;

		if (-x > window)
			continue;
		if (p->time_ns < oldest)
			oldest = p->time_ns;
		sx += x;
		sy += (double)p->bytes;
		sxx += x * x;
		sxy += x * (double)p->bytes;
		n++;
	}
	if (s->hist_n && now > s->hist_first.time_ns)
		g->overall_rate = ((double)now_bytes - (double)s->hist_first.bytes) /
				  ((double)(now - s->hist_first.time_ns) / 1e9);

	g->bytes = now_bytes;
	g->window_s = (double)(now - oldest) / 1e9;
	if (n < 2 || n * sxx - sx * sx <= 0)
		return;
	g->rate = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	/* Less than half a chunk over the window is noise, not growth. */
	if (fabs(g->rate) * fmax(g->window_s, 1) < (double)chunk / 2)
		g->trend = "flat";
	else if (g->rate < 0)
		g->trend = "falling";
	else
		g->trend = "growing";
	if (!strcmp(g->trend, "growing") && ceiling > now_bytes)
		g->eta_s = ((double)ceiling - (double)now_bytes) / g->rate;
	else if (!strcmp(g->trend, "growing") && ceiling)
		g->eta_s = 0;
}

/* Growth over the window and the projection. */
void mt_session_growth(struct mt_session *s, struct mt_growth *g)
{
	pthread_mutex_lock(&s->lock);
	growth_locked(s, g);
	pthread_mutex_unlock(&s->lock);
}

/* Copy up to MAX points of the timeline, evenly spread over the whole run. */
size_t mt_session_timeline(struct mt_session *s, struct mt_tl_point *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = timeline_get(s->timeline, out, max);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Copy up to MAX samples spread evenly over the history. */
size_t mt_session_history(struct mt_session *s, struct mt_sample *out, size_t max)
{
	uint64_t first, have;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	have = s->hist_n < HISTORY_SAMPLES ? s->hist_n : HISTORY_SAMPLES;
	first = s->hist_n - have;
	for (size_t i = 0; max && i < max && i < have; i++) {
		/* Evenly spread, the newest always last. */
		uint64_t k = have <= max ? i
			   : max == 1 ? have - 1
				      : (uint64_t)((double)i * (double)(have - 1) / (double)(max - 1));

		out[n++] = s->hist[(first + k) % HISTORY_SAMPLES];
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}
