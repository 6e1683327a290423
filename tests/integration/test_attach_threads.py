#!/usr/bin/env python3
"""Attach: every thread is seized, by process or thread id, while threads come and go.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import (AttachDaemon, EXIT_ATTACH, task_states, traced_by,  # noqa: E402
                   tracer_pids, wait_for)


class ThreadsTest(mtlib.AttachCase):
    def test_attach_does_not_wait_long_for_one_thread(self):
        """A thread in an uninterruptible wait (a vfork parent whose child
        sleeps 5 s before it exits) stops only when the wait ends.  The attach
        must not hold the whole process that long: after at most about a
        second the others run, traced, and the late thread joins when it
        stops."""
        a = self.start("-k", "3", "-v", "5000")
        vforker = a.ready["tids"]["vforker"]
        self.assertTrue(wait_for(lambda: task_states(a.pid).get(vforker) == "D"),
                        "the vforker never waited in its vfork: %s" % task_states(a.pid))
        t0 = time.monotonic()
        d = self.attach(a.pid)
        self.assertLess(time.monotonic() - t0, 3.0, "the attach waited for the vfork")
        # The process works while the vforker still waits.
        self.assertEqual(a.cmd("report")["vforks"], 0)
        t = a.cmd("alloc 1")
        self.assert_same_chunks(d, t)
        self.assertTrue(traced_by(a.pid, d.proc.pid), tracer_pids(a.pid))
        # The vfork ends; the vforker, traced, goes on to the next one.
        self.poll_report(a, lambda r: r["vforks"] >= 1, timeout=15)
        self.assert_same_chunks(d, a.cmd("report"))
        self.detach(d)
        self.assert_untraced(a.pid)

    def test_attach_by_thread_id(self):
        """--pid with the id of a thread that is not the leader: either refused
        (exit 4), or the whole process is traced and reported by its pid."""
        a = self.start("-k", "5")
        tid = a.ready["tids"]["sleeper"]
        self.assertNotEqual(tid, a.pid)
        d = AttachDaemon(tid, mode="syscall")
        self.addCleanup(d.kill)
        try:
            st = d.wait_state("running")
        except AssertionError:
            rc = d.finish(timeout=10)
            self.assertEqual(rc, EXIT_ATTACH, d.err)
            self.assertEqual(len(d.err.strip().splitlines()), 1, d.err)
            return
        t = a.cmd("alloc 1")
        self.assertEqual(st["target"]["pid"], a.pid, "status names a thread as the target")
        self.assert_same_chunks(d, t)
        ev = d.ctl("events")["events"]
        self.assertEqual([(e["pid"], e["tid"]) for e in ev], [(a.pid, t["tids"]["worker"])])
        self.detach(d)
        self.assert_untraced(a.pid)

    def test_attach_thread_churn(self):
        """Attach and detach again and again while 8 threads create and join
        threads as fast as they can: every attach must succeed (threads born
        to already-seized threads during the attach are memtraced's own)."""
        a = self.start("-k", "2", "-n", "8", "-s", "0")
        for i in range(50):
            d = AttachDaemon(a.pid, mode="syscall")
            self.addCleanup(d.kill)
            try:
                d.wait_state("running")
            except AssertionError as e:
                self.fail("attach %d of 50 failed: %s" % (i + 1, e))
            self.assertEqual(d.ctl("status")["chunks"]["count"], 2)
            self.detach(d, ("ctl", "SIGINT")[i % 2])
        self.assert_untraced(a.pid)
        self.assert_working(a)


if __name__ == "__main__":
    mtlib.main()
