/*
 * stamps-fuzzer.c - target memory as mt_find_stamps() reads it for
 * timestamps (memtracectl peek).  Every stamp found lies inside the bytes,
 * in offset order, and names a time from 2010 on.
 */
#include <assert.h>

#include "libtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000 /* 2023-11-14, fixed so that runs repeat */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_stamp st[16];
	size_t n = mt_find_stamps(data, size, NOW, st, 16);

	for (size_t i = 0; i < n && i < 16; i++) {
		assert(st[i].off < size && st[i].len <= size - st[i].off);
		assert(!i || st[i].off > st[i - 1].off);
		assert(st[i].ms >= 1262304000000LL && st[i].how);
	}
	return 0;
}
