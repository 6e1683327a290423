/*
 * test_stop.c - stop_classify() (stop.c): each wait status a tracee can
 * report, built as the kernel builds it, gives its one event.
 */
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "../../libtrace/stop.h"
#include "unit.h"

/* A ptrace stop as waitpid() reports it: signal SIG, event EVENT. */
static int stopped(int sig, int event)
{
	return 0x7f | (sig << 8) | (event << 16);
}

START_TEST(test_stop_events)
{
	ck_assert_int_eq(stop_classify(W_EXITCODE(0, 0)), STOP_EXITED);
	ck_assert_int_eq(stop_classify(W_EXITCODE(3, 0)), STOP_EXITED);
	ck_assert_int_eq(stop_classify(SIGKILL), STOP_EXITED); /* killed by a signal */
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_SECCOMP)), STOP_SECCOMP);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP | 0x80, 0)), STOP_SYSCALL);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_CLONE)), STOP_CLONE);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_FORK)), STOP_FORK);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_VFORK)), STOP_VFORK);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_EXEC)), STOP_EXEC);
	/* Not asked for by memtrace: no dispatcher mistakes it for a signal. */
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_EXIT)), STOP_OTHER);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_VFORK_DONE)), STOP_OTHER);
	ck_assert_int_eq(stop_classify(0xffff), STOP_OTHER); /* continued */
}
END_TEST

/* PTRACE_EVENT_STOP: a group-stop by its stop signal, else an interrupt or a first stop. */
START_TEST(test_stop_event_stop)
{
	static const int group[] = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};

	for (size_t i = 0; i < sizeof(group) / sizeof(group[0]); i++)
		ck_assert_int_eq(stop_classify(stopped(group[i], PTRACE_EVENT_STOP)), STOP_GROUP);
	ck_assert_int_eq(stop_classify(stopped(SIGTRAP, PTRACE_EVENT_STOP)), STOP_INTERRUPT);
}
END_TEST

/* A signal-delivery-stop: any signal, SIGTRAP too, but not the syscall mark. */
START_TEST(test_stop_signals)
{
	for (int sig = 1; sig < 65; sig++) {
		ck_assert_int_eq(stop_classify(stopped(sig, 0)), STOP_SIGNAL);
		ck_assert_int_eq(WSTOPSIG(stopped(sig, 0)), sig);
	}
	ck_assert_str_eq(stop_name(STOP_GROUP), "group-stop");
	ck_assert_str_eq(stop_name(STOP_SECCOMP), "seccomp");
}
END_TEST

Suite *stop_suite(void)
{
	Suite *su = suite_create("stop");
	TCase *tc = tcase_create("classify");

	tcase_add_test(tc, test_stop_events);
	tcase_add_test(tc, test_stop_event_stop);
	tcase_add_test(tc, test_stop_signals);
	suite_add_tcase(su, tc);
	return su;
}
