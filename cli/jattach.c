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
 * a JVM that is stopped (group-stop) cannot answer, so it is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jattach.h"

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

/* Whether PID is stopped (state T). */
static int jattach_stopped(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');

	return p && p[1] == ' ' && p[2] == 'T';
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

/* Connect to the JVM's attach socket at PATH; -1 when it is not there. */
static int jattach_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Run COMMAND in the JVM PID; *OUT receives its output (the caller frees). */
int jattach_run(pid_t pid, const char *command, char **out, char *err, size_t errsize)
{
	char sock[128], trigger[128];
	pid_t ns = jattach_nspid(pid);
	size_t len = 0, cap = 65536;
	char *buf;
	int fd, made = 0;

	if (jattach_stopped(pid)) {
		snprintf(err, errsize, "PID %d is stopped; it cannot answer until it gets SIGCONT", pid);
		return -1;
	}
	snprintf(sock, sizeof(sock), "/proc/%d/root/tmp/.java_pid%d", pid, ns);
	if ((fd = jattach_connect(sock)) < 0) {
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
		made = 1;
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
	(void)made;
	{
		char req[256];
		int n = snprintf(req, sizeof(req), "1%c%s%c%c%c%c", 0, command, 0, 0, 0, 0);

		if (n <= 0 || write(fd, req, (size_t)n) != n) {
			snprintf(err, errsize, "cannot send to the JVM: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (!(buf = malloc(cap))) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "0\n", 2)) {
		snprintf(err, errsize, "the JVM refused %s: %.200s", command, buf);
		free(buf);
		return -1;
	}
	memmove(buf, buf + 2, len - 1);
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
