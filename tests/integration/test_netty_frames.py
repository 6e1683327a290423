#!/usr/bin/env python3
"""Whose Java code leaked it, in a real Netty 4.1 program, with no JVM flags.

tests/java/NettyLeak.java leaks pooled direct buffers: its method
retainLeakedCopies asks PooledByteBufAllocator.DEFAULT for 64 KiB buffers
and keeps them, and every 256 of them the pool maps a new 16 MiB chunk
(PoolArena.allocate -> ... -> PoolArena.newChunk -> malloc).  Under
memtraced, with none of the flags a profiler asks for (no
-XX:+PreserveFramePointer, no perf map, no jcmd by hand; the JIT left as it
is, tiered C1 and C2), the stack of the chunks that the leak mapped (the
top stack of `stacks --class chunk`) must name Netty's PoolArena frames and,
above them, the leaking method retainLeakedCopies (at the line of its
call into the pool) and its caller run, in that order: as Java frames
(interpreted or compiled, inlined ones included), not as [unknown]
addresses.

Skips (77) without java/javac or the Netty jars (apt-get install
libnetty-java).
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import mtlib

SRC = os.path.join(mtlib.ROOT, "tests", "java", "NettyLeak.java")
JARS = ["/usr/share/java/netty-buffer.jar", "/usr/share/java/netty-common.jar",
        "/usr/share/java/netty-transport.jar"]
CHUNKS = 12  # ~15 s of leaking: long enough for the JIT to compile the path


def method(frame):
    """'pkg.Class.name' of a Java frame's text, None for a native one."""
    m = re.match(r"([\w$.]+)\((?:[\w$]+\.java:\d+|[^)]*\)\S*)\)?", frame)
    return m.group(1) if m and "+0x" not in frame and not frame.startswith("[") else None


class NettyFrames(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("java") or not shutil.which("javac"):
            raise unittest.SkipTest("no java/javac")
        if not all(os.path.exists(j) for j in JARS):
            raise unittest.SkipTest("no Netty jars (apt-get install libnetty-java)")
        cls.tmp = tempfile.mkdtemp(prefix="mt-nframes-")
        subprocess.run(["javac", "-cp", ":".join(JARS), "-d", cls.tmp, SRC], check=True,
                       timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_leak_stack_names_pool_arena_and_leaking_method(self):
        argv = ["java", "-XX:MaxDirectMemorySize=256m",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                "-Dio.netty.tryReflectionSetAccessible=true",
                "-cp", ":".join([self.tmp, *JARS]), "NettyLeak", "leak", "--max-seconds", "40"]
        env = dict(os.environ)
        for k in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
            env.pop(k, None)
        d = mtlib.Daemon(argv, env=env, stdout=subprocess.DEVNULL)
        try:
            d.wait_socket()
            self.assertTrue(mtlib.wait_for(
                lambda: d.ctl("status")["chunks"]["count"] >= CHUNKS, timeout=60, interval=0.2),
                "the leak never mapped %d chunks" % CHUNKS)
            st = d.ctl("stacks", "--class", "chunk", "--limit", "1")
            text = mtlib.ctl_run(d.sock, "stacks", "--class", "chunk", "--limit", "1").stdout
        finally:
            d.kill()
            d.proc.stderr.close()
            shutil.rmtree(d.dir, ignore_errors=True)
        self.assertEqual(len(st["stacks"]), 1, st)
        top = st["stacks"][0]
        frames = top["frames"]
        names = [method(f) for f in frames]
        print("\ntop chunk stack (%d chunks):\n  %s" % (top["count"], "\n  ".join(frames)))
        # The allocation, native, then the pool's frames, then the leak.
        arena = [i for i, n in enumerate(names)
                 if n in ("io.netty.buffer.PoolArena.allocate", "io.netty.buffer.PoolArena.newChunk",
                          "io.netty.buffer.PoolArena$DirectArena.newChunk")]
        self.assertTrue(arena, frames)
        self.assertIn("io.netty.buffer.PoolArena.allocate", names, frames)
        self.assertIn("NettyLeak.retainLeakedCopies", names, frames)
        leak = names.index("NettyLeak.retainLeakedCopies")
        self.assertLess(max(arena), leak, frames)
        self.assertEqual(names[leak + 1], "NettyLeak.run", frames)
        # At the line of its call into the pool, as a Java stack trace has it.
        with open(SRC) as f:
            line = [i + 1 for i, x in enumerate(f) if "alloc.directBuffer(BUFFER, BUFFER)" in x]
        self.assertEqual(len(line), 1)
        self.assertTrue(frames[leak].startswith("NettyLeak.retainLeakedCopies(NettyLeak.java:%d) "
                                                % line[0]), frames)
        self.assertTrue(any(f.startswith("malloc+0x") for f in frames[:min(arena)]), frames)
        # Nothing between the allocation and the leaking method is unnamed.
        for f in frames[:leak]:
            self.assertFalse(f.startswith("[unknown]"), frames)
        self.assertIn("NettyLeak.retainLeakedCopies", text)


if __name__ == "__main__":
    mtlib.main()
