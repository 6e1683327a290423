/*
 * sites.c - allocation sites and their history, for leak suspects.
 *
 * A site is an allocating stack and a thread: (stack_id, tid) of the
 * mappings it created.  Every SITE_PERIOD_NS (from the daemon's sampling,
 * never on the event path) a pass over the table of outstanding mappings
 * recomputes each site's outstanding bytes, count and oldest live mapping;
 * preexisting and file mappings are nobody's allocation and are left out.
 *
 * A pass reads the table in address order, SITE_SLICE entries per hold of
 * the session lock, so the target's calls wait for one slice at most, never
 * for the whole table; between slices the lock stays free for SITE_GAP_NS,
 * long enough for a tracer woken by the unlock to take it (taking it again
 * at once, the pass would win nearly every time on a busy machine).  The
 * caller takes the slices one at a time (mt_session_sites_step()), so the
 * daemon's control thread serves queries between them: neither the target
 * nor a query waits for more than a slice.  Between slices the table
 * changes; the pass is the table's watcher (maps.h), and every entry that goes in or out below the
 * cursor (where the pass has already been) moves the counts too, while
 * the part above is read as it is when the pass gets there.  So at the end
 * of a pass each site's bytes and count are exactly those of the table at
 * that moment.  A site's oldest live mapping is exact too unless the site
 * lost a mapping where the pass had been; then it is the oldest of the
 * site's mappings the pass counted, one that may have been removed since:
 * no older than the oldest at the pass's start, no younger than at its end
 * (at 1M entries a pass takes some tens of milliseconds).
 *
 * History is bounded: a site keeps SITE_POINTS samples of its outstanding
 * bytes, evenly spaced; when they are full, every other one is dropped and
 * the spacing doubles, so a site's whole life fits in 32 points (2 s apart
 * at first, 64 s apart after half an hour).  What falls between points is
 * not lost: at every pass a site adds any decrease to freed_bytes.  At most
 * SITE_MAX sites are followed (1.5 MiB); a site that held nothing for
 * its whole recorded history is forgotten, and while the table is full new
 * sites are counted, not followed.  Sites a pass met first show from the
 * end of that pass on.
 *
 * Ranking (sites_rank, pure) puts "allocated, never freed, still growing"
 * first and churn last; see the verdicts below and memtracectl(1).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The hash slot chain start for KEY. */
static size_t site_slot(uint32_t stack_id, pid_t tid)
{
	uint64_t k = ((uint64_t)stack_id << 32 | (uint32_t)tid) * 0x9e3779b97f4a7c15ull;

	return (size_t)(k >> 40) % SITE_HASH;
}

/* Rebuild the hash of T's sites. */
static void site_rehash(struct site_table *t)
{
	memset(t->hash, 0, SITE_HASH * sizeof(*t->hash));
	for (size_t i = 0; i < t->n; i++) {
		size_t h = site_slot(t->v[i].stack_id, t->v[i].tid);

		while (t->hash[h])
			h = (h + 1) % SITE_HASH;
		t->hash[h] = (uint32_t)i + 1;
	}
}

/* The site (STACK_ID, TID), made at NOW when new; NULL when the table is full. */
static struct site *site_get(struct site_table *t, uint32_t stack_id, pid_t tid, int64_t now)
{
	size_t h = site_slot(stack_id, tid);
	struct site *x;

	for (; t->hash[h]; h = (h + 1) % SITE_HASH) {
		x = &t->v[t->hash[h] - 1];
		if (x->stack_id == stack_id && x->tid == tid)
			return x;
	}
	if (t->n >= SITE_MAX)
		return NULL;
	x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	x->stack_id = stack_id;
	x->tid = tid;
	x->first_ns = x->acc_first_ns = now;
	x->step_ns = SITE_PERIOD_NS;
	t->hash[h] = (uint32_t)++t->n;
	return x;
}

/* Whether E is somebody's allocation, one that sites count. */
static int site_counts(const struct maps_entry *e)
{
	return e->tid && (e->kind & MT_MAP_ANON) && !(e->kind & MT_MAP_PREEXISTING);
}

/* Count E into (ADD 1) or out of (0) the pass under way. */
static void site_acc(struct site_table *t, const struct maps_entry *e, int add)
{
	uint64_t n = add ? 1 : UINT64_MAX; /* subtracting adds the two's complement */
	struct site *x;

	if (!(x = site_get(t, e->stack_id, e->tid, t->pass_ns))) {
		t->acc_untracked += n * e->len;
		return;
	}
	x->acc_bytes += n * e->len;
	x->acc_count += n;
	if (add && e->time_ns && (!x->acc_oldest_ns || e->time_ns < x->acc_oldest_ns))
		x->acc_oldest_ns = e->time_ns;
	/* Followed since its first mapping, even one made before the pass that found it. */
	if (add && e->time_ns && e->time_ns < x->acc_first_ns)
		x->acc_first_ns = e->time_ns;
}

/* The table's watcher during a pass: a change where the pass has been. */
static void site_watch(void *arg, const struct maps_entry *e, int add)
{
	struct site_table *t = arg;

	if (e->start < t->cursor && site_counts(e))
		site_acc(t, e, add);
}

struct step {
	struct site_table *t;
	size_t visited, budget;
};

/* Count one entry the pass reaches; stop at the end of the slice. */
static int site_read(const struct maps_entry *e, void *arg)
{
	struct step *c = arg;

	if (e->start < c->t->cursor) /* straddles the cursor: read already */
		return 0;
	c->t->cursor = e->start + e->len;
	if (site_counts(e))
		site_acc(c->t, e, 1);
	return ++c->visited >= c->budget;
}

/* Append B to X's points at NOW, halving the resolution when full. */
static void site_point(struct site *x, uint64_t b, int64_t now)
{
	if (x->npoints && now - x->last_point_ns < x->step_ns) {
		x->points[x->npoints - 1] = b; /* the newest point follows the present */
		return;
	}
	if (x->npoints == SITE_POINTS) {
		for (unsigned i = 0; i < SITE_POINTS / 2; i++)
			x->points[i] = x->points[2 * i + 1];
		x->npoints = SITE_POINTS / 2;
		x->step_ns *= 2;
	}
	x->points[x->npoints++] = b;
	x->last_point_ns = now;
}

/* Start a pass over M at NOW; lock held.  0 or -ENOMEM. */
int sites_begin(struct site_table *t, struct maps *m, int64_t now)
{
	if (!t->v) {
		t->v = calloc(SITE_MAX, sizeof(*t->v));
		t->hash = calloc(SITE_HASH, sizeof(*t->hash));
		if (!t->v || !t->hash) {
			free(t->v);
			free(t->hash);
			t->v = NULL;
			t->hash = NULL;
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		t->v[i].acc_bytes = t->v[i].acc_count = 0;
		t->v[i].acc_oldest_ns = 0;
		t->v[i].acc_first_ns = t->v[i].first_ns;
	}
	t->acc_untracked = 0;
	t->cursor = 0;
	t->pass_ns = now;
	m->watch = site_watch;
	m->watch_arg = t;
	return 0;
}

/* Read up to BUDGET more entries of M; 1 while some are left.  Lock held. */
int sites_step(struct site_table *t, const struct maps *m, size_t budget)
{
	struct step c = {t, 0, budget ? budget : 1};

	maps_foreach_range(m, t->cursor, UINT64_MAX - t->cursor, site_read, &c);
	return c.visited >= c.budget && t->cursor;
}

/* End the pass at NOW: each site's counts become its figures and a point; lock held. */
void sites_end(struct site_table *t, struct maps *m, int64_t now)
{
	size_t kept = 0;

	m->watch = NULL;
	m->watch_arg = NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct site *x = &t->v[i];
		int empty;

		x->prev = x->bytes;
		x->bytes = x->acc_bytes;
		x->count = x->acc_count;
		x->oldest_ns = x->acc_count ? x->acc_oldest_ns : 0;
		x->first_ns = x->acc_first_ns;
		empty = !x->bytes;
		if (x->bytes < x->prev)
			x->freed_bytes += x->prev - x->bytes;
		else
			x->grown_bytes += x->bytes - x->prev;
		site_point(x, x->bytes, now);
		for (unsigned k = 0; empty && k < x->npoints; k++)
			empty = !x->points[k];
		/* Nothing held at 8 passes or more, the whole of its history: forget it. */
		if (empty && x->npoints >= 8)
			continue;
		if (kept != i)
			t->v[kept] = *x;
		kept++;
	}
	if (kept != t->n) {
		t->n = kept;
		site_rehash(t);
	}
	t->shown = t->n;
	t->untracked_bytes = t->acc_untracked;
	t->last_ns = now;
}

/* Whether a pass over M is under way for T; lock held. */
static int site_passing(const struct site_table *t, const struct maps *m)
{
	return m->watch == site_watch && m->watch_arg == t;
}

/*
 * When a pass is due at NOW and none is under way, begin one; the lock is
 * not held by the caller.  sites_advance() reads it.  0 or -ENOMEM.
 */
int sites_sample(struct mt_session *s, int64_t now)
{
	struct site_table *t = &s->sites;
	int err = 0;

	pthread_mutex_lock(&s->lock);
	if (now >= t->next_ns && !site_passing(t, &s->maps)) {
		err = sites_begin(t, &s->maps, mt_now_ns());
		if (!err)
			t->next_ns = now + SITE_PERIOD_NS - SITE_PERIOD_NS / 10;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

/*
 * Read the next slice of the pass under way, in one hold of the lock (not
 * held by the caller), and end the pass after its last.  1 while the pass
 * goes on, 0 when it ended or none was under way.  One caller at a time.
 */
int sites_advance(struct mt_session *s)
{
	struct site_table *t = &s->sites;
	int more = 0;

	pthread_mutex_lock(&s->lock);
	if (site_passing(t, &s->maps)) {
		more = sites_step(t, &s->maps, SITE_SLICE);
		if (!more)
			sites_end(t, &s->maps, mt_now_ns());
	}
	pthread_mutex_unlock(&s->lock);
	return more;
}

/* Advance the sites pass under way by a slice; see libtrace.h. */
long mt_session_sites_step(struct mt_session *s)
{
	return sites_advance(s) ? SITE_GAP_NS : 0;
}

/* Free the site table. */
void sites_free(struct site_table *t)
{
	free(t->v);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

static const char *const verdict_names[] = {"leaking", "growing", "holding", "new", "churning"};

/* Return the name of verdict V. */
const char *mt_verdict_name(enum mt_verdict v)
{
	return (unsigned)v <= MT_VERDICT_CHURNING ? verdict_names[v] : "?";
}

/* Judge site X at NOW into OUT (all but the names). */
static void site_judge(const struct site *x, int64_t now, struct mt_suspect *out)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, m = x->npoints, b = 0, r2 = 0;
	double life = (double)(now - x->first_ns) / 1e9, age = 0;
	const uint64_t *p = x->points;

	memset(out, 0, sizeof(*out));
	out->stack_id = x->stack_id;
	out->tid = x->tid;
	out->bytes = x->bytes;
	out->count = x->count;
	out->freed_bytes = x->freed_bytes;
	out->tracked_s = life;
	for (unsigned i = 0; i < x->npoints; i++) {
		double xi = (double)i * (double)x->step_ns / 1e9, yi = (double)p[i];

		sx += xi, sy += yi, sxx += xi * xi, sxy += xi * yi, syy += yi * yi;
	}
	if (m >= 3 && m * sxx - sx * sx > 0) {
		double cxy = sxy - sx * sy / m, cxx = sxx - sx * sx / m, cyy = syy - sy * sy / m;

		b = cxy / cxx;
		r2 = cyy > 0 ? cxy * cxy / (cxx * cyy) : 0;
	}
	out->rate = b;
	if (x->oldest_ns)
		age = (double)(now - x->oldest_ns) / 1e9;
	out->oldest_age_s = age;
	out->age_ratio = life > 0 ? fmin(age / life, 1) : 0;
	/* Steady growth: a good fit, discounted by what the site gave back. */
	if (b > 0)
		out->steadiness = r2 * (double)x->grown_bytes /
				  fmax((double)(x->grown_bytes + x->freed_bytes), 1);
	out->score = out->steadiness * (0.5 + 0.5 * out->age_ratio);
	if (x->npoints < 3 || life < 3 * (double)SITE_PERIOD_NS / 1e9)
		out->verdict = x->bytes && out->age_ratio >= 0.5 ? MT_VERDICT_NEW : MT_VERDICT_CHURNING;
	else if (b > 0 && !x->freed_bytes && p[x->npoints - 1] > p[0] &&
		 p[x->npoints - 1] > p[x->npoints - 1 - (x->npoints - 1) / 4] &&
		 out->steadiness >= 0.8 && out->age_ratio >= 0.5)
		out->verdict = MT_VERDICT_LEAKING;
	else if (b > 0 && p[x->npoints - 1] > p[0] && out->steadiness >= 0.5)
		out->verdict = MT_VERDICT_GROWING;
	else if (x->bytes && out->age_ratio >= 0.5)
		out->verdict = MT_VERDICT_HOLDING;
	else
		out->verdict = MT_VERDICT_CHURNING;
}

/* Verdict first, then score, then outstanding bytes, then the older site. */
static int suspect_cmp(const void *a, const void *b)
{
	const struct mt_suspect *x = a, *y = b;

	if (x->verdict != y->verdict)
		return x->verdict < y->verdict ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return (x->tracked_s < y->tracked_s) - (x->tracked_s > y->tracked_s);
}

/* Judge and rank the N sites V at NOW into OUT (N entries), most suspect first. */
void sites_rank(const struct site *v, size_t n, int64_t now, struct mt_suspect *out)
{
	for (size_t i = 0; i < n; i++)
		site_judge(&v[i], now, &out[i]);
	qsort(out, n, sizeof(*out), suspect_cmp);
}

/* Copy, judge and rank the sites; the caller frees *OUT.  Returns the count or -errno. */
ssize_t mt_session_suspects(struct mt_session *s, struct mt_suspect **out, uint64_t *untracked)
{
	struct site *v;
	size_t n;
	int64_t now;

	pthread_mutex_lock(&s->lock);
	n = s->sites.shown;
	*untracked = s->sites.untracked_bytes;
	now = s->sites.last_ns;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (v)
		memcpy(v, s->sites.v, n * sizeof(*v));
	pthread_mutex_unlock(&s->lock);
	if (!v)
		return -ENOMEM;
	if (!(*out = calloc(n ? n : 1, sizeof(**out)))) {
		free(v);
		return -ENOMEM;
	}
	sites_rank(v, n, now, *out);
	free(v);
	/* Names last, under the lock again: records of threads live as long as the session. */
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		(*out)[i].comm[0] = (*out)[i].name[0] = '\0'; /* a thread never seen */
		for (const struct thread *th = s->threads; th; th = th->next)
			if (th->tid == (*out)[i].tid) {
				memcpy((*out)[i].comm, th->comm, sizeof((*out)[i].comm));
				thread_name(th, (*out)[i].name);
				break;
			}
	}
	pthread_mutex_unlock(&s->lock);
	return (ssize_t)n;
}
