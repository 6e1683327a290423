/*
 * alertexec.c - run --alert-exec CMD for each alert, never blocking.
 *
 * CMD is the user's own command line, run with /bin/sh -c exactly as given;
 * the alert reaches it only through environment variables (MEMTRACE_*) and
 * as one JSON line on stdin, never inside the command string.
 *
 * The tracer thread reaps every child of memtraced with waitpid(-1), so the
 * command cannot be our child if we want its status and a timeout.  We fork
 * a small watchdog that forks CMD, waits for it with a timeout, kills it
 * (its whole process group) when it overruns, logs how it ended and exits;
 * the tracer reaps the watchdog.  Between fork and exec only
 * async-signal-safe calls are made.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

extern char **environ;

/* Write a short line to stderr from the watchdog; async-signal-safe. */
static void say(const char *a, const char *b)
{
	char line[256];
	size_t n = 0, la = strlen(a), lb = strlen(b);

	if (la + lb + 14 > sizeof(line))
		return;
	memcpy(line, "memtraced: ", 11);
	n = 11;
	memcpy(line + n, a, la);
	n += la;
	memcpy(line + n, b, lb);
	n += lb;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

/* Put "NAME=value" for the alert's fields into ENV (the caller frees the strings). */
static int alert_env(json_t *alert, char **env, int max)
{
	static const struct {
		const char *var, *key;
	} fields[] = {
		{"MEMTRACE_ALERT_LEVEL", "level"},   {"MEMTRACE_ALERT_STATE", "state"},
		{"MEMTRACE_ALERT_BYTES", "bytes"},   {"MEMTRACE_ALERT_CEILING", "ceiling"},
		{"MEMTRACE_ALERT_PERCENT", "percent"}, {"MEMTRACE_ALERT_RATE", "rate_bytes_per_s"},
		{"MEMTRACE_ALERT_ETA", "eta_s"},     {"MEMTRACE_ALERT_TIME_NS", "time_ns"},
		{"MEMTRACE_TARGET_PID", "pid"},     {"MEMTRACE_ALERT_CAUSE", "cause"},
		{"MEMTRACE_ALERT_REASON", "reason"},
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && n < max; i++) {
		json_t *v = json_object_get(alert, fields[i].key);
		char *s = NULL;

		if (json_is_string(v))
			n += asprintf(&s, "%s=%s", fields[i].var, json_string_value(v)) > 0;
		else if (json_is_integer(v))
			n += asprintf(&s, "%s=%lld", fields[i].var, (long long)json_integer_value(v)) > 0;
		else if (json_is_real(v))
			n += asprintf(&s, "%s=%.3f", fields[i].var, json_real_value(v)) > 0;
		else if (json_is_null(v))
			n += asprintf(&s, "%s=", fields[i].var) > 0;
		if (s)
			env[n - 1] = s;
	}
	return n;
}

/* Run CMD for ALERT in the background, killing it after TIMEOUT_MS. */
void alertexec_run(const char *cmd, json_t *alert, int timeout_ms)
{
	char *env[128], *json, *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	int nenv, nown, pipefd[2];
	size_t len;
	pid_t pid;

	json = json_dumps(alert, JSON_COMPACT);
	if (!json)
		return;
	nown = alert_env(alert, env, 16);
	nenv = nown;
	for (char **e = environ; *e && nenv < 127; e++)
		env[nenv++] = *e;
	env[nenv] = NULL;
	len = strlen(json);
	/* The JSON fits in the pipe's buffer, so writing it here never blocks. */
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_warn("--alert-exec: pipe");
		goto out;
	}
	if (len + 1 < 65536) {
		json[len] = '\n';
		if (write(pipefd[1], json, len + 1) < 0)
			log_warn("--alert-exec: writing the alert");
	}
	close(pipefd[1]);
	pid = fork();
	if (pid < 0) {
		log_warn("--alert-exec: fork");
	} else if (pid == 0) {
		/* The watchdog. */
		sigset_t none;
		struct timespec nap = {0, 10 * 1000 * 1000};
		int status, waited = 0;
		pid_t child;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		child = fork();
		if (child == 0) {
			setpgid(0, 0);
			if (dup2(pipefd[0], STDIN_FILENO) < 0)
				_exit(126);
			execve(argv[0], argv, env);
			_exit(127);
		}
		if (child < 0)
			_exit(1);
		for (;;) {
			pid_t r = waitpid(child, &status, WNOHANG);

			if (r == child)
				break;
			if (r < 0 && errno != EINTR)
				_exit(1);
			if (waited >= timeout_ms) {
				kill(-child, SIGKILL);
				kill(child, SIGKILL);
				say("--alert-exec command timed out and was killed: ", cmd);
				waitpid(child, &status, 0);
				_exit(1);
			}
			nanosleep(&nap, NULL);
			waited += 10;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			say("--alert-exec command failed: ", cmd);
		_exit(0);
	}
	close(pipefd[0]);
out:
	for (int i = 0; i < nown; i++)
		free(env[i]);
	free(json);
}
