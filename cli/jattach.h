/*
 * jattach.h - HotSpot's attach mechanism, for Java thread names.
 */
#ifndef JATTACH_H
#define JATTACH_H

#include <stddef.h>
#include <sys/types.h>

struct jthread {
	pid_t tid; /* the native id, nid=0x... */
	char name[256];
	char state[64];
};

/* 0 when PID is a HotSpot JVM that can take SIGQUIT; else -1 with ERR set. */
int jattach_check(pid_t pid, char *err, size_t errsize);
/* Run COMMAND ("threaddump") in JVM PID; *OUT gets the output. 0 or -1 with ERR set. */
int jattach_run(pid_t pid, const char *command, char **out, char *err, size_t errsize);
/* Parse a thread dump (modified in place) into up to MAX THREADS; returns the count. */
size_t jattach_parse(char *dump, struct jthread *threads, size_t max);

#endif
