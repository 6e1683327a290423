#!/usr/bin/env python3
"""Attach: the table is seeded from /proc/PID/maps, merged blocks split apart.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import CHUNK, mapping_start  # noqa: E402


class SeedTest(mtlib.AttachCase):
    def test_seed(self):
        """Attach after 5 adjacent blocks: each is its own chunk, the table is /proc/PID/maps."""
        a = self.start("-k", "5")
        t = a.ready
        self.assertEqual(len(t["chunks"]), 5)
        region = self.assert_merged(a.pid, t["chunks"])
        self.assertGreaterEqual(region[1] - region[0], 5 * CHUNK)
        d = self.attach(a.pid)
        st = d.ctl("status")
        self.assertEqual(st["target"]["pid"], a.pid)
        self.assertGreater(st["seeded"]["count"], 0)
        self.assertGreater(st["seeded"]["bytes"], 0)
        chunks = self.outstanding(d, "--class", "chunk")
        self.assertEqual(sorted(mapping_start(m) for m in chunks), sorted(t["chunks"]))
        for m in chunks:
            self.assertEqual(m["length"], CHUNK)
            self.assertTrue(m["preexisting"])
            self.assertTrue(m["anonymous"])
            self.assertEqual(m["prot"], "rw-p")
        self.assert_same_chunks(d, t)
        st = self.assert_matches_maps(d, a.pid)
        # Nothing but the seed so far (the target is idle in memory terms).
        self.assertEqual(st["events"]["recorded"], 0)
        self.assertEqual((st["seeded"]["count"], st["seeded"]["bytes"]),
                         (st["outstanding"]["count"], st["outstanding"]["bytes"]))
        self.detach(d)

    def test_seed_first_query(self):
        """The very first status answer already has the seeded table.

        The vforker thread (-v) keeps a vfork child alive for 300 ms at a
        time, so the attach waits for that thread's first stop; a client
        that connects as soon as the socket takes connections must still
        see the attached, seeded target, not an empty "starting" one."""
        a = self.start("-k", "5", "-v", "300")
        self.assert_merged(a.pid, a.ready["chunks"])
        d = self.attach(a.pid, ready=False)
        st = d.first_status()
        self.assertEqual((st["target"]["pid"], st["target"]["state"]), (a.pid, "running"),
                         "first status answer: %s" % st["target"])
        self.assertEqual(st["chunks"]["count"], 5, "first status answer: %s" % st["chunks"])
        self.assertGreater(st["seeded"]["count"], 0)
        d.wait_state("running")
        self.assert_same_chunks(d, a.cmd("report"))
        self.detach(d)
        self.assert_untraced(a.pid)
        v0 = a.cmd("report")["vforks"]
        self.assertGreater(self.poll_report(a, lambda t: t["vforks"] > v0)["vforks"], v0,
                           "the vforking thread stopped after the detach")

    def test_seeded_arena_grows(self):
        """A thread's malloc arena exists before the attach, and glibc's
        raised threshold sends 16 MiB mallocs to it after: the heap grows by
        mprotect inside its seeded reservation.  That is arena memory, as
        the status warning says, never chunks."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")}
        p = subprocess.Popen([mtlib.target("threshold"), "-g", "-n", "3", "-h", "20000"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertEqual(p.stdout.readline().strip(), "ready")
        d = self.attach(p.pid)
        before = d.ctl("status")
        p.stdin.write("go\n")
        p.stdin.flush()
        self.assertEqual(mtlib.read_truth_line(p)["held"], 3)
        st = d.ctl("status")
        self.assertGreaterEqual(st["events"]["by_syscall"]["mprotect"], 3, st["events"])
        self.assertEqual(st["chunks"]["count"], 0,
                         "arena memory counted as chunks: %s" % st["outstanding"]["classes"])
        # The seeded heap counts as arena memory from the start.
        self.assertTrue(0 < before["arena"]["committed_bytes"] < 16 << 20, before["arena"])
        self.assertGreaterEqual(st["arena"]["committed_bytes"], 3 * 16 << 20, st["arena"])

    def test_seed_raw_neighbour(self):
        """A mapping the program made itself (no chunk header) right below the
        blocks merges with them in /proc/PID/maps; the blocks are still five
        chunks."""
        a = self.start("-k", "5", "-r", "16")
        t = a.ready
        raw_start, raw_len = t["raw"]
        self.assertEqual(raw_start + raw_len, min(t["chunks"]), "the raw pages did not land "
                         "right below the blocks")
        region = self.assert_merged(a.pid, t["chunks"])
        self.assertLessEqual(region[0], raw_start, "the raw pages are not merged with the blocks")
        d = self.attach(a.pid)
        self.assert_matches_maps(d, a.pid)
        self.assert_same_chunks(d, t)
        self.detach(d)


if __name__ == "__main__":
    mtlib.main()
