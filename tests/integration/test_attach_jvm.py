#!/usr/bin/env python3
"""Attach: a real JVM.

Attach mode: memtraced --pid PID on a process that already runs.  Most
tests attach to tests/targets/attachee.c (see mtlib.Attachee): five
adjacent 16 MiB blocks, threads blocked in read(), nanosleep(),
pthread_cond_wait() and one creating threads; it answers commands with
TRUTH lines that memtraced's answers are compared with, as with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import Attachee, CHUNK, mapping_start, proc_maps  # noqa: E402


class JvmTest(mtlib.AttachCase):
    JAVA = r"""
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/* Holds direct 16 MiB buffers; commands on stdin: alloc N, report, exit CODE. */
public class Holder {
    public static void main(String[] args) throws Exception {
        List<ByteBuffer> held = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        report("ready", held);
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split("\\s+");
            int n = w.length > 1 ? Integer.parseInt(w[1]) : 0;
            if (w[0].equals("alloc")) {
                for (int i = 0; i < n; i++) {
                    ByteBuffer b = ByteBuffer.allocateDirect(16 << 20);
                    b.put(0, (byte) 1);
                    held.add(b);
                }
            } else if (w[0].equals("exit")) {
                System.exit(n);
            }
            report(w[0], held);
        }
    }

    static void report(String cmd, List<ByteBuffer> held) {
        StringBuilder sb = new StringBuilder("TRUTH {\"cmd\":\"" + cmd + "\",\"held\":"
                + held.size() + ",\"addresses\":[");
        for (int i = 0; i < held.size(); i++)
            sb.append(i > 0 ? "," : "").append(((sun.nio.ch.DirectBuffer) held.get(i)).address());
        System.out.println(sb.append("]}"));
        System.out.flush();
    }
}
"""

    def test_jvm(self):
        """A real JVM's direct buffers: seeded, traced live, across two attaches.

        With MALLOC_MMAP_THRESHOLD_=131072 each ByteBuffer.allocateDirect(16 MiB)
        is one glibc mmap of 16781312 bytes starting 16 bytes below the
        buffer's address.  A JVM may hold chunk-sized mappings of its own;
        those (the baseline) are the chunk-class entries at no buffer's
        address, and every count is checked as buffers + baseline."""
        if not shutil.which("java") or not shutil.which("javac"):
            self.skipTest("java or javac is not installed")
        tmp = tempfile.mkdtemp(prefix="mt-jvm-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "Holder.java"), "w") as f:
            f.write(self.JAVA)
        export = ["--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED"]
        r = subprocess.run(["javac", "-nowarn", *export, "-d", tmp,
                            os.path.join(tmp, "Holder.java")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
        j = Attachee(["java", "-XX:MaxDirectMemorySize=1g", *export, "-cp", tmp, "Holder"],
                     env=env)
        self.addCleanup(j.kill)

        def blocks(t):
            return sorted(x - 16 for x in t["addresses"])

        t = j.cmd("alloc 4")
        self.assertEqual(t["held"], 4)
        for s in blocks(t):
            self.assertTrue(any(r[0] <= s and s + CHUNK <= r[1] and r[2] == "rw-p"
                                for r in proc_maps(j.pid)), "buffer %#x not in the maps" % s)

        d = self.attach(j.pid)
        entries = {mapping_start(m): m for m in self.outstanding(d, "--class", "chunk")}
        for s in blocks(t):
            self.assertIn(s, entries, "preexisting buffer block %#x is not a chunk" % s)
            self.assertEqual(entries[s]["length"], CHUNK)
            self.assertTrue(entries[s]["preexisting"])
        baseline = sorted(set(entries) - set(blocks(t)))
        st = d.ctl("status")
        self.assertGreater(st["seeded"]["count"], 0)
        self.assertEqual(st["chunks"]["count"], 4 + len(baseline))
        self.assertGreaterEqual(st["chunks"]["count"], 4)

        t = j.cmd("alloc 3", timeout=60)
        self.assertEqual(t["held"], 7)
        new = sorted(set(blocks(t)) - set(entries))
        self.assertEqual(len(new), 3)
        st = d.ctl("status")
        self.assertEqual(st["chunks"]["count"], 4 + len(baseline) + 3)
        now = {mapping_start(m): m for m in self.outstanding(d, "--class", "chunk")}
        tids = set(int(x) for x in os.listdir("/proc/%d/task" % j.pid))
        for s in new:
            self.assertIn(s, now)
            self.assertFalse(now[s]["preexisting"])
            self.assertIn(now[s]["tid"], tids)
        mm = [e for e in d.ctl("events", "--syscall", "mmap", "--limit", "100000")["events"]
              if e["ret"] in new]
        self.assertEqual(sorted(e["ret"] for e in mm), new)
        self.assertTrue(all(e["args"][1] == CHUNK and e["pid"] == j.pid for e in mm))

        self.detach(d)
        self.assert_untraced(j.pid)
        self.assertEqual(j.cmd("report")["held"], 7)

        # Attach again, to the same JVM.
        d = self.attach(j.pid)
        again = {mapping_start(m): m for m in self.outstanding(d, "--class", "chunk")}
        for s in blocks(t):
            self.assertIn(s, again, "buffer block %#x is not a chunk after re-attach" % s)
            self.assertTrue(again[s]["preexisting"])
        self.assertEqual(sorted(set(again) - set(blocks(t))), baseline)
        self.assertEqual(d.ctl("status")["chunks"]["count"], 7 + len(baseline))
        self.detach(d, "SIGTERM")
        self.assert_untraced(j.pid)
        self.assertEqual(j.cmd("report")["held"], 7)
        j.send("exit 0")
        self.assertEqual(j.proc.wait(timeout=30), 0)


if __name__ == "__main__":
    mtlib.main()
