#!/usr/bin/env python3
"""memtracectl wait --json: active, timeout, raised.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import ctl  # noqa: E402


class TestWaitJson(unittest.TestCase):
    """memtracectl --json wait prints one JSON object however it ends."""

    def setUp(self):
        self.d = None
        self.tmp = tempfile.mkdtemp(prefix="mt-wait-")

    def tearDown(self):
        if self.d:
            if self.d.proc.poll() is None:
                self.d.proc.send_signal(signal.SIGTERM)
                try:
                    self.d.finish(20)
                except subprocess.TimeoutExpired:
                    pass
            self.d.kill()
            shutil.rmtree(self.d.dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, argv, ceiling):
        self.d = mtlib.Daemon(argv, opts=["--ceiling", ceiling, "--kill-timeout", "500ms"])
        self.d.wait_socket()

    def wait_json(self, *args, rc):
        r = ctl("--json", "wait", *args, sock=self.d.sock)
        self.assertEqual(r.returncode, rc, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        return json.loads(lines[0])

    def test_active(self):
        # 12 chunks of `chunks -p` against a 64M ceiling: crit from the start.
        self.start([mtlib.target("chunks"), "-p"], "64M")
        pid = mtlib.target_pid(self.d)
        self.assertTrue(mtlib.wait_stopped(pid))
        self.assertTrue(mtlib.wait_for(lambda: self.d.ctl("status")["ceiling"]["level"] == "crit",
                                       10))
        self.assertEqual(self.wait_json("--level", "crit", "--timeout", "1s", rc=0),
                         {"wait": "crit", "result": "active", "level": "crit"})
        self.assertEqual(self.wait_json(rc=0), {"wait": "warn", "result": "active",
                                                "level": "crit"})
        # Text without --json, as before.
        r = ctl("wait", sock=self.d.sock)
        self.assertEqual((r.returncode, r.stdout), (0, "level crit is active\n"))
        os.kill(pid, signal.SIGCONT)
        self.d.finish(20)

    def test_timeout(self):
        self.start([mtlib.target("stopcont"), os.path.join(self.tmp, "beat")], "1G")
        self.assertEqual(self.wait_json("--timeout", "200ms", rc=1),
                         {"wait": "warn", "result": "timeout"})
        r = ctl("wait", "--level", "crit", "--timeout", "200ms", sock=self.d.sock)
        self.assertEqual((r.returncode, r.stdout), (1, "no crit alert before the timeout\n"))

    def test_raised(self):
        # Five chunks a second apart against an 80M ceiling: warn at the
        # fourth, well after the wait has started.
        self.start([mtlib.target("chunkhold"), "-n", "5", "-i", "1000", "-h", "500"], "80M")
        o = self.wait_json("--timeout", "20s", rc=0)
        self.assertEqual(o["wait"], "warn")
        self.assertEqual(o["result"], "raised", o)
        self.assertEqual(o["level"], "warn")
        self.assertEqual((o["alert"]["level"], o["alert"]["state"]), ("warn", "raised"))
        self.assertGreaterEqual(o["alert"]["percent"], 80)


if __name__ == "__main__":
    mtlib.main()
