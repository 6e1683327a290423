#!/usr/bin/env python3
"""Attach: a target stopped by SIGSTOP before or during the attach stays stopped, then goes on.

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import (all_stopped, held_for, none_stopped,  # noqa: E402
                   stuck_tids, task_states, wait_for)


class GroupStopTest(mtlib.AttachCase):
    def test_group_stop_before_attach(self):
        """Stopped by the user before the attach: still stopped after the detach."""
        a = self.start("-k", "5")
        os.kill(a.pid, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: all_stopped(a.pid, "T")), task_states(a.pid))
        tids = set(task_states(a.pid))
        d = self.attach(a.pid)
        self.assert_same_chunks(d, a.ready)
        # Traced, a group-stopped thread shows 't'; none may run.
        self.assertTrue(held_for(lambda: all_stopped(a.pid, "tT"), 0.3),
                        "a thread runs while attached: %s" % task_states(a.pid))
        self.assertEqual(set(task_states(a.pid)), tids, "threads came or went while stopped")
        self.detach(d)
        self.assert_untraced(a.pid)
        # Threads the detach kicked may run for a moment on their way back to T.
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "T"), 0.5)),
                        "not group-stopped after the detach: %s" % task_states(a.pid))
        self.assertEqual(set(task_states(a.pid)), tids)
        os.kill(a.pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: none_stopped(a.pid)), task_states(a.pid))
        self.assert_working(a)

    def test_group_stop_while_attached(self):
        """SIGSTOP/SIGCONT while attached; then stopped across a detach."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        os.kill(a.pid, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "tT"), 0.2)),
                        "not stopped: %s" % task_states(a.pid))
        tids = set(task_states(a.pid))
        self.assertTrue(held_for(lambda: all_stopped(a.pid, "tT"), 0.3))
        self.assertEqual(set(task_states(a.pid)), tids, "threads came or went while stopped")
        os.kill(a.pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: not stuck_tids(a.pid, 0.5)),
                        "not running after SIGCONT: %s" % task_states(a.pid))
        t = a.cmd("alloc 2")
        self.assert_same_chunks(d, t)
        self.assert_working(a)

        os.kill(a.pid, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "tT"), 0.2)))
        self.detach(d, "SIGTERM")
        self.assert_untraced(a.pid)
        # Threads the detach kicked may run for a moment on their way back to T.
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "T"), 0.5)),
                        "not group-stopped after the detach: %s" % task_states(a.pid))
        os.kill(a.pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: none_stopped(a.pid)), task_states(a.pid))
        self.assert_working(a)


if __name__ == "__main__":
    mtlib.main()
