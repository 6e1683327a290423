/*
 * ctl.h - memtracectl's command table and what its commands share: the
 * options every command reads, the connection to the daemon, the JSON
 * path readers and human sizes.  Each CLI command is one struct ctl_cmd
 * row in memtracectl.c (tmux's cmd_entry): its name, the protocol command
 * it sends, its own options, and how its answer is printed, or a run
 * function for a command with its own loop (wait, check, top).
 */
#ifndef MEMTRACE_CTL_H
#define MEMTRACE_CTL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_ERROR    1
#define EXIT_USAGE    2
#define EXIT_NODAEMON 3

/*
 * An option memtracectl reads itself, beside the protocol command's:
 * NAME is "--java", or an operand ("ADDR|ID") when it does not start with
 * '-'; ARG the value's word in the help ("FILE", "text|json"), NULL for a
 * flag.  SET takes the value (NULL for a flag) and may add to the request
 * REQ; it returns -1 when it does not take it (an operand already given).
 */
struct ctl_opt {
	const char *name;
	const char *arg;
	const char *help;
	int (*set)(json_t *req, const char *value);
};

struct ctl_cmd;
/* A command with its own loop: ARGC/ARGV are the words after its name. */
typedef int (*ctl_run_fn)(const struct ctl_cmd *cmd, const char *path, int argc, char **argv);

/* Row flags. */
#define CTL_EVENT_LINES 0x1 /* --json prints one event object a line */

struct ctl_cmd {
	const char *name;
	const char *proto;   /* the protocol command it sends, whose arguments it takes */
	const char *summary; /* NULL: the protocol command's */
	const char *uses;    /* a run command: the protocol commands it is built on */
	unsigned flags;
	const struct ctl_opt *opts; /* NULL-named end */
	void (*print)(json_t *answer);
	ctl_run_fn run;
};

/* Every CLI command, NULL-named end. */
extern const struct ctl_cmd ctl_cmds[];

/* Called before memtracectl exits on an error it prints (top gives the terminal back first). */
extern void (*ctl_before_exit)(void);

/* Options every command reads. */
extern int opt_json;

/* Print CMD's help (memtracectl CMD --help). */
void ctl_usage(FILE *f, const struct ctl_cmd *cmd);
/* Parse CMD's words ARGC/ARGV into REQ (NULL: a run command's own options); --help exits. */
void ctl_parse(const struct ctl_cmd *cmd, int argc, char **argv, json_t *req);
/* Print a usage error and exit 2. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A buffered line reader over the socket. */
struct reader {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Send REQ on a new connection to PATH; returns the reader, first answer in *ANSWER. */
struct reader request(const char *path, json_t *req, json_t **answer);
/* Close R. */
void reader_close(struct reader *r);
/* Send REQ to PATH and return its one answer (exits 3 when no daemon answers). */
json_t *ask(const char *path, json_t *req);

/* json_object_get of a dotted PATH ("chunks.count"). */
json_t *jget(json_t *o, const char *path);
/* An integer at PATH. */
uint64_t jint(json_t *o, const char *path);
/* A string at PATH, "" when absent. */
const char *jstr(json_t *o, const char *path);
/* A human size of the integer at PATH (a static buffer per slot, 8 slots). */
const char *jsize(json_t *o, const char *path, int slot);
/* A human rate of the bytes per second at PATH (a static buffer per slot, 4 slots). */
const char *jrate(json_t *o, const char *path, int slot);

/* memtracectl top. */
int cmd_top(const struct ctl_cmd *cmd, const char *path, int argc, char **argv);
extern const struct ctl_opt top_opts[];

#endif
