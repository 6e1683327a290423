#!/usr/bin/env python3
"""memtraced under valgrind's memcheck: no errors, no definite leaks.

One launch scenario (tests/targets/chunkhold maps, holds and frees chunks,
their stacks captured) and one attach scenario (tests/targets/holdmem:
seeding reads pagemap and block headers; status, outstanding with stacks
and a peek are asked; then the detach), each with
`valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite`.
Launch mode installs its filter with prctl(PR_SET_SECCOMP), which valgrind
knows.  Skipped in the sanitizer build (ASan and valgrind do not mix) and
where valgrind is missing.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import wait_for  # noqa: E402
from test_attach_rss import HoldMem  # noqa: E402

VALGRIND = ["valgrind", "--error-exitcode=9", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--track-fds=no"]


def errors(stderr):
    """valgrind's error lines, for the failure message."""
    return "\n".join(l for l in stderr.splitlines() if l.startswith("=="))[-4000:]


class Memcheck(unittest.TestCase):
    def test_launch(self):
        r = subprocess.run([*VALGRIND, mtlib.MEMTRACED, "--no-socket", "--summary", "--json",
                            "--", mtlib.target("chunkhold"), "-n", "3", "-h", "300", "-w", "50"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, errors(r.stderr))
        self.assertIn("ERROR SUMMARY: 0 errors", r.stderr)
        summary = [json.loads(l) for l in r.stderr.splitlines() if l.startswith("{")][-1]
        self.assertGreaterEqual(summary["events"]["by_syscall"]["mmap"], 3, summary["events"])
        self.assertEqual(mtlib.truth(r.stdout)["chunks"], 3)

    def test_attach(self):
        """Both attach modes: filter (the default: injection, guard) and syscall."""
        for mode in ("filter", "syscall"):
            with self.subTest(mode=mode):
                self.attached(mode)

    def attached(self, mode):
        h = HoldMem("-c", "2", "-r", "64", "-t", "100")
        self.addCleanup(h.kill)
        tmp = tempfile.mkdtemp(prefix="mt-vg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "mt.sock")
        d = subprocess.Popen([*VALGRIND, mtlib.MEMTRACED, "-s", sock, "--allow-peek",
                              "--attach-mode", mode, "--pid", str(h.pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: d.poll() is None and d.kill())

        def ctl(*args):
            r = subprocess.run([mtlib.MEMTRACECTL, "-s", sock, "--json", *args],
                               capture_output=True, text=True, timeout=60)
            return json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 else None
        self.assertTrue(wait_for(lambda: os.path.exists(sock) and ctl("status"), timeout=120),
                        "memtraced under valgrind never answered")
        st = ctl("status")
        self.assertEqual(st["attach"]["mode"], mode)
        self.assertEqual(st["chunks"]["count"], 2)
        out = ctl("outstanding", "--stacks", "--rss", "--limit", "1000")
        self.assertEqual(out["total"], out["count"])
        a = ctl("peek", "%#x" % h.truth["chunks"][0], "--length", "8K")
        self.assertEqual(a["gaps"], [{"offset": mtlib.PAGE, "length": 8192 - mtlib.PAGE,
                                      "why": "not resident"}])
        subprocess.run([mtlib.MEMTRACECTL, "-s", sock, "stop"], capture_output=True, timeout=60)
        # In filter mode memtraced never leaves the target: it ends with it.
        h.stop()
        self.assertEqual(h.proc.returncode, 0)
        _, err = d.communicate(timeout=120)
        self.assertEqual(d.returncode, 0, errors(err))
        self.assertIn("ERROR SUMMARY: 0 errors", err)


if __name__ == "__main__":
    if "san" in os.path.basename(os.environ.get("MT_BUILD", "build")):
        mtlib.skip("the sanitizer build does not run under valgrind")
    if not shutil.which("valgrind"):
        mtlib.skip("valgrind is not installed")
    mtlib.main()
