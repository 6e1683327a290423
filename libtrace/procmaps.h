/*
 * procmaps.h - parsing /proc/PID/maps.
 */
#ifndef PROCMAPS_H
#define PROCMAPS_H

#include <stdint.h>
#include <sys/types.h>

struct procmaps_region {
	uint64_t start, end;
	int prot;	     /* PROT_* from the rwx columns */
	int shared;	     /* 's' in the fourth column */
	int anon;	     /* no backing file (inode 0, not a special [name] but [heap]/[stack]) */
	uint64_t offset, inode;
	char path[4096];     /* may be empty; special regions look like "[heap]" */
};

/* Parse one line of /proc/PID/maps into *R; 0 or -EINVAL. */
int procmaps_parse_line(const char *line, struct procmaps_region *r);
/*
 * Call FN for each region of /proc/PID/maps in address order; stops at the
 * first non-zero return and returns it.  -errno when the file cannot be read.
 */
int procmaps_read(pid_t pid, int (*fn)(const struct procmaps_region *r, void *arg), void *arg);

#endif
