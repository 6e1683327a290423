/*
 * ring.c - the bounded event ring.
 *
 * A fixed array of cap slots; event number seq lives in slot (seq-1) % cap.
 * Pushing never fails and never allocates: when the ring is full the oldest
 * event is overwritten and counts as dropped.  The storage is reserved with
 * mmap, so slots that were never written cost no memory.
 */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

/* Reserve room for CAP events. */
int ring_init(struct ring *r, size_t cap)
{
	void *p;

	if (!cap || cap > SIZE_MAX / sizeof(struct mt_event))
		return -EINVAL;
	p = mmap(NULL, cap * sizeof(struct mt_event), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->ev = p;
	r->cap = cap;
	r->head = 0;
	return 0;
}

/* Release the ring's storage; safe on a zeroed or freed ring. */
void ring_free(struct ring *r)
{
	if (r->ev)
		munmap(r->ev, r->cap * sizeof(struct mt_event));
	r->ev = NULL;
	r->cap = 0;
	r->head = 0;
}

/* Append EV, giving it the next sequence number. */
void ring_push(struct ring *r, const struct mt_event *ev)
{
	struct mt_event *slot = &r->ev[r->head % r->cap];

	*slot = *ev;
	slot->seq = ++r->head;
}

/* Return event SEQ if it is still in the ring. */
const struct mt_event *ring_get(const struct ring *r, uint64_t seq)
{
	if (seq == 0 || seq > r->head || seq + r->cap <= r->head)
		return NULL;
	return &r->ev[(seq - 1) % r->cap];
}
