/*
 * cmds.c - the protocol's schema: every command with its arguments, their
 * kinds and help (mt_cmds), and the check of a request against it.  The
 * daemon's handlers are apart, in proto.c, so that memtracectl reads the
 * schema without linking the tracer.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The alert levels' names, as the protocol writes them. */
static const char *const level_names[] = {"ok", "warn", "crit"};

/* Return the name of LEVEL. */
const char *mt_level_name(enum mt_level level)
{
	return (unsigned)level <= MT_LEVEL_CRIT ? level_names[level] : "?";
}

/* Return the level called NAME, or -1. */
int mt_level_from_name(const char *name)
{
	for (int i = 0; i <= MT_LEVEL_CRIT; i++)
		if (!strcmp(level_names[i], name))
			return i;
	return -1;
}

/* The most a "limit" may ask for. */
#define LIMIT_MAX 100000

/* Length of the valid UTF-8 sequence at P (at most LEFT bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * S as a JSON string.  Names from the target (its command line, thread
 * names cut at 15 bytes by the kernel, file and symbol names) need not be
 * UTF-8, which JSON must be: each byte that is not part of a valid
 * sequence becomes U+FFFD, so the text is shown, never dropped.
 */
json_t *mt_json_text(const char *s)
{
	size_t len = strlen(s), n = 0;
	const unsigned char *p = (const unsigned char *)s;
	json_t *j = json_stringn(s, len);
	char *buf;

	if (j)
		return j;
	if (!(buf = malloc(3 * len + 1)))
		return json_string("");
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(p + i, len - i);

		if (k) {
			memcpy(buf + n, p + i, k);
			n += k;
			i += k;
		} else {
			memcpy(buf + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	j = json_stringn(buf, n);
	free(buf);
	return j ? j : json_string("");
}

/* An error answer. */
json_t *mt_proto_error(const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote client input and may cut it mid-character. */
	return json_pack("{s:b,s:{s:s,s:o}}", "ok", 0, "error", "code", code, "message",
			 mt_json_text(msg));
}

/* The size classes, and "direct": direct memory of any size. */
static const char *const class_values[] = {"small", "chunk", "large", "direct", NULL};
static const char *const sort_values[] = {"size", "age", "address", NULL};
static const char *const sys_values[] = {"mmap", "munmap", "mremap", "mprotect", "brk", NULL};

static const struct mt_arg no_args[] = {{NULL, 0, NULL, NULL}};

static const struct mt_arg status_args[] = {
	{"history", MT_ARG_BOOL, NULL, "add samples of the weighed bytes over time"},
	{"history_limit", MT_ARG_COUNT, NULL, "at most this many samples (default 60, at most 1025)"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg alerts_args[] = {
	{"limit", MT_ARG_COUNT, NULL, "the last this many (default 20)"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg outstanding_args[] = {
	{"class", MT_ARG_WORD, class_values, "a size class, or direct"},
	{"min_size", MT_ARG_SIZE, NULL, "only mappings at least this long"},
	{"older_than", MT_ARG_SECONDS, NULL, "only mappings older than this"},
	{"tid", MT_ARG_COUNT, NULL, "only mappings this thread created"},
	{"limit", MT_ARG_COUNT, NULL, "at most this many (default 100)"},
	{"sort", MT_ARG_WORD, sort_values, "order (default size)"},
	{"stacks", MT_ARG_BOOL, NULL, "add each mapping's allocating stack"},
	{"rss", MT_ARG_BOOL, NULL, "add resident and dirty bytes (pmap -X figures)"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg peek_args[] = {
	{"address", MT_ARG_WORD, NULL, "where to read (0x... or decimal)"},
	{"id", MT_ARG_COUNT, NULL, "read the mapping made by this event (see outstanding)"},
	{"length", MT_ARG_SIZE, NULL, "bytes to read (default 4K, at most 1M)"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg stacks_args[] = {
	{"class", MT_ARG_WORD, class_values, "a size class, or direct"},
	{"limit", MT_ARG_COUNT, NULL, "at most this many stacks (default 20)"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg suspects_args[] = {
	{"limit", MT_ARG_COUNT, NULL, "at most this many sites (default 10)"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg threads_args[] = {
	{"limit", MT_ARG_COUNT, NULL, "at most this many (default 100)"},
	{"all", MT_ARG_BOOL, NULL, "include exited threads that hold nothing"},
	{NULL, 0, NULL, NULL},
};

static const struct mt_arg events_args[] = {
	{"limit", MT_ARG_COUNT, NULL, "the last this many (default 20)"},
	{"tid", MT_ARG_COUNT, NULL, "only this thread"},
	{"syscall", MT_ARG_WORD, sys_values, "only this syscall"},
	{"follow", MT_ARG_BOOL, NULL, "then stream new events until the client closes"},
	{NULL, 0, NULL, NULL},
};

const struct mt_cmd mt_cmds[] = {
	{"status", "totals, chunks, ceiling, growth, events, threads", 0, status_args},
	{"outstanding", "outstanding mappings", 0, outstanding_args},
	{"threads", "per-thread figures", 0, threads_args},
	{"stacks", "outstanding memory by allocating stack, largest first", 0, stacks_args},
	{"suspects", "allocation sites ranked as leak suspects, steady growers first", 0,
	 suspects_args},
	{"events", "recent memory syscalls", MT_CMD_STREAM, events_args},
	{"alerts", "the alert level and the last alerts", 0, alerts_args},
	{"watch", "stream alerts as they happen", MT_CMD_WATCH, no_args},
	{"metrics", "Prometheus text exposition", 0, no_args},
	{"peek", "read target memory (needs --allow-peek; root only)", MT_CMD_ROOT | MT_CMD_AUDIT,
	 peek_args},
	{"stop", "end tracing and the daemon, as SIGTERM does", MT_CMD_DAEMON, no_args},
	{NULL, NULL, 0, NULL},
};

/* The command called NAME. */
const struct mt_cmd *mt_cmd_find(const char *name)
{
	for (const struct mt_cmd *c = mt_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* Whether V is a valid value for argument A. */
static int arg_ok(const struct mt_arg *a, json_t *v)
{
	switch (a->kind) {
	case MT_ARG_COUNT:
	case MT_ARG_SIZE:
		return json_is_integer(v) && json_integer_value(v) >= 0 &&
		       (strcmp(a->name, "limit") || json_integer_value(v) <= LIMIT_MAX);
	case MT_ARG_SECONDS:
		return json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1e9;
	case MT_ARG_BOOL:
		return json_is_boolean(v);
	case MT_ARG_WORD:
		if (!json_is_string(v))
			return 0;
		for (const char *const *w = a->values; w && *w; w++)
			if (!strcmp(*w, json_string_value(v)))
				return 1;
		return !a->values;
	}
	return 0;
}

/* The error answer for a bad value V of argument A of command C. */
static json_t *arg_error(const struct mt_cmd *c, const struct mt_arg *a, json_t *v)
{
	switch (a->kind) {
	case MT_ARG_COUNT:
	case MT_ARG_SIZE:
		if (json_is_integer(v) && json_integer_value(v) > LIMIT_MAX)
			return mt_proto_error("bad_arg", "%s: \"%s\" is at most %d", c->name, a->name,
					      LIMIT_MAX);
		return mt_proto_error("bad_arg", "%s: \"%s\" must be a non-negative integer",
				      c->name, a->name);
	case MT_ARG_SECONDS:
		return mt_proto_error("bad_arg", "%s: \"%s\" must be a number of seconds", c->name,
				      a->name);
	case MT_ARG_BOOL:
		return mt_proto_error("bad_arg", "%s: \"%s\" must be true or false", c->name,
				      a->name);
	case MT_ARG_WORD:
		if (json_is_string(v))
			return mt_proto_error("bad_arg", "%s: unknown %s \"%.64s\"", c->name, a->name,
					      json_string_value(v));
		return mt_proto_error("bad_arg", "%s: \"%s\" must be a string", c->name, a->name);
	}
	return mt_proto_error("bad_arg", "%s: bad \"%s\"", c->name, a->name);
}

/* Parse and check one request line. */
int mt_proto_parse(const char *line, size_t len, const struct mt_cmd **cmd, json_t **req,
		   json_t **err)
{
	const struct mt_cmd *c;
	json_error_t jerr;
	const char *key, *name;
	json_t *r, *v;

	r = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!r) {
		*err = mt_proto_error("bad_json", "%s at column %d", jerr.text, jerr.column);
		return -1;
	}
	if (!json_is_object(r) || !json_is_string(json_object_get(r, "cmd"))) {
		*err = mt_proto_error("bad_request", "a request is an object with a \"cmd\" string");
		goto fail;
	}
	name = json_string_value(json_object_get(r, "cmd"));
	if (!(c = mt_cmd_find(name))) {
		*err = mt_proto_error("unknown_cmd", "unknown command \"%.64s\"", name);
		goto fail;
	}
	json_object_foreach(r, key, v) {
		const struct mt_arg *a;

		if (!strcmp(key, "cmd"))
			continue;
		for (a = c->args; a->name && strcmp(a->name, key); a++)
			;
		if (!a->name) {
			*err = mt_proto_error("bad_arg", "%s: unknown argument \"%.64s\"", c->name, key);
			goto fail;
		}
		if (!arg_ok(a, v)) {
			*err = arg_error(c, a, v);
			goto fail;
		}
	}
	*cmd = c;
	*req = r;
	return 0;
fail:
	json_decref(r);
	return -1;
}
