/*
 * timeline.h - the run's history for pictures: bounded, downsampled.
 *
 * The daemon samples once a second.  The timeline keeps at most
 * TIMELINE_POINTS points whatever the run's length.  Each point stands
 * for STEP samples in a row (STEP starts at 1) and is the one of them with
 * the most weighed bytes: a real sample, never an average, and a peak
 * survives.  When full, the timeline halves itself the same way (of each
 * pair of neighbours, the one with the more weighed bytes) and doubles
 * STEP.  An hour at 1 Hz is kept 1 sample a point in 4, ten hours 1 in 64:
 * 512 points or more once full, 131 KiB in all.  The newest sample is
 * kept apart, so that a picture ends at "now".
 * Pure: no lock, no clock; the session calls it under its lock.
 */
#ifndef MT_TIMELINE_H
#define MT_TIMELINE_H

#include "libtrace.h"

#define TIMELINE_POINTS 1024

struct timeline {
	struct mt_tl_point v[TIMELINE_POINTS]; /* oldest first */
	size_t n;
	uint64_t step;		 /* samples per kept point, a power of two */
	uint64_t seen;		 /* samples offered */
	struct mt_tl_point pend; /* the peak of the window being filled */
	uint64_t pend_n;	 /* samples in that window */
	struct mt_tl_point last; /* the newest sample offered */
};

/* Empty T. */
void timeline_init(struct timeline *t);
/* Offer sample P (samples come in time order). */
void timeline_add(struct timeline *t, const struct mt_tl_point *p);
/*
 * Copy up to MAX points spread evenly over T into OUT, oldest first, the
 * first and the newest always included (the peak of the window being
 * filled too, when there is room); returns the count.
 */
size_t timeline_get(const struct timeline *t, struct mt_tl_point *out, size_t max);

#endif
