#!/usr/bin/env python3
"""Direct memory, weighed as the JVM counts it, told nothing.

Each run launches a leaking JVM under memtraced with no --ceiling and no
--chunk-size: the ceiling comes from -XX:MaxDirectMemorySize, the direct
memory from the stacks of the mmaps (Unsafe_AllocateMemory0, or on JDK 25
os::malloc called from generated code), the chunk size from what is seen.

  - the plain JDK leak: tests/java/DirectLeak.java keeps
    ByteBuffer.allocateDirect(1 MiB) in a list under
    -XX:MaxDirectMemorySize=64m until OutOfMemoryError; its own count is
    BufferPoolMXBean "direct";
  - Debian's Netty 4.1.48 (tests/java/NettyLeak.java) leaking 64 KiB pooled
    buffers under 256m: with its default 16 MiB chunks; with 4 MiB chunks
    set in code (System.setProperty("io.netty.allocator.maxOrder", "9")
    before the allocator loads: no flag memtraced can read), where the chunk
    size must be learned from the direct mmaps; and on the Temurin JDK 25,
    where Netty 4.1.48 cannot use its no-cleaner buffers and the JDK's count
    (BufferPoolMXBean) is the one that fails;
  - the glibc trap: the 4 MiB-chunk Netty leak freeing one chunk early,
    memtraced attached (--pid) after that free, so that glibc's raised mmap
    threshold sends every later chunk to a malloc arena with no mmap.

Each leak reaches its ceiling in about a minute, steadily (DIRECT_TICK_MS,
NETTY_PER_TICK), as the leaks memtrace must warn of early do.

At every status sample (~150 ms apart) the weighed bytes
(ceiling.weighed_bytes) must be within one chunk (one buffer for the JDK
leak) of the program's own count at that moment, plus one page per direct
mapping (glibc's header rounds each malloc'd block up by a page: 1 MiB is
mapped as 1,052,672 bytes).  "At that moment": the program prints a USED line
every tick and after every change, so its value while the request was in
flight is among the lines from the last one before the request to the first
one after the answer.  Then warn must have been raised at least
WARN_AHEAD_S (30 s) before the OutOfMemoryError; the seconds of warning,
and why the alert fired, are printed.

Skips (77) without java/javac or Debian's Netty jars; the JDK 25 case skips
alone (as a test) when /usr/lib/jvm/temurin-25-jdk-amd64 is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA_DIR = os.path.join(HERE, "..", "java")
JARS = ["/usr/share/java/netty-buffer.jar", "/usr/share/java/netty-common.jar",
        "/usr/share/java/netty-transport.jar"]
JDK25 = "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"
MIB = 1 << 20
PAGE = 4096
SMALL = ["-XX:+UseSerialGC", "-Xmx64m", "-Xss512k", "-XX:TieredStopAtLevel=1"]
# A realistic pace: each leak reaches its ceiling in about a minute, steadily.
# DirectLeak: 1 MiB every 940 ms, 64 MiB in 60 s.  NettyLeak: 7 x 64 KiB
# every 100 ms (4.4 MiB/s), 256 MiB in 58.5 s: a new 16 MiB chunk every
# 3.7 s (a staircase), or a 4 MiB chunk every 0.9 s.
DIRECT_TICK_MS = 940
NETTY_PER_TICK = 7
# The goal: warn at least this long before the OutOfMemoryError.
WARN_AHEAD_S = 30
NETTY_OPENS = ["--add-opens", "java.base/java.nio=ALL-UNNAMED",
               "-Dio.netty.tryReflectionSetAccessible=true"]

CLASSES = None


def clean_env():
    env = dict(os.environ)
    for k in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "JAVA_TOOL_OPTIONS",
              "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
        env.pop(k, None)
    return env


def parse_kv(line):
    out = {}
    for word in line.split()[1:]:
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = v
    return out


class Run:
    """One leaking JVM under memtraced --linger, its status sampled."""

    def __init__(self, argv, deadline=120):
        self.d = mtlib.Daemon(argv, opts=["--linger"], env=clean_env())
        self.lines = []    # (time received, line)
        self.samples = []  # (ta, tb, status)
        self.deadline = deadline

    def _reader(self, stream, into):
        for line in stream:
            into.append((time.time(), line.rstrip("\n")))

    def run(self):
        d = self.d
        err = []
        threads = [threading.Thread(target=self._reader, args=(d.proc.stdout, self.lines),
                                    daemon=True),
                   threading.Thread(target=self._reader, args=(d.proc.stderr, err), daemon=True)]
        for t in threads:
            t.start()
        try:
            d.wait_socket(30)
            end = time.time() + self.deadline
            while time.time() < end:
                ta = time.time()
                st = d.request('{"cmd":"status"}\n')[0]
                tb = time.time()
                self.samples.append((ta, tb, st))
                if any(x.startswith("DONE ") for _, x in self.lines):
                    break
                time.sleep(0.15)  # the live status is sampled at this pace
            self.final = d.request('{"cmd":"status"}\n')[0]
            self.alerts = d.request('{"cmd":"alerts"}\n')[0]
            self.outstanding = d.request(
                '{"cmd":"outstanding","class":"direct","limit":100000}\n')[0]
            d.request('{"cmd":"stop"}\n')
            d.proc.wait(30)
        finally:
            d.kill()
        for t in threads:
            t.join(5)
        d.proc.stdout.close()
        d.proc.stderr.close()
        self.err = "\n".join(x for _, x in err)
        self.parse()

    def parse(self):
        self.out = [x for _, x in self.lines]
        self.used = []  # (t, fields) of every USED line, the program's clock
        self.oom = None
        for x in self.out:
            if x.startswith("USED "):
                kv = parse_kv(x)
                self.used.append((float(kv["t"]), kv))
            elif x.startswith("OOM "):
                self.oom = (float(parse_kv(x)["t"]), x)


class AttachRun(Run):
    """A leaking JVM started here; memtraced attaches (--pid) once it says READY."""

    def __init__(self, argv, go, deadline=120):
        self.argv, self.go, self.deadline = argv, go, deadline
        self.lines, self.samples = [], []
        self.d = None

    def run(self):
        jvm = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=clean_env())
        err = []
        threads = [threading.Thread(target=self._reader, args=(jvm.stdout, self.lines),
                                    daemon=True),
                   threading.Thread(target=self._reader, args=(jvm.stderr, err), daemon=True)]
        for t in threads:
            t.start()
        try:
            if not mtlib.wait_for(lambda: any(x.startswith("READY ") for _, x in self.lines)
                                  or jvm.poll() is not None, timeout=60) or jvm.poll() is not None:
                raise AssertionError("the JVM never said READY:\n%s\n%s"
                                     % ("\n".join(x for _, x in self.lines[-20:]),
                                        "\n".join(x for _, x in err[-20:])))
            self.d = d = mtlib.AttachDaemon(jvm.pid, opts=["--linger"])
            self.attached = d.wait_state("running", timeout=30)
            open(self.go, "w").close()
            end = time.time() + self.deadline
            while time.time() < end:
                ta = time.time()
                st = d.request('{"cmd":"status"}\n')[0]
                tb = time.time()
                self.samples.append((ta, tb, st))
                if any(x.startswith("DONE ") for _, x in self.lines):
                    break
                time.sleep(0.15)  # the live status is sampled at this pace
            self.final = d.request('{"cmd":"status"}\n')[0]
            self.alerts = d.request('{"cmd":"alerts"}\n')[0]
            self.outstanding = d.request(
                '{"cmd":"outstanding","class":"direct","limit":100000}\n')[0]
            d.request('{"cmd":"stop"}\n')
            d.finish(timeout=30)
            jvm.wait(30)
        finally:
            if self.d:
                self.d.kill()
            if jvm.poll() is None:
                jvm.kill()
                jvm.wait()
        for t in threads:
            t.join(5)
        jvm.stdout.close()
        jvm.stderr.close()
        self.err = "\n".join(x for _, x in err)
        self.parse()


class Direct(unittest.TestCase):

    def check(self, run, key, chunk, label):
        """Weighed bytes against the program's count KEY, within CHUNK, at every sample."""
        self.assertIsNotNone(run.oom, "no OutOfMemoryError:\n%s\n%s"
                             % ("\n".join(run.out[-20:]), run.err[-2000:]))
        self.assertGreater(len(run.used), 10)
        checked = worst = 0
        for ta, tb, st in run.samples:
            if st["target"]["state"] != "running":
                continue
            before = [kv for t, kv in run.used if t <= ta]
            if not before:
                continue
            after = [kv for t, kv in run.used if t >= tb][:1]
            window = before[-1:] + [kv for t, kv in run.used if ta < t < tb] + after
            values = [int(kv[key]) for kv in window]
            w = st["ceiling"]["weighed_bytes"]
            tol = chunk + PAGE * st["direct"]["count"]
            off = min(abs(w - v) for v in values)
            worst = max(worst, off)
            self.assertLessEqual(off, tol, "%s: weighed %d, the program's %s %s at %.3f-%.3f "
                                 "(direct %s)" % (label, w, key, values, ta, tb, st["direct"]))
            checked += 1
        self.assertGreater(checked, 20, "too few samples while it ran")
        st = run.final
        self.assertEqual(st["ceiling"]["source"], "-XX:MaxDirectMemorySize")
        self.assertIs(st["direct"]["weighed"], True, st["direct"])
        self.assertEqual(st["ceiling"]["weighed_bytes"],
                         st["direct"]["bytes"] + st["direct"]["seeded_chunk_bytes"])
        # outstanding --class direct lists them, and only them.
        self.assertEqual(run.outstanding["total"], st["direct"]["count"])
        self.assertEqual(sum(m["length"] for m in run.outstanding["mappings"]),
                         st["direct"]["bytes"])
        self.assertTrue(all(m["direct"] for m in run.outstanding["mappings"]))
        # warn before the OutOfMemoryError.
        raised = {}
        for a in run.alerts["alerts"]:
            if a["state"] == "raised":
                raised.setdefault(a["level"], a)
        self.assertIn("warn", raised, run.alerts)
        self.assertEqual(raised["warn"]["weighs"], "direct")
        t_oom = run.oom[0]
        t_warn = raised["warn"]["time_ns"] / 1e9
        self.assertLess(t_warn, t_oom)
        self.assertGreaterEqual(t_oom - t_warn, WARN_AHEAD_S,
                                "%s: warn only %.1fs before the OutOfMemoryError: %s"
                                % (label, t_oom - t_warn, raised["warn"]))
        print("\n%s: %d samples, weighed within %.2f MiB of the program's count (allowed "
              "%.2f); warn %.1fs before the OutOfMemoryError (%s: %s)%s; chunk size %s (%s)"
              % (label, checked, worst / MIB, tol / MIB, t_oom - t_warn,
                 raised["warn"].get("cause"), raised["warn"].get("reason"),
                 ", crit %.1fs" % (t_oom - raised["crit"]["time_ns"] / 1e9)
                 if "crit" in raised else "", st["chunks"]["size"], st["chunks"]["size_source"]),
              file=sys.stderr)
        return st

    def test_jdk_buffers(self):
        run = Run(["java", *SMALL, "-XX:MaxDirectMemorySize=64m", "-cp", CLASSES, "DirectLeak",
                   "--tick-ms", str(DIRECT_TICK_MS)])
        run.run()
        self.assertIn("Cannot reserve 1048576 bytes of direct buffer memory", run.oom[1])
        st = self.check(run, "used", MIB, "JDK 17 allocateDirect(1 MiB)")
        self.assertEqual(st["direct"]["count"], int(run.used[-1][1]["count"]))
        self.assertEqual(st["chunks"]["size_source"][:13], "learned from ")
        self.assertIn("mmaps of 1,052,672 bytes", st["chunks"]["size_source"])

    def netty(self, java, label, *args, key="used"):
        cp = ":".join([CLASSES, *JARS])
        run = Run([java, *SMALL, "-XX:MaxDirectMemorySize=256m", *NETTY_OPENS, "-cp", cp,
                   "NettyLeak", "leak", "--max-seconds", "90",
                   "--buffers-per-tick", str(NETTY_PER_TICK), *args])
        run.run()
        return run

    def test_netty_16m(self):
        run = self.netty("java", "Netty 16 MiB")
        self.assertIn("OutOfDirectMemoryError", run.oom[1])
        st = self.check(run, "used", 16 * MIB, "Netty 4.1.48, 16 MiB chunks, JDK 17")
        self.assertEqual(st["chunks"]["size"], 16 * MIB)
        self.assertEqual(st["direct"]["netty_version"], "4.1.48")

    def test_netty_4m_in_code(self):
        run = self.netty("java", "Netty 4 MiB", "--max-order-in-code", "9")
        self.assertIn("failed to allocate 4194304 byte(s)", run.oom[1])
        st = self.check(run, "used", 4 * MIB, "Netty 4.1.48, 4 MiB chunks set in code, JDK 17")
        self.assertEqual(st["chunks"]["size"], 4 * MIB)
        self.assertRegex(st["chunks"]["size_source"],
                         r"^learned from \d+ direct-memory mmaps of 4,198,400 bytes$")
        # Every leaked chunk is a chunk now, not "small" as with the size rule.
        self.assertGreaterEqual(st["chunks"]["count"], 60)

    def test_netty_4m_attached_glibc_trap(self):
        """Attached after a chunk was freed: glibc serves the leak from a malloc arena.

        Netty with 4 MiB chunks frees one chunk early (a large message
        released), so glibc, whose threshold nobody pinned, raises its mmap
        threshold to 4,198,400 bytes; memtraced attaches after that, and
        every later 4 MiB chunk comes from the leaking thread's malloc arena
        with no mmap.  The weighed bytes must still follow Netty's count
        within a chunk or two: the arena growth made on the direct-memory
        path is weighed.  Prints how much the mmaps alone would miss."""
        tmp = tempfile.mkdtemp(prefix="mt-trap-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cp = ":".join([CLASSES, *JARS])
        run = AttachRun(["java", *SMALL, "-XX:MaxDirectMemorySize=256m", *NETTY_OPENS, "-cp", cp,
                         "NettyLeak", "leak", "--max-seconds", "90", "--buffers-per-tick",
                         str(NETTY_PER_TICK), "--max-order-in-code", "9", "--early-message",
                         "--go-file", os.path.join(tmp, "go")], os.path.join(tmp, "go"))
        run.run()
        self.assertIs(run.attached["arena"]["threshold_pinned"], False)
        self.assertIn("failed to allocate 4194304 byte(s)", run.oom[1])
        used = int(run.used[-1][1]["used"])
        st = run.final
        d = st["direct"]
        seen_by_mmap = d["bytes"] - d["in_arenas_bytes"]
        print("\nglibc trap, attached, 4 MiB chunks: Netty holds %.0f MiB; direct mmaps show "
              "%.0f MiB, so %.0f MiB (%.0f%%) is out of sight of the mmaps; arena growth on the "
              "direct-memory path weighs %.0f MiB; may_be_hidden_bytes %.0f MiB"
              % (used / MIB, seen_by_mmap / MIB, (used - seen_by_mmap) / MIB,
                 100.0 * (used - seen_by_mmap) / used, d["in_arenas_bytes"] / MIB,
                 d["may_be_hidden_bytes"] / MIB), file=sys.stderr)
        # The trap did spring: most of the leak never reached mmap.
        self.assertGreater(used - seen_by_mmap, used // 2, d)
        # Within two chunks: arena growth may hold glibc's slack, and the
        # chunk freed inside the arena after the OOM is not given back.
        self.check(run, "used", 2 * 4 * MIB, "Netty 4.1.48, 4 MiB chunks, attached after an "
                   "early free (chunks in a malloc arena)")
        warn = next(a for a in run.alerts["alerts"] if a["state"] == "raised")
        self.assertGreater(warn["direct"]["in_arenas_bytes"], 0, warn)

    def test_netty_jdk25(self):
        if not os.path.exists(JDK25):
            self.skipTest("no Temurin JDK 25 at %s" % JDK25)
        run = self.netty(JDK25, "Netty JDK 25")
        self.assertIn("Cannot reserve", run.oom[1])
        self.check(run, "pool", 16 * MIB, "Netty 4.1.48 on Temurin JDK 25 (the JDK's count)")


def main():
    global CLASSES
    mtlib.need_java(JARS, "Netty jars missing (%s): apt-get install libnetty-java")
    # --release 17: the classes run on JDK 17 and 25 alike.
    with mtlib.javac([os.path.join(JAVA_DIR, "DirectLeak.java"),
                      os.path.join(JAVA_DIR, "NettyLeak.java")],
                     "mt-direct-", classpath=JARS, release=17) as CLASSES:
        unittest.main(verbosity=2)

if __name__ == "__main__":
    main()
