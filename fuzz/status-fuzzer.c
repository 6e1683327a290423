/*
 * status-fuzzer.c - /proc/PID/status, as proc_status_scan() looks up a
 * field in it.  The input's first line is the field's name ("NStgid:"),
 * the rest the file.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char name[64], buf[128];
	size_t n = nl ? (size_t)(nl - (const char *)data) : size;
	FILE *f;

	if (!nl || n >= sizeof(name) || size - n - 1 == 0)
		return 0;
	memcpy(name, data, n);
	name[n] = '\0';
	if (!(f = fmemopen((void *)(nl + 1), size - n - 1, "r")))
		return 0;
	memset(buf, 'x', sizeof(buf));
	if (proc_status_scan(f, name, buf, sizeof(buf)) == 0)
		assert(memchr(buf, '\0', sizeof(buf)) && !strchr(buf, '\n'));
	fclose(f);
	return 0;
}
