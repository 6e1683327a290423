/*
 * perfmap-fuzzer.c - a JVM's /tmp/perf-PID.map, as sym_perf_map_scan()
 * looks up a pc in it.  The input's first 8 bytes are the pc (little
 * endian), the rest the file.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t pc;
	char buf[256];
	FILE *f;

	if (size <= sizeof(pc))
		return 0;
	memcpy(&pc, data, sizeof(pc));
	if (!(f = fmemopen((void *)(data + sizeof(pc)), size - sizeof(pc), "r")))
		return 0;
	if (sym_perf_map_scan(f, pc, buf, sizeof(buf)) == 0)
		assert(strstr(buf, " [jit]") || strlen(buf) == sizeof(buf) - 1);
	fclose(f);
	return 0;
}
