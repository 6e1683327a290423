#!/usr/bin/env python3
"""memtracectl top, on a real terminal and off one.

Against tests/targets/chunkhold (a thread named nioEventLoop-7 maps four
chunks of 16781312 bytes and holds them) traced with a 76M ceiling, so the
four chunks are 84.2% of it: level warn.
 - Under tmux (80x24): the screen shows the bar with 84.2%, the level WARN
   in colour, nioEventLoop-7 as the top thread and loop (chunkhold) as the
   top allocation site; a resize to 110x30 redraws at the new width; q
   exits 0 with the terminal as it was (stty settings, main screen, cursor).
 - SIGTERM gives the terminal back too, and memtracectl dies of it.
 - Not a tty: one line a refresh, --iterations N of them, a refresh apart;
   with --json, objects whose weighed bytes are the four chunks.
Exit 77 when tmux is missing (scripts/install-deps installs it).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

CHUNK = 16781312
CEILING = 76 << 20


class Top(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("chunkhold"), "-n", "4", "-h", "600000"],
                             ["--ceiling", "76M", "--stacks", "chunk"])
        d = cls.d
        try:
            d.wait_socket()
            ok = mtlib.wait_for(lambda: d.ctl("status")["chunks"]["count"] == 4, timeout=20)
            assert ok, "chunkhold never held four chunks"
            # The trend may alert while the chunks come; held, only the percentage counts.
            ok = mtlib.wait_for(lambda: d.ctl("status")["ceiling"]["level"] == "warn", timeout=30)
            assert ok, "level never settled at warn: %s" % d.ctl("status")["ceiling"]
        except Exception:
            d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-top-")
        self.tmux = ["tmux", "-L", "mt-top-%d-%s" % (os.getpid(), self._testMethodName),
                     "-f", "/dev/null"]
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(subprocess.run, self.tmux + ["kill-server"], capture_output=True)

    def tm(self, *args):
        r = subprocess.run(self.tmux + list(args), capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, "tmux %s: %s" % (args, r.stderr))
        return r.stdout

    def start(self, shell=False):
        """memtracectl top in a new 80x24 pane, between two stty -g.  With
        SHELL, each typed into an interactive bash (^Z needs its job
        control), top alone in its job as a user runs it."""
        f = lambda n: os.path.join(self.tmp, n)  # noqa: E731
        top = "%s -s %s top" % (mtlib.MEMTRACECTL, self.d.sock)
        after = "r=$?; stty -g >%s; echo $r >%s.tmp; mv %s.tmp %s" % (f("after"), f("rc"),
                                                                   f("rc"), f("rc"))
        if not shell:
            self.tm("new-session", "-d", "-x", "80", "-y", "24", "sh", "-c",
                    "stty -g >%s; %s; %s; exec sleep 600" % (f("before"), top, after))
            return f, None
        self.tm("new-session", "-d", "-x", "80", "-y", "24", "env", "PS1=$ ", "bash",
                "--norc", "--noprofile", "-i")
        for line in ("stty -g >%s" % f("before"), top):
            self.wait_screen(lambda s: s.rstrip().endswith("$"))
            self.tm("send-keys", "-l", line)
            self.tm("send-keys", "Enter")
        return f, after

    def screen(self, escapes=False):
        return self.tm("capture-pane", "-p", *(["-e"] if escapes else []))

    def wait_screen(self, pred, timeout=15):
        got = []

        def check():
            got[:] = [self.screen()]
            return pred(got[0])
        ok = mtlib.wait_for(check, timeout=timeout, interval=0.1)
        self.assertTrue(ok, "the screen never showed what was expected:\n" + got[0])
        return got[0]

    def finished(self, f, after=None, timeout=10):
        if after:
            self.wait_screen(lambda s: s.rstrip().endswith("$"))
            self.tm("send-keys", "-l", after)
            self.tm("send-keys", "Enter")
        self.assertTrue(mtlib.wait_for(lambda: os.path.exists(f("rc")), timeout),
                        "memtracectl top did not exit:\n" + self.screen())
        with open(f("rc")) as r:
            rc = int(r.read())
        with open(f("before")) as b, open(f("after")) as a:
            self.assertEqual(a.read(), b.read(), "stty settings not restored")
        flags = self.tm("display", "-p", "#{alternate_on} #{cursor_flag}").split()
        self.assertEqual(flags, ["0", "1"], "alternate screen or hidden cursor left on")
        self.assertNotIn("memtrace top", self.screen())
        return rc

    def test_screen_then_q(self):
        f, _ = self.start()
        s = self.wait_screen(lambda s: "nioEventLoop-7" in s and "(chunkhold)" in s)
        lines = s.splitlines()
        self.assertEqual(len(lines), 24, s)
        self.assertEqual([x for x in lines if len(x) > 80], [], s)
        head = lines[0]
        self.assertTrue(head.startswith("memtrace top  pid %d chunkhold"
                                        % mtlib.target_pid(self.d)), s)
        self.assertRegex(head, r" WARN  \d\d:\d\d:\d\d$")
        pct = "%.1f%%" % (100.0 * 4 * CHUNK / CEILING)
        bar = [x for x in lines if x.startswith("weighed  [")]
        self.assertEqual(len(bar), 1, s)
        self.assertRegex(bar[0], r"^weighed  \[█+[·|]+\] 64\.0M / 76\.0M +%s$" % re.escape(pct))
        # The filled part is 84% of the bar's cells.
        cells = bar[0][len("weighed  ["):bar[0].index("]")]
        self.assertAlmostEqual(cells.count("█") / len(cells), 4 * CHUNK / CEILING, delta=0.03)
        self.assertTrue(any(x.startswith("history  ") for x in lines), s)
        self.assertTrue(any(re.match(r"^events +(\d+|-)/s", x) for x in lines), s)
        # The top thread, first row under its heading; the top site under its own.
        th = lines.index(next(x for x in lines if "THREAD" in x and "TID" in x))
        self.assertRegex(lines[th + 1], r"^ +\d+ +\S+ +64\.0M  nioEventLoop-7$")
        si = lines.index(next(x for x in lines if "ALLOCATION SITE" in x))
        self.assertRegex(lines[si + 1], r"^ +4 +64\.0M  loop\+0x[0-9a-f]+ \(chunkhold\)")
        # The level in colour: a yellow background (SGR 43) just before WARN.
        esc = self.screen(escapes=True).splitlines()[0]
        self.assertRegex(esc, r"\x1b\[[0-9;]*43m[^\x1b]*WARN")
        # A resize redraws at the new width.
        self.tm("resize-window", "-x", "110", "-y", "30")
        s = self.wait_screen(lambda s: any(len(x) > 100 and x.startswith("weighed  [")
                                           for x in s.splitlines()))
        self.assertEqual(len(s.splitlines()), 30, s)
        self.tm("send-keys", "q")
        self.assertEqual(self.finished(f), 0)

    def top_pid(self):
        """The pid of memtracectl, the one child of the pane's shell."""
        sh = int(self.tm("display", "-p", "#{pane_pid}"))
        with open("/proc/%d/task/%d/children" % (sh, sh)) as c:
            kids = [int(x) for x in c.read().split()]
        self.assertEqual(len(kids), 1, kids)
        with open("/proc/%d/comm" % kids[0]) as c:
            self.assertEqual(c.read().strip(), "memtracectl")
        return kids[0]

    def test_sigterm_restores_terminal(self):
        f, _ = self.start()
        self.wait_screen(lambda s: "memtrace top" in s)
        os.kill(self.top_pid(), 15)
        self.assertEqual(self.finished(f), 128 + 15)

    def test_stop_and_continue(self):
        """^Z: the terminal is given back while top is stopped, taken again
        and redrawn at fg."""
        f, after = self.start(shell=True)
        self.wait_screen(lambda s: "memtrace top" in s)
        self.tm("send-keys", "C-z")
        self.wait_screen(lambda s: "Stopped" in s)
        self.assertEqual(self.tm("display", "-p", "#{alternate_on} #{cursor_flag}").split(),
                         ["0", "1"])
        self.assertNotIn("memtrace top", self.screen())
        self.tm("send-keys", "-l", "fg")
        self.tm("send-keys", "Enter")
        self.wait_screen(lambda s: "memtrace top" in s and "nioEventLoop-7" in s)
        self.assertEqual(self.tm("display", "-p", "#{alternate_on}").strip(), "1")
        self.tm("send-keys", "q")
        self.assertEqual(self.finished(f, after), 0)

    def test_lines_when_not_a_tty(self):
        t0 = time.monotonic()
        r = mtlib.ctl_run(self.d.sock, "top", "--iterations", "3")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, r.stdout)
        self.assertGreaterEqual(took, 2.0)
        for x in lines:
            self.assertNotIn("\x1b", x)
            self.assertRegex(x, r"^\d\d:\d\d:\d\d level warn, 64\.0M of 76\.0M \(84\.2%\), "
                             r"[-+][\d.]+\w?/s(, ceiling in \d+s)?, (-|\d+) events/s; "
                             r"thread nioEventLoop-7 64\.0M; site loop\+0x[0-9a-f]+ "
                             r"\(chunkhold\) 64\.0M$")

    def test_json_lines(self):
        r = mtlib.ctl_run(self.d.sock, "--json", "top", "--iterations", "2",
                          "--interval", "200ms")
        self.assertEqual(r.returncode, 0, r.stderr)
        objs = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(len(objs), 2, r.stdout)
        for o in objs:
            self.assertEqual(o["level"], "warn")
            self.assertEqual(o["weighed_bytes"], 4 * CHUNK)
            self.assertEqual(o["ceiling_bytes"], CEILING)
            self.assertEqual(o["top_thread"]["name"], "nioEventLoop-7")
            self.assertEqual(o["top_thread"]["outstanding_bytes"], 4 * CHUNK)
            self.assertEqual((o["top_site"]["count"], o["top_site"]["bytes"]), (4, 4 * CHUNK))
        self.assertIsNone(objs[0]["events_per_s"])
        # Held still: no memory calls between the two refreshes.
        self.assertEqual(objs[1]["events_per_s"], 0)

    def test_usage(self):
        for args in (["--iterations", "0"], ["--interval", "10ms"], ["--bogus"]):
            r = mtlib.ctl_run(self.d.sock, "top", *args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))


if __name__ == "__main__":
    if not shutil.which("tmux"):
        mtlib.skip("tmux is missing (scripts/install-deps installs it)")
    mtlib.main()
