#!/usr/bin/env python3
"""memtracectl suspects: a leaking site ranks first, a churning one after it.

leakshape sites -i 300: thread "leaker" maps a chunk every 300 ms from
leak_one() and keeps it; thread "churner" maps a chunk from churn_one(),
holds it 150 ms and unmaps it, over and over.  After 12 s the suspects
answer must put the leaker's site first, verdict "leaking", its stack
through leak_one, its bytes those of the chunks the leaker holds; the
churner's site must rank below it, as "churning".  The tids come from the
threads answer by name, and are checked against the TRUTH line the target
prints at its end.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

CHUNK = 16781312


class Suspects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        leak = mtlib.target("leakshape")
        if not os.path.exists(leak):
            mtlib.skip("leakshape is not built (make)")
        cls.d = mtlib.Daemon([leak, "sites", "-i", "300", "-n", "200", "-t", "16"],
                             opts=["--ceiling", "64G"])
        cls.d.wait_socket()
        start = time.time()

        def named():
            names = {t["name"]: t["tid"] for t in cls.d.ctl("threads")["threads"]}
            return names if "leaker" in names and "churner" in names else None
        cls.tids = mtlib.wait_for(named, timeout=10)
        # Let the sites be walked a few times (every 2 s).
        time.sleep(max(0, start + 12 - time.time()))
        cls.ans = cls.d.ctl("suspects")
        cls.one = cls.d.ctl("suspects", "--limit", "1")
        cls.text = subprocess.run([mtlib.MEMTRACECTL, "-s", cls.d.sock, "suspects"],
                                  capture_output=True, text=True, timeout=30)
        cls.help = subprocess.run([mtlib.MEMTRACECTL, "suspects", "--help"],
                                  capture_output=True, text=True, timeout=30)
        cls.rc = cls.d.finish(timeout=30)
        cls.truth = mtlib.truth(cls.d.out)

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()

    def test_tids_match_truth(self):
        self.assertEqual(self.rc, 0)
        self.assertEqual(self.tids["leaker"], self.truth["leaker"])
        self.assertEqual(self.tids["churner"], self.truth["churner"])

    def test_leaker_first(self):
        s = self.ans["suspects"]
        self.assertTrue(self.ans["ok"])
        first = s[0]
        self.assertEqual(first["rank"], 1)
        self.assertEqual(first["tid"], self.tids["leaker"], s)
        self.assertEqual(first["thread"], "leaker")
        self.assertEqual(first["verdict"], "leaking")
        self.assertTrue(any("leak_one" in f for f in first["frames"]), first["frames"])
        # 12 s at one chunk per 300 ms: about 40 chunks, all still held.
        self.assertGreaterEqual(first["count"], 25)
        self.assertEqual(first["bytes"], first["count"] * CHUNK)
        self.assertEqual(first["freed_bytes"], 0)
        self.assertGreater(first["steadiness"], 0.9)
        self.assertGreater(first["oldest_age_s"], 8)

    def test_churner_ranks_below(self):
        s = self.ans["suspects"]
        ranks = {x["tid"]: x for x in s if x["stack_id"]}
        churn = [x for x in s if x["tid"] == self.tids["churner"]]
        self.assertEqual(len(churn), 1, s)
        churn = churn[0]
        self.assertGreater(churn["rank"], ranks[self.tids["leaker"]]["rank"])
        self.assertEqual(churn["verdict"], "churning")
        self.assertTrue(any("churn_one" in f for f in churn["frames"]), churn["frames"])
        self.assertLessEqual(churn["count"], 1)
        self.assertLess(churn["oldest_age_s"], 1.0)

    def test_limit_text_help(self):
        self.assertEqual(len(self.one["suspects"]), 1)
        self.assertEqual(self.one["total"], self.ans["total"])
        self.assertEqual(self.text.returncode, 0, self.text.stderr)
        first = self.text.stdout.splitlines()[0]
        self.assertRegex(first, r"^#1 leaking .* thread leaker \(%d\)$" % self.tids["leaker"])
        self.assertIn("leak_one", self.text.stdout)
        self.assertEqual(self.help.returncode, 0)
        self.assertIn("--limit N", self.help.stdout)


if __name__ == "__main__":
    mtlib.main()
