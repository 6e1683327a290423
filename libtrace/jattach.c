/*
 * jattach.c - ask a HotSpot JVM for a thread dump, the way jcmd does; the
 * daemon learns Java thread names from it (jnames.c), memtracectl's
 * "threads --java" their states.
 *
 * HotSpot's attach mechanism on Linux: if the JVM's socket
 * /tmp/.java_pid<PID> (in the JVM's own /tmp and pid namespace) does not
 * exist yet, create the file .attach_pid<PID> in its working directory (or
 * its /tmp) and send it SIGQUIT; the JVM's signal thread sees the file,
 * starts the attach listener (a thread, "Attach Listener") and creates the
 * socket, which stays for the JVM's life.  Then connect and send protocol
 * version "1", the command and three arguments, each NUL-terminated; the
 * JVM answers with a result code line and the output.  The JVM only serves
 * peers with its own uid (or root).
 *
 * SIGQUIT is only sent when it cannot hurt: the process maps libjvm.so,
 * catches SIGQUIT (SigCgt; a JVM that has not installed its handler yet,
 * or runs with -Xrs, would die of it), has its "Signal Dispatcher" thread,
 * and was not started with -XX:+DisableAttachMechanism (which makes the
 * SIGQUIT print a thread dump on the JVM's stdout instead).  A JVM that
 * does not open its socket after one SIGQUIT is not sent another by the
 * daemon (-EPERM).
 *
 * Under memtraced the SIGQUIT passes through to the JVM as any signal does,
 * and the dump waits for a safepoint, which our short stops never hold up;
 * a JVM that is stopped (group-stop) cannot answer, so it is refused.  Any
 * other reason for silence (a thread held in a debugger, a hung JVM) meets
 * a deadline: every socket operation is non-blocking and polled.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define JATTACH_SETTLE_MS 200	/* stopped: every thread in T or t this long */
#define JATTACH_ANSWER_MS 10000 /* the JVM's whole answer, from the connect on */

/* The pid of PID inside its own namespace (last field of NSpid). */
static pid_t jattach_nspid(pid_t pid)
{
	char path[64], line[256];
	pid_t ns = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return pid;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		char *last = strrchr(line, '\t');

		if (last)
			ns = (pid_t)atoi(last + 1);
	}
	fclose(f);
	return ns;
}

/* The state letter of thread TID of PID, or 0 when it is gone. */
static char jattach_task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Whether every live thread of PID is stopped now (state T or t). */
static int jattach_all_stopped(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int stopped = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char st;

		if (e->d_name[0] == '.' || !(st = jattach_task_state(pid, (pid_t)atoi(e->d_name))))
			continue;
		if (st == 'Z' || st == 'X') /* exited, not yet reaped */
			continue;
		stopped = st == 'T' || st == 't';
		if (!stopped)
			break;
	}
	closedir(d);
	return stopped;
}

/*
 * Whether PID is stopped (SIGSTOP, SIGTSTP, ...).  Untraced, a group-stop
 * shows as T; under ptrace (memtraced) it shows as t, the tracing stop, as
 * every stop of a traced task does since Linux 3.1.  A traced thread also
 * passes through t for microseconds at each of its syscall stops, so one
 * look is not enough: PID is stopped when all its threads stay in T or t
 * for JATTACH_SETTLE_MS.  A running JVM has threads sleeping in S, so the
 * usual answer comes from the first look.
 */
static int jattach_stopped(pid_t pid)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	for (int ms = 0; ms < JATTACH_SETTLE_MS; ms += 10) {
		if (!jattach_all_stopped(pid))
			return 0;
		nanosleep(&ts, NULL);
	}
	return jattach_all_stopped(pid);
}

/* Apply the JVM option W to *XRS (SIGQUIT left to its default) and *NOATTACH. */
static void jattach_flag(const char *w, int *xrs, int *noattach)
{
	if (!strcmp(w, "-Xrs") || !strcmp(w, "-XX:+ReduceSignalUsage"))
		*xrs = 1;
	else if (!strcmp(w, "-XX:-ReduceSignalUsage"))
		*xrs = 0;
	else if (!strcmp(w, "-XX:+DisableAttachMechanism"))
		*noattach = 1;
	else if (!strcmp(w, "-XX:-DisableAttachMechanism"))
		*noattach = 0;
}

/* Apply each blank-separated word of OPTS (may be NULL) with jattach_flag(). */
static void jattach_flags_in(const char *opts, int *xrs, int *noattach)
{
	char w[128];

	while (opts && *opts) {
		size_t n = strcspn(opts, " \t\n\r");

		if (n && n < sizeof(w)) {
			memcpy(w, opts, n);
			w[n] = '\0';
			jattach_flag(w, xrs, noattach);
		}
		opts += n;
		opts += strspn(opts, " \t\n\r");
	}
}

/*
 * Apply the words of the file PATH as PID sees it (an @argfile of the java
 * launcher, a -XX:VMOptionsFile=) with jattach_flags_in(); BUF has SIZE bytes.
 */
static void jattach_flags_file(pid_t pid, const char *path, char *buf, size_t size, int *xrs,
			       int *noattach)
{
	char name[4200];
	size_t n = 0;
	ssize_t r;
	int fd;

	snprintf(name, sizeof(name), "/proc/%d/%s/%s", pid, path[0] == '/' ? "root" : "cwd", path);
	if ((fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return;
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++) /* quotes and newlines separate words as blanks do */
		if (buf[i] == '"' || buf[i] == '\'' || buf[i] == '\r')
			buf[i] = ' ';
	jattach_flags_in(buf, xrs, noattach);
}

/* Whether PID maps HotSpot's libjvm.so. */
static int jattach_maps_jvm(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int jvm = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (!jvm && getline(&line, &cap, f) > 0)
		jvm = strstr(line, "/libjvm.so\n") != NULL;
	free(line);
	fclose(f);
	return jvm;
}

/*
 * Whether PID can be asked: it must be a HotSpot JVM (libjvm.so mapped,
 * else -ENOEXEC) whose options, as the JVM reads them (JAVA_TOOL_OPTIONS,
 * JDK_JAVA_OPTIONS, the command line with its @argfiles and
 * -XX:VMOptionsFile=, _JAVA_OPTIONS; the last word wins) leave SIGQUIT
 * handled (not -Xrs) and attaching allowed (not
 * -XX:+DisableAttachMechanism); else -EPERM.  Arguments of the program
 * itself are read as options too, which can only refuse a JVM that would
 * have answered.
 */
int mt_jattach_check(pid_t pid, char *err, size_t errsize)
{
	const size_t size = 1 << 20;
	char *buf, *file;
	int xrs = 0, noattach = 0;
	ssize_t n;

	if (!jattach_maps_jvm(pid)) {
		snprintf(err, errsize, "PID %d is not a HotSpot JVM (no libjvm.so mapped); "
				       "its threads have no Java names", pid);
		return -ENOEXEC;
	}
	buf = malloc(size);
	file = malloc(size);
	if (!buf || !file) {
		free(buf);
		free(file);
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	if ((n = proc_read(pid, "environ", buf, size)) > 0) {
		jattach_flags_in(proc_env_get(buf, (size_t)n, "JAVA_TOOL_OPTIONS"), &xrs, &noattach);
		jattach_flags_in(proc_env_get(buf, (size_t)n, "JDK_JAVA_OPTIONS"), &xrs, &noattach);
	}
	if ((n = proc_read(pid, "cmdline", buf, size)) > 0)
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
			const char *w = buf + i;

			if (w[0] == '@' && w[1] && w[1] != '@')
				jattach_flags_file(pid, w + 1, file, size, &xrs, &noattach);
			else if (!strncmp(w, "-XX:VMOptionsFile=", 18))
				jattach_flags_file(pid, w + 18, file, size, &xrs, &noattach);
			else
				jattach_flag(w, &xrs, &noattach);
		}
	if ((n = proc_read(pid, "environ", buf, size)) > 0)
		jattach_flags_in(proc_env_get(buf, (size_t)n, "_JAVA_OPTIONS"), &xrs, &noattach);
	free(buf);
	free(file);
	if (xrs)
		snprintf(err, errsize, "PID %d runs with -Xrs: SIGQUIT would end it, so it cannot "
				       "be asked for a thread dump", pid);
	else if (noattach)
		snprintf(err, errsize, "PID %d runs with -XX:+DisableAttachMechanism: it takes "
				       "no attach requests", pid);
	return xrs || noattach ? -EPERM : 0;
}

/*
 * Whether PID is ready for the SIGQUIT that starts its attach listener: it
 * catches SIGQUIT (a JVM installs its handler early in its start, and a
 * SIGQUIT before that would end it) and its "Signal Dispatcher" thread,
 * which looks for the .attach_pid file, runs.
 */
static int jattach_quit_ready(pid_t pid)
{
	char cgt[64], path[64], comm[32];
	unsigned long long mask;
	struct dirent *e;
	int found = 0;
	DIR *d;

	if (proc_status_field(pid, "SigCgt:", cgt, sizeof(cgt)) < 0 ||
	    sscanf(cgt, "%llx", &mask) != 1 || !(mask & (1ull << (SIGQUIT - 1))))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "task/%.16s/comm", e->d_name);
		found = proc_read(pid, path, comm, sizeof(comm)) > 0 &&
			!strcmp(comm, "Signal Dispatch\n");
	}
	closedir(d);
	return found;
}

/* Monotonic milliseconds. */
static int64_t jattach_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until FD is ready for EVENTS or DEADLINE (ms) passes; 0, or -1 with errno. */
static int jattach_poll(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left;
	int r;

	do {
		left = deadline - jattach_now_ms();
		r = poll(&p, 1, left > 0 ? (int)left : 0);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

/*
 * Connect to the JVM's attach socket at PATH, non-blocking; the fd, or -1
 * with errno (ENOENT or ECONNREFUSED: no listener; EAGAIN: one that does
 * not accept, its backlog full).
 */
static int jattach_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, saved;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Send LEN bytes of BUF on FD before DEADLINE; 0, or -1 with errno. */
static int jattach_send(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n;

		if (jattach_poll(fd, POLLOUT, deadline) < 0)
			return -1;
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read FD to its end before DEADLINE into *OUT (the caller frees); its length, or -1 with errno. */
static ssize_t jattach_recv(int fd, char **out, int64_t deadline)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nb;
	int saved;

	if (!buf)
		return -1;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			if (!(nb = realloc(buf, cap * 2)))
				goto free_buf;
			buf = nb;
			cap *= 2;
		}
		if (jattach_poll(fd, POLLIN, deadline) < 0)
			goto free_buf;
		if ((n = read(fd, buf + len, cap - len - 1)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			goto free_buf;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
free_buf:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

/*
 * Run COMMAND in the JVM PID: an attach command ("threaddump"), or one and
 * its argument after the first blank ("jcmd Compiler.perfmap", as jcmd
 * sends a diagnostic command); *OUT receives its output (the caller frees).
 * 0, or with ERR set: -EAGAIN (stopped, or not ready for SIGQUIT yet: ask
 * later), -EPERM (no attach socket after SIGQUIT: attaching is off; do not
 * send another), -EPROTO (the JVM refused COMMAND), -ETIMEDOUT or another
 * -errno of the exchange.
 */
int mt_jattach_run(pid_t pid, const char *command, char **out, char *err, size_t errsize)
{
	char sock[128], trigger[128], req[256], *buf;
	const char *arg = strchr(command, ' ');
	int cmdlen = arg ? (int)(arg - command) : (int)strlen(command);
	pid_t ns = jattach_nspid(pid);
	int64_t deadline;
	ssize_t len;
	int fd, n, e;

	if (jattach_stopped(pid)) {
		snprintf(err, errsize,
			 "PID %d is stopped (every thread in state T or t); "
			 "it cannot answer until it gets SIGCONT",
			 pid);
		return -EAGAIN;
	}
	snprintf(sock, sizeof(sock), "/proc/%d/root/tmp/.java_pid%d", pid, ns);
	if ((fd = jattach_connect(sock)) < 0 && errno != ENOENT && errno != ECONNREFUSED) {
		e = errno;
		snprintf(err, errsize, "cannot connect to PID %d's attach socket %s: %s%s", pid,
			 sock, strerror(e),
			 e == EAGAIN ? " (it takes no connections: is a thread held stopped?)" : "");
		return -e;
	}
	if (fd < 0) {
		if (!jattach_quit_ready(pid)) {
			snprintf(err, errsize, "PID %d does not handle SIGQUIT yet (a JVM still "
					       "starting?): not signalled", pid);
			return -EAGAIN;
		}
		snprintf(trigger, sizeof(trigger), "/proc/%d/cwd/.attach_pid%d", pid, ns);
		int tf = open(trigger, O_CREAT | O_WRONLY | O_CLOEXEC, 0660);

		if (tf < 0) {
			snprintf(trigger, sizeof(trigger), "/proc/%d/root/tmp/.attach_pid%d", pid, ns);
			tf = open(trigger, O_CREAT | O_WRONLY | O_CLOEXEC, 0660);
		}
		if (tf < 0) {
			e = errno;
			snprintf(err, errsize, "cannot create HotSpot's attach file for PID %d: %s",
				 pid, strerror(e));
			return -e;
		}
		close(tf);
		if (kill(pid, SIGQUIT) < 0) {
			e = errno;
			snprintf(err, errsize, "cannot signal PID %d: %s", pid, strerror(e));
			unlink(trigger);
			return -e;
		}
		for (int i = 0; i < 250 && (fd = jattach_connect(sock)) < 0; i++) {
			struct timespec ts = {0, 20 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
		unlink(trigger);
		if (fd < 0) {
			snprintf(err, errsize, "PID %d did not open its attach socket within 5 s "
					       "(not a HotSpot JVM, or -XX:+DisableAttachMechanism)", pid);
			return -EPERM;
		}
	}
	/*
	 * The JVM answers from its attach listener thread after a safepoint;
	 * a thread held stopped, or a hung JVM, would keep a blocking read
	 * waiting for ever, so the whole exchange has one deadline.
	 */
	deadline = jattach_now_ms() + JATTACH_ANSWER_MS;
	/* Protocol "1", the command and three arguments, each NUL-terminated. */
	n = snprintf(req, sizeof(req), "1%c%.*s%c%s%c%c%c", 0, cmdlen, command, 0,
		     arg ? arg + 1 : "", 0, 0, 0);
	if (n <= 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errsize, "the JVM command %.64s is too long", command);
		close(fd);
		return -EINVAL;
	}
	if (jattach_send(fd, req, (size_t)n, deadline) < 0 ||
	    (len = jattach_recv(fd, &buf, deadline)) < 0) {
		e = errno;
		if (e == ETIMEDOUT)
			snprintf(err, errsize,
				 "PID %d did not answer %s within %d s on %s: a thread "
				 "held stopped (a debugger, SIGSTOP) or a hung JVM",
				 pid, command, JATTACH_ANSWER_MS / 1000, sock);
		else
			snprintf(err, errsize, "cannot ask PID %d for %s on %s: %s", pid, command,
				 sock, strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	if (strncmp(buf, "0\n", 2)) {
		snprintf(err, errsize, "the JVM refused %s: %.200s", command, buf);
		free(buf);
		return -EPROTO;
	}
	memmove(buf, buf + 2, (size_t)len - 1);
	*out = buf;
	return 0;
}

/* The last occurrence of NEEDLE in [FROM, TO), or NULL. */
static char *jattach_last(char *from, char *to, const char *needle)
{
	size_t n = strlen(needle);

	for (char *p = to - n; p >= from; p--)
		if (!memcmp(p, needle, n))
			return p;
	return NULL;
}

/*
 * The closing quote of the name in header line LINE, whose " nid=0x" is at
 * NID: the last '"' before NID that the header's fields follow (" #12",
 * " daemon", " prio=", " os_prio="), so a name may hold quotes itself.
 */
static char *jattach_name_end(char *line, char *nid)
{
	static const char *const next[] = {" #", " daemon", " prio=", " os_prio=", " nid="};

	for (char *q = nid - 1; q > line; q--) {
		if (*q != '"')
			continue;
		for (size_t k = 0; k < sizeof(next) / sizeof(next[0]); k++)
			if (!strncmp(q + 1, next[k], strlen(next[k])))
				return q;
	}
	return NULL;
}

/*
 * Parse a thread dump into THREADS: each header line '"name" ... nid=0x1f2e
 * ...' gives a name and native id; the "java.lang.Thread.State:" line that
 * follows (Java threads only) gives the state, else the header's last words.
 */
size_t mt_jattach_parse(char *dump, struct mt_jthread *threads, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *line = strtok_r(dump, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *nid, *end;

		if (line[0] == '"' && n < max &&
		    (nid = jattach_last(line, line + strlen(line), " nid=0x")) &&
		    (end = jattach_name_end(line, nid))) {
			struct mt_jthread *t = &threads[n++];
			char *after;

			*end = '\0';
			snprintf(t->name, sizeof(t->name), "%s", line + 1);
			t->tid = (pid_t)strtol(nid + 7, &after, 16);
			while (*after == ' ')
				after++;
			snprintf(t->state, sizeof(t->state), "%s", after);
			t->state[strcspn(t->state, "[")] = '\0';
			for (size_t k = strlen(t->state); k && t->state[k - 1] == ' '; k--)
				t->state[k - 1] = '\0';
		} else if (n && line[0] != '"' && (nid = strstr(line, "java.lang.Thread.State: "))) {
			snprintf(threads[n - 1].state, sizeof(threads[n - 1].state), "%s", nid + 24);
		}
	}
	return n;
}
