#!/usr/bin/env python3
"""memtracectl's command line, and the control socket's file rules.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import grp
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

MIB = 1 << 20
DEFAULT_ROOT_SOCKET = "/run/memtrace/memtraced.sock"
STRACE_LINE = re.compile(r"^\d+ \d\d:\d\d:\d\d\.\d{6} (mmap|munmap|mremap|mprotect|brk)\(.*\) = "
                         r"(0x[0-9a-f]+|-?\d+|\?)( \S.*)? <(\d+\.\d{6}|inferred)>$")


def ctl(*args, sock=None, env=None, prefix=(), timeout=30):
    """Run memtracectl ARGS (with -s SOCK when given); CompletedProcess."""
    cmd = [*prefix, mtlib.MEMTRACECTL]
    if sock is not None:
        cmd += ["-s", sock]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                          timeout=timeout)


def human(n):
    """N bytes as memtracectl prints sizes (mt_format_size): 512, 16.0M."""
    if n < 1024:
        return str(n)
    v, unit = float(n), -1
    while v >= 1024 and unit < 5:
        v /= 1024
        unit += 1
    return "%.1f%s" % (v, "KMGTPE"[unit])


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("MEMTRACE_SOCKET",)}
    env.update(extra)
    return env


def command_names():
    """Every protocol command, read from the schema in libtrace/cmds.c."""
    with open(os.path.join(mtlib.ROOT, "libtrace", "cmds.c")) as f:
        src = f.read()
    m = re.search(r"const struct mt_cmd mt_cmds\[\] = \{(.*?)\n\};", src, re.S)
    assert m, "no mt_cmds table in cmds.c"
    names = re.findall(r'^\s*\{"(\w+)",', m.group(1), re.M)
    assert "status" in names and "stop" in names, names
    return names


def own_command_names():
    """memtracectl's own commands: the rows of its table that send no
    protocol command (NULL proto), read from cli/memtracectl.c."""
    with open(os.path.join(mtlib.ROOT, "cli", "memtracectl.c")) as f:
        src = f.read()
    m = re.search(r"const struct ctl_cmd ctl_cmds\[\] = \{(.*?)\n\};", src, re.S)
    assert m, "no ctl_cmds table in memtracectl.c"
    names = re.findall(r'^\s*\{"(\w+)", NULL,', m.group(1), re.M)
    assert "wait" in names and "check" in names, names
    return names


def wait_gone(path, timeout=10):
    return mtlib.wait_for(lambda: not os.path.exists(path), timeout)


read_truth_line = mtlib.read_truth_line


class Raw:
    """A memtraced started with an exact command line (no -s added)."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen([mtlib.MEMTRACED, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.out = self.err = None

    def finish(self, timeout=30):
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=10)
        except ValueError:
            pass


def wait_socket(path, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise AssertionError("memtraced exited early (%d): %s" %
                                 (proc.returncode, proc.stderr.read()))
        time.sleep(0.01)
    raise AssertionError("socket %s never appeared" % path)


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


class TestAgainstChunks(unittest.TestCase):
    """memtracectl's human output against `chunks -p` (12 chunks, 2 evloop threads)."""

    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("chunks"), "-p"],
                             opts=["--ceiling", "256M", "--kill-timeout", "500ms"])
        try:
            cls.d.wait_socket()
            cls.truth = read_truth_line(cls.d.proc)
            cls.pid = cls.d.ctl("status")["target"]["pid"]
            ok = mtlib.wait_for(lambda: mtlib.proc_state(cls.pid) in "Tt", 10)
            assert ok, "chunks never stopped"
            # The human output is checked against the daemon's own JSON
            # (whether that is right is the protocol and tracing tests' job).
            cls.st = cls.d.ctl("status")
            cls.nchunks = cls.st["chunks"]["count"]
            assert cls.nchunks >= 4, cls.st
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d.proc.poll() is None:
                os.kill(cls.pid, signal.SIGCONT)
                cls.d.finish(30)
        finally:
            cls.d.kill()

    def run_ctl(self, *args, rc=0):
        r = ctl(*args, sock=self.d.sock)
        self.assertEqual(r.returncode, rc, "memtracectl %s: %s" % (" ".join(args), r.stderr))
        return r

    def test_status_human(self):
        out = self.run_ctl("status").stdout
        self.assertRegex(out, r"\bpid %d\b" % self.pid)
        self.assertIn("running", out)
        self.assertIn("chunks", out)
        self.assertRegex(out, r"chunks\s+%d x 16\.0M" % self.nchunks)
        self.assertRegex(out, r"%.1f%% of the 256\.0M ceiling" % self.st["ceiling"]["used_percent"])
        self.assertRegex(out, r"events\s+%d recorded" % self.st["events"]["recorded"])
        self.assertNotIn("{", out)

    def test_status_json_flag_positions(self):
        a = json.loads(self.run_ctl("--json", "status").stdout)
        b = json.loads(self.run_ctl("status", "--json").stdout)
        c = json.loads(self.run_ctl("-j", "status").stdout)
        for x in (a, b, c):
            self.assertIs(x["ok"], True)
            self.assertEqual(x["target"]["pid"], self.pid)
            self.assertEqual(x["chunks"]["count"], self.nchunks)
            self.assertEqual(x["chunks"]["bytes"], self.st["chunks"]["bytes"])

    def test_outstanding_limit_rows(self):
        out = self.run_ctl("outstanding", "--class", "chunk", "--min-size", "16M",
                           "--limit", "3").stdout
        lines = out.splitlines()
        self.assertTrue(lines[0].split()[:3] == ["START", "LENGTH", "CLASS"], out)
        rows = [l for l in lines[1:] if l.startswith("0x")]
        self.assertLessEqual(len(rows), 3)
        self.assertEqual(len(rows), 3, out)  # there are 12 chunks to choose from
        for row in rows:
            self.assertEqual(row.split()[2], "chunk", row)
            self.assertEqual(row.split()[1], "16.0M", row)
        self.assertIn("(3 of %d shown)" % self.nchunks, out)

    def test_outstanding_json_args(self):
        a = json.loads(self.run_ctl("--json", "outstanding", "--class", "chunk", "--min-size",
                                    "16M", "--limit", "3").stdout)
        self.assertEqual(a["count"], 3)
        self.assertEqual(a["total"], self.nchunks)
        self.assertEqual(len(a["mappings"]), 3)
        for m in a["mappings"]:
            self.assertEqual(m["class"], "chunk")
            self.assertGreaterEqual(m["length"], 16 * MIB)
            self.assertRegex(m["thread"], r"^evloop-\d$")
        # A size filter above the chunk size matches no chunk.
        a = json.loads(self.run_ctl("--json", "outstanding", "--class", "chunk", "--min-size",
                                    "17M").stdout)
        self.assertEqual(a["total"], 0)
        self.assertEqual(a["mappings"], [])

    def test_threads_table(self):
        out = self.run_ctl("threads").stdout
        # The name comes last: a Java name is longer than a column.
        self.assertEqual(out.splitlines()[0].split(),
                         ["TID", "ALIVE", "OUTSTANDING", "CHUNKS", "MAPPED", "UNMAPPED", "NAME"])
        names = {l.split("  ")[-1] for l in out.splitlines()[1:]
                 if l.strip() and l.split()[0].isdigit()}
        self.assertIn("evloop-0", names)
        self.assertIn("evloop-1", names)
        self.assertRegex(out, r"(?m)^\s*%d\s+yes\b.*  chunks$" % self.pid)

    def test_events_text(self):
        out = self.run_ctl("events", "--limit", "5").stdout
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        for l in lines:
            self.assertRegex(l, STRACE_LINE)
        out = self.run_ctl("events", "--syscall", "mremap").stdout
        self.assertEqual(len(out.splitlines()), 2, out)  # grow and shrink
        self.assertTrue(all(" mremap(" in l for l in out.splitlines()))

    def test_events_json_format(self):
        out = self.run_ctl("events", "--limit", "3", "--format", "json").stdout
        evs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual(len(evs), 3)
        self.assertEqual([e["seq"] for e in evs], sorted(e["seq"] for e in evs))
        # --json, before or after the command, is the same: one event a line,
        # as --follow streams them.
        for args in (("--json", "events"), ("events", "--json")):
            with self.subTest(args=args):
                out = self.run_ctl(*args, "--limit", "3").stdout
                self.assertEqual([json.loads(l) for l in out.splitlines()], evs)

    def test_bad_value_exit_2(self):
        """A value the daemon refuses (bad_arg) is a usage error, as one
        memtracectl refuses itself."""
        for args in (("outstanding", "--class", "foo"), ("events", "--syscall", "foo"),
                     ("outstanding", "--limit", "200000"), ("stacks", "--class", "foo")):
            with self.subTest(args=args):
                r = self.run_ctl(*args, rc=2)
                self.assertIn("(bad_arg)", r.stderr)
                self.assertEqual(r.stdout, "")
                r = self.run_ctl("--json", *args, rc=2)
                a = json.loads(r.stdout)
                self.assertIs(a["ok"], False)
                self.assertEqual(a["error"]["code"], "bad_arg")

    def test_daemon_error_exit_1(self):
        """Other errors are the daemon's: peek is off without --allow-peek."""
        r = self.run_ctl("peek", "0x1000", rc=1)
        self.assertRegex(r.stderr, r"\((denied)\)")
        self.assertEqual(r.stdout, "")

    def test_status_rates_and_chunk_rss(self):
        """Text status shows the growth over the window and since start, and
        the resident bytes of the chunks (the target is stopped: stable)."""
        st = json.loads(self.run_ctl("--json", "status").stdout)
        out = self.run_ctl("status").stdout
        g = st["growth"]
        self.assertIsInstance(st["chunks"]["rss_bytes"], int)
        self.assertRegex(out, r"(?m)^chunks +%d x 16\.0M = %s \(%s resident\), " % (
            self.nchunks, re.escape(human(st["chunks"]["bytes"])),
            re.escape(human(st["chunks"]["rss_bytes"]))))
        # The rates of a stopped target hardly move between the two requests.
        m = re.search(r"(?m)^growth +(\S+) over \d+s, (\S+) since start, (\w+)", out)
        self.assertTrue(m, out)
        self.assertEqual(m.group(1)[0], "+" if g["rate_bytes_per_s"] >= 0 else "-")
        self.assertEqual(m.group(2)[0], "+" if g["overall_rate_bytes_per_s"] >= 0 else "-")
        self.assertTrue(m.group(2).endswith("/s"))
        self.assertEqual(m.group(3), g["trend"])

    def test_outstanding_rss_columns(self):
        """outstanding --rss adds RSS and DIRTY, as the JSON answer has them."""
        a = json.loads(self.run_ctl("--json", "outstanding", "--rss", "--class", "chunk").stdout)
        out = self.run_ctl("outstanding", "--rss", "--class", "chunk").stdout.splitlines()
        self.assertEqual(out[0].split(), ["START", "LENGTH", "CLASS", "PROT", "AGE", "TID",
                                          "RSS", "DIRTY", "THREAD"])
        rows = {l.split()[0]: l.split() for l in out[1:] if l.startswith("0x")}
        self.assertEqual(len(rows), len(a["mappings"]))
        self.assertGreater(sum(m["rss_bytes"] for m in a["mappings"]), 0)
        # null (a chunk that is not one VMA has no dirty figure) is "-".
        for m in a["mappings"]:
            self.assertEqual(rows[m["start"]][6:9],
                             [human(m[k]) if m[k] is not None else "-"
                              for k in ("rss_bytes", "dirty_bytes")] + [m["thread"]])
        plain = self.run_ctl("outstanding", "--class", "chunk").stdout.splitlines()
        self.assertNotIn("RSS", plain[0])


class TestWaitJson(unittest.TestCase):
    """memtracectl --json wait prints one JSON object however it ends."""

    def setUp(self):
        self.d = None
        self.tmp = tempfile.mkdtemp(prefix="mt-wait-")

    def tearDown(self):
        if self.d:
            if self.d.proc.poll() is None:
                self.d.proc.send_signal(signal.SIGTERM)
                try:
                    self.d.finish(20)
                except subprocess.TimeoutExpired:
                    pass
            self.d.kill()
            shutil.rmtree(self.d.dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, argv, ceiling):
        self.d = mtlib.Daemon(argv, opts=["--ceiling", ceiling, "--kill-timeout", "500ms"])
        self.d.wait_socket()

    def wait_json(self, *args, rc):
        r = ctl("--json", "wait", *args, sock=self.d.sock)
        self.assertEqual(r.returncode, rc, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        return json.loads(lines[0])

    def test_active(self):
        # 12 chunks of `chunks -p` against a 64M ceiling: crit from the start.
        self.start([mtlib.target("chunks"), "-p"], "64M")
        pid = mtlib.target_pid(self.d)
        self.assertTrue(mtlib.wait_stopped(pid))
        self.assertTrue(mtlib.wait_for(lambda: self.d.ctl("status")["ceiling"]["level"] == "crit",
                                       10))
        self.assertEqual(self.wait_json("--level", "crit", "--timeout", "1s", rc=0),
                         {"wait": "crit", "result": "active", "level": "crit"})
        self.assertEqual(self.wait_json(rc=0), {"wait": "warn", "result": "active",
                                                "level": "crit"})
        # Text without --json, as before.
        r = ctl("wait", sock=self.d.sock)
        self.assertEqual((r.returncode, r.stdout), (0, "level crit is active\n"))
        os.kill(pid, signal.SIGCONT)
        self.d.finish(20)

    def test_timeout(self):
        self.start([mtlib.target("stopcont"), os.path.join(self.tmp, "beat")], "1G")
        self.assertEqual(self.wait_json("--timeout", "200ms", rc=1),
                         {"wait": "warn", "result": "timeout"})
        r = ctl("wait", "--level", "crit", "--timeout", "200ms", sock=self.d.sock)
        self.assertEqual((r.returncode, r.stdout), (1, "no crit alert before the timeout\n"))

    def test_raised(self):
        # Five chunks a second apart against an 80M ceiling: warn at the
        # fourth, well after the wait has started.
        self.start([mtlib.target("chunkhold"), "-n", "5", "-i", "1000", "-h", "500"], "80M")
        o = self.wait_json("--timeout", "20s", rc=0)
        self.assertEqual(o["wait"], "warn")
        self.assertEqual(o["result"], "raised", o)
        self.assertEqual(o["level"], "warn")
        self.assertEqual((o["alert"]["level"], o["alert"]["state"]), ("warn", "raised"))
        self.assertGreaterEqual(o["alert"]["percent"], 80)


class TestPeekArgument(unittest.TestCase):
    """peek's first argument: decimal is an event id (never octal), 0x or 0X an address."""

    def test_decimal_id_and_hex_address(self):
        if os.geteuid() != 0:
            self.skipTest("peek is for root")
        tmp = tempfile.mkdtemp(prefix="mt-peek-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "mt.sock")
        d = Raw(["-s", sock, "--allow-peek", "--", mtlib.target("stopcont"),
                 os.path.join(tmp, "beat")])
        try:
            wait_socket(sock, d.proc)
            # Read as octal this would be event 262143.
            r = ctl("peek", "0777777", sock=sock)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("no outstanding mapping made by event 777777", r.stderr)
            for addr in ("0X10", "0x10"):
                r = ctl("peek", addr, sock=sock)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("cannot read 0x10", r.stderr)
        finally:
            d.proc.send_signal(signal.SIGTERM)
            try:
                d.finish(20)
            finally:
                d.kill()


class TestLingerAndStop(unittest.TestCase):
    def test_linger_reports_exit_until_stop(self):
        d = mtlib.Daemon([mtlib.target("exitwith"), "7"], opts=["--linger"])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 20))
            st = d.ctl("status")
            self.assertEqual(st["target"]["exit_code"], 7)
            self.assertNotIn("signal", st["target"])
            time.sleep(0.5)
            self.assertIsNone(d.proc.poll(), "a --linger daemon exited on its own")
            st2 = d.ctl("status")
            self.assertEqual(st2["target"]["state"], "exited")
            self.assertEqual(st2["target"]["exit_code"], 7)
            out = ctl("status", sock=d.sock).stdout
            self.assertIn("exited", out)
            self.assertIn("exit code 7", out)
            r = ctl("stop", sock=d.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            rc = d.finish(20)
        finally:
            d.kill()
        self.assertEqual(rc, 7)  # memtraced exits with its target's status
        self.assertFalse(os.path.exists(d.sock), "socket left behind")
        self.assertEqual(ctl("status", sock=d.sock).returncode, 3)

    def test_linger_signal_exit(self):
        d = mtlib.Daemon([mtlib.target("exitwith"), "-s", "15"], opts=["--linger"])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 20))
            st = d.ctl("status")
            self.assertEqual(st["target"]["exit_code"], 128 + 15)
            self.assertEqual(st["target"]["signal"], 15)
            self.assertEqual(d.ctl("stop"), {"ok": True})
            d.finish(20)
        finally:
            d.kill()
        self.assertFalse(os.path.exists(d.sock))

    def test_stop_ends_linger_daemon(self):
        d = mtlib.Daemon([mtlib.target("chunks")], opts=["--linger"])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 20))
            self.assertTrue(os.path.exists(d.sock))
            r = ctl("stop", sock=d.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("stopping", r.stdout)
            rc = d.finish(20)
        finally:
            d.kill()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(d.sock))

    def test_stop_while_running(self):
        tmp = tempfile.mkdtemp(prefix="mt-stop-")
        beat = os.path.join(tmp, "beat")
        d = mtlib.Daemon([mtlib.target("stopcont"), beat])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(lambda: os.path.exists(beat), 10))
            r = ctl("--json", "stop", sock=d.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), {"ok": True})
            rc = d.finish(20)
        finally:
            d.kill()
        self.assertEqual(rc, 128 + signal.SIGTERM)  # stop sends the target SIGTERM
        self.assertFalse(os.path.exists(d.sock))


class TestSocketFile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-sock-")
        self.sock = os.path.join(self.tmp, "mt.sock")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            if d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
                try:
                    d.proc.wait(15)
                except subprocess.TimeoutExpired:
                    pass
            d.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *opts, env=None, target=None, sock=True):
        args = (["-s", self.sock] if sock else []) + list(opts) + ["--"]
        args += target or [mtlib.target("stopcont"), os.path.join(self.tmp, "beat")]
        d = Raw(args, env=env)
        self.daemons.append(d)
        return d

    def test_mode_0600(self):
        d = self.start()
        wait_socket(self.sock, d.proc)
        st = os.lstat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())

    def test_socket_group_mode_0660(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the socket to another group")
        g = grp.getgrnam("nogroup") if "nogroup" in [x.gr_name for x in grp.getgrall()] \
            else grp.getgrgid(65534)
        d = self.start("--socket-group", g.gr_name)
        wait_socket(self.sock, d.proc)
        st = os.lstat(self.sock)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, g.gr_gid)
        self.assertEqual(ctl("status", sock=self.sock).returncode, 0)

    def test_unknown_socket_group(self):
        d = self.start("--socket-group", "no-such-group-xyz")
        rc = d.finish(10)
        self.assertNotEqual(rc, 0)
        self.assertIn("no-such-group-xyz", d.err)
        self.assertFalse(os.path.exists(self.sock))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "beat")), "the target ran")

    def test_second_daemon_refused(self):
        first = self.start()
        wait_socket(self.sock, first.proc)
        pid1 = json.loads(ctl("--json", "status", sock=self.sock).stdout)["target"]["pid"]
        marker = os.path.join(self.tmp, "second-ran")
        second = self.start(target=[mtlib.target("stopcont"), marker])
        rc = second.finish(10)
        self.assertNotEqual(rc, 0)
        self.assertIn(self.sock, second.err)
        self.assertFalse(os.path.exists(marker), "the second daemon's target ran")
        # The first one goes on, on the same socket file.
        self.assertIsNone(first.proc.poll())
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.sock).st_mode))
        for _ in range(3):
            r = ctl("--json", "status", sock=self.sock)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["target"]["pid"], pid1)

    def test_stale_socket_replaced(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.listen(1)
        s.close()  # no unlink: a stale socket file is left behind
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.sock).st_mode))
        d = self.start()
        self.assertTrue(mtlib.wait_for(lambda: ctl("status", sock=self.sock).returncode == 0, 10),
                        "memtraced did not take over the stale socket")
        self.assertIsNone(d.proc.poll())
        self.assertEqual(stat.S_IMODE(os.lstat(self.sock).st_mode), 0o600)

    def test_non_socket_file_not_replaced(self):
        with open(self.sock, "w") as f:
            f.write("precious\n")
        d = self.start()
        rc = d.finish(10)
        self.assertNotEqual(rc, 0)
        self.assertIn(self.sock, d.err)
        with open(self.sock) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_socket_removed_on_exit(self):
        d = self.start(target=[mtlib.target("exitwith"), "3"])
        rc = d.finish(20)
        self.assertEqual(rc, 3)
        self.assertFalse(os.path.exists(self.sock))
        # ...and after a SIGTERM stop.
        d = self.start()
        wait_socket(self.sock, d.proc)
        self.assertTrue(mtlib.wait_for(lambda: os.path.exists(os.path.join(self.tmp, "beat")), 10))
        d.proc.send_signal(signal.SIGTERM)
        d.finish(20)
        self.assertFalse(os.path.exists(self.sock))
        # ...and when launching the target fails.
        d = self.start(target=[os.path.join(self.tmp, "no-such-program")])
        rc = d.finish(20)
        self.assertEqual(rc, 127)
        self.assertFalse(os.path.exists(self.sock))

    def test_exit_removes_only_its_own_socket(self):
        # A's socket file is removed behind its back (an admin, a tmpfiles
        # cleaner) and B starts on the same path.  When A exits it must not
        # take B's socket with it.
        a = self.start(target=[mtlib.target("stopcont"), os.path.join(self.tmp, "a")])
        wait_socket(self.sock, a.proc)
        os.unlink(self.sock)
        b = self.start(target=[mtlib.target("stopcont"), os.path.join(self.tmp, "b")])
        wait_socket(self.sock, b.proc)
        r = ctl("--json", "status", sock=self.sock)
        self.assertEqual(json.loads(r.stdout)["daemon"]["pid"], b.proc.pid)
        a.proc.send_signal(signal.SIGTERM)
        a.finish(20)
        self.assertIsNone(b.proc.poll())
        self.assertTrue(os.path.exists(self.sock),
                        "memtraced (pid %d) removed the socket of memtraced (pid %d) on exit"
                        % (a.proc.pid, b.proc.pid))
        r = ctl("--json", "status", sock=self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["daemon"]["pid"], b.proc.pid)

    def test_memtrace_socket_env(self):
        env = clean_env(MEMTRACE_SOCKET=self.sock)
        d = self.start(env=env, sock=False)
        wait_socket(self.sock, d.proc)
        r = ctl("--json", "status", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["daemon"]["pid"], d.proc.pid)
        # -s wins over the environment.
        other = os.path.join(self.tmp, "other.sock")
        r = ctl("status", sock=other, env=env)
        self.assertEqual(r.returncode, 3)
        self.assertIn(other, r.stderr)
        r = ctl("stop", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        d.finish(20)
        self.assertFalse(os.path.exists(self.sock))

    def test_default_root_path(self):
        if os.geteuid() != 0:
            self.skipTest("the /run default is root's")
        if os.path.exists(os.path.dirname(DEFAULT_ROOT_SOCKET)):
            self.skipTest("%s exists: a real memtraced may use it" %
                          os.path.dirname(DEFAULT_ROOT_SOCKET))
        env = clean_env()
        made_dir = True
        try:
            d = self.start(env=env, sock=False)
            wait_socket(DEFAULT_ROOT_SOCKET, d.proc)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(DEFAULT_ROOT_SOCKET)).st_mode),
                             0o700)
            r = ctl("--json", "status", env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["daemon"]["pid"], d.proc.pid)
            self.assertEqual(ctl("stop", env=env).returncode, 0)
            d.finish(20)
            self.assertFalse(os.path.exists(DEFAULT_ROOT_SOCKET))
        finally:
            for d in self.daemons:
                d.kill()
            if made_dir:
                try:
                    os.unlink(DEFAULT_ROOT_SOCKET)
                except FileNotFoundError:
                    pass
                try:
                    os.rmdir(os.path.dirname(DEFAULT_ROOT_SOCKET))
                except OSError:
                    pass


class TestPermissions(unittest.TestCase):
    """SO_PEERCRED: only root, memtraced's own uid and --socket-group's members."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another uid")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is missing")
        self.tmp = tempfile.mkdtemp(prefix="mt-perm-")
        os.chmod(self.tmp, 0o755)  # the other user must reach the socket
        self.sock = os.path.join(self.tmp, "mt.sock")
        self.d = None

    def tearDown(self):
        if self.d:
            if self.d.proc.poll() is None:
                self.d.proc.send_signal(signal.SIGTERM)
                try:
                    self.d.finish(15)
                except subprocess.TimeoutExpired:
                    pass
            self.d.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *opts):
        self.d = Raw(["-s", self.sock, *opts, "--", mtlib.target("stopcont"),
                      os.path.join(self.tmp, "beat")])
        wait_socket(self.sock, self.d.proc)

    def as_nobody(self, *args, gid=65534):
        return ctl(*args, sock=self.sock,
                   prefix=["setpriv", "--reuid", "65534", "--regid", str(gid), "--clear-groups"])

    def raw_as(self, uid, gid, data=b'{"cmd":"status"}\n', until_eof=False):
        """Connect with effective ids UID/GID, send DATA; the daemon's first
        line (everything up to EOF with UNTIL_EOF)."""
        os.setegid(gid)
        os.seteuid(uid)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.sock)
        finally:
            os.seteuid(0)
            os.setegid(0)
        s.settimeout(10)
        try:
            try:
                s.sendall(data)
            except BrokenPipeError:
                pass
            buf = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                buf += chunk
                if not until_eof and b"\n" in buf:
                    break
        finally:
            s.close()
        return buf

    def test_other_uid_denied_by_peercred(self):
        self.start()
        os.chmod(self.sock, 0o666)  # the kernel lets anyone connect; memtraced must refuse
        out = self.raw_as(65534, 65534, until_eof=True)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)  # the refusal, then the daemon hangs up
        a = json.loads(lines[0])
        self.assertIs(a["ok"], False)
        self.assertEqual(a["error"]["code"], "denied")
        self.assertIn("65534", a["error"]["message"])
        # A stop from the stranger does nothing.
        self.raw_as(65534, 65534, b'{"cmd":"stop"}\n')
        time.sleep(0.2)
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(ctl("status", sock=self.sock).returncode, 0)
        self.d.proc.send_signal(signal.SIGTERM)
        self.d.finish(15)
        self.assertIn("refused a client with uid 65534", self.d.err)

    def test_memtracectl_denied_exit_1(self):
        self.start()
        os.chmod(self.sock, 0o666)
        codes = []
        for _ in range(10):
            r = self.as_nobody("status")
            codes.append(r.returncode)
            if r.returncode == 1:
                self.assertIn("denied", r.stderr)
                self.assertEqual(r.stdout, "")
        self.assertEqual(codes, [1] * 10,
                         "memtracectl as uid 65534 (negative: killed by that signal)")
        r = self.as_nobody("--json", "status")
        self.assertEqual(r.returncode, 1)
        a = json.loads(r.stdout)
        self.assertIs(a["ok"], False)
        self.assertEqual(a["error"]["code"], "denied")
        self.assertIsNone(self.d.proc.poll())

    def test_kernel_refusal_is_not_denied(self):
        # Without the chmod the socket is 0600: connect() itself fails.
        self.start()
        r = self.as_nobody("status")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(self.sock, r.stderr)

    def test_socket_group_member_allowed(self):
        self.start("--socket-group", grp.getgrgid(65534).gr_name)
        r = self.as_nobody("--json", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIs(json.loads(r.stdout)["ok"], True)
        a = json.loads(self.raw_as(65534, 65534, b'{"cmd":"status"}\n').splitlines()[0])
        self.assertIs(a["ok"], True)

    def test_socket_group_non_member_denied(self):
        group = grp.getgrgid(100).gr_name  # "users": nobody is not a member
        self.start("--socket-group", group)
        os.chmod(self.sock, 0o666)
        a = json.loads(self.raw_as(65534, 65534))
        self.assertEqual(a["error"]["code"], "denied")
        # Having the group as the effective gid is enough.
        a = json.loads(self.raw_as(65534, 100).splitlines()[0])
        self.assertIs(a["ok"], True)


if __name__ == "__main__":
    mtlib.main()
