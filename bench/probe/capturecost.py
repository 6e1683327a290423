#!/usr/bin/env python3
"""Cost of one captured stack: a C program, a JVM at start, a warmed-up JVM.

usage: bench/probe/capturecost.py [-r ROUNDS] BUILD_DIR...

For each case the target runs under each BUILD_DIR/memtraced (e.g. a
build of main and one of a branch, interleaved so that both see the same
load) once with stacks off and once with stacks on, in turn, ROUNDS
times (default 3); the figure is the
median time the stacked mmaps spent in the call (the thread waits there
while its stack is captured), per run.  A stack's cost is the difference
between the two medians of the same calls.

  C program      build/targets/chunks -t 1 -n 400 -f 1 (400 chunk mmaps,
                 5-frame stacks), --stacks chunk against none
  JVM at start   java -version (every mmap, mostly native stacks through
                 libjvm.so, some through the interpreter), --stacks all
                 against none
  warmed-up JVM  tests/java/JavaFrames.java, C2-compiled chain, no
                 -XX:+PreserveFramePointer: 100 direct 16 MiB buffers,
                 --stacks chunk against none; also the share of the chunk
                 stacks' frames that are named (not "[unknown]")
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
args = sys.argv[1:]
rounds = 3
if args[:1] == ["-r"]:
    rounds = int(args[1])
    args = args[2:]
bindirs = [os.path.abspath(a) for a in args]
bindir = None  # the build being run
classes = tempfile.mkdtemp()
subprocess.run(["javac", "-d", classes, os.path.join(ROOT, "tests/java/JavaFrames.java")],
               check=True)
WARM = ["-XX:-TieredCompilation", "-Xbatch", "-XX:CompileCommand=quiet",
        "-XX:CompileCommand=dontinline,JavaFrames::*"]
CHUNKS = os.path.join(ROOT, "build", "targets", "chunks")


def ctl(sock, *a):
    """memtracectl of the build being run."""
    r = subprocess.run([os.path.join(bindir, "memtracectl"), "-s", sock, "--json", *a],
                       capture_output=True, text=True, timeout=120)
    return r.stdout


def wait_sock(sock, p):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None:
        if ctl(sock, "status"):
            return
        time.sleep(0.05)


def mmap_durs(sock, min_len):
    ev = [json.loads(l) for l in ctl(sock, "events", "--limit", "100000",
                                     "--syscall", "mmap").splitlines()]
    return [e["duration_ns"] for e in ev
            if "args" in e and e.get("done") and e["args"][1] >= min_len]


def named_share(sock):
    named = total = 0
    st = json.loads(ctl(sock, "stacks", "--class", "chunk").splitlines()[0])
    for s in st["stacks"]:
        for f in s["frames"]:
            total += s["count"]
            named += s["count"] * (not f.startswith("[unknown]"))
    return named, total


def lingering(policy, argv, min_len):
    """Run ARGV to its end under --linger; the in-call times of its mmaps."""
    d = tempfile.mkdtemp()
    sock = os.path.join(d, "s")
    p = subprocess.Popen([os.path.join(bindir, "memtraced"), "-s", sock, "--linger",
                          "--stacks", policy, "--", *argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_sock(sock, p)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = ctl(sock, "status")
        if '"exited"' in st or '"target_exited":true' in st or '"state":"exited"' in st:
            break
        time.sleep(0.1)
    durs = mmap_durs(sock, min_len)
    ctl(sock, "stop")
    p.wait(60)
    shutil.rmtree(d)
    return durs


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
    durs = mmap_durs(sock, 16 << 20)
    share = named_share(sock) if policy != "none" else None
    open(os.path.join(d, "done"), "w").close()
    p.wait(60)
    shutil.rmtree(d)
    return durs, share


CASES = [
    ("C program", "chunk", lambda pol: (lingering(pol, [CHUNKS, "-t", "1", "-n", "400", "-f", "1"],
                                                  16 << 20), None)),
    ("JVM at start", "all", lambda pol: (lingering(pol, ["java", "-version"], 0), None)),
    ("warmed-up JVM", "chunk", warm_run),
]

for name, on, run in CASES:
    med = {(b, p): [] for b in bindirs for p in ("none", on)}
    shares = {b: [] for b in bindirs}
    for _ in range(rounds):
        for b in bindirs:
            for pol in ("none", on):
                bindir = b
                durs, share = run(pol)
                if durs:
                    med[(b, pol)].append(statistics.median(durs) / 1e3)
                if share and share[1]:
                    shares[b].append(share)
    for b in bindirs:
        off, got = statistics.median(med[(b, "none")]), statistics.median(med[(b, on)])
        print("%-14s %s: none %s  %s %s  -> a stack: %.1f us" %
              (name, b, ["%.1f" % x for x in med[(b, "none")]], on,
               ["%.1f" % x for x in med[(b, on)]], got - off))
        if shares[b]:
            print("%-14s %s: named frames of chunk stacks: %s" %
                  ("", b, ["%d/%d" % x for x in shares[b]]))
    sys.stdout.flush()
shutil.rmtree(classes)
