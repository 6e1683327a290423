#!/usr/bin/env python3
"""Threads by their full Java names, learned from a real JVM.

tests/java/NamedLeak.java starts two threads named "leak-worker-pool-1" and
"leak-worker-pool-2": the kernel keeps 15 bytes of a name, so both read
"leak-worker-poo" in /proc (comm), and only the full names tell them apart.
Once the test creates GOFILE, each thread keeps 3 direct ByteBuffers of
16 MiB: 6 chunks, and with --ceiling 110M the warn level (80%) is reached
at the 6th.  The test lets the JVM's threads start, waits (polling) until
memtraced has learned their names from a thread dump, then lets them leak,
and checks that every answer that shows a thread shows the full name:
alerts (top threads), status (the threads holding the most chunks),
threads, outstanding, events, and the human output of each.

Fallbacks, where the threads must keep their kernel names and nothing may
hang: -XX:+DisableAttachMechanism on the command line (the JVM is never
signalled: no thread dump on its stdout); the same flag hidden where
memtraced does not look (-XX:Flags=FILE), where the one SIGQUIT makes the
JVM print one thread dump and memtraced never asks again; --no-java-names
(no attach listener ever starts); a target that is no JVM.

Skips (77) without java/javac.
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "java", "NamedLeak.java")
CLASSES = None
CHUNK = 16781312  # a 16 MiB malloc's mmap under the pinned threshold
NAMES = ["leak-worker-pool-1", "leak-worker-pool-2"]
COMM = "leak-worker-poo"
PER_THREAD = 3
# Answers must come at once whatever the JVM does; a dump takes at most ~15 s.
QUICK_S = 5.0


def clean_env():
    """Our environment without JVM option variables, which would change the JVM."""
    env = dict(os.environ)
    for k in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
        env.pop(k, None)
    return env


class Run:
    """NamedLeak under a memtraced; GO and DONE are its files."""

    def __init__(self, test, jvm_flags=(), opts=()):
        self.tmp = tempfile.mkdtemp(prefix="mt-jnames-")
        test.addCleanup(shutil.rmtree, self.tmp, True)
        self.go = os.path.join(self.tmp, "go")
        self.done = os.path.join(self.tmp, "done")
        argv = ["java", "-XX:MaxDirectMemorySize=512m", *jvm_flags, "-cp", CLASSES,
                "NamedLeak", self.go, self.done, str(PER_THREAD)]
        self.d = mtlib.Daemon(argv, opts=["--ceiling", "110M", *opts], env=clean_env())
        test.addCleanup(shutil.rmtree, self.d.dir, True)
        test.addCleanup(self.d.kill)
        test.addCleanup(self.release)
        self.out = mtlib.LineReader(self.d.proc.stdout)
        self.d.wait_socket()
        self.pid = mtlib.target_pid(self.d)
        self.out.wait_prefix("READY", 60)
        self.test = test

    def release(self):
        for f in (self.go, self.done):
            with open(f, "w"):
                pass

    def ctl(self, *args):
        """An answer, which must come within QUICK_S whatever the JVM does."""
        t = time.monotonic()
        a = self.d.ctl(*args)
        self.test.assertLess(time.monotonic() - t, QUICK_S, args)
        return a

    def text(self, *args):
        r = mtlib.ctl_run(self.d.sock, *args)
        self.test.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def workers(self):
        """The threads rows of the two workers, by comm."""
        return [t for t in self.ctl("threads", "--all")["threads"] if t["comm"] == COMM]

    def leak(self):
        """Let the workers leak; wait until both hold their buffers."""
        with open(self.go, "w"):
            pass
        for name in NAMES:
            self.out.wait_prefix("HELD %s %d" % (name, PER_THREAD), 60)

    def finish(self):
        with open(self.done, "w"):
            pass
        self.test.assertEqual(self.d.finish(60), 0, self.d.err)

    def dumps_printed(self):
        """Thread dumps the JVM printed on its own stdout (one per SIGQUIT it took as such)."""
        return self.out.text().count("Full thread dump")


class JavaNames(unittest.TestCase):

    def test_full_names_everywhere(self):
        r = Run(self)
        # The names thread asks when threads appear, at most once per 5 s.
        self.assertTrue(mtlib.wait_for(
            lambda: sorted(t["name"] for t in r.workers() if t["java"]) == NAMES, 30),
            r.ctl("status")["threads"])
        rows = {t["name"]: t for t in r.workers()}
        for name, t in rows.items():
            with open("/proc/%d/task/%d/comm" % (r.pid, t["tid"])) as f:
                self.assertEqual(f.read().strip(), COMM)
            self.assertEqual(t["comm"], COMM)
        tid_of = {name: t["tid"] for name, t in rows.items()}
        names = r.ctl("status")["threads"]["java_names"]
        self.assertEqual(names["state"], "learned", names)
        self.assertGreaterEqual(names["named"], 2, names)

        r.leak()
        # Alerts: warn is raised by the 6th chunk, when each worker holds 3.
        alerts = [a for a in r.ctl("alerts")["alerts"] if a["state"] == "raised"]
        self.assertEqual([a["level"] for a in alerts], ["warn"], alerts)
        top = {t["name"]: t for t in alerts[0]["top_threads"]}
        self.assertEqual(sorted(top), NAMES, alerts[0])
        for name, t in top.items():
            self.assertEqual((t["tid"], t["comm"], t["chunk_count"], t["chunk_bytes"]),
                             (tid_of[name], COMM, PER_THREAD, PER_THREAD * CHUNK), t)
        # Status: the threads holding the most chunks.
        st = r.ctl("status")
        top = {t["name"]: t for t in st["threads"]["top"]}
        self.assertEqual(sorted(top), NAMES, st["threads"])
        for name, t in top.items():
            self.assertEqual((t["tid"], t["chunk_bytes"]), (tid_of[name], PER_THREAD * CHUNK))
        # Outstanding: each chunk names the thread that mapped it.
        maps = r.ctl("outstanding", "--class", "chunk")["mappings"]
        self.assertEqual(collections.Counter((m["thread"], m["tid"]) for m in maps),
                         {(n, tid_of[n]): PER_THREAD for n in NAMES}, maps)
        # Events: the workers' chunk mmaps carry their names.
        evs = [e for e in r.ctl("events", "--syscall", "mmap", "--limit", "100000")["events"]
               if e["tid"] in tid_of.values() and e["args"][1] == CHUNK]
        self.assertEqual(collections.Counter((e["thread"], e["tid"]) for e in evs),
                         {(n, tid_of[n]): PER_THREAD for n in NAMES}, evs)
        # The human output of each.
        text = r.text("alerts")
        for name in NAMES:
            self.assertRegex(text, r"warn raised .*; top: .*%s 48\.0M" % re.escape(name))
        text = r.text("status")
        self.assertRegex(text, r"names from the JVM's thread dumps")
        for name in NAMES:
            self.assertRegex(text, r"most chunks: .*%s 48\.0M" % re.escape(name))
        text = r.text("threads")
        for name in NAMES:
            self.assertRegex(text, r"(?m)^ *%d yes .*  %s$" % (tid_of[name], re.escape(name)))
        text = r.text("outstanding", "--class", "chunk")
        for name in NAMES:
            self.assertEqual(len(re.findall(r"(?m) %d  %s$" % (tid_of[name], re.escape(name)),
                                            text)), PER_THREAD, text)
        # memtraced's own alert line (stderr) names them as well.
        self.assertEqual(r.dumps_printed(), 0, r.out.text())
        r.finish()
        line = [x for x in r.d.err.splitlines() if "ALERT warn raised" in x]
        self.assertEqual(len(line), 1, r.d.err)
        for name in NAMES:
            self.assertIn(name, line[0])

    def check_kernel_names(self, r):
        """The workers keep comm, in threads and in the alert, and nothing waits."""
        # memtraced re-reads comm about once a second: the JVM names a thread after its first mmap.
        self.assertTrue(mtlib.wait_for(lambda: len(r.workers()) == 2, 10), r.ctl("threads"))
        for t in r.workers():
            self.assertEqual((t["name"], t["java"]), (COMM, False), t)
        r.leak()
        alerts = [a for a in r.ctl("alerts")["alerts"] if a["state"] == "raised"]
        self.assertEqual([a["level"] for a in alerts], ["warn"], alerts)
        self.assertEqual([t["name"] for t in alerts[0]["top_threads"]], [COMM, COMM], alerts)
        self.assertEqual(len(r.workers()), 2)

    def test_disable_attach_mechanism(self):
        r = Run(self, jvm_flags=["-XX:+DisableAttachMechanism"])
        self.assertTrue(mtlib.wait_for(
            lambda: r.ctl("status")["threads"]["java_names"]["state"] == "refused", 30))
        note = r.ctl("status")["threads"]["java_names"]["note"]
        self.assertIn("DisableAttachMechanism", note)
        self.assertRegex(r.text("status"), r"kernel names \(Java names refused: .*Disable")
        self.check_kernel_names(r)
        # Never signalled: no thread dump on the JVM's stdout, no attach listener.
        self.assertEqual(r.dumps_printed(), 0, r.out.text())
        self.assertFalse(os.path.exists("/proc/%d/root/tmp/.java_pid%d" % (r.pid, r.pid)))
        r.finish()

    def test_hidden_disable_attach_mechanism(self):
        """The flag where memtraced does not look: one SIGQUIT, never another."""
        flags = tempfile.NamedTemporaryFile("w", suffix=".flags", delete=False)
        self.addCleanup(os.unlink, flags.name)
        flags.write("+DisableAttachMechanism\n")
        flags.close()
        r = Run(self, jvm_flags=["-XX:Flags=" + flags.name])
        t = time.monotonic()
        self.assertTrue(mtlib.wait_for(
            lambda: r.ctl("status")["threads"]["java_names"]["state"] == "refused", 30))
        self.assertLess(time.monotonic() - t, 20)
        self.assertIn("did not open its attach socket",
                      r.ctl("status")["threads"]["java_names"]["note"])
        self.assertTrue(mtlib.wait_for(lambda: r.dumps_printed() == 1, 10), r.out.text())
        self.check_kernel_names(r)
        self.assertEqual(r.ctl("status")["threads"]["java_names"]["state"], "refused")
        self.assertEqual(r.dumps_printed(), 1, r.out.text())
        r.finish()

    def test_no_java_names(self):
        r = Run(self, opts=["--no-java-names"])
        self.assertEqual(r.ctl("status")["threads"]["java_names"]["state"], "disabled")
        self.assertRegex(r.text("status"), r"kernel names \(--no-java-names\)")
        self.check_kernel_names(r)
        comms = []
        for tid in os.listdir("/proc/%d/task" % r.pid):
            with open("/proc/%d/task/%s/comm" % (r.pid, tid)) as f:
                comms.append(f.read().strip())
        self.assertNotIn("Attach Listener", comms)
        self.assertFalse(os.path.exists("/proc/%d/root/tmp/.java_pid%d" % (r.pid, r.pid)))
        r.finish()

    def test_not_a_jvm(self):
        d = mtlib.Daemon(["sleep", "60"], env=clean_env(), stdout=subprocess.DEVNULL)
        self.addCleanup(shutil.rmtree, d.dir, True)
        self.addCleanup(d.kill)
        d.wait_socket()
        self.assertTrue(mtlib.wait_for(
            lambda: d.ctl("status")["threads"]["java_names"]["state"] == "not_jvm", 10))
        self.assertEqual([(t["name"], t["java"]) for t in d.ctl("threads")["threads"]],
                         [("sleep", False)])
        d.ctl("stop")
        d.finish(30)


def main():
    global CLASSES
    mtlib.need_java()
    with mtlib.javac([SRC], "mt-jnames-classes-") as CLASSES:
        unittest.main(verbosity=2)

if __name__ == "__main__":
    main()
