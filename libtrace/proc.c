/*
 * proc.c - small readers of /proc/PID files about the target.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Read /proc/PID/NAME into BUF (NUL-terminated); returns the length or -errno. */
ssize_t proc_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * Read field NAME ("TracerPid:") of the status file F into BUF, without the
 * leading blanks; 0, or -ENOENT when there is no such field.
 */
int proc_status_scan(FILE *f, const char *name, char *buf, size_t size)
{
	char line[256];
	size_t n = strlen(name);

	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n))
			continue;
		char *v = line + n;

		while (isspace((unsigned char)*v))
			v++;
		v[strcspn(v, "\n")] = '\0';
		snprintf(buf, size, "%s", v);
		return 0;
	}
	return -ENOENT;
}

/*
 * Read field NAME ("TracerPid:") of /proc/PID/status into BUF, without the
 * leading blanks; 0, -ENOENT when there is no such field, or -errno.
 */
int proc_status_field(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	int found;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	found = proc_status_scan(f, name, buf, size);
	fclose(f);
	return found;
}

/* Whether task TID has exited (a zombie, or dead and gone). */
int proc_task_gone(pid_t tid)
{
	char buf[512], *paren;

	if (proc_read(tid, "stat", buf, sizeof(buf)) <= 0 || !(paren = strrchr(buf, ')')))
		return 1;
	return paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X';
}

/*
 * Whether PRED(TID, ARG) holds for every live thread of process PID (a
 * zombie or dead thread is passed over); GONE when the process's task
 * directory cannot be read.
 */
int proc_tasks_all(pid_t pid, int (*pred)(pid_t tid, void *arg), void *arg, int gone)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int ok = 1;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return gone;
	while (ok && (d = readdir(dir))) {
		pid_t tid = (pid_t)atoi(d->d_name);

		if (tid > 0 && !proc_task_gone(tid) && !pred(tid, arg))
			ok = 0;
	}
	closedir(dir);
	return ok;
}

/* Whether TID has a tracer; a proc_tasks_all() predicate. */
static int task_traced(pid_t tid, void *arg)
{
	(void)arg;
	return proc_status_number(tid, "TracerPid:", 10, 0) > 0;
}

/* Whether every live thread of PID has a tracer (1 when PID is gone). */
int proc_all_traced(pid_t pid)
{
	return proc_tasks_all(pid, task_traced, NULL, 1);
}

/*
 * A pid whose /proc files and memory are process PID's: PID itself, or a
 * live thread of it once its leader has left with pthread_exit() (a zombie
 * leader has no address space: empty maps and cmdline, no memory to read).
 * PID when none is found.  Any thread may call this.
 */
pid_t proc_mm_pid(pid_t pid)
{
	char path[64];
	struct dirent *d;
	pid_t found = pid;
	DIR *dir;

	if (!proc_task_gone(pid))
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return pid;
	while ((d = readdir(dir))) {
		pid_t tid = (pid_t)atoi(d->d_name);

		if (tid > 0 && tid != pid && !proc_task_gone(tid)) {
			found = tid;
			break;
		}
	}
	closedir(dir);
	return found;
}

/* Find NAME=value in a NUL-separated environment block; NULL when absent. */
const char *proc_env_get(const char *env, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, name, n) && p[n] == '=')
			return p + n + 1;
	return NULL;
}

/* The memory limit of PID's cgroup (v2 memory.max), or 0 when none. */
uint64_t proc_cgroup_limit(pid_t pid)
{
	char cg[512], path[700], val[64];
	unsigned long long v;
	FILE *f;

	if (proc_read(pid, "cgroup", cg, sizeof(cg)) <= 0 || strncmp(cg, "0::", 3))
		return 0;
	cg[strcspn(cg, "\n")] = '\0';
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", cg + 3);
	if (!(f = fopen(path, "re")))
		return 0;
	if (!fgets(val, sizeof(val), f) || sscanf(val, "%llu", &v) != 1)
		v = 0; /* "max" */
	fclose(f);
	return v;
}

/* Field NAME of /proc/PID/status as a number in BASE; DFL when absent. */
unsigned long long proc_status_number(pid_t pid, const char *name, int base,
				      unsigned long long dfl)
{
	char buf[64];

	if (proc_status_field(pid, name, buf, sizeof(buf)) < 0)
		return dfl;
	return strtoull(buf, NULL, base);
}
