#!/usr/bin/env python3
"""Attach: a target whose thread-group leader is a zombie.

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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import traced_by, tracer_pids, wait_for  # noqa: E402


class ZombieLeaderTest(mtlib.AttachCase):
    def test_attach_with_a_zombie_leader(self):
        """The leader left with pthread_exit() before the attach: its worker
        is traced.  A zombie leader has no address space (empty maps and
        cmdline), so the seed, the command line and residency come through
        the worker; live calls are seen; when the process ends, memtraced
        exits with its status."""
        argv = [mtlib.target("leaderexit"), "-l", "100", "-w", "4000", "-c"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z", timeout=5))
        d = self.attach(p.pid)
        st = d.ctl("status")
        self.assertEqual(st["target"]["argv"], argv)
        self.assertGreater(st["seeded"]["count"], 5, st["seeded"])
        self.assertEqual(st["chunks"]["count"], 1, "the chunk mapped before the attach")
        self.assertEqual(st["chunks"]["rss_bytes"], 4096, "its one touched page")
        self.assertTrue(wait_for(lambda: d.ctl("status")["chunks"]["count"] == 2, timeout=10))
        starts = sorted(int(m["start"], 16)
                        for m in d.ctl("outstanding", "--class", "chunk")["mappings"])
        self.assertEqual(starts, sorted(mtlib.read_truth_line(p)["chunks"]))
        self.assertEqual(d.finish(timeout=20), 0, d.err)
        self.assertEqual(p.wait(timeout=10), 0)

    def test_exec_after_a_zombie_leader(self):
        """Attached through the worker of a zombie leader, the worker execs:
        the kernel reports that exec under the leader's tid, which was never
        ours.  The new program must run on, be traced and named, and end."""
        prog = mtlib.target("chunkhold")
        p = subprocess.Popen([mtlib.target("leaderexit"), "-l", "100", "-w", "3000", "-x", prog],
                             stdout=subprocess.DEVNULL)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z", timeout=5))
        d = self.attach(p.pid)
        self.assertTrue(wait_for(lambda: d.ctl("status")["target"]["argv"] == [prog], timeout=10),
                        "states: %s" % mtlib.task_states(p.pid))
        self.assertTrue(wait_for(lambda: d.ctl("status")["chunks"]["count"] == 5, timeout=10),
                        "states: %s" % mtlib.task_states(p.pid))
        self.assertEqual(p.wait(timeout=20), 0)
        self.assertEqual(d.finish(timeout=20), 0, d.err)

    def test_detach_with_a_zombie_leader(self):
        """The main thread left with pthread_exit() while attached: a zombie
        leader never stops again, and the detach must not wait for it."""
        p = subprocess.Popen([mtlib.target("leaderexit"), "-l", "1500", "-w", "6000"],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        d = self.attach(p.pid)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z", timeout=5))
        t0 = time.monotonic()
        self.detach(d, "SIGTERM")
        self.assertLess(time.monotonic() - t0, 2.0, "the detach waited for the worker")
        self.assertTrue(wait_for(lambda: traced_by(p.pid, 0)), tracer_pids(p.pid))
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(mtlib.truth(p.stdout.read()), {"worker": "done"})


if __name__ == "__main__":
    mtlib.main()
