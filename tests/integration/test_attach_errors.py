#!/usr/bin/env python3
"""Attach: every way an attach can fail is a clear error and leaves the target as it was.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import (EXIT_ATTACH, held_for, none_stopped,  # noqa: E402
                   task_states, traced_by, tracer_pids, wait_for)


class ErrorsTest(mtlib.AttachCase):
    def attach_fails(self, pid, opts=(), prefix=()):
        """Run memtraced --pid PID; it must exit 4 with one line on stderr."""
        sockdir = tempfile.mkdtemp(prefix="mt-test-")
        self.addCleanup(shutil.rmtree, sockdir, True)
        sock = os.path.join(sockdir, "mt.sock")
        sockopt = ["--no-socket"] if "--no-socket" in opts else ["-s", sock]
        cmd = [*prefix, mtlib.MEMTRACED, *sockopt, *[o for o in opts if o != "--no-socket"],
               "--pid", str(pid)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        self.assertEqual(r.returncode, EXIT_ATTACH, "exit code; stderr: %r" % r.stderr)
        self.assertEqual(len(lines), 1, "want one line on stderr, got %r" % r.stderr)
        self.assertFalse(os.path.exists(sock), "socket left behind by a failed attach")
        return lines[0]

    def test_error_no_such_pid(self):
        p = subprocess.Popen(["true"])
        p.wait()
        self.assertFalse(os.path.exists("/proc/%d" % p.pid))
        msg = self.attach_fails(p.pid)
        self.assertIn(str(p.pid), msg)
        self.assertIn("no process", msg)

    def test_error_zombie(self):
        p = subprocess.Popen(["true"])
        self.addCleanup(p.wait)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z"))
        msg = self.attach_fails(p.pid)
        self.assertIn(str(p.pid), msg)
        self.assertIn("zombie", msg)
        self.assertEqual(mtlib.proc_state(p.pid), "Z")

    def strace(self, tid, *opts):
        if not shutil.which("strace"):
            self.skipTest("strace is not installed")
        s = subprocess.Popen(["strace", *opts, "-o", "/dev/null", "-p", str(tid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            s.terminate()
            s.wait()
        self.addCleanup(stop)
        return s

    def test_error_already_traced(self):
        """Another tracer holds the process: the message names it."""
        a = self.start("-k", "5")
        s = self.strace(a.pid, "-f")
        self.assertTrue(wait_for(lambda: traced_by(a.pid, s.pid)),
                        "strace did not attach: %s" % tracer_pids(a.pid))
        msg = self.attach_fails(a.pid)
        self.assertIn("PID %d" % s.pid, msg)
        self.assertIn("strace", msg)
        self.assertTrue(traced_by(a.pid, s.pid), tracer_pids(a.pid))
        self.assertEqual(a.cmd("report")["pid"], a.pid)

    def test_error_one_thread_traced(self):
        """Another tracer holds one thread only (not the leader): the attach fails,
        the message names that tracer, and the threads memtraced had seized
        already are let go."""
        a = self.start("-k", "5")
        worker = a.ready["tids"]["worker"]
        s = self.strace(worker)
        self.assertTrue(wait_for(lambda: tracer_pids(a.pid).get(worker) == s.pid),
                        "strace did not attach: %s" % tracer_pids(a.pid))
        msg = self.attach_fails(a.pid)

        def traced():
            return {k: v for k, v in tracer_pids(a.pid).items() if v}
        wait_for(lambda: traced() == {worker: s.pid}, timeout=5)
        self.assertEqual(traced(), {worker: s.pid}, "threads left traced by the failed attach")
        self.assertTrue(held_for(lambda: none_stopped(a.pid), 0.3), task_states(a.pid))
        self.assertEqual(a.cmd("report")["pid"], a.pid)
        self.assertIn("PID %d" % s.pid, msg)
        self.assertIn("strace", msg)

    def test_error_not_permitted(self):
        """Not root, attaching to root's process: the message says what is needed."""
        if os.geteuid() != 0:
            self.skipTest("needs root to start a process as another user")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is not installed")
        a = self.start("-k", "1")
        msg = self.attach_fails(a.pid, ["--no-socket"],
                                ["setpriv", "--reuid", "65534", "--regid", "65534",
                                 "--clear-groups"])
        self.assertTrue("CAP_SYS_PTRACE" in msg or "root" in msg, msg)
        self.assertIn(str(a.pid), msg)
        self.assertEqual(a.cmd("report")["pid"], a.pid)
        self.assertTrue(traced_by(a.pid, 0), tracer_pids(a.pid))

    def test_error_root_without_cap_sys_ptrace(self):
        """Root, but CAP_SYS_PTRACE dropped: the message names the capability."""
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv")
        a = self.start("-k", "1")
        msg = self.attach_fails(a.pid, ["--no-socket"],
                                ["setpriv", "--inh-caps=-sys_ptrace",
                                 "--bounding-set=-sys_ptrace"])
        self.assertIn("without CAP_SYS_PTRACE", msg)
        self.assertIn(str(a.pid), msg)
        self.assertTrue(traced_by(a.pid, 0), tracer_pids(a.pid))


if __name__ == "__main__":
    mtlib.main()
