/*
 * answer-fuzzer.c - memtracectl's printing of the daemon's answers: a JSON
 * answer (the input) printed as each command's answer, in text and in
 * JSON, to /dev/null.  memtracectl.c is built in with its main renamed,
 * and the other cli/ files are linked with it.
 */
#include <stdint.h>

int memtracectl_main(int argc, char **argv);
#define main memtracectl_main
#include "../cli/memtracectl.c"
#undef main

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *a = json_loadb((const char *)data, size, 0, NULL);

	if (!a)
		return 0;
	for (const struct ctl_cmd *c = ctl_cmds; c->name; c++) {
		if (!c->print)
			continue;
		opt_json = 0;
		opt_format = "text";
		opt_peek_strings = 0;
		print_answer(c, a);
		if (c->print == print_peek) {
			opt_peek_strings = 1;
			print_answer(c, a);
		}
		if (c->flags & CTL_EVENT_LINES) {
			opt_format = "json";
			print_answer(c, a);
		}
		opt_json = 1;
		print_answer(c, a);
	}
	json_decref(a);
	return 0;
}
