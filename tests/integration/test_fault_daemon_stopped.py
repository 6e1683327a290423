#!/usr/bin/env python3
"""Faults: memtraced itself is stopped (SIGSTOP) for 10 s while its target
maps memory.

The target waits: it makes no progress while the daemon is stopped (its
memory calls stop at the tracer, which cannot answer), and the thread
that maps is in a tracing stop.  After SIGCONT nothing is lost or broken:
the target runs to its end with its own exit status, every chunk it
mapped and unmapped is an event, none dropped, and the control socket
answers.
"""
import json
import os
import signal
import time
import unittest

import mtlib

CHUNKS = 40


def chunk_events(d):
    return [e for e in d.ctl("events", "--syscall", "mmap", "--limit", "100000")["events"]
            if e["args"][1] == 16781312]


class DaemonStopped(unittest.TestCase):
    def test_sigstop_daemon(self):
        d = mtlib.Daemon([mtlib.target("chunkhold"), "-n", str(CHUNKS), "-i", "100",
                          "-h", "100", "-e", "5"], opts=["--summary", "--json"])
        try:
            d.wait_socket()
            pid = mtlib.target_pid(d)
            self.assertTrue(mtlib.wait_for(lambda: len(chunk_events(d)) >= 3, timeout=30))
            os.kill(d.proc.pid, signal.SIGSTOP)
            try:
                # The mapping thread reaches its next mmap and waits there.
                self.assertTrue(mtlib.wait_for(
                    lambda: "t" in mtlib.task_states(pid).values(), timeout=10),
                    mtlib.task_states(pid))
                held = mtlib.task_states(pid)
                # Not a wait for a state: memtraced stays stopped 10 s, the
                # fault under test.
                time.sleep(10)
                self.assertEqual(mtlib.task_states(pid), held, "the target moved on")
                self.assertEqual(d.proc.poll(), None)
            finally:
                os.kill(d.proc.pid, signal.SIGCONT)
            self.assertIsNotNone(d.ctl("status"))
            code = d.finish(timeout=120)
        finally:
            d.kill()
        self.assertEqual(code, 5, d.err)
        truth = mtlib.truth(d.out)
        self.assertEqual(truth["chunks"], CHUNKS)
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        self.assertGreaterEqual(summary["events"]["by_syscall"]["mmap"], CHUNKS)
        self.assertGreaterEqual(summary["events"]["by_syscall"]["munmap"], CHUNKS)
        self.assertEqual(summary["events"]["dropped"], 0)
        self.assertEqual(summary["chunks"]["count"], 0)


if __name__ == "__main__":
    mtlib.main()
