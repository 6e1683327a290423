#!/usr/bin/env python3
"""JIT frames named from a perf map memtraced asks the JVM for itself.

Where memtraced cannot read a JVM's structures it asks the JVM for its
perf map (jcmd PID Compiler.perfmap, through the attach mechanism) when
frames in anonymous memory go unnamed, at most once every 10 s.  The JVM
is made unreadable the one way memtraced offers, MEMTRACE_NO_VMSTRUCTS in
its environment: hotspot.c then treats the JVM as one whose layout it
does not know (no walk, no names).  tests/java/PerfMapLeak.java (JDK 17,
C2 only, -Xbatch) leaks a 1 MiB direct buffer a round from a method that
is compiled anew each round, so new code keeps needing a newer map; it
runs with -XX:+PreserveFramePointer, without which no walk that lacks the
JVM's structures gets past the JDK's compiled allocateDirect to the
application's frames.  The test never runs jcmd, and no JVM flag makes
the JVM write a map:
 - the leaking method, JIT-compiled, is named from the map, as
   "... PerfMapLeak$Leaker.leak(int) [jit]", above the native wrapper of
   Unsafe.allocateMemory0;
 - watched from outside through the map file's modification times, the
   JVM wrote its map more than once (the demand went on) and only as
   often as memtraced asked: between any two looks at the status, the
   requests grew by at most one more than the 10 s periods between them;
 - a JVM stopped with SIGSTOP does not hold up a query: memtraced says it
   is stopped, and asks again once it runs;
 - with --no-perf-map, the same run gets no map and its JIT frames stay
   "[unknown]".
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import mtlib

SRC = os.path.join(mtlib.ROOT, "tests", "java", "PerfMapLeak.java")
JDK17 = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
LEAK = re.compile(r"PerfMapLeak\$Leaker\.leak\(int\) \[jit\]$")
UNKNOWN = re.compile(r"^\[unknown\] 0x[0-9a-f]+$")
INTERVAL = 10.0


class MapWatch:
    """The writes of FILE since now, from its modification time, polled in
    a thread: a list of (monotonic time, mtime) of each change; changes
    less than a second apart are one write (a map is written in pieces)."""

    def __init__(self, path):
        self.path = path
        self.since = time.time_ns()
        self.changes = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        last = None
        while not self.stop.is_set():
            try:
                m = os.stat(self.path).st_mtime_ns
            except FileNotFoundError:
                m = None
            if m is not None and m != last and m >= self.since:
                self.changes.append((time.monotonic(), m))
            last = m
            time.sleep(0.02)  # the map's mtime is sampled at this pace

    def writes(self):
        self.stop.set()
        self.thread.join()
        groups = []
        for t, _ in self.changes:
            if not groups or t - groups[-1][1] > 1.0:
                groups.append([t, t])
            else:
                groups[-1][1] = t
        return [g[0] for g in groups]


def run(classes, opts, seconds, hook=None):
    """Run PerfMapLeak under memtraced for SECONDS of rounds, looking at its
    chunk stacks and status every 0.3 s, after calling HOOK(pid, last
    sample) if given; (samples, map writes, truth, rc, stderr, the text of
    status at the end), each sample
    (monotonic time, status perf_map, stacks, seconds the two queries took)."""
    tmp = tempfile.mkdtemp(prefix="mt-jperfmap-")
    env = dict(os.environ, MEMTRACE_NO_VMSTRUCTS="1")
    d = mtlib.Daemon([JDK17, "-XX:+PreserveFramePointer", "-XX:-TieredCompilation", "-Xbatch",
                      "-XX:CompileCommand=quiet", "-XX:CompileCommand=dontinline,PerfMapLeak$Leaker::leak",
                      "-cp", classes, "PerfMapLeak", str(1 << 20), tmp],
                     opts=["--chunk-size", "1M", *opts], env=env)
    watch = None
    try:
        out = mtlib.LineReader(d.proc.stdout)
        d.wait_socket()
        pid = mtlib.target_pid(d)
        watch = MapWatch("/tmp/perf-%d.map" % pid)
        out.wait_prefix("ROUND 1 ", 120)
        samples = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if hook:
                hook(pid, samples[-1] if samples else None)
            t = time.monotonic()
            st = d.ctl("stacks", "--class", "chunk", "--limit", "1000")
            samples.append((t, d.ctl("status")["perf_map"], st["stacks"], time.monotonic() - t))
            time.sleep(0.3)  # the pace of the samples, for SECONDS
        with open(os.path.join(tmp, "stop"), "w"):
            pass
        truth = mtlib.truth(out.wait_prefix("TRUTH ", 60))
        t = time.monotonic()
        samples.append((t, d.ctl("status")["perf_map"],
                        d.ctl("stacks", "--class", "chunk", "--limit", "1000")["stacks"],
                        time.monotonic() - t))
        writes = watch.writes()
        status_text = mtlib.ctl_run(d.sock, "status").stdout
        with open(os.path.join(tmp, "done"), "w"):
            pass
        rc = d.finish(60)
        return samples, writes, truth, rc, d.err, status_text
    finally:
        if watch:
            watch.stop.set()
            try:
                os.unlink(watch.path)
            except FileNotFoundError:
                pass
        d.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(d.dir, ignore_errors=True)


def leak_stacks(stacks):
    """The chunk stacks of the direct buffers, each as (count, the frames
    above the native allocation); the JVM's own chunks are left out."""
    parts = []
    for s in stacks:
        f = s["frames"]
        k = [i for i, x in enumerate(f) if x.startswith("Unsafe_AllocateMemory0+")]
        if k:
            parts.append((s["count"], f[k[0] + 1:]))
    return parts


def leak_frames(stacks):
    """The frames above the native allocation in each direct buffer's stack."""
    return [p for _, p in leak_stacks(stacks)]


class JavaPerfMap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("javac",):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is missing" % tool)
        if not os.path.exists(JDK17):
            raise unittest.SkipTest("no JDK 17 at %s" % JDK17)
        cls.tmp = tempfile.mkdtemp(prefix="mt-jperfmap-cls-")
        subprocess.run(["javac", "--release", "17", "-d", cls.tmp, SRC], check=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_asked_and_limited(self):
        samples, writes, truth, rc, err, text = run(self.tmp, [], 28)
        self.assertEqual(rc, 0, err)
        last = samples[-1]
        self.assertEqual(sum(n for n, _ in leak_stacks(last[2])), truth["chunks"],
                         [(s["count"], s["frames"][5:9]) for s in last[2]])
        self.assertEqual(last[1]["state"], "written", last[1])
        # The leaking method, compiled, named from the map memtraced asked for.
        named = [p for p in leak_frames(last[2]) if any(LEAK.search(x) for x in p)]
        self.assertTrue(named, leak_frames(last[2]))
        self.assertTrue(all(p[0] == "long jdk.internal.misc.Unsafe.allocateMemory0(long) [jit]"
                            for p in named), named)
        # Asked more than once, new code needing a newer map...
        requests = last[1]["requests"]
        self.assertGreaterEqual(len(writes), 2, (writes, requests))
        # ... never more often than once a period: the JVM writes no map of
        # its own, so each write answers a request.
        self.assertLessEqual(len(writes), requests, (writes, requests))
        for i, (ta, pa, _, _) in enumerate(samples):
            for tb, pb, _, _ in samples[i + 1:]:
                self.assertLessEqual(pb["requests"] - pa["requests"],
                                     1 + int((tb - ta) / INTERVAL),
                                     (ta, pa, tb, pb))
        for a, b in zip(writes, writes[1:]):
            # A write comes within the request's answer; requests start 10 s apart.
            self.assertGreater(b - a, INTERVAL / 2, writes)
        # Some look met a frame the map did not name yet (the demand), and a later one named it.
        self.assertTrue(any(UNKNOWN.match(x) for _, _, st, _ in samples
                            for p in leak_frames(st) for x in p), "no unnamed frame was ever met")
        self.assertRegex(text, r"\nperf map +JIT frames named from the JVM's "
                         r"perf map: written, %d requests\n" % requests)
        print("%d rounds; %d requests, the map written %d times, at %s s; %d looks in %.1f s"
              % (truth["chunks"], requests, len(writes),
                 ", ".join("%.1f" % (w - samples[0][0]) for w in writes), len(samples),
                 samples[-1][0] - samples[0][0]))

    def test_stopped_jvm(self):
        """A JVM stopped (SIGSTOP) once it has written its map: queries are
        answered as promptly as ever, memtraced says the JVM is stopped
        rather than waiting on it, and asks again once it runs."""
        stop = {}

        def hook(pid, last):
            now = time.monotonic()
            if "at" not in stop and last and last[1]["state"] == "written":
                os.kill(pid, signal.SIGSTOP)
                stop["at"] = now
            elif "at" in stop and "cont" not in stop and now - stop["at"] > 15:
                os.kill(pid, signal.SIGCONT)
                stop["cont"] = now

        samples, writes, truth, rc, err, text = run(self.tmp, [], 35, hook)
        self.assertEqual(rc, 0, err)
        self.assertIn("cont", stop, [s[1] for s in samples])
        stopped = [s for s in samples if stop["at"] <= s[0] < stop["cont"]]
        self.assertTrue(stopped)
        # Asking for stacks never waits on the JVM.
        self.assertLess(max(s[3] for s in stopped), 5, [s[3] for s in stopped])
        notes = [s[1] for s in stopped if s[1]["state"] == "failed"]
        self.assertTrue(notes, [s[1] for s in stopped])
        self.assertIn("is stopped", notes[-1].get("note", ""), notes[-1])
        # Once it runs again it is asked again, and answers.
        self.assertEqual(samples[-1][1]["state"], "written", samples[-1][1])
        self.assertTrue([w for w in writes if w > stop["cont"]], (writes, stop))

    def test_no_perf_map(self):
        samples, writes, truth, rc, err, text = run(self.tmp, ["--no-perf-map"], 12)
        self.assertEqual(rc, 0, err)
        last = samples[-1]
        self.assertEqual(last[1], {"state": "disabled", "requests": 0})
        self.assertEqual(writes, [])
        self.assertNotIn("perf map", text)
        parts = leak_frames(last[2])
        self.assertTrue(parts, last[2])
        for p in parts:
            # No name in JIT code ever: the wrapper, the leak, the interpreter.
            self.assertTrue(p and UNKNOWN.match(p[0]), p)
            self.assertFalse([x for x in p if x.endswith(" [jit]")], p)


if __name__ == "__main__":
    mtlib.main()
