/*
 * test_task.c - the task table (task.c): tasks found by tid whatever the
 * tids, through growth, frees during task_foreach() and moves.
 */
#include <stdlib.h>

#include "../../libtrace/internal.h"
#include "unit.h"

static struct mt_session *session(void)
{
	struct mt_config cfg;
	struct mt_session *s;

	mt_config_default(&cfg);
	cfg.java_names = 0;
	ck_assert_int_eq(mt_session_new(&cfg, &s), 0);
	return s;
}

/* Tids far apart and colliding in the hash: every one found, none invented. */
START_TEST(test_task_many)
{
	struct mt_session *s = session();
	enum { N = 3000 };

	ck_assert_ptr_null(task_get(s, 1));
	for (pid_t i = 1; i <= N; i++)
		ck_assert_ptr_nonnull(task_new(s, i * 4096, 7, 0));
	ck_assert_uint_eq(s->ntasks, N);
	/* Sized to the tracees: a power of two at most four times their number. */
	ck_assert_uint_le(s->tasks.cap, 4 * N);
	for (pid_t i = 1; i <= N; i++) {
		ck_assert_ptr_nonnull(task_get(s, i * 4096));
		ck_assert_int_eq(task_get(s, i * 4096)->tid, i * 4096);
		ck_assert_ptr_null(task_get(s, i * 4096 + 1));
	}
	ck_assert_ptr_null(task_get(s, 0));
	ck_assert_ptr_null(task_get(s, -1));
	mt_session_free(s);
}
END_TEST

/* Free the tasks whose tid is odd (task_foreach()). */
static void free_odd(struct mt_session *s, struct task *t, void *arg)
{
	(*(int *)arg)++;
	if (t->tid & 1)
		task_free(s, t);
}

/* Freeing while iterating visits every task once; churn does not grow the table. */
START_TEST(test_task_foreach_free)
{
	struct mt_session *s = session();
	int visited = 0;
	size_t cap;

	for (pid_t i = 1; i <= 100; i++)
		task_new(s, i, 1, 0);
	task_foreach(s, free_odd, &visited);
	ck_assert_int_eq(visited, 100);
	ck_assert_uint_eq(s->ntasks, 50);
	for (pid_t i = 1; i <= 100; i++)
		ck_assert((task_get(s, i) == NULL) == (i & 1));
	cap = s->tasks.cap;
	/* Threads come and go: tombstones are dropped, the table keeps its size. */
	for (pid_t i = 1000; i < 20000; i++) {
		task_free(s, task_get(s, i - 1));
		ck_assert_ptr_nonnull(task_new(s, i, 1, 0));
	}
	ck_assert_uint_eq(s->ntasks, 51);
	ck_assert_uint_le(s->tasks.cap, cap * 2);
	visited = 0;
	task_foreach(s, free_odd, &visited);
	ck_assert_int_eq(visited, 51);
	mt_session_free(s);
}
END_TEST

/* An exec moves a thread's task to the leader's tid, displacing the leader's. */
START_TEST(test_task_move)
{
	struct mt_session *s = session();
	struct task *leader = task_new(s, 100, 100, 0), *thread = task_new(s, 105, 100, 0);

	ck_assert_ptr_eq(task_move(s, thread, 100), leader);
	ck_assert_ptr_eq(task_get(s, 100), thread);
	ck_assert_ptr_null(task_get(s, 105));
	ck_assert_int_eq(thread->tid, 100);
	ck_assert_uint_eq(s->ntasks, 1);
	task_free(s, leader); /* out of the table: only freed */
	ck_assert_ptr_eq(task_get(s, 100), thread);
	ck_assert_uint_eq(s->ntasks, 1);
	/* To a free tid: nothing displaced. */
	ck_assert_ptr_null(task_move(s, thread, 200));
	ck_assert_ptr_eq(task_get(s, 200), thread);
	ck_assert_ptr_null(task_get(s, 100));
	ck_assert_uint_eq(s->ntasks, 1);
	mt_session_free(s);
}
END_TEST

Suite *task_suite(void)
{
	Suite *su = suite_create("task");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, test_task_many);
	tcase_add_test(tc, test_task_foreach_free);
	tcase_add_test(tc, test_task_move);
	suite_add_tcase(su, tc);
	return su;
}
