/*
 * task.c - the task table: one struct task per thread memtrace traces,
 * found by its tid.
 *
 * An open-addressing hash table sized to the tracees (a power of two at
 * least twice their number, 16 at the least), not to pid_max: linear
 * probing, and a freed slot becomes a tombstone, so that task_foreach()
 * may free tasks as it goes.  The table grows (and drops its tombstones)
 * when live tasks and tombstones together would pass three quarters of
 * it, so a probe always ends at an empty slot.
 * Used by the tracer thread only; the thread records task_new() makes
 * are shared with queries under the session lock.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

#define TASK_TOMB ((struct task *)(uintptr_t)1)
#define TASKS_MIN 16

/* The slot of TID: where it is, or else the first free one on its probe path. */
static size_t slot_of(const struct task_table *tt, pid_t tid)
{
	size_t mask = tt->cap - 1, i = ((size_t)tid * 2654435761u) & mask, tomb = SIZE_MAX;

	for (;; i = (i + 1) & mask) {
		struct task *t = tt->slot[i];

		if (!t)
			return tomb != SIZE_MAX ? tomb : i;
		if (t == TASK_TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (t->tid == tid) {
			return i;
		}
	}
}

/* Rebuild the table with CAP slots (a power of two); 0 or -ENOMEM. */
static int rehash(struct task_table *tt, size_t cap)
{
	struct task **old = tt->slot;
	size_t oldcap = tt->cap;

	if (!(tt->slot = calloc(cap, sizeof(*tt->slot)))) {
		tt->slot = old;
		return -ENOMEM;
	}
	tt->cap = cap;
	tt->tombs = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i] && old[i] != TASK_TOMB)
			tt->slot[slot_of(tt, old[i]->tid)] = old[i];
	free(old);
	return 0;
}

/* Make room for one more task; 0 or -ENOMEM. */
static int reserve(struct task_table *tt)
{
	size_t cap = tt->cap ? tt->cap : TASKS_MIN;

	while ((tt->n + 1) * 2 > cap)
		cap *= 2;
	if (cap == tt->cap && (tt->n + tt->tombs + 1) * 4 <= cap * 3)
		return 0;
	return rehash(tt, cap);
}

/* Put T in the table under T->tid, over any tombstone, with room made already. */
static void place_at(struct mt_session *s, struct task *t)
{
	struct task_table *tt = &s->tasks;
	size_t i = slot_of(tt, t->tid);

	if (tt->slot[i] == TASK_TOMB)
		tt->tombs--;
	tt->slot[i] = t;
	tt->n++;
	s->ntasks = tt->n;
}

/* Put T in the table under T->tid; 0 or -ENOMEM. */
static int place(struct mt_session *s, struct task *t)
{
	if (reserve(&s->tasks) < 0)
		return -ENOMEM;
	place_at(s, t);
	return 0;
}

/* Take the task in slot I out of the table. */
static void unplace(struct mt_session *s, size_t i)
{
	struct task_table *tt = &s->tasks;

	tt->slot[i] = TASK_TOMB;
	tt->tombs++;
	tt->n--;
	s->ntasks = tt->n;
}

/* Return the task with TID, or NULL. */
struct task *task_get(struct mt_session *s, pid_t tid)
{
	struct task *t;

	if (!s->tasks.cap || tid <= 0)
		return NULL;
	t = s->tasks.slot[slot_of(&s->tasks, tid)];
	return t && t != TASK_TOMB ? t : NULL;
}

/* Create the task and thread record for TID of process PID. */
struct task *task_new(struct mt_session *s, pid_t tid, pid_t pid, unsigned flags)
{
	struct task *t;
	struct thread *th;

	if (tid <= 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	th = calloc(1, sizeof(*th));
	if (!t || !th) {
		free(t);
		free(th);
		return NULL;
	}
	t->tid = th->tid = tid;
	t->pid = th->pid = pid;
	t->flags = flags;
	t->th = th;
	if (place(s, t) < 0) {
		free(t);
		free(th);
		return NULL;
	}
	th->alive = 1;
	pthread_mutex_lock(&s->lock);
	th->next = s->threads;
	s->threads = th;
	s->threads_seen++;
	s->threads_alive++;
	pthread_mutex_unlock(&s->lock);
	return t;
}

/* Forget task T; its thread record stays.  Accepts NULL; idempotent. */
void task_free(struct mt_session *s, struct task *t)
{
	if (!t)
		return;
	if (task_get(s, t->tid) == t)
		unplace(s, slot_of(&s->tasks, t->tid));
	pthread_mutex_lock(&s->lock);
	if (t->th->alive) {
		t->th->alive = 0;
		s->threads_alive--;
	}
	pthread_mutex_unlock(&s->lock);
	unwind_task_free(t);
	account_drop_saved(t);
	free(t);
}

/*
 * Move task T to TID (a thread that exec'd takes its leader's tid).  The
 * task TID had, if any, leaves the table and is returned, for the caller
 * to task_free(); NULL when there was none.
 */
struct task *task_move(struct mt_session *s, struct task *t, pid_t tid)
{
	struct task *there = task_get(s, tid);

	if (there == t)
		return NULL;
	reserve(&s->tasks); /* at worst, one over the load it keeps */
	if (there)
		unplace(s, slot_of(&s->tasks, tid));
	if (task_get(s, t->tid) == t)
		unplace(s, slot_of(&s->tasks, t->tid));
	t->tid = tid;
	/* T's own slot became a tombstone: the load is what it was, no room to make. */
	place_at(s, t);
	return there;
}

/*
 * Call FN(S, T, ARG) for every task; FN may free the task it is given (or
 * any other), but not create one.
 */
void task_foreach(struct mt_session *s, void (*fn)(struct mt_session *, struct task *, void *),
		  void *arg)
{
	for (size_t i = 0; i < s->tasks.cap; i++) {
		struct task *t = s->tasks.slot[i];

		if (t && t != TASK_TOMB)
			fn(s, t, arg);
	}
}

/* Free every task and the table itself. */
void task_table_free(struct mt_session *s)
{
	for (size_t i = 0; i < s->tasks.cap; i++)
		if (s->tasks.slot[i] && s->tasks.slot[i] != TASK_TOMB)
			task_free(s, s->tasks.slot[i]);
	free(s->tasks.slot);
	s->tasks = (struct task_table){0};
}
