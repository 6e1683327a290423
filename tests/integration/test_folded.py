#!/usr/bin/env python3
"""stacks --folded: Brendan Gregg's folded format, for flame graphs.

Against tests/targets/chunkhold (four chunks mapped by one thread, held):
every line is "frame;frame;... BYTES", root first, with no pc offsets or
raw addresses and no empty frame; the chunk stack ends in the thread's
loop and mmap; the bytes of all lines add up to status's outstanding
bytes (mappings without a stack are the "[no stack]" line); and
flamegraph.pl's own parser (split at the last space) reads every line.
"""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

LINE = re.compile(r"^(\S.*) (\d+)$")


class Folded(unittest.TestCase):
    def run_with(self, stacks):
        d = mtlib.Daemon([mtlib.target("chunkhold"), "-n", "4", "-h", "20000"],
                         ["--stacks", stacks])
        self.addCleanup(d.kill)
        d.wait_socket()
        self.assertTrue(mtlib.wait_for(lambda: d.ctl("status")["chunks"]["count"] == 4,
                                       timeout=20))
        r = mtlib.ctl_run(d.sock, "stacks", "--folded")
        self.assertEqual(r.returncode, 0, r.stderr)
        return d, r.stdout.splitlines()

    def check_lines(self, d, lines):
        total = 0
        for line in lines:
            m = LINE.match(line)
            self.assertIsNotNone(m, "not folded: %r" % line)
            frames = m.group(1).split(";")
            self.assertNotIn("", frames, line)
            for f in frames:
                self.assertNotRegex(f, r"\+0x[0-9a-f]+", line)
                self.assertNotRegex(f, r"\b0x[0-9a-f]{6,}", line)
            total += int(m.group(2))
        # The snapshot and the status are taken while chunkhold holds still.
        self.assertEqual(total, d.ctl("status")["outstanding"]["bytes"])

    def test_chunk_stacks(self):
        d, lines = self.run_with("chunk")
        self.check_lines(d, lines)
        chunk = [l for l in lines if "loop (chunkhold)" in l]
        self.assertEqual(len(chunk), 1, lines)
        frames = LINE.match(chunk[0]).group(1).split(";")
        # Root first: the thread's start, then loop, then the mmap call.
        self.assertLess(frames.index("start_thread (libc.so.6)"),
                        frames.index("loop (chunkhold)"))
        self.assertTrue(frames[-1].startswith("mmap"), frames)
        self.assertEqual(int(LINE.match(chunk[0]).group(2)), 4 * 16781312)
        self.assertTrue(any(l.startswith("[no stack] ") for l in lines), lines)

    def test_all_stacks(self):
        d, lines = self.run_with("all")
        self.check_lines(d, lines)
        self.assertGreater(len(lines), 1)


if __name__ == "__main__":
    mtlib.main()
