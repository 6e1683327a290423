#!/usr/bin/env python3
"""Attach: a Netty echo server under load keeps answering correctly.

The server of bench/netty-echo (bench/echo/EchoServer.java, Debian's
libnetty-java, pooled direct buffers, two event loops) runs untraced while
bench/echo/echoload drives it through 8 connections, checking every byte
that comes back.  memtraced attaches in the middle of the load, in filter
and in syscall mode, and is told to stop before the load ends: memtraced exits at once (in
filter mode after handing the server to its guard).  The load must end
with no wrong byte and no closed connection; the server must still serve
afterwards, every echo right; and once the server exits, no memtraced
guard outlives it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import AttachDaemon, pid_gone, tracer_pids, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECHO = os.path.join(ROOT, "bench", "echo")
JARS = ["/usr/share/java/netty-%s.jar" % j for j in ("buffer", "common", "transport", "resolver")]
LOAD_S = 20


def guards_of(pid):
    """Live memtraced-guard processes whose command line names PID."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % p) as f:
                comm = f.read().strip()
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if comm.startswith("memtraced") and str(pid).encode() in argv and int(p) != pid:
            found.append(int(p))
    return found


class EchoUnderLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mt-echo-")
        r = subprocess.run(["javac", "-nowarn", "-d", cls.tmp, "-cp", ":".join(JARS),
                            os.path.join(ECHO, "EchoServer.java")],
                           capture_output=True, text=True, timeout=180)
        if r.returncode:
            raise AssertionError("javac failed: " + r.stdout + r.stderr)
        cls.load = os.path.join(cls.tmp, "echoload")
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", cls.load,
                        os.path.join(ECHO, "echoload.c")], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start_server(self):
        portfile = os.path.join(self.tmp, "port-%d" % time.monotonic_ns())
        server = subprocess.Popen(["java", "-Xmx256m", "-cp", ":".join(JARS + [self.tmp]),
                                   "EchoServer", portfile],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.addCleanup(server.stderr.close)
        self.addCleanup(lambda: server.poll() is None and server.kill())

        def port():
            if server.poll() is not None:
                raise AssertionError("the server exited: " + server.stderr.read())
            try:
                with open(portfile) as f:
                    return f.read().split()[0]
            except (FileNotFoundError, IndexError):
                return None
        p = wait_for(port, timeout=60)
        self.assertTrue(p, "the server never wrote its port")
        return server, p

    def run_load(self, port, seconds, conns=8):
        return subprocess.Popen([self.load, "-p", port, "-c", str(conns), "-d", str(seconds)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish_load(self, load):
        out, err = load.communicate(timeout=LOAD_S + 60)
        self.assertEqual(load.returncode, 0, "the echo went wrong: " + err)
        res = json.loads(out)
        self.assertGreater(res["requests"], 0)
        return res

    def warm_up(self, port):
        """Load until the server has answered: classes loaded, pools made.
        A new JVM on a busy machine can take more than a second to answer
        its first echo."""
        end = time.time() + 60
        while True:
            load = self.run_load(port, 1)
            out, err = load.communicate(timeout=LOAD_S + 60)
            self.assertEqual(load.returncode, 0, "the echo went wrong: " + err)
            if json.loads(out)["requests"] > 0:
                return
            self.assertLess(time.time(), end, "the server answered no echo in 60 s")

    def attach_under_load(self, mode):
        server, port = self.start_server()
        self.warm_up(port)
        load = self.run_load(port, LOAD_S)
        self.addCleanup(lambda: load.poll() is None and load.kill())
        d = AttachDaemon(server.pid, ["--attach-mode", mode])
        self.addCleanup(d.kill)
        st = d.wait_state("running", timeout=30)
        self.assertEqual(st["attach"]["mode"], mode, st["attach"])
        self.assertTrue(wait_for(lambda: set(tracer_pids(server.pid).values()) == {d.proc.pid},
                                 timeout=10), "not every thread of the server is traced")
        self.assertIsNone(load.poll(), "the load ended before memtraced attached")
        d.ctl("stop")
        self.assertEqual(d.finish(timeout=30), 0, d.err)
        self.assertIsNone(load.poll(), "the load ended before memtraced was stopped")
        if mode == "filter":
            # Handed over: the guard holds every thread, and ended the handover's stop.
            guard = st["attach"]["guard"]
            self.assertEqual(set(tracer_pids(server.pid).values()), {guard}, d.err)
            self.assertTrue(wait_for(lambda: mtlib.proc_state(server.pid) != "T"),
                            "the server was left stopped")
        self.finish_load(load)
        # Still serving, and every echo still right, after the tracer left.
        self.finish_load(self.run_load(port, 1))
        self.assertIsNone(server.poll(), "the server died")
        return server, d

    def test_filter_mode(self):
        """Filter mode: stop hands the server to memtraced's guard and
        memtraced exits at once; the guard leaves with the server."""
        server, d = self.attach_under_load("filter")
        self.assertTrue(guards_of(server.pid), "no guard holds the server")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        self.assertTrue(wait_for(lambda: not guards_of(server.pid), timeout=10),
                        "a guard outlived the server")

    def test_syscall_mode(self):
        """Syscall mode: stop detaches, memtraced exits, the server goes on untraced."""
        server, d = self.attach_under_load("syscall")
        self.assertEqual(set(tracer_pids(server.pid).values()), {0})
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        self.assertTrue(pid_gone(server.pid))


if __name__ == "__main__":
    mtlib.need_java(JARS, "libnetty-java is not installed (%s)")
    mtlib.main()
