#!/usr/bin/env python3
"""How many frames of the chunk stacks of a warmed-up Netty leak get names.

usage: bench/probe/javanames.py BUILD_DIR [CHUNKS]

Runs tests/java/NettyLeak.java (Debian's Netty 4.1.48 leaking 64 KiB pooled
direct buffers; tiered C1 and C2, no JVM flags) under BUILD_DIR/memtraced
until CHUNKS (default 24) 16 MiB chunks are mapped, then reads the chunk
stacks (`stacks --class chunk`) twice: all of them, and those of the chunks
mapped after the first 8 (the JIT has compiled the pool's path by then).
Prints the share of frames named (weighed by how many chunks share each
stack; a frame is unnamed when it prints as "[unknown]"), and each
unnamed frame with the count of chunks whose stack holds it.
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
bindir = os.path.abspath(sys.argv[1])
want = int(sys.argv[2]) if len(sys.argv) > 2 else 24
JARS = ["/usr/share/java/netty-buffer.jar", "/usr/share/java/netty-common.jar",
        "/usr/share/java/netty-transport.jar"]


def ctl(sock, *a):
    r = subprocess.run([os.path.join(bindir, "memtracectl"), "-s", sock, "--json", *a],
                       capture_output=True, text=True, timeout=120)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


tmp = tempfile.mkdtemp()
subprocess.run(["javac", "-cp", ":".join(JARS), "-d", tmp,
                os.path.join(ROOT, "tests/java/NettyLeak.java")], check=True)
sock = os.path.join(tmp, "s")
env = {k: v for k, v in os.environ.items()
       if k not in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")}
p = subprocess.Popen([os.path.join(bindir, "memtraced"), "-s", sock, "--", "java",
                      "-XX:MaxDirectMemorySize=1g", "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                      "-Dio.netty.tryReflectionSetAccessible=true",
                      "-cp", ":".join([tmp, *JARS]), "NettyLeak", "leak", "--max-seconds", "120"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
deadline = time.monotonic() + 150
count = 0
while time.monotonic() < deadline and p.poll() is None:
    st = ctl(sock, "status")
    count = st[0]["chunks"]["count"] if st and st[0].get("ok") else 0
    if count >= want:
        break
    time.sleep(0.5)
out = ctl(sock, "outstanding", "--stacks", "--limit", "100000")
p.terminate()
p.wait(30)
shutil.rmtree(tmp)

entries = [e for r in out for e in r.get("mappings", [])]
chunks = sorted((e for e in entries if e.get("class") == "chunk"), key=lambda e: e.get("id", 0))
print("chunks: %d" % len(chunks))
for label, sel in (("all chunks", chunks), ("after the first 8", chunks[8:])):
    named = total = 0
    unnamed = collections.Counter()
    for e in sel:
        for f in e.get("stack", []):
            total += 1
            if f.startswith("[unknown]"):
                unnamed[f] += 1
            else:
                named += 1
    print("%s: %d/%d frames named (%.1f%%)" % (label, named, total,
                                               100.0 * named / total if total else 0))
    for f, n in unnamed.most_common(20):
        print("    %4d  %s" % (n, f))
