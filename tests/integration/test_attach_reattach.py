#!/usr/bin/env python3
"""Attach: a second memtraced attaches where the first detached.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import CHUNK  # noqa: E402


class ReattachTest(mtlib.AttachCase):
    def test_reattach(self):
        """Attach, detach, attach again: the second seed is the process as it is now."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        a.cmd("alloc 2")
        t = a.cmd("free 1")
        self.assert_same_chunks(d, t)
        self.detach(d, "SIGINT")
        self.assert_untraced(a.pid)
        t = a.cmd("alloc 1")  # one block no memtraced ever saw mapped
        self.assertEqual(len(t["chunks"]), 7)

        d = self.attach(a.pid)
        st = d.ctl("status")
        self.assertGreater(st["seeded"]["count"], 0)
        self.assertEqual(st["events"]["recorded"], 0)
        for m in self.outstanding(d, "--class", "chunk"):
            self.assertTrue(m["preexisting"])
            self.assertEqual(m["length"], CHUNK)
        self.assert_same_chunks(d, t)
        self.assert_matches_maps(d, a.pid)
        t = a.cmd("alloc 1")
        self.assert_same_chunks(d, t)
        t = a.cmd("free 3")
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 5)
        self.detach(d, "SIGTERM")
        self.assert_untraced(a.pid)
        self.assert_working(a)


if __name__ == "__main__":
    mtlib.main()
