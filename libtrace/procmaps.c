/*
 * procmaps.c - parsing /proc/PID/maps.
 *
 * Lines look like "7f46...-7f47... rw-p 00000000 00:00 0    [heap]"; the
 * path column is optional and may contain spaces (and " (deleted)").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "procmaps.h"

/* Parse one maps line. */
int procmaps_parse_line(const char *line, struct procmaps_region *r)
{
	char perms[5];
	unsigned dev_major, dev_minor;
	int pos = 0;
	const char *path;
	size_t n;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n", &r->start,
		   &r->end, perms, &r->offset, &dev_major, &dev_minor, &r->inode, &pos) != 7 ||
	    r->end <= r->start || strlen(perms) != 4)
		return -EINVAL;
	r->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	r->shared = perms[3] == 's';
	for (path = line + pos; *path == ' ' || *path == '\t'; path++)
		;
	n = strcspn(path, "\n");
	if (n >= sizeof(r->path))
		n = sizeof(r->path) - 1;
	memcpy(r->path, path, n);
	r->path[n] = '\0';
	/* [vdso] and [vvar] are kernel pages, not anonymous memory of the target. */
	r->anon = r->inode == 0 &&
		  (r->path[0] == '\0' || !strcmp(r->path, "[heap]") ||
		   !strncmp(r->path, "[stack", 6) || !strncmp(r->path, "[anon", 5));
	return 0;
}

/* Walk /proc/PID/maps. */
int procmaps_read(pid_t pid, int (*fn)(const struct procmaps_region *r, void *arg), void *arg)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	struct procmaps_region *r;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	r = malloc(sizeof(*r));
	if (!r) {
		fclose(f);
		return -ENOMEM;
	}
	while (!ret && getline(&line, &cap, f) > 0)
		if (procmaps_parse_line(line, r) == 0)
			ret = fn(r, arg);
	free(r);
	free(line);
	fclose(f);
	return ret;
}
