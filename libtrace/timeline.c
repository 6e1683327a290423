/*
 * timeline.c - the run's history for pictures, bounded and downsampled.
 * See timeline.h for the rule.
 */
#include <string.h>

#include "timeline.h"

/* Empty T. */
void timeline_init(struct timeline *t)
{
	memset(t, 0, sizeof(*t));
	t->step = 1;
}

/* Halve T: of each pair of neighbours keep the one with the more weighed bytes. */
static void timeline_halve(struct timeline *t)
{
	size_t k = 0;

	for (size_t i = 0; i + 1 < t->n; i += 2)
		t->v[k++] = t->v[i + 1].bytes > t->v[i].bytes ? t->v[i + 1] : t->v[i];
	if (t->n % 2)
		t->v[k++] = t->v[t->n - 1];
	t->n = k;
	t->step *= 2;
}

/*
 * Offer sample P.  Each point stands for STEP samples in a row: the one of
 * them with the most weighed bytes, kept when the STEP-th arrives.
 */
void timeline_add(struct timeline *t, const struct mt_tl_point *p)
{
	t->seen++;
	t->last = *p;
	if (!t->pend_n || p->bytes > t->pend.bytes)
		t->pend = *p;
	if (++t->pend_n < t->step)
		return;
	if (t->n == TIMELINE_POINTS)
		timeline_halve(t);
	/* Halving may have doubled the step: the window goes on filling. */
	if (t->pend_n < t->step)
		return;
	t->v[t->n++] = t->pend;
	t->pend_n = 0;
}

/* The points of T in time order: the kept ones, the pending window's peak, the newest sample. */
static size_t timeline_count(const struct timeline *t)
{
	if (!t->pend_n)
		return t->n;
	return t->n + 1 + (t->pend.time_ns != t->last.time_ns);
}

static const struct mt_tl_point *timeline_at(const struct timeline *t, size_t i)
{
	if (i < t->n)
		return &t->v[i];
	if (i == t->n && t->pend.time_ns != t->last.time_ns)
		return &t->pend;
	return &t->last;
}

/* Copy up to MAX points spread evenly over T, the first and newest included. */
size_t timeline_get(const struct timeline *t, struct mt_tl_point *out, size_t max)
{
	size_t n = 0, have = timeline_count(t);

	if (!max)
		return 0;
	for (size_t i = 0; i < max && i < have; i++) {
		size_t k = have <= max ? i
			   : max == 1
			       ? have - 1
			       : (size_t)((double)i * (double)(have - 1) / (double)(max - 1));

		out[n++] = *timeline_at(t, k);
	}
	return n;
}
