/*
 * config-fuzzer.c - memtraced's config file (memtraced.conf(5)), read by
 * options_config() as options_parse() reads --config: accepted or refused
 * with a message, never an exit.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct options o;
	char err[512] = "";
	int ret = options_config(&o, (const char *)data, size, "fuzz.conf", err, sizeof(err));

	if (ret < 0)
		assert((ret == -EXIT_USAGE || ret == -EXIT_SETUP) && err[0]);
	else
		assert(ret == 0 && o.cfg.stack_depth <= MT_STACK_MAX &&
		       o.ring_events <= (1ull << 27));
	options_free(&o);
	return 0;
}
