/*
 * daemon.h - memtraced's pieces: options, the control socket.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "libtrace.h"

/* Exit statuses of memtraced besides the target's own. */
#define EXIT_USAGE  2
#define EXIT_SETUP  3 /* cannot start: socket, launch */
#define EXIT_ATTACH 4

/*
 * What options_parse() makes of the command line.  The strings and the
 * command's argv belong to the struct; options_free() frees them.
 */
struct options {
	char *socket;
	char *socket_group;
	char *report;
	int summary, json, linger, verbose, no_socket;
	int64_t kill_timeout_ns;
	int64_t window_ns;
	int64_t eta_warn_ns, eta_crit_ns; /* trend alert horizons; 0: off */
	struct mt_config cfg;
	uint64_t ring_events;
	uint64_t pid; /* attach mode */
	char *pid_file;
	char **command;	    /* --command split into words, NULL-terminated */
	char **target_argv; /* launch mode: the program and its arguments */
	char *alert_exec;
	int64_t alert_timeout_ns;
	char *metrics_file;
	char *name; /* --name, copied into cfg.name, or the program's name */
	char *count;
	char *stacks;
	char *attach_mode; /* "syscall" or "filter" */
	char *cpu;
	cpu_set_t all_cpus; /* memtraced's own CPUs, for the control thread under --cpu */
	uint64_t stack_depth;
	int no_pin_threshold;
	int no_java_names;
	int no_perf_map;
};

/* Parse the config file and ARGV into O; exits with EXIT_USAGE on bad input. */
void options_parse(struct options *o, int argc, char **argv);
/*
 * Read a config file's text TEXT[0, LEN), named NAME in messages, into O
 * from the defaults on, as options_parse() reads --config.  0, or minus the
 * exit status it calls for with the message in ERR; options_free() O after.
 */
int options_config(struct options *o, const char *text, size_t len, const char *name,
		   char *err, size_t size);

/* Run CMD for ALERT in the background with a timeout (alertexec.c). */
struct json_t;
void alertexec_run(const char *cmd, struct json_t *alert, int timeout_ms);

struct control;
struct jnames;

/*
 * Learn the target's Java thread names, and ask the JVM for its perf map,
 * on a thread of its own (jnames.c); *OUT NULL when both are off.
 */
int jnames_start(struct mt_session *s, const struct options *o, struct jnames **out);
/* Stop that thread (it finishes a thread dump in progress) and free it; accepts NULL. */
void jnames_stop(struct jnames *j);

/* Bind O->socket (refusing a live daemon's); nothing is answered yet.  Logs its own errors. */
int control_start(struct mt_session *s, const struct options *o, struct control **out);
/* Answer on the socket from a thread of its own. */
int control_serve(struct control *c);
/* Free what options_parse() allocated. */
void options_free(struct options *o);
/* Block until a stop request arrives (SIGTERM, SIGINT, the stop command). */
void control_wait_stop(struct control *c);
/* After the target is gone: with LINGER, serve until a stop request. */
void control_target_done(struct control *c, int linger);
/* Stop serving, remove the socket file; accepts NULL. */
void control_free(struct control *c);

#endif
