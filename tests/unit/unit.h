/* unit.h - Check suites of the libtrace unit tests, one per module. */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>

Suite *maps_suite(void);
Suite *ring_suite(void);
Suite *util_suite(void);
Suite *syscalls_suite(void);
Suite *procmaps_suite(void);
Suite *proto_suite(void);
Suite *jvm_suite(void);
Suite *alert_suite(void);
Suite *stamps_suite(void);
Suite *trend_suite(void);

#endif
