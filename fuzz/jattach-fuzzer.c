/*
 * jattach-fuzzer.c - a HotSpot thread dump, as mt_jattach_parse() reads it
 * for Java thread names.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mt_jthread jt[64];
	char *dump = malloc(size + 1);
	size_t n;

	assert(dump);
	memcpy(dump, data, size);
	dump[size] = '\0';
	n = mt_jattach_parse(dump, jt, 64);
	assert(n <= 64);
	for (size_t i = 0; i < n; i++)
		assert(memchr(jt[i].name, '\0', sizeof(jt[i].name)) &&
		       memchr(jt[i].state, '\0', sizeof(jt[i].state)));
	free(dump);
	return 0;
}
