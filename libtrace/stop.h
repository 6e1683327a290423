/*
 * stop.h - what a waitpid() status of a tracee says, as one event.
 *
 * stop_classify() is the only reader of the ptrace event in a status
 * (status >> 16) and of the syscall-stop mark (SIGTRAP | 0x80): every wait
 * loop (session.c's dispatcher and its detach, attach.c, inject.c, guard.c)
 * switches on its answer.  WSTOPSIG() still gives a stop's signal.
 */
#ifndef MT_STOP_H
#define MT_STOP_H

enum stop_event {
	STOP_EXITED,	/* exited or killed by a signal: the task is gone */
	STOP_SECCOMP,	/* PTRACE_EVENT_SECCOMP: a filtered call, before it runs */
	STOP_SYSCALL,	/* a syscall-entry or -exit stop (PTRACE_SYSCALL, TRACESYSGOOD) */
	STOP_CLONE,	/* PTRACE_EVENT_CLONE */
	STOP_FORK,	/* PTRACE_EVENT_FORK */
	STOP_VFORK,	/* PTRACE_EVENT_VFORK */
	STOP_EXEC,	/* PTRACE_EVENT_EXEC */
	STOP_GROUP,	/* PTRACE_EVENT_STOP with a stop signal: a group-stop */
	STOP_INTERRUPT, /* PTRACE_EVENT_STOP otherwise: our interrupt, a new task's first stop */
	STOP_SIGNAL,	/* a signal-delivery-stop: WSTOPSIG() is the signal */
	STOP_OTHER,	/* an event memtrace never asks for, or not a stop at all */
};

/* The event STATUS, from waitpid(__WALL) on a tracee, reports. */
enum stop_event stop_classify(int status);

/* Its name, for messages and tests ("seccomp", "group-stop", ...). */
const char *stop_name(enum stop_event ev);

#endif
