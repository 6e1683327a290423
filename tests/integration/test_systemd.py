#!/usr/bin/env python3
"""memtraced under systemd, without systemd: what it tells the service manager
(sd_notify: READY, STATUS, STOPPING) and what it writes to the journal for
an alert (MESSAGE, PRIORITY and the MEMTRACE_* fields).

The notify socket is an ordinary datagram socket named by NOTIFY_SOCKET.  The
journal's socket has a fixed path, so that test runs in a private mount
namespace (unshare -m, root only) with a tmpfs over /run/systemd/journal and
our own socket in it; the host's journal, if any, is never touched.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

CHUNK = 16781312

# Runs inside the mount namespace: bind the journal socket, run memtraced with
# ARGV, print every datagram received as one JSON object of its fields.
JOURNAL_SINK = r'''
import json, os, socket, subprocess, sys
d = "/run/systemd/journal"
os.makedirs(d, exist_ok=True)
subprocess.run(["mount", "-t", "tmpfs", "memtrace-test", d], check=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(d + "/socket")
s.settimeout(0.2)
p = subprocess.Popen(sys.argv[1:], env=dict(os.environ, JOURNAL_STREAM="0:0"),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def drain():
    while True:
        try:
            data = s.recv(65536)
        except socket.timeout:
            return
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        print(json.dumps(fields), flush=True)
while p.poll() is None:
    drain()
drain()
print(json.dumps({"exit": p.returncode}), flush=True)
'''


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mt-notify-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)

    def messages(self, proc, timeout=30):
        """Every notification until PROC exits, each a dict of its fields."""
        got = []
        end = time.time() + timeout
        while time.time() < end:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                if proc.poll() is not None:
                    break
                continue
            got.append(dict(l.split("=", 1) for l in data.split("\n") if "=" in l))
        return got

    def test_launch(self):
        env = dict(os.environ, NOTIFY_SOCKET=self.path)
        d = mtlib.Daemon([mtlib.target("chunkhold"), "-n", "3", "-i", "10", "-h", "800"],
                         opts=["--ceiling", "1G", "--summary", "--json"], env=env)
        self.addCleanup(d.kill)
        msgs = self.messages(d.proc)
        self.assertEqual(d.finish(10), 0, d.err)
        pid = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]["target"]["pid"]
        self.assertTrue(msgs, "no notification at all")
        # READY first, naming the target.
        self.assertEqual(msgs[0], {"READY": "1", "STATUS": "tracing pid %d" % pid})
        # The periodic line: chunk total and percent of the ceiling.
        status = [x["STATUS"] for x in msgs[1:] if "STATUS" in x]
        self.assertTrue(status, msgs)
        self.assertRegex(status[0], r"^pid %d \w+: \d+ chunks, .* = [\d.]+%% of 1\.0G, level \w+$"
                         % pid)
        self.assertEqual(msgs[-1], {"STOPPING": "1"})

    def test_attach(self):
        target = subprocess.Popen([mtlib.target("chunkhold"), "-n", "2", "-i", "10", "-h", "1500"],
                                  stdout=subprocess.DEVNULL)
        self.addCleanup(target.wait)
        self.addCleanup(target.kill)
        d = mtlib.AttachDaemon(target.pid, env=dict(os.environ, NOTIFY_SOCKET=self.path))
        self.addCleanup(d.kill)
        msgs = self.messages(d.proc)
        self.assertTrue(msgs, "no notification at all")
        self.assertEqual(msgs[0], {"READY": "1", "STATUS": "tracing pid %d" % target.pid})
        self.assertEqual(msgs[-1], {"STOPPING": "1"})


def private_mounts_work():
    """True when this machine lets us make a mount namespace and a tmpfs in it."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-m", "--propagation", "private",
                        "mount", "-t", "tmpfs", "memtrace-probe", "/mnt"],
                       capture_output=True, timeout=10)
    return r.returncode == 0


@unittest.skipUnless(private_mounts_work(),
                     "needs root and unshare(1) for a private /run/systemd/journal")
class JournalTest(unittest.TestCase):
    def test_alert_fields(self):
        d = tempfile.mkdtemp(prefix="mt-journal-")
        self.addCleanup(shutil.rmtree, d, True)
        sink = os.path.join(d, "sink.py")
        with open(sink, "w") as f:
            f.write(JOURNAL_SINK)
        argv = [mtlib.MEMTRACED, "--no-socket", "--ceiling", "64M", "--", mtlib.target("chunkhold"),
                "-n", "5", "-i", "20", "-h", "600"]
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, sink,
                            *argv], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(lines[-1], {"exit": 0}, r.stdout)
        alerts = [x for x in lines[:-1] if "MEMTRACE_ALERT_LEVEL" in x]
        want = [("warn", "raised", "4"), ("crit", "raised", "2"),
                ("crit", "cleared", "5"), ("warn", "cleared", "5")]
        self.assertEqual([(a["MEMTRACE_ALERT_LEVEL"], a["MEMTRACE_ALERT_STATE"], a["PRIORITY"])
                          for a in alerts], want, lines)
        for a in alerts:
            self.assertEqual(a["SYSLOG_IDENTIFIER"], "memtraced")
            self.assertEqual(a["MEMTRACE_CEILING"], str(64 << 20))
            self.assertEqual(int(a["MEMTRACE_BYTES"]) % CHUNK, 0)
            self.assertAlmostEqual(float(a["MEMTRACE_PERCENT"]),
                                   100.0 * int(a["MEMTRACE_BYTES"]) / (64 << 20), places=1)
            self.assertTrue(a["MESSAGE"].startswith("ALERT %s %s (%s: %s): " % (
                a["MEMTRACE_ALERT_LEVEL"], a["MEMTRACE_ALERT_STATE"], a["MEMTRACE_ALERT_CAUSE"],
                a["MEMTRACE_ALERT_REASON"])), a)
            self.assertEqual(a["MEMTRACE_ALERT_CAUSE"], "percent")


if __name__ == "__main__":
    unittest.main(verbosity=2)
