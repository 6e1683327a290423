#!/usr/bin/env python3
"""Who may talk to the control socket: peer credentials and the socket group.

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
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import Raw, ctl, wait_socket  # noqa: E402


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
        # A stop from the stranger does nothing: memtraced hangs up having
        # said only "denied" (a stop it carried out would be answered
        # {"ok":true} first), and a later client is still served.
        out = self.raw_as(65534, 65534, b'{"cmd":"stop"}\n', until_eof=True)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        self.assertEqual(json.loads(lines[0])["error"]["code"], "denied")
        r = ctl("--json", "status", sock=self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["target"]["state"], "running")
        self.assertIsNone(self.d.proc.poll())
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
