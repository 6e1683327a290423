#!/usr/bin/env python3
"""memtraced --linger and the stop command.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import json
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import ctl  # noqa: E402


class TestLingerAndStop(unittest.TestCase):
    def test_linger_reports_exit_until_stop(self):
        d = mtlib.Daemon([mtlib.target("exitwith"), "7"], opts=["--linger"])
        err = mtlib.LineReader(d.proc.stderr)
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 20))
            st = d.ctl("status")
            self.assertEqual(st["target"]["exit_code"], 7)
            self.assertNotIn("signal", st["target"])
            # memtraced says this once it is done with the target and waits
            # for a stop; without --linger it would be exiting by now.
            err.wait_prefix("memtraced: target exited; still answering until stopped", 20)
            self.assertIsNone(d.proc.poll(), "a --linger daemon exited on its own")
            st2 = d.ctl("status")
            self.assertEqual(st2["target"]["state"], "exited")
            self.assertEqual(st2["target"]["exit_code"], 7)
            out = ctl("status", sock=d.sock).stdout
            self.assertIn("exited", out)
            self.assertIn("exit code 7", out)
            r = ctl("stop", sock=d.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            rc = d.proc.wait(20)
        finally:
            d.kill()
        self.assertEqual(rc, 7)  # memtraced exits with its target's status
        self.assertFalse(os.path.exists(d.sock), "socket left behind")
        self.assertEqual(ctl("status", sock=d.sock).returncode, 3)

    def test_linger_signal_exit(self):
        d = mtlib.Daemon([mtlib.target("exitwith"), "-s", "15"], opts=["--linger"])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 20))
            st = d.ctl("status")
            self.assertEqual(st["target"]["exit_code"], 128 + 15)
            self.assertEqual(st["target"]["signal"], 15)
            self.assertEqual(d.ctl("stop"), {"ok": True})
            d.finish(20)
        finally:
            d.kill()
        self.assertFalse(os.path.exists(d.sock))

    def test_stop_ends_linger_daemon(self):
        d = mtlib.Daemon([mtlib.target("chunks")], opts=["--linger"])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 20))
            self.assertTrue(os.path.exists(d.sock))
            r = ctl("stop", sock=d.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("stopping", r.stdout)
            rc = d.finish(20)
        finally:
            d.kill()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(d.sock))

    def test_stop_while_running(self):
        tmp = tempfile.mkdtemp(prefix="mt-stop-")
        beat = os.path.join(tmp, "beat")
        d = mtlib.Daemon([mtlib.target("stopcont"), beat])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(lambda: os.path.exists(beat), 10))
            r = ctl("--json", "stop", sock=d.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), {"ok": True})
            rc = d.finish(20)
        finally:
            d.kill()
        self.assertEqual(rc, 128 + signal.SIGTERM)  # stop sends the target SIGTERM
        self.assertFalse(os.path.exists(d.sock))


if __name__ == "__main__":
    mtlib.main()
