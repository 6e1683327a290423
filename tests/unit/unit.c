/* unit.c - run every libtrace unit suite; exit 0 only when all pass. */
#include <stdlib.h>

#include "unit.h"

int main(void)
{
	SRunner *sr = srunner_create(maps_suite());
	srunner_add_suite(sr, ring_suite());
	srunner_add_suite(sr, util_suite());
	srunner_add_suite(sr, syscalls_suite());
	srunner_add_suite(sr, procmaps_suite());
	srunner_add_suite(sr, proto_suite());
	srunner_add_suite(sr, jvm_suite());
	srunner_add_suite(sr, alert_suite());
	srunner_add_suite(sr, stamps_suite());
	srunner_add_suite(sr, trend_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
