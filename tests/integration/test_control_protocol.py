#!/usr/bin/env python3
"""The control socket's protocol, spoken directly over the UNIX socket.

Covers the status answer's stable fields, the error codes of bad requests,
pipelining, robustness against hostile or careless clients, and the
"events" follow stream.
"""
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

CHUNK = 16781312
MIB = 1 << 20


class Conn:
    """One client connection reading newline-delimited JSON answers."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Connect blocking: with a timeout set, connect() to a UNIX socket
        # whose backlog is full fails with EAGAIN instead of waiting.
        self.s.connect(path)
        self.s.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, dict):
            data = json.dumps(data) + "\n"
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self, timeout=None):
        """The next answer line (bytes); AssertionError on EOF or timeout."""
        if timeout is not None:
            self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                raise AssertionError("no answer within the timeout (have %r)" % self.buf[:200])
            if not chunk:
                raise AssertionError("connection closed before an answer (have %r)" % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def answer(self, timeout=None):
        return json.loads(self.line(timeout))

    def ask(self, obj, timeout=None):
        self.send(obj)
        return self.answer(timeout)

    def read_to_eof(self, timeout=10):
        self.s.settimeout(timeout)
        while True:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                return self.buf
            self.buf += chunk

    def close(self):
        self.s.close()


def unread(s):
    """Bytes sent on socket S that the peer has not read yet (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def queued(s):
    """Bytes waiting to be read on socket S (SIOCINQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def clients_held(d):
    """Client connections daemon D holds open: its connected sockets (the
    listening one is not connected)."""
    fds = "/proc/%d/fd" % d.proc.pid
    inodes = set()
    for fd in os.listdir(fds):
        try:
            link = os.readlink(os.path.join(fds, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open("/proc/net/unix") as f:
        next(f)
        # Num RefCount Protocol Flags Type St Inode [Path]; St 03: connected.
        return sum(1 for line in f
                   if line.split()[6] in inodes and line.split()[5] == "03")


def code(answer):
    """The error code of an answer, or "ok"."""
    if answer.get("ok") is True:
        return "ok"
    return answer.get("error", {}).get("code")


def wait_stopped(pid, timeout=10):
    ok = mtlib.wait_for(lambda: mtlib.proc_state(pid) in "Tt", timeout)
    if not ok:
        raise AssertionError("pid %d never stopped" % pid)


read_truth_line = mtlib.read_truth_line


def key_tree(obj, prefix=""):
    """Every dotted key path of a JSON object."""
    keys = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            keys.add(prefix + k)
            keys |= key_tree(v, prefix + k + ".")
    return keys


def slurp(path):
    with open(path) as f:
        return f.read()


def gated(fifo, *argv):
    """A shell that waits for a line on FIFO, then execs ARGV (traced by exec)."""
    return ["/bin/sh", "-c", 'read x < "$0"; shift; exec "$@"', fifo, "sh", *argv]


def at_gate(pid, fifo):
    """True when PID sleeps in open(2) of FIFO (x86-64 openat: 257)."""
    if not mtlib.in_syscall(pid, 257):
        return False
    args = mtlib.syscall_of(pid)
    try:
        want = os.fsencode(fifo) + b"\0"
        with open("/proc/%d/mem" % pid, "rb", buffering=0) as m:
            m.seek(int(args[2], 16))
            return m.read(len(want)) == want
    except (OSError, IndexError, ValueError):
        return False


def tracer_idle(d):
    """True when memtraced D's tracer sleeps in wait4(2) (x86-64: 61): it
    has handled, and recorded, every stop its target made."""
    return any(mtlib.in_syscall(int(tid), 61) for tid in os.listdir("/proc/%d/task" % d.proc.pid))


def wait_at_gate(d, fifo, timeout=10):
    """Wait until the gated shell sleeps at its gate FIFO and memtraced has
    recorded everything before it: no event comes until the gate opens."""
    pid = mtlib.wait_for(lambda: d.ctl("status")["target"]["pid"], timeout)
    if not mtlib.wait_for(lambda: at_gate(pid, fifo) and tracer_idle(d), timeout):
        raise AssertionError("the gated target never settled at its gate")


def open_gate(fifo):
    with open(fifo, "w") as f:
        f.write("go\n")


class ChunksDaemon(unittest.TestCase):
    """One memtraced --ceiling 256M running `chunks -p`, stopped after its TRUTH."""

    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("chunks"), "-p"],
                             opts=["--ceiling", "256M", "--kill-timeout", "500ms"])
        try:
            cls.d.wait_socket()
            cls.truth = read_truth_line(cls.d.proc)
            cls.pid = cls.d.ctl("status")["target"]["pid"]
            wait_stopped(cls.pid)
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d.proc.poll() is None:
                os.kill(cls.pid, signal.SIGCONT)
                rc = cls.d.finish(timeout=30)
                assert rc == 0, "memtraced exited %d after SIGCONT: %s" % (rc, cls.d.err)
        finally:
            cls.d.kill()

    def ask(self, obj, timeout=10):
        c = Conn(self.d.sock, timeout)
        try:
            return c.ask(obj)
        finally:
            c.close()

    def wait_no_clients(self):
        """Wait until memtraced has closed every connection of earlier tests.
        They were accepted before a connection made now (the listen backlog
        is first in, first out), so one answered request shows them all
        taken; then they are gone once memtraced holds no connection."""
        self.assertEqual(code(self.ask({"cmd": "status"})), "ok")
        self.assertTrue(mtlib.wait_for(lambda: clients_held(self.d) == 0, 10),
                        "memtraced still holds %d connections" % clients_held(self.d))

    def assertAlive(self):
        rc = self.d.proc.poll()
        self.assertIsNone(rc, "memtraced died (exit %s)" % rc)
        st = self.ask({"cmd": "status"}, timeout=30)
        self.assertEqual(code(st), "ok", st)
        self.assertEqual(st["target"]["pid"], self.pid)


class TestStatus(ChunksDaemon):
    def test_stable_fields(self):
        st = self.ask({"cmd": "status"})
        self.assertIs(st["ok"], True)
        self.assertEqual(st["protocol"], 1)
        self.assertEqual(st["target"]["pid"], self.pid)
        with open("/proc/%d/cmdline" % self.pid, "rb") as f:
            self.assertIn(b"chunks", f.read())
        self.assertEqual(st["target"]["state"], "running")
        for path in ("outstanding.bytes", "outstanding.count", "chunks.count", "chunks.bytes",
                     "chunks.size", "ceiling.bytes", "events.recorded", "events.dropped",
                     "threads.count"):
            v = st
            for k in path.split("."):
                self.assertIn(k, v, "status lacks %s" % path)
                v = v[k]
            self.assertIsInstance(v, int, path)
            self.assertGreaterEqual(v, 0, path)
        self.assertIsInstance(st["ceiling"]["used_percent"], (int, float))
        # Exact agreement with the target's TRUTH is TestChunkChurn's
        # business; here the fields must agree with each other.
        self.assertGreater(st["chunks"]["count"], 0)
        self.assertLessEqual(st["chunks"]["count"], self.truth["chunks_outstanding"])
        self.assertEqual(st["chunks"]["bytes"], st["chunks"]["count"] * CHUNK)
        self.assertEqual(st["chunks"]["size"], 16 * MIB)
        self.assertGreaterEqual(st["outstanding"]["bytes"], st["chunks"]["bytes"])
        self.assertGreater(st["outstanding"]["count"], st["chunks"]["count"])
        self.assertEqual(st["events"]["dropped"], 0)
        self.assertEqual(st["events"]["recorded"], sum(st["events"]["by_syscall"].values()))
        # Only the main thread is left: the evloop workers were joined.
        self.assertEqual(st["threads"]["count"], 1)

    def test_ceiling_used_percent(self):
        st = self.ask({"cmd": "status"})
        self.assertEqual(st["ceiling"]["bytes"], 256 * MIB)
        self.assertGreater(st["chunks"]["bytes"], 0)
        self.assertAlmostEqual(st["ceiling"]["used_percent"],
                               100.0 * st["chunks"]["bytes"] / (256 * MIB), places=9)


class TestChunkChurn(unittest.TestCase):
    def test_status_chunks_match_truth_under_churn(self):
        """8 threads mapping and unmapping chunks at once: the kernel hands a
        just-unmapped address to another thread, and the status must still
        count exactly the chunks the target holds."""
        d = mtlib.Daemon([mtlib.target("chunks"), "-t", "8", "-n", "32", "-f", "2", "-p"],
                         opts=["--ceiling", "4G", "--kill-timeout", "500ms"])
        try:
            d.wait_socket()
            truth = read_truth_line(d.proc)
            st = d.ctl("status")
            wait_stopped(st["target"]["pid"])
            st = d.ctl("status")
            held = {s for s, l in truth["regions"] if l == CHUNK}
            listed = {int(m["start"], 16) for m in
                      d.ctl("outstanding", "--class", "chunk", "--limit", "100000")["mappings"]}
            os.kill(st["target"]["pid"], signal.SIGCONT)
            d.finish(30)
        finally:
            d.kill()
        self.assertEqual(truth["chunks_outstanding"], 128)
        self.assertEqual(sorted(held - listed), [], "chunks the target holds but memtrace lost")
        self.assertEqual(st["chunks"]["count"], truth["chunks_outstanding"])
        self.assertEqual(st["chunks"]["bytes"], truth["chunk_bytes"])
        self.assertAlmostEqual(st["ceiling"]["used_percent"],
                               100.0 * truth["chunk_bytes"] / (4 << 30), places=9)


class TestErrors(ChunksDaemon):
    def assertCode(self, line, want):
        c = Conn(self.d.sock, 5)
        try:
            c.send(line)
            a = c.answer()
            self.assertEqual(code(a), want, "%r -> %.300s" % (line[:80], json.dumps(a)))
            if want != "ok":
                self.assertIs(a["ok"], False)
                self.assertIsInstance(a["error"]["message"], str)
                self.assertTrue(a["error"]["message"])
            # The same connection goes on serving.
            self.assertEqual(code(c.ask({"cmd": "status"})), "ok")
        finally:
            c.close()

    def test_bad_json(self):
        for line in (b"{bad\n", b'{"cmd":"status"\n', b"nonsense\n", b"\n",
                     b'{"cmd":"status","cmd":"status"}\n'):
            with self.subTest(line=line):
                self.assertCode(line, "bad_json")

    def test_bad_request(self):
        for line in (b"[1]\n", b'[{"cmd":"status"}]\n', b"{}\n", b'{"cmd":1}\n',
                     b'{"cmd":null}\n', b'{"cmd":["status"]}\n', b'{"command":"status"}\n'):
            with self.subTest(line=line):
                self.assertCode(line, "bad_request")

    def test_scalar_json_is_bad_request(self):
        # Valid JSON texts (RFC 8259) that are not objects are bad requests,
        # not malformed JSON.
        for line in (b'"status"\n', b"42\n", b"null\n", b"true\n"):
            with self.subTest(line=line):
                self.assertCode(line, "bad_request")

    def test_unknown_cmd(self):
        for line in (b'{"cmd":"nope"}\n', b'{"cmd":""}\n', b'{"cmd":"STATUS"}\n'):
            with self.subTest(line=line):
                self.assertCode(line, "unknown_cmd")

    def test_bad_arg(self):
        for req in ({"cmd": "status", "x": 1},
                    {"cmd": "outstanding", "limit": "x"},
                    {"cmd": "outstanding", "limit": -1},
                    {"cmd": "outstanding", "limit": 1.5},
                    {"cmd": "outstanding", "limit": True},
                    {"cmd": "outstanding", "limit": 100001},
                    {"cmd": "outstanding", "class": "nope"},
                    {"cmd": "outstanding", "class": 1},
                    {"cmd": "outstanding", "sort": "random"},
                    {"cmd": "outstanding", "older_than": -1},
                    {"cmd": "outstanding", "min_size": "16M"},
                    {"cmd": "threads", "all": 1},
                    {"cmd": "events", "follow": "yes"},
                    {"cmd": "events", "syscall": "open"},
                    {"cmd": "stop", "now": True}):
            with self.subTest(req=req):
                self.assertCode(json.dumps(req) + "\n", "bad_arg")

    def test_good_args_accepted(self):
        for req in ({"cmd": "outstanding", "limit": 0},
                    {"cmd": "outstanding", "limit": 100000, "class": "chunk", "sort": "age"},
                    {"cmd": "outstanding", "older_than": 0.5, "min_size": 0, "tid": 0},
                    {"cmd": "threads", "all": False, "limit": 1},
                    {"cmd": "events", "syscall": "brk", "limit": 2, "follow": False}):
            with self.subTest(req=req):
                self.assertCode(json.dumps(req) + "\n", "ok")

    def test_trailing_bytes_bad_json(self):
        for line in (b'{"cmd":"status"} x\n', b'{"cmd":"status"}{"cmd":"status"}\n',
                     b'{"cmd":"status"}]\n', b'{"cmd":"status"} 1\n'):
            with self.subTest(line=line):
                self.assertCode(line, "bad_json")

    def test_surrounding_whitespace_ok(self):
        self.assertCode(b'  {"cmd":"status"}\t\r\n', "ok")

    def test_too_large_then_next_line_works(self):
        for size in (64 * 1024 + 1, 70000, 300000):
            with self.subTest(size=size):
                big = b'{"cmd":"status","x":"' + b"a" * (size - 23) + b'"}'
                self.assertEqual(len(big), size)
                c = Conn(self.d.sock, 10)
                try:
                    c.send(big + b'\n{"cmd":"threads"}\n')
                    self.assertEqual(code(c.answer()), "too_large")
                    a = c.answer()
                    self.assertEqual(code(a), "ok")
                    self.assertIn("threads", a)
                    self.assertEqual(code(c.ask({"cmd": "status"})), "ok")
                finally:
                    c.close()

    def test_line_of_exactly_64k_is_parsed(self):
        big = b'{"cmd":"status","x":"' + b"a" * (64 * 1024 - 23) + b'"}'
        self.assertEqual(len(big), 64 * 1024)
        # Not too_large: it is parsed, and "x" is an unknown argument.
        self.assertCode(big + b"\n", "bad_arg")

    def test_too_large_sent_in_pieces(self):
        c = Conn(self.d.sock, 10)
        try:
            for _ in range(10):
                c.send(b"x" * 10000)
                # Each piece read on its own before the next is sent.
                self.assertTrue(mtlib.wait_for(lambda: unread(c.s) == 0, 10),
                                "memtraced stopped reading a long line")
            c.send(b'x\n{"cmd":"status"}\n')
            self.assertEqual(code(c.answer()), "too_large")
            self.assertEqual(code(c.answer()), "ok")
        finally:
            c.close()

    def test_binary_garbage(self):
        rnd = os.urandom(60000).replace(b"\n", b"")
        for garbage in (b"\x00\x01\xff\xfe", b"\xff", b"\x00" * 100, b"\xc3", rnd):
            with self.subTest(garbage=garbage[:16]):
                c = Conn(self.d.sock, 5)
                try:
                    c.send(garbage + b"\n")
                    a = c.answer()
                    self.assertIs(a["ok"], False)
                    self.assertIn(code(a), ("bad_json", "bad_request"))
                    self.assertEqual(code(c.ask({"cmd": "status"})), "ok")
                finally:
                    c.close()
        # Garbage full of newlines: one answer per line, then still serving.
        c = Conn(self.d.sock, 5)
        try:
            c.send(b"\xde\xad\n\x00\n{\n" + b'{"cmd":"status"}\n')
            self.assertEqual([code(c.answer()) for _ in range(3)], ["bad_json"] * 3)
            self.assertEqual(code(c.answer()), "ok")
        finally:
            c.close()
        self.assertAlive()

    def test_pipelined_answers_in_order(self):
        reqs = [b'{"cmd":"nope"}', b'{"cmd":"status"}', b"[1]", b'{"cmd":"threads"}',
                b'{"cmd":"outstanding","limit":2}', b"{oops", b'{"cmd":"events","limit":3}',
                b'{"cmd":"outstanding","limit":-1}', b'{"cmd":"status"}']
        want = ["unknown_cmd", "ok", "bad_request", "ok", "ok", "bad_json", "ok", "bad_arg", "ok"]
        c = Conn(self.d.sock, 10)
        try:
            c.send(b"\n".join(reqs) + b"\n")
            got = [c.answer() for _ in reqs]
        finally:
            c.close()
        self.assertEqual([code(a) for a in got], want)
        self.assertIn("protocol", got[1])
        self.assertIn("threads", got[3])
        self.assertEqual(len(got[4]["mappings"]), 2)
        self.assertLessEqual(len(got[6]["events"]), 3)

    def test_many_pipelined_requests(self):
        n = 500
        c = Conn(self.d.sock, 20)
        try:
            c.send(b"".join(b'{"cmd":"outstanding","limit":%d}\n' % (i % 5) for i in range(n)))
            counts = [len(c.answer()["mappings"]) for _ in range(n)]
        finally:
            c.close()
        self.assertEqual(counts, [i % 5 for i in range(n)])

    # Error messages quote what the client sent; cutting a multi-byte UTF-8
    # character in half must not make the answer disappear.
    def test_unknown_cmd_with_multibyte_name_is_answered(self):
        name = "a" * 63 + "\u00e9"  # the 64-byte cut falls inside the "é"
        self.assertCode(json.dumps({"cmd": name}, ensure_ascii=False).encode() + b"\n",
                        "unknown_cmd")

    def test_unknown_arg_with_multibyte_name_is_answered(self):
        key = "a" * 63 + "\u00e9"
        self.assertCode(json.dumps({"cmd": "status", key: 1}, ensure_ascii=False).encode() + b"\n",
                        "bad_arg")

    def test_long_multibyte_class_is_rejected(self):
        req = {"cmd": "outstanding", "class": "\u00e9" * 300}
        self.assertCode(json.dumps(req, ensure_ascii=False).encode() + b"\n", "bad_arg")


class TestRobustness(ChunksDaemon):
    def test_200_concurrent_clients(self):
        n = 200
        barrier = threading.Barrier(n)
        results = [None] * n

        def client(i):
            try:
                c = Conn(self.d.sock, 30)
                barrier.wait(timeout=30)
                a = c.ask({"cmd": "status"})
                c.close()
                results[i] = a
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        bad = [r for r in results if not isinstance(r, dict) or r.get("ok") is not True]
        self.assertEqual(bad, [], "%d of %d clients failed" % (len(bad), n))
        self.assertEqual({r["target"]["pid"] for r in results}, {self.pid})
        self.assertAlive()

    def test_half_line_client_does_not_block_others(self):
        slow = Conn(self.d.sock, 5)
        try:
            slow.send(b'{"cmd":"sta')
            t0 = time.time()
            for _ in range(20):
                self.assertEqual(code(self.ask({"cmd": "status"}, timeout=3)), "ok")
            self.assertLess(time.time() - t0, 10)
            # Finishing the line later still gets its answer.
            slow.send(b'tus"}\n')
            self.assertEqual(code(slow.answer()), "ok")
        finally:
            slow.close()

    def test_many_idle_half_line_clients(self):
        idle = []
        try:
            for _ in range(100):
                c = Conn(self.d.sock, 5)
                c.send(b'{"cmd":"outstanding","li')
                idle.append(c)
            self.assertEqual(code(self.ask({"cmd": "status"}, timeout=3)), "ok")
        finally:
            for c in idle:
                c.close()

    def test_too_many_clients(self):
        """512 clients that all hold a stream: one more is refused."""
        self.wait_no_clients()
        held = []
        try:
            for i in range(512):
                c = Conn(self.d.sock, 10)
                held.append(c)
                self.assertEqual(code(c.ask({"cmd": "events", "follow": True, "limit": 0})),
                                 "ok", "client #%d" % (i + 1))
            extra = Conn(self.d.sock, 5)
            try:
                try:
                    extra.send(b'{"cmd":"status"}\n')
                except BrokenPipeError:
                    pass  # refused at accept, before the request came: the answer is there
                self.assertEqual(code(extra.answer()), "too_many_clients")
            finally:
                extra.close()
            held.pop().close()
            self.assertTrue(mtlib.wait_for(
                lambda: code(self.ask({"cmd": "status"}, timeout=3)) == "ok", 5))
        finally:
            for c in held:
                c.close()
        self.assertAlive()

    def test_idle_clients_make_room(self):
        """512 connections that sit idle cannot lock others out: once the
        table is full, the one idle longest (5 s or more) makes room."""
        self.wait_no_clients()
        held = []
        try:
            # Ask each something so that it is surely accepted, not only
            # queued in the listen backlog.
            for i in range(512):
                c = Conn(self.d.sock, 10)
                held.append(c)
                self.assertEqual(code(c.ask({"cmd": "outstanding", "limit": 0})), "ok",
                                 "client #%d" % (i + 1))
                if i == 0:
                    # memtraced read its request before this answer came.
                    first_active = time.monotonic()
            # The newest is active again; the oldest has idled longest.
            self.assertEqual(code(held[-1].ask({"cmd": "status"})), "ok")
            # Not a wait for a state: 5 s idle is what memtraced asks of a
            # client before it drops it for a newcomer (control.c, IDLE_NS).
            time.sleep(max(0.0, first_active + 5.1 - time.monotonic()))
            self.assertEqual(code(self.ask({"cmd": "status"}, timeout=5)), "ok")
            self.assertEqual(held[0].read_to_eof(timeout=5), b"", "the idlest was not dropped")
            self.assertEqual(code(held[-1].ask({"cmd": "status"})), "ok")
        finally:
            for c in held:
                c.close()
        self.assertAlive()

    def test_disconnect_before_answer(self):
        for i in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.d.sock)
            s.sendall(b'{"cmd":"outstanding","limit":100000}\n{"cmd":"status"}\n' * 5)
            s.close()
        self.assertAlive()


@unittest.skipUnless(shutil.which("strace"), "strace is not installed")
class TestSocketAppears(unittest.TestCase):
    """The socket file appears only once memtraced listens on it: a client
    that connects as soon as it sees the file is never refused."""

    def test_listening_when_it_appears(self):
        tmp = tempfile.mkdtemp(prefix="mt-sock-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sock = os.path.join(tmp, "mt.sock")
        # strace (main thread only, no -f) holds memtraced in listen() for a
        # second: the window in which a bound socket has no listener yet.
        p = subprocess.Popen(["strace", "-o", "/dev/null", "-e", "trace=listen",
                              "-e", "inject=listen:delay_enter=1000000", mtlib.MEMTRACED,
                              "-s", sock, "--", "sleep", "5"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertTrue(mtlib.wait_for(lambda: os.path.exists(sock), timeout=20, interval=0.001))
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.connect(sock)
        except ConnectionRefusedError:
            self.fail("the socket file was there before memtraced listened on it")
        finally:
            c.close()
        r = subprocess.run([mtlib.MEMTRACECTL, "-s", sock, "stop"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)


class TestBigAnswers(unittest.TestCase):
    """A --linger daemon that traced `threadstorm -m` (about 9500 events)."""

    @classmethod
    def setUpClass(cls):
        cls.d = mtlib.Daemon([mtlib.target("threadstorm"), "-m"], opts=["--linger"])
        try:
            cls.d.wait_socket()
            ok = mtlib.wait_for(lambda: cls.d.ctl("status")["target"]["state"] == "exited", 60)
            assert ok, "threadstorm never exited"
            cls.st = cls.d.ctl("status")
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d.proc.poll() is None:
                cls.d.ctl("stop")
                cls.d.finish(30)
        finally:
            cls.d.kill()

    def test_disconnect_mid_answer(self):
        req = b'{"cmd":"events","limit":100000}\n{"cmd":"outstanding","limit":100000}\n'
        for i in range(20):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # Big answers: on a busy machine the first bytes can take seconds.
            s.settimeout(30)
            s.connect(self.d.sock)
            s.sendall(req)
            if i % 2:
                s.recv(1000)  # take a little of the answer, then vanish
            s.close()
        self.assertIsNone(self.d.proc.poll(), "memtraced died")
        c = Conn(self.d.sock)
        try:
            a = c.ask({"cmd": "events", "limit": 100000})
        finally:
            c.close()
        self.assertEqual(len(a["events"]), self.st["events"]["recorded"])
        self.assertEqual(a["newest"], self.st["events"]["recorded"])

    def test_whole_big_answer(self):
        c = Conn(self.d.sock, 20)
        try:
            a = c.ask({"cmd": "events", "limit": 100000})
        finally:
            c.close()
        seqs = [e["seq"] for e in a["events"]]
        self.assertEqual(seqs, list(range(1, self.st["events"]["recorded"] + 1)))

    def test_half_closed_client_gets_whole_answer(self):
        # A client that sends its request and then shuts down its writing
        # side (as `socat`, `nc -N` do) must still receive the whole answer.
        for _ in range(3):
            c = Conn(self.d.sock, 10)
            try:
                c.send(b'{"cmd":"events","limit":100000}\n')
                c.s.shutdown(socket.SHUT_WR)
                # memtraced has read the request and begun its answer, far
                # larger than a socket holds: it meets the half-close with
                # most of the answer still to write.
                self.assertTrue(mtlib.wait_for(
                    lambda: unread(c.s) == 0 and queued(c.s) > 0, 30), "no answer began")
                data = c.read_to_eof()
            finally:
                c.close()
            self.assertTrue(data.endswith(b"\n"), "answer cut off after %d bytes once the "
                            "client half-closed" % len(data))
            self.assertEqual(len(json.loads(data)["events"]), self.st["events"]["recorded"])


class TestSummaryShape(unittest.TestCase):
    def test_summary_json_has_status_shape(self):
        d = mtlib.Daemon([mtlib.target("chunks")],
                         opts=["--linger", "--summary", "--json", "--ceiling", "1G"])
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 30))
            st = d.ctl("status")
            self.assertEqual(d.ctl("stop"), {"ok": True})
            rc = d.finish(30)
        finally:
            d.kill()
        self.assertEqual(rc, 0)
        summaries = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")]
        self.assertEqual(len(summaries), 1, d.err)
        summary = summaries[0]
        self.assertEqual(key_tree(summary), key_tree(st))
        self.assertEqual(summary["protocol"], 1)
        self.assertEqual(summary["target"]["pid"], st["target"]["pid"])
        self.assertEqual(summary["target"]["state"], "exited")
        self.assertEqual(summary["target"]["exit_code"], 0)
        for k in ("outstanding", "chunks", "ceiling"):
            self.assertEqual(summary[k], st[k], k)
        self.assertEqual(summary["events"]["by_syscall"], st["events"]["by_syscall"])
        self.assertAlmostEqual(summary["ceiling"]["used_percent"],
                               100.0 * summary["chunks"]["bytes"] / (1 << 30), places=9)

    def test_summary_json_matches_running_status_keys(self):
        d = mtlib.Daemon([mtlib.target("chunks"), "-p"], opts=["--summary", "--json"])
        try:
            d.wait_socket()
            read_truth_line(d.proc)
            st = d.ctl("status")
            wait_stopped(st["target"]["pid"])
            # Once memtraced has looked for a JVM, java_names has its note
            # ("not a JVM"), as the summary at the end will.
            st = mtlib.wait_for(lambda: (lambda s: s if s["threads"]["java_names"]["state"]
                                         != "waiting" else None)(d.ctl("status")), 30)
            self.assertIsNotNone(st, "memtraced never looked for a JVM")
            os.kill(st["target"]["pid"], signal.SIGCONT)
            rc = d.finish(30)
        finally:
            d.kill()
        self.assertEqual(rc, 0)
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        self.assertEqual(key_tree(summary) - {"target.exit_code"}, key_tree(st))
        for k in ("count", "bytes", "size"):
            self.assertEqual(summary["chunks"][k], st["chunks"][k], k)


class TestNonReadingClients(unittest.TestCase):
    """Clients that flood requests and never read must hold up nobody."""

    def traced(self, hostile):
        tmp = tempfile.mkdtemp(prefix="mt-gate-")
        fifo = os.path.join(tmp, "gate")
        os.mkfifo(fifo)
        d = mtlib.Daemon(gated(fifo, mtlib.target("threadstorm"), "-m"),
                         opts=["--summary", "--json"])
        floods = []
        stop = threading.Event()
        latencies = []
        try:
            d.wait_socket()
            if hostile:
                for req in (b'{"cmd":"status"}\n' * 200,
                            b'{"cmd":"events","limit":100000}\n' * 20,
                            b'{"cmd":"events","follow":true,"limit":100000}\n'):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.connect(d.sock)
                    s.setblocking(False)
                    floods.append((s, req))
                # Per flood: its last send found no room (or memtraced gone).
                backed_up = [False] * len(floods)

                def flood():
                    while not stop.is_set():
                        for i, (s, req) in enumerate(floods):
                            try:
                                s.send(req)
                                backed_up[i] = False
                            except (BlockingIOError, OSError):
                                backed_up[i] = True
                        # The flood's pace (a send a millisecond), not a wait.
                        time.sleep(0.001)

                t = threading.Thread(target=flood, daemon=True)
                t.start()
                # memtraced takes no more from any flood: the answers it owes
                # them have piled up to its limit (control.c, MAX_OUT).
                self.assertTrue(mtlib.wait_for(lambda: all(backed_up), 30),
                                "memtraced never stopped reading a flood: %s" % backed_up)
                for _ in range(5):
                    t0 = time.time()
                    c = Conn(d.sock, 5)
                    self.assertEqual(code(c.ask({"cmd": "status"})), "ok")
                    c.close()
                    latencies.append(time.time() - t0)
            open_gate(fifo)
            if hostile:
                # Others are served while the target runs.
                while d.proc.poll() is None:
                    t0 = time.time()
                    try:
                        c = Conn(d.sock, 5)
                        a = c.ask({"cmd": "status"})
                        c.close()
                    except (OSError, AssertionError):
                        # Fine only when the daemon is going away with its target.
                        try:
                            d.proc.wait(5)
                        except subprocess.TimeoutExpired:
                            raise AssertionError("a client failed while memtraced runs")
                        break
                    self.assertEqual(code(a), "ok")
                    latencies.append(time.time() - t0)
                    time.sleep(0.02)  # the pace of the probes until memtraced exits
            rc = d.finish(60)
        finally:
            stop.set()
            for s, _ in floods:
                s.close()
            d.kill()
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")]
        self.assertTrue(summary, d.err)
        return rc, mtlib.truth(d.out), summary[-1], latencies

    def test_flooding_clients_do_not_block_target_or_others(self):
        rc0, truth0, clean, _ = self.traced(False)
        t0 = time.time()
        rc, truth, dirty, latencies = self.traced(True)
        self.assertEqual(rc0, 0)
        self.assertEqual(rc, 0)
        self.assertEqual(truth, truth0)
        self.assertEqual(truth["mmaps"], 2000)
        self.assertLess(time.time() - t0, 60)
        self.assertTrue(latencies)
        self.assertLess(max(latencies), 3.0, latencies)
        self.assertEqual(dirty["events"]["by_syscall"], clean["events"]["by_syscall"])
        self.assertEqual(dirty["events"]["recorded"], clean["events"]["recorded"])
        self.assertEqual(dirty["events"]["dropped"], 0)
        self.assertEqual(dirty["threads"]["seen"], clean["threads"]["seen"])


STRACE_LINE = re.compile(r"^(\d+) \d\d:\d\d:\d\d\.\d{6} (mmap|munmap|mremap|mprotect|brk)\(.*\) = "
                         r"(0x[0-9a-f]+|-?\d+|\?)( \S.*)? <(\d+\.\d{6}|inferred)>$")
MMAP64K = re.compile(r"^\d+ \d\d:\d\d:\d\d\.\d{6} mmap\(NULL, 65536, PROT_READ\|PROT_WRITE, "
                     r"MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = 0x[0-9a-f]+ <\d+\.\d{6}>$")
# A munmap whose success is certain at entry has no exit stop: "<inferred>".
MUNMAP64K = re.compile(r"^\d+ \d\d:\d\d:\d\d\.\d{6} munmap\(0x[0-9a-f]+, 65536\) = 0 "
                       r"<(\d+\.\d{6}|inferred)>$")


class TestFollow(unittest.TestCase):
    """Followers started while the target waits at a gate see everything after it."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mt-follow-")
        fifo = os.path.join(cls.tmp, "gate")
        os.mkfifo(fifo)
        cls.d = d = mtlib.Daemon(gated(fifo, mtlib.target("threadstorm"), "-m"), opts=["--linger"])
        cls.files = {}
        cls.procs = {}
        raw = None
        try:
            d.wait_socket()
            wait_at_gate(d, fifo)
            for name, fmt in (("json", ["--format", "json"]), ("text", [])):
                f = open(os.path.join(cls.tmp, name), "w+")
                cls.files[name] = f
                cls.procs[name] = subprocess.Popen(
                    [mtlib.MEMTRACECTL, "-s", d.sock, "events", "--follow", "--limit", "1", *fmt],
                    stdout=f, stderr=subprocess.PIPE, text=True)
            raw = Conn(d.sock, 30)
            cls.raw_answer = raw.ask({"cmd": "events", "follow": True, "limit": 0,
                                      "syscall": "munmap"})
            # Each follower prints the newest event (answer to --limit 1)
            # once its follow is registered; then the gate may open.
            for name in cls.files:
                path = os.path.join(cls.tmp, name)
                ok = mtlib.wait_for(lambda: slurp(path).count("\n") >= 1, 10)
                assert ok, "follower %s printed nothing: %s" % (name, cls.procs[name].poll())
            open_gate(fifo)
            # The raw follower reads concurrently so it never falls behind.
            cls.raw_lines = []

            def reader():
                try:
                    while True:
                        cls.raw_lines.append(json.loads(raw.line(timeout=60)))
                except AssertionError:
                    pass

            rt = threading.Thread(target=reader, daemon=True)
            rt.start()
            ok = mtlib.wait_for(lambda: d.ctl("status")["target"]["state"] == "exited", 60)
            assert ok, "threadstorm never exited"
            cls.status = d.ctl("status")
            cls.full = d.ctl("events", "--limit", "100000")
            newest = cls.status["events"]["recorded"]

            def caught_up():
                lines = slurp(os.path.join(cls.tmp, "json")).splitlines()
                return lines and json.loads(lines[-1])["seq"] == newest
            # Generous: on a loaded machine followers may lag far behind.
            mtlib.wait_for(caught_up, 60)
            # Both started at the gate, so the text one ends as long.
            mtlib.wait_for(lambda: slurp(os.path.join(cls.tmp, "text")).count("\n")
                           >= slurp(os.path.join(cls.tmp, "json")).count("\n"), 60)
            # And the raw follower has the last munmap.
            last_munmap = max(e["seq"] for e in cls.full["events"] if e["syscall"] == "munmap")
            mtlib.wait_for(lambda: cls.raw_lines and
                           cls.raw_lines[-1].get("event", {}).get("seq") == last_munmap, 60)
            cls.stop_answer = d.ctl("stop")
            cls.rc = d.finish(30)
            cls.errs = {}
            for n, p in cls.procs.items():
                p.wait(20)
                cls.errs[n] = p.stderr.read()
                p.stderr.close()
            rt.join(20)
            cls.out = {n: slurp(os.path.join(cls.tmp, n)) for n in cls.files}
            cls.truth = mtlib.truth(d.out)
        except BaseException:
            d.kill()
            for p in cls.procs.values():
                p.kill()
            raise
        finally:
            if raw:
                raw.close()
            for f in cls.files.values():
                f.close()

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()
        for p in cls.procs.values():
            if p.poll() is None:
                p.kill()

    def test_daemon_and_followers_end_cleanly(self):
        self.assertEqual(self.stop_answer, {"ok": True})
        self.assertEqual(self.rc, 0)
        self.assertEqual(self.truth["mmaps"], 2000)
        for name, p in self.procs.items():
            self.assertEqual(p.returncode, 0, "%s follower: %s" % (name, self.errs[name]))
            self.assertEqual(self.errs[name], "")  # e.g. no "events dropped"

    def test_json_follow_is_complete_and_ordered(self):
        evs = [json.loads(l) for l in self.out["json"].splitlines()]
        seqs = [e["seq"] for e in evs]
        self.assertGreater(len(seqs), 4000)
        self.assertTrue(all(b > a for a, b in zip(seqs, seqs[1:])), "seq not strictly increasing")
        # Contiguous from the answer's newest event to the target's last one.
        self.assertEqual(seqs, list(range(seqs[0], self.status["events"]["recorded"] + 1)))
        full = {e["seq"]: e for e in self.full["events"]}
        # "thread" is the thread's name when each answer was made (the shell
        # becomes threadstorm by exec in between); everything else is the event.
        for e in evs:
            self.assertEqual({k: v for k, v in e.items() if k != "thread"},
                             {k: v for k, v in full[e["seq"]].items() if k != "thread"})
        mm = [e for e in evs if e["syscall"] == "mmap" and e["args"][1] == 65536]
        mu = [e for e in evs if e["syscall"] == "munmap" and e["args"][1] == 65536]
        self.assertEqual(len(mm), self.truth["mmaps"])
        self.assertEqual(len(mu), self.truth["mmaps"])
        for e in mm:
            self.assertEqual(e["args"][2:4], [3, 0x22])  # PROT_READ|PROT_WRITE, PRIVATE|ANON
            self.assertTrue(e["done"])
            self.assertGreater(e["ret"], 0)
        # One mmap per worker thread, each undone by a munmap of the same
        # address by the same thread.
        self.assertEqual(len({e["tid"] for e in mm}), 2000)
        self.assertEqual(sorted((e["tid"], e["ret"]) for e in mm),
                         sorted((e["tid"], e["args"][0]) for e in mu))

    def test_text_follow_is_strace_shaped(self):
        lines = self.out["text"].splitlines()
        bad = [l for l in lines if not STRACE_LINE.match(l)]
        self.assertEqual(bad, [])
        self.assertEqual(sum(1 for l in lines if MMAP64K.match(l)), 2000)
        self.assertEqual(sum(1 for l in lines if MUNMAP64K.match(l)), 2000)
        # The same events as the JSON follower, in the same order.
        texts = [json.loads(l)["text"] for l in self.out["json"].splitlines()]
        self.assertEqual(lines, texts)

    def test_filtered_follow(self):
        self.assertIs(self.raw_answer["ok"], True)
        self.assertEqual(self.raw_answer["events"], [])
        evs = [x["event"] for x in self.raw_lines]
        self.assertEqual(len(evs), len(self.raw_lines), "unexpected non-event lines")
        self.assertTrue(evs)
        self.assertEqual({e["syscall"] for e in evs}, {"munmap"})
        seqs = [e["seq"] for e in evs]
        self.assertTrue(all(b > a for a, b in zip(seqs, seqs[1:])))
        self.assertEqual(sum(1 for e in evs if e["args"][1] == 65536), 2000)
        want = [e["seq"] for e in self.full["events"]
                if e["syscall"] == "munmap" and e["seq"] > self.raw_answer["newest"]]
        self.assertEqual(seqs, want)


class TestFollowUntilExit(unittest.TestCase):
    def test_follower_gets_every_event_before_daemon_exits(self):
        """Without --linger the stream ends when memtraced exits, after the
        target's last event, and `memtracectl events --follow` exits 0."""
        tmp = tempfile.mkdtemp(prefix="mt-follow-exit-")
        fifo = os.path.join(tmp, "gate")
        os.mkfifo(fifo)
        d = mtlib.Daemon(gated(fifo, mtlib.target("threadstorm"), "-m", "-n", "500"),
                         opts=["--summary", "--json"])
        out = os.path.join(tmp, "follow")
        f = open(out, "w+")
        p = None
        try:
            d.wait_socket()
            wait_at_gate(d, fifo)
            p = subprocess.Popen([mtlib.MEMTRACECTL, "-s", d.sock, "events", "--follow",
                                  "--limit", "1", "--format", "json"],
                                 stdout=f, stderr=subprocess.PIPE, text=True)
            self.assertTrue(mtlib.wait_for(lambda: slurp(out).count("\n") >= 1, 10))
            open_gate(fifo)
            rc = d.finish(60)
            _, err = p.communicate(timeout=20)
        finally:
            f.close()
            d.kill()
            if p and p.poll() is None:
                p.kill()
        self.assertEqual(rc, 0)
        self.assertEqual(p.returncode, 0, err)
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        evs = [json.loads(l) for l in slurp(out).splitlines()]
        seqs = [e["seq"] for e in evs]
        self.assertEqual(seqs, list(range(seqs[0], summary["events"]["recorded"] + 1)))
        self.assertEqual(sum(1 for e in evs if e["syscall"] == "mmap" and e["args"][1] == 65536),
                         500)


class TestFollowHandoff(unittest.TestCase):
    def test_follow_starts_right_after_answer(self):
        """The stream must go on exactly where the answer's events end: no
        event may fall between the answer and the first streamed one."""
        d = mtlib.Daemon([mtlib.target("threadstorm"), "-m", "-n", "30000"])
        gaps = []
        tries = 0
        try:
            d.wait_socket()
            # The target is under way: each answer below is a full 1000 events.
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["events"]["recorded"] >= 1000, 30))
            # 60 tries, however long a loaded machine makes them take.
            end = time.time() + 60
            while tries < 60 and time.time() < end and d.proc.poll() is None:
                c = Conn(d.sock, 5)
                try:
                    a = c.ask({"cmd": "events", "follow": True, "limit": 1000})
                    first = json.loads(c.line())
                except AssertionError:
                    break  # the target ended
                finally:
                    c.close()
                tries += 1
                self.assertTrue(a["ok"])
                self.assertEqual(a["events"][-1]["seq"], a["newest"])
                self.assertIn("event", first)
                if first["event"]["seq"] != a["newest"] + 1:
                    gaps.append((a["newest"], first["event"]["seq"]))
        finally:
            d.kill()
        self.assertGreaterEqual(tries, 10)
        self.assertEqual(len(gaps), 0, "events lost between the answer and the stream in %d of %d "
                         "tries; (answer newest, first streamed seq): %s"
                         % (len(gaps), tries, gaps[:5]))


class TestSlowFollower(unittest.TestCase):
    def test_slow_follower_is_told_about_dropped_events(self):
        """A follower that falls behind loses events and is told how many
        (control.c), rather than being disconnected."""
        tmp = tempfile.mkdtemp(prefix="mt-slow-")
        fifo = os.path.join(tmp, "gate")
        os.mkfifo(fifo)
        d = mtlib.Daemon(gated(fifo, mtlib.target("threadstorm"), "-m", "-n", "16000"),
                         opts=["--linger", "--ring-events", "4096"])
        try:
            d.wait_socket()
            c = Conn(d.sock, 5)
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.assertEqual(code(c.ask({"cmd": "events", "follow": True, "limit": 0})), "ok")
            open_gate(fifo)
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["target"]["state"] == "exited", 60))
            newest = d.ctl("status")["events"]["recorded"]
            # Now read it all; the daemon lingers, so the stream must stay open.
            lines, dropped, last, eof = 0, 0, 0, False
            c.s.settimeout(2)
            while True:
                try:
                    chunk = c.s.recv(1 << 20)
                except socket.timeout:
                    break
                if not chunk:
                    eof = True
                    break
                c.buf += chunk
                *full, c.buf = c.buf.split(b"\n")
                for l in full:
                    o = json.loads(l)
                    lines += 1
                    if "dropped" in o:
                        dropped += o["dropped"]
                    else:
                        last = o["event"]["seq"]
            c.close()
            d.ctl("stop")
            d.finish(30)
        finally:
            d.kill()
        self.assertFalse(eof, "the daemon disconnected the slow follower after %d lines "
                         "(last seq %d of %d)" % (lines, last, newest))
        self.assertGreater(dropped, 0)
        self.assertEqual(last, newest)


if __name__ == "__main__":
    mtlib.main()
