#!/usr/bin/env python3
"""Faults: the control socket's directory is removed under a running daemon.

memtracectl can no longer reach the daemon, which says so once on stderr
("control socket PATH is gone"), and tracing goes on: the target, which
maps and unmaps chunks for a while after the removal, ends with its own
exit status and memtraced's --summary --json counts every one of its
calls.
"""
import json
import os
import shutil
import subprocess
import time
import unittest

import mtlib


class SocketDirRemoved(unittest.TestCase):
    def test_socket_dir_removed(self):
        d = mtlib.Daemon([mtlib.target("chunkhold"), "-n", "20", "-i", "100", "-h", "200",
                          "-e", "3"], opts=["--summary", "--json"])
        try:
            d.wait_socket()
            self.assertIsNotNone(d.ctl("status"))
            shutil.rmtree(d.dir)
            r = subprocess.run([mtlib.MEMTRACECTL, "-s", d.sock, "status"],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no memtraced answers", r.stderr)
            code = d.finish(timeout=60)
        finally:
            d.kill()
        self.assertEqual(code, 3, d.err)
        lines = [l for l in d.err.splitlines() if "control socket" in l]
        self.assertEqual(len(lines), 1, d.err)
        self.assertIn("%s is gone" % d.sock, lines[0])
        truth = mtlib.truth(d.out)
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        self.assertGreaterEqual(summary["events"]["by_syscall"]["mmap"], truth["chunks"])
        self.assertGreaterEqual(summary["events"]["by_syscall"]["munmap"], truth["chunks"])
        self.assertEqual(summary["chunks"]["count"], 0)
        self.assertEqual(summary["events"]["dropped"], 0)


if __name__ == "__main__":
    mtlib.main()
