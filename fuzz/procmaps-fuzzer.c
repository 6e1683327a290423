/*
 * procmaps-fuzzer.c - lines of /proc/PID/maps, as procmaps_parse_line()
 * reads them (one call per line of the input).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct procmaps_region r;
	char *text = malloc(size + 1), *line, *next;

	assert(text);
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (procmaps_parse_line(line, &r) < 0)
			continue;
		assert(r.start < r.end);
		assert(!(r.prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)));
		assert(strlen(r.path) < sizeof(r.path) && !strchr(r.path, '\n'));
	}
	free(text);
	return 0;
}
