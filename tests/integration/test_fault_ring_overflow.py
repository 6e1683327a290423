#!/usr/bin/env python3
"""Faults: a burst of memory calls overflows a small event ring.

memtraced --ring-events 64 traces tests/targets/mapburst.c, which makes
2000 small mmaps and about 1333 munmaps as fast as it can.  The ring keeps
the newest 64 events; every other one is counted as dropped (recorded =
dropped + 64, and at least the target's own calls were recorded), the
events command returns the newest 64 in order, and the accounting, which
never depends on the ring, is still exact: the table equals
/proc/PID/maps byte for byte.
"""
import subprocess
import unittest

import mtlib

RING = 64


class RingOverflow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("mapburst"), "2000"],
                             opts=["--ring-events", str(RING)], stdin=subprocess.PIPE)
        try:
            cls.d.wait_socket()
            cls.truth = mtlib.read_truth_line(cls.d.proc)
            cls.pid = mtlib.target_pid(cls.d)
            cls.status = cls.d.ctl("status")
            cls.out = cls.d.ctl("outstanding", "--limit", "100000")
            cls.maps = mtlib.proc_maps(cls.pid)
            cls.events = cls.d.ctl("events", "--limit", "100000")["events"]
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        code = cls.d.finish()  # closes the target's stdin: it exits
        assert code == 0, "memtraced exited %d: %s" % (code, cls.d.err)

    def test_dropped_counted(self):
        ev = self.status["events"]
        self.assertGreaterEqual(ev["by_syscall"]["mmap"], self.truth["mmaps"])
        self.assertGreaterEqual(ev["by_syscall"]["munmap"], self.truth["munmaps"])
        self.assertEqual(ev["recorded"], sum(ev["by_syscall"].values()))
        self.assertEqual(ev["dropped"], ev["recorded"] - RING)

    def test_ring_holds_the_newest(self):
        seqs = [e["seq"] for e in self.events]
        newest = self.status["events"]["recorded"]
        self.assertEqual(seqs, list(range(newest - RING + 1, newest + 1)))

    def test_accounting_exact(self):
        mtlib.table_vs_maps(self, self.out["mappings"], self.maps)
        total = sum(hi - lo for lo, hi, _, path in self.maps if path != "[vsyscall]")
        self.assertEqual(self.status["outstanding"]["bytes"], total)


if __name__ == "__main__":
    mtlib.main()
