"""Helpers for memtrace's integration tests.

Each test runs real targets under a real memtraced on a private socket
and compares the daemon's JSON answers with ground truth the target
prints itself (a "TRUTH {json}" line) or with /proc/PID/maps.

Exit codes follow the project's convention: 0 pass, 77 skip, 99 harness
broke; unittest failures exit 1.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("MT_BUILD", "build"))
MEMTRACED = os.path.join(BUILD, "memtraced")
MEMTRACECTL = os.path.join(BUILD, "memtracectl")
TARGETS = os.path.join(ROOT, "build", "targets")


def target(name):
    """Path of a test target program (always the plain build)."""
    path = os.path.join(TARGETS, name)
    if not os.path.exists(path):
        path = os.path.join(BUILD, "targets", name)
    return path


def truth(text):
    """The TRUTH object a target printed."""
    for line in text.splitlines():
        if line.startswith("TRUTH "):
            return json.loads(line[6:])
    raise AssertionError("no TRUTH line in target output:\n" + text)


def skip(reason):
    print(reason)
    sys.exit(77)


class Daemon:
    """A memtraced on a private socket, running ARGV as its target."""

    def __init__(self, argv, opts=(), env=None, stdout=subprocess.PIPE):
        self.dir = tempfile.mkdtemp(prefix="mt-test-")
        self.sock = os.path.join(self.dir, "mt.sock")
        self.cmd = [MEMTRACED, "-s", self.sock, *opts, "--", *argv]
        self.proc = subprocess.Popen(self.cmd, stdout=stdout, stderr=subprocess.PIPE,
                                     env=env, text=True)
        self.out = self.err = None

    def wait_socket(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(self.sock):
                return
            if self.proc.poll() is not None:
                raise AssertionError("memtraced exited early: %s" % self.proc.stderr.read())
            time.sleep(0.01)
        raise AssertionError("socket never appeared")

    def ctl(self, *args, check=True):
        """Run memtracectl --json ARGS; return the parsed answer."""
        r = subprocess.run([MEMTRACECTL, "-s", self.sock, "--json", *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("memtracectl %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return json.loads(r.stdout.splitlines()[0]) if r.stdout else None

    def request(self, line, read_lines=1):
        """Send raw bytes LINE on a fresh connection; return the parsed answers."""
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        s.sendall(line if isinstance(line, bytes) else line.encode())
        buf = b""
        while buf.count(b"\n") < read_lines:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        return [json.loads(x) for x in buf.decode().splitlines()]

    def finish(self, timeout=60):
        """Wait for memtraced to exit; return its exit code."""
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_traced(argv, opts=(), env=None, timeout=120):
    """Run ARGV under memtraced --summary --json --no-socket.

    Returns (exit code, target stdout, summary object, memtraced stderr)."""
    cmd = [MEMTRACED, "--no-socket", "--summary", "--json", *opts, "--", *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    summary = None
    for line in r.stderr.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return r.returncode, r.stdout, summary, r.stderr


def proc_maps(pid):
    """[(start, end, perms, path)] of /proc/PID/maps."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return out


def wait_for(pred, timeout=10, interval=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def proc_state(pid):
    """The one-letter state of /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def main():
    if not os.path.exists(MEMTRACED):
        print("memtraced is not built")
        sys.exit(99)
    unittest.main(verbosity=2)
