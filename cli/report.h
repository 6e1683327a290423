/* report.h - memtracectl report: one self-contained HTML page of a run. */
#ifndef MT_REPORT_H
#define MT_REPORT_H

/*
 * memtracectl report --html FILE [--from REPORT.json]: ARGV[0..ARGC) are
 * the words after "report"; SOCKET is the daemon's socket, asked when
 * --from is not given.  Returns the exit status (0, 1 error, 2 usage,
 * 3 no daemon).
 */
int report_main(const char *socket, int argc, char **argv);

#endif
