#!/usr/bin/env python3
"""Attach: detach by the stop command, SIGTERM or SIGINT lets every thread go, working.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import (AttachDaemon, held_for, none_stopped,  # noqa: E402
                   task_states, traced_by, tracer_pids, wait_for)


class DetachTest(mtlib.AttachCase):
    def check_detach(self, how):
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        a.cmd("alloc 1")
        a.cmd("poke")
        self.assertEqual(d.ctl("status")["chunks"]["count"], 6)
        self.assertTrue(traced_by(a.pid, d.proc.pid),
                        "not every thread is traced by memtraced: %s" % tracer_pids(a.pid))
        self.detach(d, how)
        self.assert_untraced(a.pid)
        self.assertTrue(held_for(lambda: none_stopped(a.pid), 0.3),
                        "threads left stopped: %s" % task_states(a.pid))
        self.assert_working(a)
        self.assertTrue(traced_by(a.pid, 0), tracer_pids(a.pid))

    def test_detach_stop_command(self):
        """memtracectl stop: exit 0, nothing traced, every thread goes on."""
        self.check_detach("ctl")

    def test_detach_sigterm(self):
        self.check_detach("SIGTERM")

    def test_detach_sigint(self):
        self.check_detach("SIGINT")

    def test_detach_reports_detached(self):
        """After a detach the summary and the report say "detached", with no
        exit code: the process was let go, it did not exit."""
        a = self.start("-k", "2")
        report = os.path.join(tempfile.mkdtemp(prefix="mt-report-"), "r.json")
        self.addCleanup(shutil.rmtree, os.path.dirname(report), True)
        d = self.attach(a.pid, opts=["--summary", "--json", "--report", report])
        self.detach(d, "SIGTERM")
        self.assert_untraced(a.pid)
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        with open(report) as f:
            rep = json.load(f)
        for st in (summary, rep["status"] if "status" in rep else rep):
            self.assertEqual(st["target"]["state"], "detached", st["target"])
            self.assertNotIn("exit_code", st["target"])
            self.assertEqual(st["chunks"]["count"], 2)
        d2 = self.attach(a.pid, opts=["--summary"])
        self.detach(d2, "SIGINT")
        self.assertRegex(d2.err, r"pid %d detached\b" % a.pid)
        self.assertNotIn("exit code", d2.err)
        self.assert_working(a)

    def read_fifo_until_exit(self, path, d, timeout=20):
        """Read the FIFO PATH until memtraced D exits.  Opened without
        blocking, so a memtraced that never opens it cannot hang the test;
        kept open until the end, so one that opens it late is not left
        waiting for a reader."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            end = time.time() + timeout
            while d.proc.poll() is None and time.time() < end:
                try:
                    if os.read(fd, 65536):
                        continue
                except BlockingIOError:
                    pass
                time.sleep(0.01)  # the poll's interval
        finally:
            os.close(fd)

    def test_detach_lets_go_before_exit(self):
        """Every thread is let go by the detach itself, not only when
        memtraced exits (the kernel releases every tracee then anyway), even
        while 8 threads create threads: one born during the detach must be
        waited for and let go too (that happens in some of the 20 rounds,
        depending on timing).  After the detach memtraced writes its --report
        through REPORT.tmp; that is a FIFO here, so memtraced waits in open()
        until the test has looked: by then no thread of the target may still
        have memtraced as its tracer."""
        a = self.start("-k", "1", "-n", "8", "-s", "0")
        tmp = tempfile.mkdtemp(prefix="mt-detach-")
        self.addCleanup(shutil.rmtree, tmp, True)
        report = os.path.join(tmp, "report.json")
        for i in range(20):
            os.mkfifo(report + ".tmp")
            d = AttachDaemon(a.pid, opts=["--report", report], mode="syscall")
            self.addCleanup(d.kill)
            d.wait_state("running")
            # The detach comes while threads are born under memtraced: one
            # born since the attach is already its tracee.
            known = set(tracer_pids(a.pid))
            self.assertTrue(wait_for(lambda: any(t not in known and p == d.proc.pid
                                                 for t, p in tracer_pids(a.pid).items()),
                                     timeout=10), "no thread born while attached")
            d.proc.send_signal(signal.SIGINT)
            let_go = wait_for(lambda: d.proc.pid not in tracer_pids(a.pid).values(), timeout=3)
            still = [t for t, p in tracer_pids(a.pid).items() if p == d.proc.pid]
            self.read_fifo_until_exit(report + ".tmp", d)
            self.assertEqual(d.finish(timeout=20), 0, d.err)
            self.assertTrue(let_go, "detach %d of 20: threads %s still traced by a live memtraced"
                            % (i + 1, still))
        self.assert_untraced(a.pid)
        self.assert_working(a)


if __name__ == "__main__":
    mtlib.main()
