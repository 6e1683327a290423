/*
 * glibc-fuzzer.c - the checks attach's seeding makes on bytes read from
 * the target to split merged regions: a glibc arena heap's header
 * (account_glibc_heap) and an mmapped block's chunk header
 * (account_glibc_block).  The input is little-endian words: the address,
 * the region's end, then the header words.
 */
#include <assert.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t w[6] = {0}, len;

	if (!page_size)
		page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	memcpy(w, data, size < sizeof(w) ? size : sizeof(w));
	len = account_glibc_block(&w[2], w[0], w[1]);
	/* A block found lies inside the region, whole pages of it. */
	if (len)
		assert(w[0] < w[1] && len <= w[1] - w[0] && len % page_size == 0);
	/* A heap found is committed within its region, at most 64 MiB. */
	if (account_glibc_heap(&w[2], w[0], w[1]))
		assert(w[0] < w[1] && w[4] <= w[1] - w[0] && w[5] <= (64ull << 20));
	return 0;
}
