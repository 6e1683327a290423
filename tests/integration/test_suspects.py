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
import socket
import subprocess
import sys
import threading
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
        passes = set()  # the leaker's count as each pass of the sites left it

        def judged():
            for x in cls.d.ctl("suspects", "--limit", "100")["suspects"]:
                if x["tid"] == cls.tids["leaker"] and any("leak_one" in f for f in x["frames"]):
                    passes.add(x["count"])
            # 12 s of leaking and churning is the scenario (its length is
            # what makes a leak show, not a wait); over them the sites must
            # have been walked (every 2 s) a few times.
            return time.time() >= start + 12 and len(passes) >= 4
        # leakshape -t 16 ends at 16 s.
        if not mtlib.wait_for(judged, timeout=max(0, start + 15 - time.time()), interval=0.25):
            cls.d.kill()
            raise AssertionError("the sites were walked %d times in 15 s" % len(passes))
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


class UnderQueries(unittest.TestCase):
    """The suspects pass ends, and counts exactly, under a stream of queries.

    The pass reads the table a slice at a time between the control
    thread's answers.  leakshape holds 50,000 one-page mappings besides
    its chunks, so a pass takes some 25 slices; its leaker maps 20 chunks
    in the first 4 s and then stops.  While two clients send status,
    outstanding and stacks without a pause, suspects must come to count
    exactly those 20 chunks for the leaker's site: a pass that began after
    the last of them has ended.  (Clients in Python leave the control
    thread idle now and then, so this does not show that a pass could
    never be starved, only that it ends and is right under queries.)"""

    QUERIES = [b'{"cmd":"status"}\n', b'{"cmd":"outstanding","limit":100}\n',
               b'{"cmd":"stacks"}\n']

    def test_pass_ends_under_queries(self):
        leak = mtlib.target("leakshape")
        d = mtlib.Daemon([leak, "sites", "-i", "200", "-n", "20", "-t", "30", "-b", "50000"],
                         opts=["--ceiling", "64G"])
        self.addCleanup(d.kill)
        d.wait_socket()
        stop = threading.Event()
        answered, broke = [0], []

        def stream():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(d.sock)
            f = s.makefile("rb")
            # 16 requests ahead of the answers, two clients: one is nearly always waiting.
            while not stop.is_set() and not broke:
                s.sendall(b"".join(self.QUERIES[i % len(self.QUERIES)] for i in range(16)))
                for _ in range(16):
                    line = f.readline()
                    if not line.startswith(b'{"ok":true'):
                        broke.append(line[:200])
                        break
                    answered[0] += 1
            f.close()
            s.close()
        streams = [threading.Thread(target=stream) for _ in range(2)]
        for t in streams:
            t.start()
            self.addCleanup(t.join)
        self.addCleanup(stop.set)

        def leaker_holds_all():
            for x in d.ctl("suspects")["suspects"]:
                if x.get("thread") == "leaker" and x["count"] == 20:
                    return x
            return None
        try:
            first = mtlib.wait_for(leaker_holds_all, timeout=25, interval=0.5)
        finally:
            stop.set()
            for t in streams:
                t.join()
        self.assertTrue(first, "no pass counted the leaker's 20 chunks: %s"
                        % d.ctl("suspects")["suspects"][:3])
        self.assertEqual(first["bytes"], 20 * CHUNK)
        self.assertEqual(broke, [], "the client's stream was cut")
        self.assertGreater(answered[0], 1000, "the client's stream never got going")


if __name__ == "__main__":
    mtlib.main()
