/* unit.c - run every libtrace unit suite; exit 0 only when all pass. */
#include <stdlib.h>

#include "unit.h"

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define UNIT_ADD(name) srunner_add_suite(sr, name##_suite());
	UNIT_SUITES(UNIT_ADD)
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
