#!/usr/bin/env python3
"""Whose Java code leaked it: Java frames named and walked with no JVM flags.

tests/java/JavaFrames.java leaks direct buffers along
handleRequest -> copyPayload -> retainCopy -> leakOne.  Under memtraced,
with no JVM flag that helps a profiler (no -XX:+PreserveFramePointer, no
perf map, no jcmd), the stack of the leaked chunks must name leakOne and
its callers, innermost first and in order, each as Java prints it,
"JavaFrames.leakOne(JavaFrames.java:24)", the line being the one of the
call in the source (found in JavaFrames.java itself), between the native
frames of the allocation and the call stub that entered Java:
 - run cold, every application frame is "[interpreted]" (its line from
   the bytecode index the frame was at when the chunk was mapped);
 - after a warm-up that C2 compiles the chain (-XX:-TieredCompilation
   -Xbatch) with the chain's methods kept from being inlined into each
   other, every application frame is "[compiled]": the walk went through
   frames that keep no frame pointer (their lines from the PcDesc of the
   return address);
 - the same without that restraint: C2 inlines the chain into fewer
   compiled frames, and the stack still names every method of it, in
   order, the inlined ones "[inlined]" (decoded from the nmethod's scopes);
 - the same on the Temurin JDK 25 when it is installed.
The text of `stacks` and of `outstanding --stacks` shows the same names.
"""
import re
import os
import shutil
import subprocess
import tempfile
import unittest

import mtlib

SRC = os.path.join(mtlib.ROOT, "tests", "java", "JavaFrames.java")
JDK17 = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
JDK25 = "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"


def source_line(text):
    """The line number of the one line of JavaFrames.java holding TEXT."""
    with open(SRC) as f:
        hits = [i + 1 for i, line in enumerate(f) if text in line]
    assert len(hits) == 1, (text, hits)
    return hits[0]


# Each method of the chain and the call it is at when the chunk is mapped.
CHAIN = ["JavaFrames.%s(JavaFrames.java:%d)" % (m, source_line(call)) for m, call in (
    ("leakOne", "ByteBuffer.allocateDirect(size)"),
    ("retainCopy", "= leakOne(size)"),
    ("copyPayload", "retainCopy(size, keep)."),
    ("handleRequest", "copyPayload(size, keep) -"),
    ("main", "handleRequest(16 << 20, true)"))]
CHUNKS = 3
C2 = ["-XX:-TieredCompilation", "-Xbatch", "-XX:CompileCommand=quiet"]
WARM = C2 + ["-XX:CompileCommand=dontinline,JavaFrames::*"]


def run(java, classes, warmups, jvm_opts=()):
    """Run JavaFrames under memtraced; (truth, stacks, outstanding text, stacks text)."""
    tmp = tempfile.mkdtemp(prefix="mt-jframes-")
    d = mtlib.Daemon([java, *jvm_opts, "-cp", classes, "JavaFrames", str(warmups),
                      str(CHUNKS), tmp])
    try:
        out = mtlib.LineReader(d.proc.stdout)
        d.wait_socket()
        out.wait_prefix("WARM", 120)
        with open(os.path.join(tmp, "go"), "w"):
            pass
        truth = mtlib.truth(out.wait_prefix("TRUTH ", 60))
        stacks = d.ctl("stacks", "--class", "chunk")
        text = mtlib.ctl_run(d.sock, "stacks", "--class", "chunk").stdout
        outstanding = mtlib.ctl_run(d.sock, "outstanding", "--stacks", "--class", "chunk").stdout
        with open(os.path.join(tmp, "done"), "w"):
            pass
        rc = d.finish(60)
        if rc != 0:
            raise AssertionError("memtraced exited %d: %s" % (rc, d.err))
        return truth, stacks, text, outstanding
    finally:
        d.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(d.dir, ignore_errors=True)


class JavaFrames(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("javac") or not os.path.exists(JDK17):
            raise unittest.SkipTest("no JDK 17 (javac, %s)" % JDK17)
        cls.tmp = tempfile.mkdtemp(prefix="mt-jframes-cls-")
        # Class file version 61 runs on 17 and 25 alike.
        subprocess.run(["javac", "--release", "17", "-d", cls.tmp, SRC], check=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check(self, result, kind):
        truth, st, text, outstanding = result
        main = [s for s in st["stacks"] if s["count"] == truth["chunks"]]
        self.assertEqual(len(main), 1, st)
        f = main[0]["frames"]
        names = [x.rsplit(" [", 1)[0] for x in f]
        self.assertIn(CHAIN[0], names, f)
        k = names.index(CHAIN[0])
        # The chain, innermost first, each frame as the JIT left it.
        self.assertEqual(names[k:k + len(CHAIN) - 1], CHAIN[:-1], f)
        kinds = [re.search(r" \[(\w+)\]$", x).group(1) for x in f[k:k + len(CHAIN) - 1]]
        if kind == "inlined":
            # Inlined frames, each inside the next compiled frame up.
            self.assertIn("inlined", kinds, f)
            self.assertEqual(kinds[-1], "compiled", f)
            self.assertTrue(set(kinds) <= {"inlined", "compiled"}, f)
        else:
            self.assertEqual(kinds, [kind] * (len(CHAIN) - 1), f)
        self.assertEqual(names[k + len(CHAIN) - 1], CHAIN[-1], f)
        # Below it the JDK's own Java frames down to the native allocation...
        alloc = [i for i, x in enumerate(f)
                 if x.startswith("jdk.internal.misc.Unsafe.allocateMemory0(Native Method)")]
        self.assertTrue(alloc and alloc[0] < k, f)
        self.assertTrue(any(x.startswith("malloc+0x") and x.endswith("(libc.so.6)")
                            for x in f[:alloc[0]]), f)
        self.assertTrue(all(" [" in x for x in f[alloc[0]:k]), f)
        # ... above it the call stub and JavaCalls::call_helper (native again).
        self.assertTrue(any(x.startswith("JavaCalls::call_helper(") and x.endswith("(libjvm.so)")
                            for x in f[k + len(CHAIN):]), f)
        for name in CHAIN:
            self.assertIn(name, text)
            self.assertIn(name, outstanding)

    def test_jdk17_cold(self):
        self.check(run(JDK17, self.tmp, 0), "interpreted")

    def test_jdk17_c2(self):
        self.check(run(JDK17, self.tmp, 20000, WARM), "compiled")

    def test_jdk17_c2_inlined(self):
        self.check(run(JDK17, self.tmp, 20000, C2), "inlined")

    def test_jdk25_cold(self):
        if not os.path.exists(JDK25):
            self.skipTest("no Temurin JDK 25 at %s" % JDK25)
        self.check(run(JDK25, self.tmp, 0), "interpreted")

    def test_jdk25_c2(self):
        if not os.path.exists(JDK25):
            self.skipTest("no Temurin JDK 25 at %s" % JDK25)
        self.check(run(JDK25, self.tmp, 20000, WARM), "compiled")

    def test_jdk25_c2_inlined(self):
        if not os.path.exists(JDK25):
            self.skipTest("no Temurin JDK 25 at %s" % JDK25)
        self.check(run(JDK25, self.tmp, 20000, C2), "inlined")


if __name__ == "__main__":
    mtlib.main()
