#!/usr/bin/env python3
"""The control socket's file: mode, group, stale files, removal.

Exit statuses of memtracectl: 0 ok, 1 the daemon answered with an error,
2 usage (also a value the daemon refuses, bad_arg), 3 no daemon answers at
the socket.
"""
import grp
import json
import os
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
from mtlib import DEFAULT_ROOT_SOCKET, Raw, clean_env, ctl, wait_socket  # noqa: E402


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


if __name__ == "__main__":
    mtlib.main()
