#!/usr/bin/env python3
"""memtracectl peek: a decimal event id or a hex address.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import Raw, ctl, wait_socket  # noqa: E402


class TestPeekArgument(unittest.TestCase):
    """peek's first argument: decimal is an event id (never octal), 0x or 0X an address."""

    def test_decimal_id_and_hex_address(self):
        if os.geteuid() != 0:
            self.skipTest("peek is for root")
        tmp = tempfile.mkdtemp(prefix="mt-peek-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "mt.sock")
        d = Raw(["-s", sock, "--allow-peek", "--", mtlib.target("stopcont"),
                 os.path.join(tmp, "beat")])
        try:
            wait_socket(sock, d.proc)
            # Read as octal this would be event 262143.
            r = ctl("peek", "0777777", sock=sock)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("no outstanding mapping made by event 777777", r.stderr)
            for addr in ("0X10", "0x10"):
                r = ctl("peek", addr, sock=sock)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("cannot read 0x10", r.stderr)
        finally:
            d.proc.send_signal(signal.SIGTERM)
            try:
                d.finish(20)
            finally:
                d.kill()


if __name__ == "__main__":
    mtlib.main()
