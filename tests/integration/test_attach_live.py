#!/usr/bin/env python3
"""Attach: calls after the attach are traced live, and only as x86_64 calls.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import CHUNK, mapping_start  # noqa: E402


class LiveTest(mtlib.AttachCase):
    def test_live_after_attach(self):
        """alloc/free after the attach: exact counts, events from the right thread."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        self.assert_same_chunks(d, a.ready)
        worker = a.ready["tids"]["worker"]

        t = a.cmd("alloc 3")
        self.assertEqual(len(t["new"]), 3)
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 8)
        by_start = {mapping_start(m): m for m in self.outstanding(d, "--class", "chunk")}
        for s in t["new"]:
            self.assertFalse(by_start[s]["preexisting"])
            self.assertEqual(by_start[s]["tid"], worker)
            self.assertEqual(by_start[s]["thread"], "worker")
        for s in a.ready["chunks"]:
            self.assertTrue(by_start[s]["preexisting"])

        # The two oldest are preexisting: their munmaps cut seeded entries.
        t = a.cmd("free 2")
        self.assertEqual(t["freed"], a.ready["chunks"][:2])
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 6)
        self.assertEqual(st["chunks"]["bytes"], 6 * CHUNK)
        self.assertEqual(st["events"]["by_syscall"]["mmap"], 3)
        self.assertEqual(st["events"]["by_syscall"]["munmap"], 2)

        ev = d.ctl("events", "--limit", "1000")["events"]
        got = [(e["syscall"], e["pid"], e["tid"], e["done"]) for e in ev]
        self.assertEqual(got, [("mmap", a.pid, worker, True)] * 3 +
                         [("munmap", a.pid, worker, True)] * 2)
        self.assertEqual([e["ret"] for e in ev[:3]], t["chunks"][-3:])
        self.assertEqual([e["args"][1] for e in ev], [CHUNK] * 5)
        self.assertEqual([e["args"][0] for e in ev[3:]], t["freed"])
        threads = {x["tid"]: x for x in d.ctl("threads", "--all")["threads"]}
        w = threads[worker]
        self.assertEqual((w["mapped"]["count"], w["unmapped"]["count"]), (3, 2))
        self.assertEqual(w["chunks"], {"count": 3, "bytes": 3 * CHUNK})
        self.assertEqual(w["pid"], a.pid)

        # Every thread works while traced, and the table still is the maps.
        self.assert_working(a)
        self.assert_matches_maps(d, a.pid)
        self.detach(d)

    def test_i386_calls_are_not_read_as_x86_64(self):
        """i386 calls (int 0x80) numbered like x86_64 memory calls (10:
        unlink/mprotect, 12: chdir/brk) must not be read as those."""
        p = subprocess.Popen([mtlib.target("int80"), "-n", "1000"], stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        if p.stdout.readline().strip() != "ready":
            self.skipTest("int 0x80 is not available here (exit %s)" % p.wait())
        d = self.attach(p.pid, ["--linger"])
        # Its truth comes at the end: every call was made under memtraced.
        t = mtlib.truth(p.stdout.read())
        self.assertEqual((t["calls"], t["efault"]), (2000, 2000))
        st = d.wait_state("exited")
        self.assertEqual((st["events"]["by_syscall"]["mprotect"],
                          st["events"]["by_syscall"]["brk"]), (0, 0), st["events"])
        d.ctl("stop")
        self.assertEqual(d.finish(timeout=20), 0, d.err)


if __name__ == "__main__":
    mtlib.main()
