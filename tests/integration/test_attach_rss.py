#!/usr/bin/env python3
"""Attach adds 0 bytes to the target: memtraced --pid never faults a page in.

Seeding at attach looks for glibc's block headers in anonymous memory; it
must read only pages the target has resident, whatever the kernel does on a
read fault (here one allocates a page; elsewhere it maps the zero page).
tests/targets/holdmem.c holds malloc'd 16 MiB blocks (one page written
each: glibc's header) and a MAP_NORESERVE reservation with a known number of
pages written, and prints where they are.  For each shape, the target's Rss
(smaps_rollup) is the same, to the page, before the attach, while attached
and after the detach; the blocks are still found; status and the summary
say how long the attach held the target.
"""
import json
import os
import select
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import AttachDaemon, wait_for  # noqa: E402

CHUNK = 16781312


class HoldMem:
    """tests/targets/holdmem, answering TRUTH lines on stdout."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([mtlib.target("holdmem"), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.proc.pid
        self.truth = self.read_truth()
        # Settled: the main thread waits in read(2) for a command.
        if not wait_for(lambda: syscall_nr(self.pid) == 0, timeout=10):
            raise AssertionError("holdmem never settled in read(2)")

    def read_truth(self, timeout=30):
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise AssertionError("holdmem did not answer within %ss" % timeout)
        line = self.proc.stdout.readline()
        if not line.startswith("TRUTH "):
            raise AssertionError("holdmem said %r" % line)
        return json.loads(line[6:])

    def max_gap_us(self):
        self.proc.stdin.write("gap\n")
        return self.read_truth()["max_gap_us"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("exit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if not f.closed:
                f.close()


def syscall_nr(pid):
    """The system call PID's main thread is in, or None."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def rss_by_vma(pid):
    """{first line of each smaps entry: Rss kB}, to say where Rss moved."""
    out, head = {}, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                head = line.strip()
            elif first == "Rss:":
                out[head] = int(line.split()[1])
    return out


def moved(before, after):
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}


class AttachRss(unittest.TestCase):
    def hold(self, *args):
        h = HoldMem(*args)
        self.addCleanup(h.kill)
        return h

    def attach(self, pid, opts=()):
        # Syscall mode: the test ends with a detach, which filter mode never does.
        d = AttachDaemon(pid, ["--summary", "--json", *opts], mode="syscall")
        self.addCleanup(d.kill)
        return d, d.wait_state("running")

    def attached_rss_unchanged(self, h, check):
        """Attach to H, run CHECK(daemon, status), detach: H's Rss never moves."""
        before, vmas = mtlib.rss_bytes(h.pid), rss_by_vma(h.pid)
        d, st = self.attach(h.pid)
        self.assertEqual(mtlib.rss_bytes(h.pid), before, "the attach added to the target's Rss: %s"
                         % moved(vmas, rss_by_vma(h.pid)))
        check(d, st)
        self.assertIsInstance(st["attach"]["held_ms"], float)
        self.assertGreaterEqual(st["attach"]["held_ms"], st["attach"]["seed_ms"])
        self.assertEqual(mtlib.rss_bytes(h.pid), before, "queries added to the target's Rss")
        d.ctl("stop")
        self.assertEqual(d.finish(timeout=20), 0, d.err)
        self.assertTrue(wait_for(lambda: mtlib.tracer_pids(h.pid) and
                                 set(mtlib.tracer_pids(h.pid).values()) == {0}))
        self.assertEqual(mtlib.rss_bytes(h.pid), before, "the detach left the target bigger")
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        self.assertIn("held_ms", summary["attach"])
        h.stop()
        self.assertEqual(h.proc.returncode, 0)

    def test_chunk_with_one_written_page(self):
        """One malloc'd 16 MiB block: found, and resident by its one page."""
        h = self.hold("-c", "1")

        def check(d, st):
            self.assertEqual(st["chunks"]["count"], 1, st["chunks"])
            self.assertEqual(st["chunks"]["rss_bytes"], mtlib.PAGE, "its one written page")
            starts = [int(m["start"], 16)
                      for m in d.ctl("outstanding", "--class", "chunk")["mappings"]]
            self.assertEqual(starts, h.truth["chunks"])
        self.attached_rss_unchanged(h, check)

    def test_untouched_reservation(self):
        """2 GiB reserved, never written: not a page of it is read."""
        h = self.hold("-r", "2048")

        def check(d, st):
            lo, length = h.truth["reserve"]
            a = d.ctl("outstanding", "--limit", "100000", "--rss")
            held = [m for m in a["mappings"] if int(m["start"], 16) <= lo < int(m["start"], 16)
                    + m["length"]]
            self.assertEqual(len(held), 1)
            self.assertEqual(held[0]["rss_bytes"], 0)
        self.attached_rss_unchanged(h, check)

    def test_blocks_among_written_pages(self):
        """Blocks beside a reservation with a tenth of its pages written,
        the kernel merging them into one region: every block is found."""
        h = self.hold("-c", "3", "-r", "256", "-t", "100")

        def check(d, st):
            self.assertEqual(st["chunks"]["count"], 3, st["chunks"])
            starts = sorted(int(m["start"], 16)
                            for m in d.ctl("outstanding", "--class", "chunk")["mappings"])
            self.assertEqual(starts, sorted(h.truth["chunks"]))
        self.attached_rss_unchanged(h, check)

    def test_peek_of_a_seeded_chunk(self):
        """A peek of a block that was there before the attach reads its
        header page and nothing else."""
        h = self.hold("-c", "1")
        before = mtlib.rss_bytes(h.pid)
        d, st = self.attach(h.pid, ["--allow-peek"])
        a = d.ctl("peek", "%#x" % h.truth["chunks"][0], "--length", "64K")
        self.assertEqual(a["length"], 65536)
        self.assertEqual(a["gaps"], [{"offset": mtlib.PAGE, "length": 65536 - mtlib.PAGE,
                                      "why": "not resident"}])
        # glibc's header: prev_size 0, then the length with IS_MMAPPED.
        self.assertEqual(bytes.fromhex(a["data"])[8:16], (CHUNK | 2).to_bytes(8, "little"))
        self.assertEqual(mtlib.rss_bytes(h.pid), before)


if __name__ == "__main__":
    mtlib.main()
