#!/usr/bin/env python3
"""Attach: signals reach the target exactly once, through stops and across detach.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import sigqueue, wait_for  # noqa: E402


def pending(pid, sig):
    """Whether SIG is queued for PID: to the process or to one of its threads."""
    bit = 1 << (sig - 1)
    masks = []
    for path in ["/proc/%d/status" % pid] + ["/proc/%d/task/%s/status" % (pid, t)
                                            for t in os.listdir("/proc/%d/task" % pid)]:
        try:
            with open(path) as f:
                masks += [int(l.split()[1], 16) for l in f
                          if l.startswith(("SigPnd:", "ShdPnd:"))]
        except OSError:  # a thread that has ended
            pass
    return any(m & bit for m in masks)


class SignalsTest(mtlib.AttachCase):
    def test_signals_across_detach(self):
        """Signals sent while memtraced attaches and detaches, over and over,
        each reach the target's handler once: none lost, none doubled."""
        if os.uname().machine not in ("x86_64", "aarch64"):
            self.skipTest("rt_sigqueueinfo's number is not known here")
        # A slow thread storm: attach races with thread churn are test_attach_thread_churn's.
        a = self.start("-k", "1", "-s", "200000")
        sig = int(signal.SIGRTMIN) + 1  # queued, unlike SIGUSR1: every one counts
        sent = [0]
        done = threading.Event()

        def sender():
            while not done.is_set():
                if sigqueue(a.pid, sig):
                    sent[0] += 1
                else:  # the queue is full: nothing was sent; pace, not a wait
                    time.sleep(0.001)
        th = threading.Thread(target=sender)
        th.start()
        try:
            for i in range(16):
                d = self.attach(a.pid)
                # Signals come while attached before the detach begins.
                n = sent[0]
                self.assertTrue(wait_for(lambda: sent[0] >= n + 3, timeout=10),
                                "no signal could be queued while attached")
                self.detach(d, ("ctl", "SIGTERM")[i % 2])
                self.assert_untraced(a.pid)
        finally:
            done.set()
            th.join()
        self.assertGreater(sent[0], 100)
        self.poll_report(a, lambda t: t["signals"] >= sent[0], timeout=3)
        # memtraced has exited, so a doubled signal could only be queued
        # still: once none is, the count is final.
        self.assertTrue(wait_for(lambda: not pending(a.pid, sig), timeout=3),
                        "signal %d still pending" % sig)
        self.assertEqual(a.cmd("report")["signals"], sent[0], "signals received vs sent")

    def test_accounting_through_stops_and_signals(self):
        """Memory calls made while signals interrupt blocking calls and the
        process is stopped and continued again and again: the table must
        still be exactly what the target holds, every call counted once."""
        if os.uname().machine not in ("x86_64", "aarch64"):
            self.skipTest("rt_sigqueueinfo's number is not known here")
        a = self.start("-k", "2", "-s", "500")
        d = self.attach(a.pid)
        sig = int(signal.SIGRTMIN) + 1
        done = threading.Event()
        stops = [0]

        def disturber():
            while not done.is_set():
                for _ in range(20):
                    sigqueue(a.pid, sig)
                # The disturber's pace (stopped 2 ms, then 5 ms running),
                # not waits for a state.
                os.kill(a.pid, signal.SIGSTOP)
                time.sleep(0.002)
                os.kill(a.pid, signal.SIGCONT)
                stops[0] += 1
                time.sleep(0.005)
        th = threading.Thread(target=disturber)
        th.start()
        n = 0
        deadline = time.monotonic() + 60
        try:
            # The table grows by one chunk a round, so a call lost anywhere
            # shows.  Rounds keep pace with the disturber (a round waits for
            # its next stop when it lags behind), however the two threads
            # are scheduled, until both have done enough.
            while n < 25 or stops[0] < 50:
                self.assertLess(time.monotonic(), deadline,
                                "%d rounds, %d stops in 60 s" % (n, stops[0]))
                a.cmd("alloc 2", timeout=30)
                t = a.cmd("free 1", timeout=30)
                n += 1
                seen = stops[0]
                if seen < n:
                    wait_for(lambda: stops[0] > seen, timeout=5)
        finally:
            done.set()
            th.join()
        self.assertGreaterEqual(stops[0], 50)
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 2 + n)
        self.assertEqual(st["events"]["by_syscall"]["mmap"], 2 * n)
        self.assertEqual(st["events"]["by_syscall"]["munmap"], n)
        ev = d.ctl("events", "--limit", str(4 * n))["events"]
        self.assertEqual(len(ev), 3 * n)
        self.assertEqual([e for e in ev if not e["done"] or e["ret"] < 0], [])
        self.assert_matches_maps(d, a.pid)
        self.assert_working(a)
        self.detach(d)


if __name__ == "__main__":
    mtlib.main()
