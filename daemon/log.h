/*
 * log.h - the daemon's logging: stderr, with a level filter.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void log_init(int verbose);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct json_t;
/* Log an alert object (mt_proto_alert) to stderr and the journal. */
void log_alert(struct json_t *alert);
/* Log and exit with status CODE. */
void fatalx(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
