#!/usr/bin/env python3
"""Cost of a captured stack in a JVM, and how many of its frames get names.

usage: bench/probe/javastacks.py MEMTRACED_DIR [ROUNDS]

Runs tests/java/JavaFrames.java (C2-compiled chain, no -XX:+PreserveFramePointer)
under MEMTRACED_DIR/memtraced with --stacks none and --stacks chunk, after a
warm-up, making 100 direct 16 MiB buffers; reports the median time the
chunk mmaps spent in the call (the thread waits there while its stack is
captured) per policy, and the share of the chunk stacks' frames that are
named (not "[unknown]").  Then java -version under --stacks none and all,
wall time, for the cost at JVM start.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
bindir = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
classes = tempfile.mkdtemp()
subprocess.run(["javac", "-d", classes, os.path.join(ROOT, "tests/java/JavaFrames.java")], check=True)
WARM = ["-XX:-TieredCompilation", "-Xbatch", "-XX:CompileCommand=quiet",
        "-XX:CompileCommand=dontinline,JavaFrames::*"]


def ctl(sock, *a):
    r = subprocess.run([os.path.join(bindir, "memtracectl"), "-s", sock, "--json", *a],
                       capture_output=True, text=True, timeout=60)
    return r.stdout


def warm_run(policy):
    d = tempfile.mkdtemp()
    sock = os.path.join(d, "s")
    p = subprocess.Popen([os.path.join(bindir, "memtraced"), "-s", sock, "--stacks", policy,
                          "--", "java", *WARM, "-cp", classes, "JavaFrames", "20000", "100", d],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("WARM"):
            open(os.path.join(d, "go"), "w").close()
        if line.startswith("TRUTH"):
            break
    ev = [json.loads(l) for l in ctl(sock, "events", "--limit", "100000",
                                     "--syscall", "mmap").splitlines()]
    durs = [e["duration_ns"] for e in ev if e["args"][1] >= 16 << 20]
    named = total = 0
    if policy != "none":
        st = json.loads(ctl(sock, "stacks", "--class", "chunk").splitlines()[0])
        for s in st["stacks"]:
            for f in s["frames"]:
                total += s["count"]
                named += s["count"] * (not f.startswith("[unknown]"))
    open(os.path.join(d, "done"), "w").close()
    p.wait(60)
    shutil.rmtree(d)
    return durs, named, total


def version_run(policy):
    t = time.monotonic()
    subprocess.run([os.path.join(bindir, "memtraced"), "--no-socket", "--stacks", policy, "--",
                    "java", "-version"], capture_output=True)
    return time.monotonic() - t


res = {"none": [], "chunk": []}
names = []
for _ in range(rounds):
    for pol in res:
        durs, named, total = warm_run(pol)
        if durs:
            res[pol].append(statistics.median(durs))
        if total:
            names.append((named, total))
for pol in res:
    print("warm JVM, %s: median chunk mmap in-call time per run, us: %s" %
          (pol, ["%.1f" % (x / 1e3) for x in res[pol]]))
print("named frames of chunk stacks: %s" % ["%d/%d" % x for x in names])
ver = {"none": [], "all": []}
for _ in range(rounds * 3):
    for pol in ver:
        ver[pol].append(version_run(pol))
for pol in ver:
    print("java -version --stacks %s: median %.1f ms, min %.1f ms" %
          (pol, statistics.median(ver[pol]) * 1e3, min(ver[pol]) * 1e3))
shutil.rmtree(classes)
