/*
 * stop.c - turn a tracee's wait status into one event (stop.h).
 *
 * As strace's next_event(): a status is decoded here once, and the loops
 * only dispatch.  A PTRACE_EVENT_STOP is a group-stop when its signal is a
 * stop signal (with PTRACE_SEIZE the kernel reports a group-stop so), and
 * otherwise the stop PTRACE_INTERRUPT or a new task's birth makes (SIGTRAP).
 */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "stop.h"

/* The event STATUS reports; see stop.h. */
enum stop_event stop_classify(int status)
{
	int sig;

	if (WIFEXITED(status) || WIFSIGNALED(status))
		return STOP_EXITED;
	if (!WIFSTOPPED(status))
		return STOP_OTHER;
	sig = WSTOPSIG(status);
	switch ((unsigned)status >> 16) {
	case 0:
		return sig == (SIGTRAP | 0x80) ? STOP_SYSCALL : STOP_SIGNAL;
	case PTRACE_EVENT_SECCOMP:
		return STOP_SECCOMP;
	case PTRACE_EVENT_CLONE:
		return STOP_CLONE;
	case PTRACE_EVENT_FORK:
		return STOP_FORK;
	case PTRACE_EVENT_VFORK:
		return STOP_VFORK;
	case PTRACE_EVENT_EXEC:
		return STOP_EXEC;
	case PTRACE_EVENT_STOP:
		return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU
			   ? STOP_GROUP
			   : STOP_INTERRUPT;
	}
	return STOP_OTHER;
}

/* The name of EV. */
const char *stop_name(enum stop_event ev)
{
	static const char *const names[] = {
	    [STOP_EXITED] = "exited", [STOP_SECCOMP] = "seccomp",  [STOP_SYSCALL] = "syscall",
	    [STOP_CLONE] = "clone",   [STOP_FORK] = "fork",	   [STOP_VFORK] = "vfork",
	    [STOP_EXEC] = "exec",     [STOP_GROUP] = "group-stop", [STOP_INTERRUPT] = "interrupt",
	    [STOP_SIGNAL] = "signal", [STOP_OTHER] = "other",
	};

	return (unsigned)ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "?";
}
