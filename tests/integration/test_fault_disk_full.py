#!/usr/bin/env python3
"""Faults: the disk is full for --metrics-file and --report.

Both files go to a 256 KiB tmpfs this test mounts (skipped when it cannot)
and fills.  While it is full, memtraced says once, naming the file, that
the metrics file cannot be written (not every 5 s), and tracing goes on:
the chunks the target maps meanwhile are all counted.  Once there is room
the metrics file is written again, and says so.  Full again at exit, the
--report fails with a clear message, and memtraced still ends as its
target did, with a correct --summary.
"""
import ctypes
import json
import os
import signal
import struct
import subprocess
import tempfile
import unittest

import mtlib

CHUNKS = 30


def fill(path):
    """Write zeros to PATH until the file system is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError:
            pass


class Creations:
    """Counts the files named NAME created in directory PATH (inotify)."""

    IN_CREATE = 0x100

    def __init__(self, path, name):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_CREATE) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, "inotify_add_watch %s" % path)
        self.name = os.fsencode(name)
        self.count = 0

    def seen(self):
        """How many so far."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return self.count
            off = 0
            while off < len(data):
                _, _, _, n = struct.unpack_from("iIII", data, off)
                if data[off + 16:off + 16 + n].rstrip(b"\0") == self.name:
                    self.count += 1
                off += 16 + n

    def close(self):
        os.close(self.fd)


class DiskFull(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            mtlib.skip("mounting a tmpfs needs root")
        self.mnt = tempfile.mkdtemp(prefix="mt-full-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            mtlib.skip("cannot mount a tmpfs: %s" % r.stderr.strip())
        self.addCleanup(os.rmdir, self.mnt)
        self.addCleanup(subprocess.run, ["umount", self.mnt], check=True)
        self.filler = os.path.join(self.mnt, "filler")
        fill(self.filler)

    def test_disk_full(self):
        metrics = os.path.join(self.mnt, "metrics.prom")
        report = os.path.join(self.mnt, "report.json")
        # Each write of the metrics file begins by creating its temporary.
        writes = Creations(self.mnt, "metrics.prom.tmp")
        self.addCleanup(writes.close)
        d = mtlib.Daemon([mtlib.target("chunkhold"), "-n", str(CHUNKS), "-i", "100",
                          "-h", "120000"],
                         opts=["--metrics-file", metrics, "--report", report, "--summary",
                               "--json"])
        err = mtlib.LineReader(d.proc.stderr)
        try:
            d.wait_socket()
            line = err.wait_prefix("memtraced: --metrics-file", timeout=30)
            self.assertIn("No space left on device", line)
            # Tracing goes on: every chunk mapped after the failure is counted.
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["chunks"]["count"] == CHUNKS, timeout=60),
                d.ctl("status")["chunks"])
            # Two more failed writes (every 5 s), which must stay unsaid.
            self.assertTrue(mtlib.wait_for(lambda: writes.seen() >= 3, timeout=30),
                            "%d writes of the metrics file" % writes.seen())
            os.unlink(self.filler)
            self.assertTrue(mtlib.wait_for(lambda: os.path.exists(metrics), timeout=30),
                            err.text())
            err.wait_prefix("memtraced: --metrics-file %s: written again" % metrics)
            with open(metrics) as f:
                self.assertIn("memtrace_", f.read())
            fill(self.filler)
            d.proc.send_signal(signal.SIGTERM)
            code = d.proc.wait(timeout=60)
            err.thread.join(timeout=30)
        finally:
            d.kill()
            d.proc.stdout.close()
        text = err.text()
        self.assertEqual(code, 128 + signal.SIGTERM, text)
        before, _, after = text.partition("--metrics-file %s: written again" % metrics)
        fails = [l for l in before.splitlines() if "--metrics-file" in l and "No space" in l]
        self.assertEqual(len(fails), 1, text)
        # The disk is full again for the last write at exit: said once more, at most.
        fails = [l for l in after.splitlines() if "--metrics-file" in l and "No space" in l]
        self.assertLessEqual(len(fails), 1, text)
        self.assertIn("memtraced: --report %s: No space left on device" % report, text)
        self.assertFalse(os.path.exists(report))
        self.assertFalse(os.path.exists(report + ".tmp"))
        summary = [json.loads(l) for l in text.splitlines() if l.startswith("{")][-1]
        self.assertGreaterEqual(summary["events"]["by_syscall"]["mmap"], CHUNKS)


if __name__ == "__main__":
    mtlib.main()
