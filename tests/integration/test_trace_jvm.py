#!/usr/bin/env python3
"""A real JVM under memtraced: it runs as it does untraced, and its direct
ByteBuffers show up as chunks.

ByteBuffer.allocateDirect(16 MiB) is malloc(16 MiB) (no page alignment by
default).  With MALLOC_MMAP_THRESHOLD_=131072 in the environment glibc's
threshold is pinned, so every such malloc is a fresh mmap of 16 MiB + 4 KiB
(16781312 bytes, inside the chunk class 16 MiB..16 MiB+8 KiB) and each
free() is its munmap.

The JVM maps plenty of its own memory (heap, metaspace, code cache, thread
stacks, malloc arenas).  None of it is chunk-sized today, but rather than
assume that, the chunk count is compared with a baseline run of the same
program allocating nothing: chunks(N) - chunks(0) == buffers still held.
The live test also pins the held buffers' addresses to chunk mappings.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import mtlib

CHUNK = 16781312

JAVA_SRC = r"""
import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.util.ArrayList;

/* usage: Direct N FREE [GOFILE]
 * Allocates N direct ByteBuffers of 16 MiB, touches each, frees the last
 * FREE of them explicitly (Unsafe.invokeCleaner, or the buffer's Cleaner on
 * JDK 8: its memory is free()d at once, no GC involved), prints
 *   TRUTH {"held":H,"freed":F,"held_addrs":[...],"freed_addrs":[...]}
 * and, with GOFILE, waits until that file exists before exiting. */
public class Direct {
    static Object unsafe;
    static Class<?> unsafeClass;

    static Object unsafe() throws Exception {
        if (unsafe == null) {
            unsafeClass = Class.forName("sun.misc.Unsafe");
            Field f = unsafeClass.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
        }
        return unsafe;
    }

    static long address(ByteBuffer b) throws Exception {
        Object u = unsafe();
        long off = (Long) unsafeClass.getMethod("objectFieldOffset", Field.class)
            .invoke(u, Buffer.class.getDeclaredField("address"));
        return (Long) unsafeClass.getMethod("getLong", Object.class, long.class)
            .invoke(u, b, off);
    }

    static void free(ByteBuffer b) throws Exception {
        Object u = unsafe();
        Method m;
        try {
            m = unsafeClass.getMethod("invokeCleaner", ByteBuffer.class);  /* JDK 9+ */
        } catch (NoSuchMethodException e) {
            /* JDK 8: ((sun.nio.ch.DirectBuffer) b).cleaner().clean() */
            Method cleaner = b.getClass().getMethod("cleaner");
            cleaner.setAccessible(true);
            Object c = cleaner.invoke(b);
            Method clean = c.getClass().getMethod("clean");
            clean.setAccessible(true);
            clean.invoke(c);
            return;
        }
        m.invoke(u, b);
    }

    static String list(ArrayList<Long> xs) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < xs.size(); i++)
            sb.append(i == 0 ? "" : ",").append(xs.get(i));
        return sb.append("]").toString();
    }

    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]), nfree = Integer.parseInt(a[1]);
        ArrayList<ByteBuffer> held = new ArrayList<>();
        ArrayList<Long> heldAddrs = new ArrayList<>(), freedAddrs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(16 << 20);
            b.put(0, (byte) 1);
            b.put((16 << 20) - 1, (byte) 2);
            held.add(b);
        }
        for (int i = 0; i < nfree && !held.isEmpty(); i++) {
            ByteBuffer b = held.remove(held.size() - 1);
            freedAddrs.add(address(b));
            free(b);
        }
        for (ByteBuffer b : held)
            heldAddrs.add(address(b));
        System.out.println("TRUTH {\"held\":" + held.size() + ",\"freed\":" + freedAddrs.size()
            + ",\"held_addrs\":" + list(heldAddrs) + ",\"freed_addrs\":" + list(freedAddrs) + "}");
        System.out.flush();
        if (a.length > 2) {
            File go = new File(a[2]);
            for (int i = 0; i < 6000 && !go.exists(); i++)
                Thread.sleep(10);
        }
        if (held.size() > 1 << 20)
            System.out.println(held.get(0));  /* keep the buffers reachable to the end */
    }
}
"""

N, FREE = 10, 3


class Jvm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mt-jvm-")
        with open(os.path.join(cls.dir, "Direct.java"), "w") as f:
            f.write(JAVA_SRC)
        r = subprocess.run(["javac", "-nowarn", "-d", cls.dir,
                            os.path.join(cls.dir, "Direct.java")],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("javac failed:\n" + r.stderr)
        cls.env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
        # Options in the environment would change what both runs print; keep them out.
        for v in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
            cls.env.pop(v, None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def java(self, *args):
        return ["java", "-XX:MaxDirectMemorySize=1g", "-cp", self.dir, "Direct", *map(str, args)]

    def test_java_version(self):
        plain = subprocess.run(["java", "-version"], capture_output=True, text=True,
                               env=self.env, timeout=60)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        traced = subprocess.run([mtlib.MEMTRACED, "--no-socket", "--", "java", "-version"],
                                capture_output=True, text=True, env=self.env, timeout=60)
        self.assertEqual(traced.returncode, 0, traced.stderr)
        self.assertEqual(traced.stderr, plain.stderr)
        self.assertEqual(traced.stdout, plain.stdout)

    def test_direct_buffers_summary(self):
        rc, out, base, err = mtlib.run_traced(self.java(0, 0), env=self.env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(mtlib.truth(out)["held"], 0)
        rc, out, s, err = mtlib.run_traced(self.java(N, FREE), env=self.env)
        self.assertEqual(rc, 0, err)
        t = mtlib.truth(out)
        self.assertEqual((t["held"], t["freed"]), (N - FREE, FREE))
        self.assertEqual(s["chunks"]["size"], 16 << 20)
        self.assertEqual(s["chunks"]["count"] - base["chunks"]["count"], t["held"],
                         "chunks: %s, baseline %s" % (s["chunks"], base["chunks"]))
        self.assertEqual(s["chunks"]["bytes"] - base["chunks"]["bytes"], t["held"] * CHUNK)
        # (The JVM's own mmap/munmap counts vary from run to run, so the
        # per-buffer calls are checked against the event log in the live test.)

    def test_direct_buffers_live(self):
        go = os.path.join(self.dir, "go")
        if os.path.exists(go):
            os.unlink(go)
        d = mtlib.Daemon(self.java(N, FREE, go), env=self.env)
        try:
            d.wait_socket()
            t = mtlib.truth(d.proc.stdout.readline())
            pid = mtlib.target_pid(d)
            out = d.ctl("outstanding", "--class", "chunk", "--limit", "100000")
            st = d.ctl("status")
            events = d.ctl("events", "--limit", "100000")["events"]
            maps = mtlib.proc_maps(pid)
        finally:
            with open(go, "w"):
                pass
        self.assertEqual(d.finish(timeout=60), 0, d.err)
        self.assertTrue(mtlib.pid_gone(pid))

        self.assertEqual((len(t["held_addrs"]), len(t["freed_addrs"])), (N - FREE, FREE))
        chunks = [mtlib.mapping_range(m) + (m,) for m in out["mappings"]]
        self.assertEqual(out["total"], st["chunks"]["count"])
        for addr in t["held_addrs"]:
            holders = [m for lo, hi, m in chunks if lo <= addr and addr + (16 << 20) <= hi]
            self.assertEqual(len(holders), 1, "held buffer %#x: chunk mappings %s"
                             % (addr, holders))
            m = holders[0]
            self.assertEqual(m["length"], CHUNK)
            self.assertEqual(m["prot"], "rw-p")
            self.assertTrue(m["anonymous"])
            self.assertFalse(m["preexisting"])
            lo, hi = mtlib.mapping_range(m)
            self.assertTrue(any(r[0] <= lo and hi <= r[1] and r[2] == "rw-p" for r in maps),
                            "chunk %#x-%#x not in /proc/PID/maps" % (lo, hi))
        for addr in t["freed_addrs"]:
            self.assertEqual([m for lo, hi, m in chunks if lo <= addr < hi], [],
                             "freed buffer %#x still outstanding" % addr)
        # The event log shows each buffer's mmap and each freed one's munmap.
        self.assertEqual(st["events"]["dropped"], 0)
        mmaps = [e for e in events if e["syscall"] == "mmap" and e["args"][1] == CHUNK
                 and e["done"] and e["pid"] == pid]
        munmaps = [e for e in events if e["syscall"] == "munmap" and e["args"][1] == CHUNK
                   and e["done"] and e["ret"] == 0 and e["pid"] == pid]
        for addr in t["held_addrs"] + t["freed_addrs"]:
            self.assertTrue(any(e["ret"] <= addr < e["ret"] + CHUNK for e in mmaps),
                            "no mmap event for buffer %#x" % addr)
        for addr in t["freed_addrs"]:
            self.assertTrue(any(e["args"][0] <= addr < e["args"][0] + CHUNK for e in munmaps),
                            "no munmap event for freed buffer %#x" % addr)
        # Every chunk the JVM holds is one of ours (the baseline JVM holds none
        # of its own here; if it did, they would be the extra ones).
        ours = {id(m) for addr in t["held_addrs"] for lo, hi, m in chunks
                if lo <= addr < hi}
        others = [m for _, _, m in chunks if id(m) not in ours]
        rc, _, base, err = mtlib.run_traced(self.java(0, 0), env=self.env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(others), base["chunks"]["count"], others)


if __name__ == "__main__":
    for tool in ("java", "javac"):
        if not shutil.which(tool):
            mtlib.skip("%s is not installed; the JVM tests need a JDK" % tool)
    mtlib.main()
