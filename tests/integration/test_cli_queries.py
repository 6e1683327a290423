#!/usr/bin/env python3
"""memtracectl's queries against a target holding chunks: tables and JSON.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import json
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import MIB, STRACE_LINE, ctl, human, read_truth_line  # noqa: E402


class TestAgainstChunks(unittest.TestCase):
    """memtracectl's human output against `chunks -p` (12 chunks, 2 evloop threads)."""

    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("chunks"), "-p"],
                             opts=["--ceiling", "256M", "--kill-timeout", "500ms"])
        try:
            cls.d.wait_socket()
            cls.truth = read_truth_line(cls.d.proc)
            cls.pid = cls.d.ctl("status")["target"]["pid"]
            ok = mtlib.wait_for(lambda: mtlib.proc_state(cls.pid) in "Tt", 10)
            assert ok, "chunks never stopped"
            # The human output is checked against the daemon's own JSON
            # (whether that is right is the protocol and tracing tests' job).
            cls.st = cls.d.ctl("status")
            cls.nchunks = cls.st["chunks"]["count"]
            assert cls.nchunks >= 4, cls.st
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d.proc.poll() is None:
                os.kill(cls.pid, signal.SIGCONT)
                cls.d.finish(30)
        finally:
            cls.d.kill()

    def run_ctl(self, *args, rc=0):
        r = ctl(*args, sock=self.d.sock)
        self.assertEqual(r.returncode, rc, "memtracectl %s: %s" % (" ".join(args), r.stderr))
        return r

    def test_status_human(self):
        out = self.run_ctl("status").stdout
        self.assertRegex(out, r"\bpid %d\b" % self.pid)
        self.assertIn("running", out)
        self.assertIn("chunks", out)
        self.assertRegex(out, r"chunks\s+%d x 16\.0M" % self.nchunks)
        self.assertRegex(out, r"%.1f%% of the 256\.0M ceiling" % self.st["ceiling"]["used_percent"])
        self.assertRegex(out, r"events\s+%d recorded" % self.st["events"]["recorded"])
        self.assertNotIn("{", out)

    def test_status_json_flag_positions(self):
        a = json.loads(self.run_ctl("--json", "status").stdout)
        b = json.loads(self.run_ctl("status", "--json").stdout)
        c = json.loads(self.run_ctl("-j", "status").stdout)
        for x in (a, b, c):
            self.assertIs(x["ok"], True)
            self.assertEqual(x["target"]["pid"], self.pid)
            self.assertEqual(x["chunks"]["count"], self.nchunks)
            self.assertEqual(x["chunks"]["bytes"], self.st["chunks"]["bytes"])

    def test_outstanding_limit_rows(self):
        out = self.run_ctl("outstanding", "--class", "chunk", "--min-size", "16M",
                           "--limit", "3").stdout
        lines = out.splitlines()
        self.assertTrue(lines[0].split()[:3] == ["START", "LENGTH", "CLASS"], out)
        rows = [l for l in lines[1:] if l.startswith("0x")]
        self.assertLessEqual(len(rows), 3)
        self.assertEqual(len(rows), 3, out)  # there are 12 chunks to choose from
        for row in rows:
            self.assertEqual(row.split()[2], "chunk", row)
            self.assertEqual(row.split()[1], "16.0M", row)
        self.assertIn("(3 of %d shown)" % self.nchunks, out)

    def test_outstanding_json_args(self):
        a = json.loads(self.run_ctl("--json", "outstanding", "--class", "chunk", "--min-size",
                                    "16M", "--limit", "3").stdout)
        self.assertEqual(a["count"], 3)
        self.assertEqual(a["total"], self.nchunks)
        self.assertEqual(len(a["mappings"]), 3)
        for m in a["mappings"]:
            self.assertEqual(m["class"], "chunk")
            self.assertGreaterEqual(m["length"], 16 * MIB)
            self.assertRegex(m["thread"], r"^evloop-\d$")
        # A size filter above the chunk size matches no chunk.
        a = json.loads(self.run_ctl("--json", "outstanding", "--class", "chunk", "--min-size",
                                    "17M").stdout)
        self.assertEqual(a["total"], 0)
        self.assertEqual(a["mappings"], [])

    def test_threads_table(self):
        out = self.run_ctl("threads").stdout
        # The name comes last: a Java name is longer than a column.
        self.assertEqual(out.splitlines()[0].split(),
                         ["TID", "ALIVE", "OUTSTANDING", "CHUNKS", "MAPPED", "UNMAPPED", "NAME"])
        names = {l.split("  ")[-1] for l in out.splitlines()[1:]
                 if l.strip() and l.split()[0].isdigit()}
        self.assertIn("evloop-0", names)
        self.assertIn("evloop-1", names)
        self.assertRegex(out, r"(?m)^\s*%d\s+yes\b.*  chunks$" % self.pid)

    def test_events_text(self):
        out = self.run_ctl("events", "--limit", "5").stdout
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        for l in lines:
            self.assertRegex(l, STRACE_LINE)
        out = self.run_ctl("events", "--syscall", "mremap").stdout
        self.assertEqual(len(out.splitlines()), 2, out)  # grow and shrink
        self.assertTrue(all(" mremap(" in l for l in out.splitlines()))

    def test_events_json_format(self):
        out = self.run_ctl("events", "--limit", "3", "--format", "json").stdout
        evs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual(len(evs), 3)
        self.assertEqual([e["seq"] for e in evs], sorted(e["seq"] for e in evs))
        # --json, before or after the command, is the same: one event a line,
        # as --follow streams them.
        for args in (("--json", "events"), ("events", "--json")):
            with self.subTest(args=args):
                out = self.run_ctl(*args, "--limit", "3").stdout
                self.assertEqual([json.loads(l) for l in out.splitlines()], evs)

    def test_bad_value_exit_2(self):
        """A value the daemon refuses (bad_arg) is a usage error, as one
        memtracectl refuses itself."""
        for args in (("outstanding", "--class", "foo"), ("events", "--syscall", "foo"),
                     ("outstanding", "--limit", "200000"), ("stacks", "--class", "foo")):
            with self.subTest(args=args):
                r = self.run_ctl(*args, rc=2)
                self.assertIn("(bad_arg)", r.stderr)
                self.assertEqual(r.stdout, "")
                r = self.run_ctl("--json", *args, rc=2)
                a = json.loads(r.stdout)
                self.assertIs(a["ok"], False)
                self.assertEqual(a["error"]["code"], "bad_arg")

    def test_daemon_error_exit_1(self):
        """Other errors are the daemon's: peek is off without --allow-peek."""
        r = self.run_ctl("peek", "0x1000", rc=1)
        self.assertRegex(r.stderr, r"\((denied)\)")
        self.assertEqual(r.stdout, "")

    def test_status_rates_and_chunk_rss(self):
        """Text status shows the growth over the window and since start, and
        the resident bytes of the chunks (the target is stopped: stable)."""
        st = json.loads(self.run_ctl("--json", "status").stdout)
        out = self.run_ctl("status").stdout
        g = st["growth"]
        self.assertIsInstance(st["chunks"]["rss_bytes"], int)
        self.assertRegex(out, r"(?m)^chunks +%d x 16\.0M = %s \(%s resident\), " % (
            self.nchunks, re.escape(human(st["chunks"]["bytes"])),
            re.escape(human(st["chunks"]["rss_bytes"]))))
        # The rates of a stopped target hardly move between the two requests.
        m = re.search(r"(?m)^growth +(\S+) over \d+s, (\S+) since start, (\w+)", out)
        self.assertTrue(m, out)
        self.assertEqual(m.group(1)[0], "+" if g["rate_bytes_per_s"] >= 0 else "-")
        self.assertEqual(m.group(2)[0], "+" if g["overall_rate_bytes_per_s"] >= 0 else "-")
        self.assertTrue(m.group(2).endswith("/s"))
        self.assertEqual(m.group(3), g["trend"])

    def test_outstanding_rss_columns(self):
        """outstanding --rss adds RSS and DIRTY, as the JSON answer has them."""
        a = json.loads(self.run_ctl("--json", "outstanding", "--rss", "--class", "chunk").stdout)
        out = self.run_ctl("outstanding", "--rss", "--class", "chunk").stdout.splitlines()
        self.assertEqual(out[0].split(), ["START", "LENGTH", "CLASS", "PROT", "AGE", "TID",
                                          "RSS", "DIRTY", "THREAD"])
        rows = {l.split()[0]: l.split() for l in out[1:] if l.startswith("0x")}
        self.assertEqual(len(rows), len(a["mappings"]))
        self.assertGreater(sum(m["rss_bytes"] for m in a["mappings"]), 0)
        # null (a chunk that is not one VMA has no dirty figure) is "-".
        for m in a["mappings"]:
            self.assertEqual(rows[m["start"]][6:9],
                             [human(m[k]) if m[k] is not None else "-"
                              for k in ("rss_bytes", "dirty_bytes")] + [m["thread"]])
        plain = self.run_ctl("outstanding", "--class", "chunk").stdout.splitlines()
        self.assertNotIn("RSS", plain[0])


if __name__ == "__main__":
    mtlib.main()
