/*
 * jattach.c - ask a HotSpot JVM for a thread dump, the way jcmd does.
 *
 * HotSpot's attach mechanism on Linux: if the JVM's socket
 * /tmp/.java_pid<PID> (in the JVM's own /tmp and pid namespace) does not
 * exist yet, create the file .attach_pid<PID> in its working directory (or
 * its /tmp) and send it SIGQUIT; the JVM's signal thread sees the file,
 * starts the attach listener and creates the socket.  Then connect and
 * send protocol version "1", the command and three arguments, each
 * NUL-terminated; the JVM answers with a result code line and the output.
 * The JVM only serves peers with its own uid (or root).
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

#include "jattach.h"

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

/*
 * Whether PID can be asked safely: SIGQUIT kills a process that does not
 * handle it, so it must be a HotSpot JVM (libjvm.so mapped) that was not
 * started with -Xrs (which leaves SIGQUIT to the default action).
 */
int jattach_check(pid_t pid, char *err, size_t errsize)
{
	char path[64], *buf = malloc(1 << 20);
	int jvm = 0, xrs = 0;
	size_t n = 0;
	ssize_t r;
	int fd;

	if (!buf)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		while (n < (1 << 20) - 1 && (r = read(fd, buf + n, (1 << 20) - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	buf[n] = '\0';
	jvm = strstr(buf, "/libjvm.so") != NULL;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		while (n < (1 << 20) - 1 && (r = read(fd, buf + n, (1 << 20) - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (!strcmp(buf + i, "-Xrs"))
			xrs = 1;
	free(buf);
	if (!jvm)
		snprintf(err, errsize, "PID %d is not a HotSpot JVM (no libjvm.so mapped); "
				       "its threads have no Java names", pid);
	else if (xrs)
		snprintf(err, errsize, "PID %d runs with -Xrs: SIGQUIT would end it, so it cannot "
				       "be asked for a thread dump", pid);
	return jvm && !xrs ? 0 : -1;
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

/* Run COMMAND in the JVM PID; *OUT receives its output (the caller frees). */
int jattach_run(pid_t pid, const char *command, char **out, char *err, size_t errsize)
{
	char sock[128], trigger[128], req[256], *buf;
	pid_t ns = jattach_nspid(pid);
	int64_t deadline;
	ssize_t len;
	int fd, n;

	if (jattach_stopped(pid)) {
		snprintf(err, errsize,
			 "PID %d is stopped (every thread in state T or t); "
			 "it cannot answer until it gets SIGCONT",
			 pid);
		return -1;
	}
	snprintf(sock, sizeof(sock), "/proc/%d/root/tmp/.java_pid%d", pid, ns);
	if ((fd = jattach_connect(sock)) < 0 && errno != ENOENT && errno != ECONNREFUSED) {
		snprintf(err, errsize, "cannot connect to PID %d's attach socket %s: %s%s", pid,
			 sock, strerror(errno),
			 errno == EAGAIN ? " (it takes no connections: is a thread held stopped?)"
					 : "");
		return -1;
	}
	if (fd < 0) {
		snprintf(trigger, sizeof(trigger), "/proc/%d/cwd/.attach_pid%d", pid, ns);
		int tf = open(trigger, O_CREAT | O_WRONLY | O_CLOEXEC, 0660);

		if (tf < 0) {
			snprintf(trigger, sizeof(trigger), "/proc/%d/root/tmp/.attach_pid%d", pid, ns);
			tf = open(trigger, O_CREAT | O_WRONLY | O_CLOEXEC, 0660);
		}
		if (tf < 0) {
			snprintf(err, errsize, "cannot create HotSpot's attach file for PID %d: %s",
				 pid, strerror(errno));
			return -1;
		}
		close(tf);
		if (kill(pid, SIGQUIT) < 0) {
			snprintf(err, errsize, "cannot signal PID %d: %s", pid, strerror(errno));
			unlink(trigger);
			return -1;
		}
		for (int i = 0; i < 250 && (fd = jattach_connect(sock)) < 0; i++) {
			struct timespec ts = {0, 20 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
		unlink(trigger);
		if (fd < 0) {
			snprintf(err, errsize, "PID %d did not open its attach socket within 5 s "
					       "(not a HotSpot JVM, or -XX:+DisableAttachMechanism)", pid);
			return -1;
		}
	}
	/*
	 * The JVM answers from its attach listener thread after a safepoint;
	 * a thread held stopped, or a hung JVM, would keep a blocking read
	 * waiting for ever, so the whole exchange has one deadline.
	 */
	deadline = jattach_now_ms() + JATTACH_ANSWER_MS;
	n = snprintf(req, sizeof(req), "1%c%s%c%c%c%c", 0, command, 0, 0, 0, 0);
	if (n <= 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errsize, "the JVM command %.64s is too long", command);
		close(fd);
		return -1;
	}
	if (jattach_send(fd, req, (size_t)n, deadline) < 0 ||
	    (len = jattach_recv(fd, &buf, deadline)) < 0) {
		if (errno == ETIMEDOUT)
			snprintf(err, errsize,
				 "PID %d did not answer %s within %d s on %s: a thread "
				 "held stopped (a debugger, SIGSTOP) or a hung JVM",
				 pid, command, JATTACH_ANSWER_MS / 1000, sock);
		else
			snprintf(err, errsize, "cannot ask PID %d for %s on %s: %s", pid, command,
				 sock, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (strncmp(buf, "0\n", 2)) {
		snprintf(err, errsize, "the JVM refused %s: %.200s", command, buf);
		free(buf);
		return -1;
	}
	memmove(buf, buf + 2, (size_t)len - 1);
	*out = buf;
	return 0;
}

/*
 * Parse a thread dump into THREADS: each header line '"name" ... nid=0x1f2e
 * ...' gives a name and native id; the "java.lang.Thread.State:" line that
 * follows (Java threads only) gives the state, else the header's last words.
 */
size_t jattach_parse(char *dump, struct jthread *threads, size_t max)
{
	size_t n = 0;

	for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
		char *nid, *end;

		if (line[0] == '"' && (end = strchr(line + 1, '"')) && (nid = strstr(end, " nid=0x")) &&
		    n < max) {
			struct jthread *t = &threads[n++];
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
		} else if (n && (nid = strstr(line, "java.lang.Thread.State: "))) {
			snprintf(threads[n - 1].state, sizeof(threads[n - 1].state), "%s", nid + 24);
		}
	}
	return n;
}
