#!/usr/bin/env python3
"""Attach: memtraced killed, or the target exiting or killed, leaves nothing behind.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import held_for, none_stopped, task_states  # noqa: E402


class ExitTest(mtlib.AttachCase):
    def test_sigkill_memtraced(self):
        """SIGKILL memtraced while attached: the target goes on, untraced."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        t = a.cmd("alloc 1")
        self.assert_same_chunks(d, t)
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(held_for(lambda: a.proc.poll() is None, 0.3),
                        "the target died with memtraced")
        self.assert_untraced(a.pid)
        self.assertTrue(held_for(lambda: none_stopped(a.pid), 0.3), task_states(a.pid))
        self.assert_working(a)

    def test_target_exits(self):
        """The target exits while attached: memtraced exits with its code."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        a.send("exit 7")
        try:
            rc = d.finish(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("memtraced did not notice the target's exit")
        self.assertEqual(rc, 7, d.err)
        self.assertEqual(a.proc.wait(timeout=10), 7)

    def test_target_killed(self):
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        os.kill(a.pid, signal.SIGKILL)
        try:
            rc = d.finish(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("memtraced did not notice the target's death")
        self.assertEqual(rc, 128 + signal.SIGKILL, d.err)
        self.assertEqual(a.proc.wait(timeout=10), -signal.SIGKILL)

    def test_target_exits_linger(self):
        """With --linger memtraced answers after the exit, state "exited"."""
        a = self.start("-k", "5")
        d = self.attach(a.pid, ["--linger"])
        a.cmd("alloc 1")
        a.send("exit 7")
        self.assertEqual(a.proc.wait(timeout=10), 7)
        st = d.wait_state("exited")
        self.assertEqual(st["target"]["pid"], a.pid)
        self.assertEqual(st["target"]["exit_code"], 7)
        self.assertTrue(held_for(lambda: d.proc.poll() is None, 0.3), "memtraced did not linger")
        self.assertEqual(d.ctl("status")["target"]["state"], "exited")
        d.ctl("stop")
        self.assertEqual(d.finish(timeout=20), 7, d.err)


if __name__ == "__main__":
    mtlib.main()
