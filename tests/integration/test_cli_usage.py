#!/usr/bin/env python3
"""memtracectl: --help, --version, usage errors and no daemon.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import (DEFAULT_ROOT_SOCKET, Raw, clean_env,  # noqa: E402
                   command_names, ctl, own_command_names, wait_socket)


class TestUsage(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-cli-")
        self.sock = os.path.join(self.tmp, "none.sock")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_help_lists_every_command(self):
        for flag in ("--help", "-h"):
            r = ctl(flag)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage: memtracectl", r.stdout)
            listed = re.findall(r"^  (\w+)\s+\S", r.stdout.split("Commands:", 1)[1], re.M)
            for name in command_names():
                self.assertIn(name, listed, "--help does not list %s" % name)
        for opt in ("--class", "--min-size", "--older-than", "--limit", "--sort", "--all",
                    "--syscall", "--follow", "--format", "--json", "--socket"):
            self.assertIn(opt, r.stdout)

    def test_help_fits_one_screen(self):
        """--help: at most 40 lines of at most 80 columns, every command and
        every option memtracectl(1) gives it still listed; COMMAND --help
        shows that command's options one a line."""
        r = ctl("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertLessEqual(len(lines), 40, r.stdout)
        self.assertEqual([x for x in lines if len(x) > 80], [])
        with open(os.path.join(mtlib.ROOT, "man", "memtracectl.1")) as f:
            page = f.read()
        globals_ = re.findall(r"^\.It Fl (\w)(?: Ar \w+)? , Fl -(\w+)", page, re.M)
        self.assertEqual(len(globals_), 4, globals_)
        for opt in globals_:
            self.assertRegex(r.stdout, r"(?m)^  -%s, --%s\b" % opt)
        cmds = page.split("\n.Sh COMMANDS\n", 1)[1].split("\n.Sh ", 1)[0]
        items = re.findall(r"^\.It Ic (\w+)(.*)", cmds, re.M)
        self.assertEqual(sorted(n for n, _ in items), sorted(command_names() + own_command_names()))
        blocks = re.split(r"(?m)^  (?=\w)", r.stdout.split("Commands:\n", 1)[1])[1:]
        listed = {b.split()[0]: set(re.findall(r"--[a-z-]+", b.split("\n", 1)[1]))
                  for b in blocks}
        for name, synopsis in items:
            with self.subTest(command=name):
                # "Fl -hexdump | -strings" is two options.
                want = set("--" + o for o in re.findall(r"(?:Fl |\| )-([a-z-]+)", synopsis))
                self.assertEqual(listed.get(name), want)
                c = ctl(name, "--help")
                self.assertEqual(c.returncode, 0, c.stderr)
                self.assertTrue(c.stdout.startswith("usage: memtracectl "), c.stdout)
                own = re.findall(r"(?m)^  (--[a-z-]+)", c.stdout)
                self.assertEqual(sorted(own), sorted(want), c.stdout)
                self.assertEqual([x for x in c.stdout.splitlines() if len(x) > 80], [])

    def test_version(self):
        r = ctl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^memtracectl \d+\.\d+")

    def test_usage_errors_exit_2(self):
        cases = [
            ("bogus",),
            ("--bogus", "status"),
            ("status", "--bogus"),
            ("status", "extra"),
            ("outstanding", "--limit", "abc"),
            ("outstanding", "--limit", "-1"),
            ("outstanding", "--limit"),
            ("outstanding", "--min-size", "lots"),
            ("outstanding", "--older-than", "soon"),
            ("outstanding", "--follow"),
            ("events", "--format", "xml"),
            ("events", "--format"),
            (),
        ]
        for args in cases:
            with self.subTest(args=args):
                # A daemon is never contacted: the socket does not exist, so
                # trying would give 3.
                r = ctl(*args, sock=self.sock)
                self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stderr))
                self.assertIn("memtracectl", r.stderr)
                self.assertEqual(r.stdout, "")
        r = subprocess.run([mtlib.MEMTRACECTL, "-s"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_unknown_command_is_named(self):
        r = ctl("frobnicate", sock=self.sock)
        self.assertEqual(r.returncode, 2)
        self.assertIn("frobnicate", r.stderr)

    def test_no_daemon_exit_3(self):
        r = ctl("status", sock=self.sock)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(self.sock, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_check_without_daemon_says_unknown_on_stdout(self):
        """A monitoring system reads only stdout: check's UNKNOWN goes there."""
        r = ctl("check", sock=self.sock)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertRegex(r.stdout, r"^MEMTRACE UNKNOWN - no memtraced answers at %s: .*\n$"
                         % re.escape(self.sock))

    def test_stale_socket_file_exit_3(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.close()
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.sock).st_mode))
        r = ctl("status", sock=self.sock)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(self.sock, r.stderr)

    def test_no_daemon_via_env_exit_3(self):
        r = ctl("status", env=clean_env(MEMTRACE_SOCKET=self.sock))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(self.sock, r.stderr)

    def test_overlong_socket_path_is_usage_error(self):
        # sun_path holds 107 characters; a longer path cannot be used and
        # memtracectl means to say so (exit 2) instead of silently
        # connecting to a truncated path.
        long_path = os.path.join(self.tmp, "x" * (150 - len(self.tmp)))
        self.assertGreater(len(long_path), 108)
        r = ctl("status", sock=long_path)
        self.assertEqual(r.returncode, 2, "exit %d: %s" % (r.returncode, r.stderr))
        self.assertIn("too long", r.stderr)

    def test_overlong_socket_path_does_not_reach_another_daemon(self):
        # A daemon listens on the first 107 characters of a longer path.
        base = os.path.join(self.tmp, "")
        short = base + "d" * (107 - len(base))
        self.assertEqual(len(short), 107)
        d = Raw(["-s", short, "--", mtlib.target("stopcont"), os.path.join(self.tmp, "beat")])
        try:
            wait_socket(short, d.proc)
            self.assertEqual(ctl("status", sock=short).returncode, 0)
            r = ctl("--json", "status", sock=short + "-another-daemon")
            self.assertNotEqual(r.returncode, 0,
                                "memtracectl -s %s-another-daemon answered from the daemon at %s: %s"
                                % (short, short, r.stdout[:200]))
        finally:
            d.proc.send_signal(signal.SIGTERM)
            try:
                d.finish(15)
            finally:
                d.kill()

    def test_memtraced_overlong_socket_path(self):
        long_path = os.path.join(self.tmp, "y" * 150)
        marker = os.path.join(self.tmp, "ran")
        d = Raw(["-s", long_path, "--", mtlib.target("stopcont"), marker])
        try:
            rc = d.finish(10)
        finally:
            d.kill()
        self.assertNotEqual(rc, 0)
        self.assertIn("too long", d.err)
        self.assertFalse(os.path.exists(marker), "the target ran anyway")

    def usage_error(self, *args, says=None):
        """memtracectl ARGS is a usage error: exit 2, one message line and the
        --help hint, nothing on stdout, no daemon contacted (that exits 3)."""
        r = ctl(*args, sock=self.sock)
        self.assertEqual(r.returncode, 2, "%s: exit %d: %s" % (args, r.returncode, r.stderr))
        lines = r.stderr.splitlines()
        self.assertTrue(lines and lines[0].startswith("memtracectl: "), r.stderr)
        self.assertEqual(lines[1:], ["Try 'memtracectl --help'."], r.stderr)
        self.assertEqual(r.stdout, "")
        if says:
            self.assertIn(says, lines[0])
        return lines[0]

    def test_value_not_utf8_is_usage_error(self):
        # JSON holds only UTF-8: the value used to be dropped without a word.
        self.usage_error("outstanding", "--class", b"\xff", says="--class is not valid UTF-8")
        self.usage_error("events", "--syscall", b"mm\xffap", says="UTF-8")
        self.usage_error("peek", b"0x\xff", says="UTF-8")

    def test_peek_argument_usage_errors(self):
        for args in (("peek", "-1"), ("peek", "99999999999999999999"), ("peek", "abc"),
                     ("peek", "1x"), ("peek", " 7"), ("peek", "+7"), ("peek", ""),
                     ("peek", "--id", "-1"), ("peek", "--id", "0x10"),
                     ("peek", "--id", "18446744073709551615")):
            with self.subTest(args=args):
                self.usage_error(*args)
        for args in (("peek", "0"), ("peek", "--id", "0"), ("peek", "00")):
            with self.subTest(args=args):
                self.usage_error(*args, says="give its address")

    def test_wait_option_without_value(self):
        self.usage_error("wait", "--level", says="--level needs a value")
        self.usage_error("wait", "--timeout", says="--timeout needs a value")
        self.usage_error("wait", "--level", "ok", says="warn or crit")

    def test_empty_xdg_runtime_dir_is_unset(self):
        # memtraced takes an empty XDG_RUNTIME_DIR as unset; so must memtracectl.
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to run as a user other than root")
        r = ctl("status", env=clean_env(XDG_RUNTIME_DIR=""),
                prefix=["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"])
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(DEFAULT_ROOT_SOCKET, r.stderr)
        self.assertNotIn(" /memtrace/", r.stderr)


if __name__ == "__main__":
    mtlib.main()
