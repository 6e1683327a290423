#!/usr/bin/env python3
"""memtraced: options and config file values refused with a clear error.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import Raw, ctl, wait_socket  # noqa: E402


class TestDaemonOptions(unittest.TestCase):
    """memtraced's option and config file errors: exit 2, one line, target not run."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-opt-")
        self.sock = os.path.join(self.tmp, "mt.sock")
        self.marker = os.path.join(self.tmp, "ran")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_daemon(self, *opts, target=None):
        d = Raw([*opts, "--", *(target or [mtlib.target("stopcont"), self.marker])])
        try:
            rc = d.finish(20)
        finally:
            d.kill()
        return rc, d.err

    def refused(self, *opts, says):
        rc, err = self.run_daemon(*opts)
        self.assertEqual(rc, 2, "%s: exit %d: %s" % (opts, rc, err))
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(says, err)
        self.assertFalse(os.path.exists(self.marker), "the target ran anyway")
        return err

    def conf(self, text):
        path = os.path.join(self.tmp, "mt.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_size_above_int64_max(self):
        # The status answer showed such a ceiling as -1.
        for opt in ("--ceiling", "--chunk-size", "--chunk-slack", "--min-size"):
            for v in ("18446744073709551615", "9223372036854775808"):
                with self.subTest(opt=opt, v=v):
                    self.refused("-s", self.sock, opt, v, says="too large")
        rc, err = self.run_daemon("-s", self.sock, "--ceiling", "9223372036854775807",
                                  target=[mtlib.target("exitwith"), "0"])
        self.assertEqual(rc, 0, err)

    def test_duration_too_long(self):
        # 2147484s is 2^31 ms and a bit: --kill-timeout used to SIGKILL after ~1 s.
        for opt in ("--kill-timeout", "--alert-timeout", "--window"):
            for v in ("2147484s", "25d"):
                with self.subTest(opt=opt, v=v):
                    self.refused("-s", self.sock, opt, v, says="at most 24d")
        self.refused("-c", self.conf("kill-timeout = 25d\n"), says="mt.conf:1")
        rc, err = self.run_daemon("-s", self.sock, "--kill-timeout", "24d",
                                  "--alert-timeout", "24d", target=[mtlib.target("exitwith"), "0"])
        self.assertEqual(rc, 0, err)

    def test_bad_pid_says_pid(self):
        for v in ("abc", "0", "-5", "4294967296"):
            with self.subTest(v=v):
                err = self.refused("--pid", v, says="bad PID")
                self.assertNotIn("count", err)
        self.refused("-c", self.conf("pid = abc\n"), says="mt.conf:1: pid: bad PID")

    def test_empty_socket_path(self):
        # An empty sun_path would silently be an abstract socket.
        self.refused("-s", "", says="empty path")
        self.refused("-c", self.conf("socket =\n"), says="mt.conf:1")

    def test_repeated_string_options(self):
        # Any number of repeats, the last one winning (memtraced.conf(5)).
        socks = [os.path.join(self.tmp, "s%d.sock" % i) for i in range(70)]
        for how in ("command line", "config file"):
            with self.subTest(how=how):
                if how == "command line":
                    opts = [w for s in socks for w in ("--socket", s)]
                else:
                    opts = ["-c", self.conf("".join("socket = %s\nreport = %s.json\n" % (s, s)
                                                    for s in socks))]
                d = Raw([*opts, "--", mtlib.target("stopcont"), self.marker])
                try:
                    wait_socket(socks[-1], d.proc)
                    self.assertEqual(ctl("status", sock=socks[-1]).returncode, 0)
                    self.assertEqual([s for s in socks[:-1] if os.path.exists(s)], [])
                    d.proc.send_signal(signal.SIGTERM)
                    d.finish(20)
                finally:
                    d.kill()
                self.assertNotIn("out of memory", d.err)

    def test_config_unterminated_quote_names_the_line(self):
        path = self.conf("# a comment\nceiling = 1G\ncommand = \"x\n")
        self.refused("-c", path, says="%s:3: command: unterminated" % path)
        self.refused("-c", self.conf("command =   \n"), says="mt.conf:1: command")
        self.refused("--command", "'x y", says="--command: unterminated")

    def test_config_directory_is_an_error(self):
        err = self.refused("-c", self.tmp, says=self.tmp)
        self.assertIn("directory", err.lower())

    def test_config_value_errors_name_file_and_line(self):
        # These values were checked only after the files were read: their
        # errors named no file or line, and an unknown group exited 3.
        cases = [
            ("stacks = bogus\n", "{}:1: stacks: use none, chunk, large or all"),
            ("count = bogus\n", "{}:1: count: use chunk or large"),
            ("# depth\nstack-depth = 65\n", "{}:2: stack-depth: at most 64"),
            ("window = 500ms\n", "{}:1: window: at least 1s"),
            ("ring-events = 134217729\n", "{}:1: ring-events: at most 134217728"),
            ("cpu = x\n", "{}:1: cpu: bad CPU number 'x'"),
            ("socket-group = no-such-group-xyz\n", "{}:1: socket-group: no group named"),
            ("warn = 90\ncrit = 85\n", "{}:2: crit: 85 is below warn 90 ({}:1)"),
            ("warn = 96\n", "{}:1: warn: 96 is above crit 95 (default)"),
        ]
        for text, says in cases:
            with self.subTest(conf=text):
                path = self.conf(text)
                self.refused("-c", path, says=says.format(path, path))
        # The target chosen in the file alone conflicts with itself or with --cpu.
        for text, says in [("command = true\npid = 1\n", "{}:2: pid: give either"),
                           ("pid = 1\ncpu = 0\n", "{}:2: cpu: launch mode only")]:
            with self.subTest(conf=text):
                path = self.conf(text)
                d = Raw(["-c", path])
                try:
                    rc = d.finish(20)
                finally:
                    d.kill()
                self.assertEqual(rc, 2, d.err)
                self.assertTrue(d.err.startswith("memtraced: " + says.format(path)), d.err)
                self.assertEqual(len(d.err.splitlines()), 1, d.err)

    def test_warn_crit_name_where_each_came_from(self):
        path = self.conf("warn = 90\ncrit = 97\n")
        self.refused("-c", path, "--crit", "85", says="--crit: 85 is below warn 90 (%s:1)" % path)
        self.refused("-c", path, "--warn", "98",
                     says="--warn: 98 is above crit 97 (%s:2)" % path)
        self.refused("--crit", "85", "--warn", "90",
                     says="--warn: 90 is above crit 85 (command line)")
        # The command line wins: it can mend what the file gets wrong.
        path = self.conf("warn = 90\ncrit = 85\n")
        rc, err = self.run_daemon("-s", self.sock, "-c", path, "--crit", "95",
                                  target=[mtlib.target("exitwith"), "0"])
        self.assertEqual(rc, 0, err)

    def test_help_fits_one_screen(self):
        r = subprocess.run([mtlib.MEMTRACED, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertLessEqual(len(lines), 40, r.stdout)
        self.assertEqual([x for x in lines if len(x) > 80], [])
        # Nothing dropped: every option of memtraced(8) is listed.
        with open(os.path.join(mtlib.ROOT, "man", "memtraced.8")) as f:
            page = f.read().split("\n.Sh OPTIONS\n", 1)[1].split("\n.Sh ", 1)[0]
        names = re.findall(r"^\.It Fl .*", page, re.M)
        names = {n for line in names for n in re.findall(r"Fl -([a-z][a-z0-9-]*)", line)}
        self.assertGreater(len(names), 30)
        listed = set(re.findall(r"--([a-z][a-z0-9-]*)", r.stdout))
        self.assertEqual(names - listed, set())

    def test_socket_error_is_one_line(self):
        with open(self.sock, "w") as f:
            f.write("precious\n")
        rc, err = self.run_daemon("-s", self.sock)
        self.assertEqual(rc, 3, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(self.sock, err)
        self.assertFalse(os.path.exists(self.marker), "the target ran anyway")


if __name__ == "__main__":
    mtlib.main()
