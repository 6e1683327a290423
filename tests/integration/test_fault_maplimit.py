#!/usr/bin/env python3
"""Faults: the target hits its address-space limit (RLIMIT_AS).

tests/targets/maplimit.c sets its own RLIMIT_AS a few chunks above what it
uses, maps chunks until mmap fails with ENOMEM, then tries 50 more times.
Each failed mmap is an event with its error, nothing of it enters the
table (the outstanding chunks are exactly the ones that succeeded, the
table equals /proc/PID/maps), and with a ceiling the successful chunks
pass the warn level of, the 51 failures raise no alert: exactly one (warn),
not a storm.
"""
import subprocess
import unittest

import mtlib

CHUNK = 16781312
CEILING = 100 << 20  # 5 chunks are 80.0% of it: warn (80), not crit (95)


class MapLimit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("maplimit"), "5", "50"],
                             opts=["--ceiling", str(CEILING)], stdin=subprocess.PIPE)
        try:
            cls.d.wait_socket()
            cls.truth = mtlib.read_truth_line(cls.d.proc)
            cls.pid = mtlib.target_pid(cls.d)
            cls.status = cls.d.ctl("status")
            cls.out = cls.d.ctl("outstanding", "--limit", "100000")
            cls.maps = mtlib.proc_maps(cls.pid)
            cls.events = cls.d.ctl("events", "--syscall", "mmap", "--limit", "100000")["events"]
            cls.alerts = cls.d.ctl("alerts", "--limit", "100")
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.code = cls.d.finish()  # closes the target's stdin: it exits
        assert cls.code == 0, "memtraced exited %d: %s" % (cls.code, cls.d.err)

    def test_target_hit_the_limit(self):
        self.assertEqual(self.truth["errno"], 12)  # ENOMEM
        self.assertEqual(self.truth["failed"], 51)
        self.assertGreaterEqual(self.truth["mapped"], 1)

    def test_failed_mmaps_recorded_as_failed(self):
        chunk_calls = [e for e in self.events if e["args"][1] == CHUNK]
        failed = [e for e in chunk_calls if e["ret"] < 0]
        self.assertEqual(len(failed), self.truth["failed"], failed[:3])
        for e in failed:
            self.assertEqual((e["ret"], e.get("error"), e["done"]), (-12, "ENOMEM", True), e)
        ok = sorted(e["ret"] for e in chunk_calls if e["ret"] >= 0)
        self.assertEqual(ok, sorted(self.truth["chunks"]))

    def test_nothing_counted_for_failures(self):
        chunks = sorted(mtlib.mapping_range(m)[0] for m in self.out["mappings"]
                        if m["class"] == "chunk")
        self.assertEqual(chunks, sorted(self.truth["chunks"]))
        self.assertEqual(self.status["chunks"]["count"], self.truth["mapped"])
        self.assertEqual(self.status["chunks"]["bytes"], self.truth["mapped"] * CHUNK)
        mtlib.table_vs_maps(self, self.out["mappings"], self.maps)

    def test_no_alert_storm(self):
        raised = [(a["level"], a["state"]) for a in self.alerts["alerts"]]
        want = [("warn", "raised")] if self.truth["mapped"] * CHUNK >= 0.8 * CEILING else []
        if self.truth["mapped"] * CHUNK >= 0.95 * CEILING:
            want.append(("crit", "raised"))
        self.assertEqual(raised, want, self.alerts)


if __name__ == "__main__":
    mtlib.main()
