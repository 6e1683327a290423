#!/usr/bin/env python3
"""Attach: a target that execs after the attach is followed into its new image.

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
from mtlib import wait_for  # noqa: E402


class ExecTest(mtlib.AttachCase):
    def test_exec_after_attach(self):
        """The attached process execs another program: status names it, the
        table is seeded anew from the new address space, and the command
        line is the real argument list, not one string."""
        tmp = tempfile.mkdtemp(prefix="mt-exec-")
        self.addCleanup(shutil.rmtree, tmp, True)
        gate = os.path.join(tmp, "gate")
        script = "while [ ! -e %s ]; do sleep 0.05; done; exec %s -n 2 -h 20000" % (
            gate, mtlib.target("chunkhold"))
        p = subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        d = self.attach(p.pid)
        self.assertEqual(d.ctl("status")["target"]["argv"], ["/bin/sh", "-c", script])
        open(gate, "w").close()
        self.assertTrue(wait_for(lambda: d.ctl("status")["chunks"]["count"] == 2, timeout=10),
                        d.ctl("status")["chunks"])
        st = d.ctl("status")
        self.assertEqual(st["target"]["argv"], [mtlib.target("chunkhold"), "-n", "2", "-h", "20000"])
        self.assert_matches_maps(d, p.pid)
        self.detach(d, "SIGTERM")
        self.assert_untraced(p.pid)


if __name__ == "__main__":
    mtlib.main()
