/* unit.h - Check suites of the libtrace unit tests, one per module. */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>

/* Every suite, listed once: X(NAME) for a NAME_suite() in test_NAME.c. */
#define UNIT_SUITES(X)                                                                             \
	X(maps)                                                                                    \
	X(ring)                                                                                    \
	X(util)                                                                                    \
	X(syscalls)                                                                                \
	X(procmaps)                                                                                \
	X(proto)                                                                                   \
	X(jvm)                                                                                     \
	X(alert)                                                                                   \
	X(stamps)                                                                                  \
	X(hotspot)                                                                                 \
	X(trend)                                                                                   \
	X(inject)                                                                                  \
	X(timeline)                                                                                \
	X(html)                                                                                    \
	X(arena)                                                                                   \
	X(task)                                                                                    \
	X(stop)                                                                                    \
	X(account)                                                                                 \
	X(filter)                                                                                  \
	X(stacks)                                                                                  \
	X(symbols)                                                                                 \
	X(sites)                                                                                   \
	X(tmem)

#define UNIT_DECLARE(name) Suite *name##_suite(void);
UNIT_SUITES(UNIT_DECLARE)

#endif
