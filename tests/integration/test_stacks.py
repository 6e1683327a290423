#!/usr/bin/env python3
"""Who made it: native stacks of chunk allocations, named at query time.

tests/targets/stackpaths.c allocates along known call paths of noipa
functions (leak_path_a -> alloc_chunk_a -> mmap, leak_path_b ->
alloc_chunk_b -> malloc, ...) and prints the addresses it got.  The
daemon's `stacks` and `outstanding --stacks` answers must name those
functions innermost first, in order, under the right object, and add up
to what each path allocated.  The same source is built five ways: as
make builds it (PIE, frame pointers), -O2 -fomit-frame-pointer (libunwind
must use .eh_frame), -no-pie, stripped (frames in the binary must be
"[unknown] (name+0xOFF)" with OFF the true file offset, never a guessed
name), and with a dlopen()ed library that is dlclose()d and deleted
before anyone asks (names come from the descriptor kept since capture).
A C++ target checks demangling; a real JDK 17 checks libjvm.so frames,
JIT frames named from a perf map written by `jcmd Compiler.perfmap` (or by
-XX:+DumpPerfMapAtExit, read after the exit), and `threads --java`, which
must never wait on a stopped JVM or on an attach socket that does not answer.

Stack-policy tests: --stacks none (no stack anywhere: one "no stack"
group), all (small mappings and munmaps get stacks), large (chunks get
none), --stack-depth 4.  The protocol shows no stack for a munmap event,
so "munmaps get stacks" is observed through the interning: stacks get
ids 1, 2, ... in capture order; the target makes chunk X, then NU munmaps
each with a stack of its own, then chunk Y, and nothing else: under
--stacks all id(Y) - id(X) == NU + 1, under the default 1.

Also: attach mode (stacks taken at syscall-entry stops), names asked for
after the target exited (--linger), an executable unlinked before its
first stack, a chunk made by mremap (its stack was captured: it must not
be dropped), and unwinding through objects whose files were unlinked
while mapped (an -O2 -fomit-frame-pointer executable; a private copy of
libc.so.6, as after a libc6 upgrade under a running service).

The last test measures (and only prints) the cost of a captured stack.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import unittest

import mtlib

CHUNK = 16781312
LARGE = 64 << 20
SRC = os.path.join(mtlib.ROOT, "tests", "targets", "stackpaths.c")
JAVA_SRC = os.path.join(mtlib.ROOT, "tests", "java", "StackLeak.java")
CFLAGS = ["-g", "-std=gnu11", "-Wall", "-D_GNU_SOURCE"]
LIBS = ["-pthread", "-ldl"]

LIB_SRC = r"""
#include <sys/mman.h>
#define CHUNK 16781312UL

/* Static: in .symtab only, so a stripped copy cannot name it. */
__attribute__((noipa)) static void *lib_alloc_one(void)
{
	void *p = mmap(0, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	*(volatile char *)p = 1;
	return p;
}

/* Exported: in .dynsym too. */
__attribute__((noipa)) int lib_alloc_chunks(int n, unsigned long *out)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		void *p = lib_alloc_one();

		if (p)
			out[k++] = (unsigned long)p;
	}
	return k;
}
"""

CXX_SRC = r"""
#include <sys/mman.h>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace ns {
struct Pool {
	void *grow(unsigned long n);
};

__attribute__((noipa)) void *Pool::grow(unsigned long n)
{
	void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return nullptr;
	*(volatile char *)p = 1;
	return p;
}

template <typename T> __attribute__((noipa)) void *fill(T &pool, unsigned long n)
{
	void *p = pool.grow(n);

	*(volatile char *)p = 2;
	return p;
}
} // namespace ns

int main(int argc, char **argv)
{
	ns::Pool pool;
	void *p = ns::fill(pool, 16781312UL);
	struct timespec ts = {0, 10 * 1000 * 1000};

	std::printf("TRUTH {\"addr\":%lu}\n", (unsigned long)p);
	std::fflush(stdout);
	for (int i = 0; i < 6000 && argc > 1 && access(argv[1], F_OK) != 0; i++)
		nanosleep(&ts, nullptr);
	return 0;
}
"""


def cc(out, *args, compiler="cc"):
    r = subprocess.run([compiler, *args, "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s" % (compiler, r.stderr))
    return out


class Traced:
    """A target under memtraced that waits for its go file; stop() ends both."""

    def __init__(self, argv, go, opts=(), env=None):
        self.go = go
        self.d = mtlib.Daemon(argv, opts, env=env)
        self.out = mtlib.LineReader(self.d.proc.stdout)
        try:
            self.d.wait_socket()
            self.pid = mtlib.target_pid(self.d)
        except BaseException:
            self.d.kill()
            raise

    def truth(self, timeout=30):
        return mtlib.truth(self.out.wait_prefix("TRUTH ", timeout))

    def ctl(self, *args, check=True):
        return self.d.ctl(*args, check=check)

    def stop(self):
        """Let the target finish; memtraced's exit code and stderr."""
        with open(self.go, "w"):
            pass
        try:
            rc = self.d.finish(timeout=60)
        finally:
            self.d.kill()
            shutil.rmtree(self.d.dir, ignore_errors=True)
        return rc, self.d.err


def with_fn(stacks, fn):
    """The stacks (of a stacks answer) with a frame naming function FN."""
    return [s for s in stacks if any(f.startswith(fn + "+0x") for f in s["frames"])]


def index_of(frames, fn):
    for i, f in enumerate(frames):
        if f.startswith(fn + "+0x"):
            return i
    raise AssertionError("no %s frame in %s" % (fn, frames))


def by_start(outstanding):
    return {int(m["start"], 16): m for m in outstanding["mappings"]}


LIBC_MMAP = re.compile(r"^(__)?mmap(64)?\+0x[0-9a-f]+ \(libc\.so\.6\)$")


class CStacks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mt-stacks-")
        t = cls.tmp
        cls.fp = mtlib.target("stackpaths")
        cls.o2 = cc(os.path.join(t, "stackpaths-o2"), "-O2", "-fomit-frame-pointer", *CFLAGS,
                    SRC, *LIBS)
        cls.nopie = cc(os.path.join(t, "stackpaths-nopie"), "-O1", "-fno-omit-frame-pointer",
                       "-no-pie", *CFLAGS, SRC, *LIBS)
        cls.stripped = os.path.join(t, "stackpaths-stripped")
        shutil.copy(cls.fp, cls.stripped)
        subprocess.run(["strip", "--strip-all", cls.stripped], check=True)
        with open(os.path.join(t, "libleak.c"), "w") as f:
            f.write(LIB_SRC)
        cls.lib = cc(os.path.join(t, "libleak.so"), "-O1", "-g", "-fno-omit-frame-pointer",
                     "-shared", "-fPIC", os.path.join(t, "libleak.c"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_paths(self, exe, args=(), opts=()):
        go = os.path.join(self.tmp, "go-%d" % time.monotonic_ns())
        r = Traced([exe, *args, "-w", go], go, opts)
        self.addCleanup(r.d.kill)
        return r

    def finish(self, r):
        rc, err = r.stop()
        self.assertEqual(rc, 0, err)
        return err

    def check_paths(self, exe):
        """The call paths of stackpaths -a 3 -b 2 -l 1, named in binary EXE."""
        r = self.run_paths(exe, ["-a", "3", "-b", "2", "-l", "1"])
        truth = r.truth()
        answers = self.ask_paths(r.d)
        self.finish(r)
        self.verify_paths(os.path.basename(exe), truth, *answers)

    def ask_paths(self, d):
        return (d.ctl("stacks", "--limit", "1000"),
                d.ctl("stacks", "--class", "chunk", "--limit", "1000"),
                d.ctl("outstanding", "--stacks", "--limit", "100000"),
                mtlib.ctl_run(d.sock, "stacks", "--class", "chunk").stdout)

    def verify_paths(self, name, truth, st, chunks, out, human):
        self.assertEqual(st["mappings"], out["total"])
        maps = by_start(out)

        for path, fns, n, size, via_malloc in (
                ("a", ("alloc_chunk_a", "leak_path_a"), 3, CHUNK, False),
                ("b", ("alloc_chunk_b", "leak_path_b"), 2, CHUNK, True),
                ("l", ("alloc_large_l", "leak_path_l"), 1, LARGE, False)):
            with self.subTest(path=path):
                got = with_fn(st["stacks"], fns[0])
                self.assertEqual(len(got), 1, "one stack for path %s: %s" % (path, got))
                s = got[0]
                frames = s["frames"]
                self.assertNotEqual(s["id"], 0)
                self.assertEqual((s["count"], s["bytes"]), (n, n * size), frames)
                i = index_of(frames, fns[0])
                # Innermost first: the libc call, (malloc's insides,) then ours, in order.
                self.assertRegex(frames[0], LIBC_MMAP)
                if via_malloc:
                    k = index_of(frames, "malloc")
                    self.assertTrue(frames[k].endswith("(libc.so.6)"), frames)
                    self.assertEqual(k, i - 1, frames)
                else:
                    self.assertEqual(i, 1, frames)
                self.assertTrue(frames[i + 1].startswith(fns[1] + "+0x"), frames)
                self.assertTrue(frames[i + 2].startswith("main+0x"), frames)
                for f in frames[i:i + 3]:
                    self.assertTrue(f.endswith(" (%s)" % name), f)
                self.assertLessEqual(len(frames), 32)
                # Every mapping the path made carries that stack, and only those do.
                for addr in truth[path]:
                    self.assertIn(addr, maps)
                    self.assertEqual(maps[addr]["stack_id"], s["id"])
                    self.assertEqual(maps[addr]["stack"], frames)
                self.assertEqual(sorted(a for a, m in maps.items() if m["stack_id"] == s["id"]),
                                 sorted(truth[path]))
                in_chunk = [c for c in chunks["stacks"] if c["id"] == s["id"]]
                self.assertEqual(len(in_chunk), 0 if path == "l" else 1)
        self.assertEqual(sum(c["bytes"] for c in chunks["stacks"]), 5 * CHUNK)
        self.assertRegex(human, r"48\.0M in 3 mappings\n    #0  \S*mmap\S*\+0x[0-9a-f]+ "
                         r"\(libc\.so\.6\)\n    #1  alloc_chunk_a\+0x[0-9a-f]+ \(%s\)\n"
                         r"    #2  leak_path_a\+0x[0-9a-f]+ \(%s\)\n"
                         r"    #3  main\+0x" % (re.escape(name), re.escape(name)))

    def test_pie_frame_pointers(self):
        self.assertEqual(mtlib.elf_type(self.fp), "DYN")
        self.check_paths(self.fp)

    def test_omit_frame_pointer_o2(self):
        # Make sure the variant is what it claims: no frame set up in alloc_chunk_a.
        dis = subprocess.run(["objdump", "-d", "--disassemble=alloc_chunk_a", self.o2],
                             capture_output=True, text=True).stdout
        self.assertIn("<alloc_chunk_a>:", dis)
        self.assertNotIn("push   %rbp", dis)
        self.check_paths(self.o2)

    def test_non_pie(self):
        self.assertEqual(mtlib.elf_type(self.nopie), "EXEC")
        self.check_paths(self.nopie)

    def test_names_after_exit(self):
        """The target has exited (--linger): /proc/PID is gone, the kept
        descriptors still name every frame."""
        d = mtlib.Daemon([self.fp, "-a", "3", "-b", "2", "-l", "1"], ["--linger"])
        self.addCleanup(shutil.rmtree, d.dir, True)
        self.addCleanup(d.kill)
        out = mtlib.LineReader(d.proc.stdout)
        d.wait_socket()
        pid = mtlib.target_pid(d)
        truth = mtlib.truth(out.wait_prefix("TRUTH "))
        self.assertTrue(mtlib.wait_for(lambda: d.ctl("status")["target"]["state"] == "exited"))
        self.assertTrue(mtlib.pid_gone(pid))
        answers = self.ask_paths(d)
        d.ctl("stop")
        self.assertEqual(d.finish(30), 0, d.err)
        self.verify_paths("stackpaths", truth, *answers)

    def test_attach_mode(self):
        """memtraced --pid: stacks taken at seccomp stops once the filter is
        in (filter mode, the default: no --attach-mode), at syscall-entry
        stops in syscall mode."""
        for mode in (None, "syscall"):
            with self.subTest(mode=mode):
                self.attached_paths(mode)

    def attached_paths(self, mode):
        start = os.path.join(self.tmp, "start-attach-%s" % mode)
        go = os.path.join(self.tmp, "go-attach-%s" % mode)
        p = subprocess.Popen([self.fp, "-a", "3", "-b", "2", "-l", "1", "-W", start, "-w", go],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.kill)
        lines = mtlib.LineReader(p.stdout)
        lines.wait_prefix("READY")
        d = mtlib.AttachDaemon(p.pid, mode=mode)
        self.addCleanup(d.kill)
        self.assertEqual(d.wait_state("running")["attach"]["mode"], mode or "filter")
        with open(start, "w"):
            pass
        truth = mtlib.truth(lines.wait_prefix("TRUTH "))
        answers = self.ask_paths(d)
        # A filter-mode memtraced never leaves the target: it ends with it.
        d.ctl("stop")
        with open(go, "w"):
            pass
        self.assertEqual(p.wait(30), 0)
        self.assertEqual(d.finish(30), 0, d.err)
        self.verify_paths("stackpaths", truth, *answers)

    def test_binary_deleted_before_capture(self):
        """The executable is unlinked before its first stack is taken: its
        frames are still named (opened through /proc/PID/map_files)."""
        exe = os.path.join(self.tmp, "stackpaths-del")
        shutil.copy(self.fp, exe)
        start = os.path.join(self.tmp, "start-del")
        r = self.run_paths(exe, ["-a", "3", "-b", "0", "-l", "0", "-W", start])
        r.out.wait_prefix("READY")
        os.unlink(exe)
        with open(start, "w"):
            pass
        truth = r.truth()
        st = r.ctl("stacks", "--class", "chunk")
        self.finish(r)
        a = with_fn(st["stacks"], "alloc_chunk_a")
        self.assertEqual(len(a), 1, st)
        self.assertEqual(a[0]["count"], len(truth["a"]))
        f = a[0]["frames"]
        i = index_of(f, "alloc_chunk_a")
        for k, fn in enumerate(("alloc_chunk_a", "leak_path_a", "main")):
            self.assertRegex(f[i + k], r"^%s\+0x[0-9a-f]+ \(stackpaths-del( \(deleted\))?\)$" % fn)

    def deleted_run(self, exe, env=None, delete=(), replace=()):
        """stackpaths-like EXE -a 3, with the files DELETE unlinked after start
        but before the first stack is taken, and each (PATH, NEW) of REPLACE
        renamed over by a copy of NEW, as a package upgrade does; the chunk
        stack's frames."""
        start = os.path.join(self.tmp, "start-%d" % time.monotonic_ns())
        go = os.path.join(self.tmp, "go-%d" % time.monotonic_ns())
        r = Traced([exe, "-a", "3", "-b", "0", "-l", "0", "-W", start, "-w", go], go, env=env)
        self.addCleanup(r.d.kill)
        r.out.wait_prefix("READY")
        for path in delete:
            self.assertTrue([m for m in mtlib.proc_maps(r.pid) if m[3] == path], path)
            os.unlink(path)
        for path, new in replace:
            self.assertTrue([m for m in mtlib.proc_maps(r.pid) if m[3] == path], path)
            shutil.copy(new, path + ".new")
            os.rename(path + ".new", path)
        with open(start, "w"):
            pass
        truth = r.truth()
        # The target may print before memtraced has recorded its last call.
        last = [None]

        def all_recorded():
            last[0] = r.ctl("stacks", "--class", "chunk")
            return sum(x["count"] for x in last[0]["stacks"]) >= len(truth["a"])
        mtlib.wait_for(all_recorded, timeout=10)
        st = last[0]
        self.finish(r)
        self.assertEqual(len(st["stacks"]), 1, st)
        self.assertEqual(st["stacks"][0]["count"], len(truth["a"]))
        return st["stacks"][0]["frames"]

    # libunwind-ptrace alone finds an object's unwind tables by the path in
    # /proc/PID/maps, which a deleted file no longer has and a replaced one
    # has with other contents; memtrace reads them from target memory.
    def test_unwind_through_deleted_binary(self):
        """An -O2 -fomit-frame-pointer executable unlinked (or replaced, as a
        package upgrade does) while it runs: its .eh_frame is still there,
        through /proc/PID/map_files, and the stack must go on past it."""
        exe = os.path.join(self.tmp, "stackpaths-o2-del")
        shutil.copy(self.o2, exe)
        frames = self.deleted_run(exe, delete=[exe])
        self.assertRegex(frames[0], r"^(__)?mmap(64)?\+0x[0-9a-f]+ \(libc\.so\.6\)$")
        self.assertEqual([f.split("+")[0] for f in frames[1:4]],
                         ["alloc_chunk_a", "leak_path_a", "main"], frames)

    def test_unwind_through_replaced_binary(self):
        """The executable's path now holds another build of it (frame
        pointers, other code layout): its tables do not fit the code that
        runs, and must not be used for it."""
        exe = os.path.join(self.tmp, "stackpaths-o2-rep")
        shutil.copy(self.o2, exe)
        frames = self.deleted_run(exe, replace=[(exe, self.fp)])
        self.assertRegex(frames[0], r"^(__)?mmap(64)?\+0x[0-9a-f]+ \(libc\.so\.6\)$")
        self.assertEqual([f.split("+")[0] for f in frames[1:4]],
                         ["alloc_chunk_a", "leak_path_a", "main"], frames)

    def test_unwind_through_deleted_libc(self):
        """The libc the target runs is unlinked (as after an upgrade of libc6
        under a running service): stacks must keep every frame, in order,
        and never skip one."""
        libc = [m[3] for m in mtlib.proc_maps(os.getpid()) if re.search(r"/libc\.so\.6$", m[3])]
        if not libc:
            self.skipTest("this Python does not map libc.so.6")
        d = tempfile.mkdtemp(dir=self.tmp)
        shutil.copy(libc[0], os.path.join(d, "libc.so.6"))
        env = dict(os.environ, LD_LIBRARY_PATH=d)
        frames = self.deleted_run(self.fp, env=env, delete=[os.path.join(d, "libc.so.6")])
        self.assertRegex(frames[0], r"^(__)?mmap(64)?\+0x[0-9a-f]+ \(libc\.so\.6 \(deleted\)\)$")
        self.assertEqual([f.split("+")[0] for f in frames[1:4]],
                         ["alloc_chunk_a", "leak_path_a", "main"], frames)

    def test_stripped_binary_never_guesses(self):
        name = os.path.basename(self.stripped)
        r = self.run_paths(self.stripped, ["-a", "3", "-b", "2", "-l", "0"])
        truth = r.truth()
        out = r.ctl("outstanding", "--stacks", "--class", "chunk")
        st = r.ctl("stacks", "--class", "chunk")
        self.finish(r)
        maps = by_start(out)
        ours = ("alloc_chunk_a", "leak_path_a", "alloc_chunk_b", "leak_path_b", "main")
        for s in st["stacks"]:
            for f in s["frames"]:
                if "(%s" % name in f:
                    self.assertRegex(f, r"^\[unknown\] \(%s\+0x[0-9a-f]+\)$" % re.escape(name))
                self.assertFalse(any(f.startswith(fn + "+") for fn in ours), f)
        for path, fns, n in (("a", ("alloc_chunk_a", "leak_path_a", "main"), 3),
                             ("b", ("alloc_chunk_b", "leak_path_b", "main"), 2)):
            with self.subTest(path=path):
                ids = {maps[a]["stack_id"] for a in truth[path]}
                self.assertEqual(len(ids), 1)
                sid = ids.pop()
                s = [x for x in st["stacks"] if x["id"] == sid][0]
                self.assertEqual((s["count"], s["bytes"]), (n, n * CHUNK))
                mine = [f for f in s["frames"] if "(%s+" % name in f]
                # _start is in the binary too.
                self.assertEqual(len(mine), 4, s["frames"])
                # The offsets are the true ones: the unstripped twin names them.
                offs = [int(re.search(r"\+0x([0-9a-f]+)\)$", f).group(1), 16) for f in mine]
                # Each is a return address: look up the call (off - 1).
                got = [mtlib.elf_function_at(self.fp, off - 1) for off in offs]
                self.assertEqual(got, [*fns, "_start"], mine)

    def run_lib(self, lib_path):
        """stackpaths -L a private copy of LIB_PATH; the copy is deleted after dlclose."""
        d = tempfile.mkdtemp(dir=self.tmp)
        lib = os.path.join(d, os.path.basename(lib_path))
        shutil.copy(lib_path, lib)
        r = self.run_paths(self.fp, ["-a", "0", "-b", "0", "-l", "0", "-L", lib])
        truth = r.truth()
        self.assertIs(truth["lib_unmapped"], True)
        self.assertEqual(len(truth["lib"]), 2)
        self.assertFalse([m for m in mtlib.proc_maps(r.pid) if m[3].startswith(d)])
        os.unlink(lib)
        os.rmdir(d)
        st = r.ctl("stacks", "--class", "chunk")
        out = r.ctl("outstanding", "--class", "chunk", "--stacks")
        self.finish(r)
        self.assertEqual(sorted(int(m["start"], 16) for m in out["mappings"]),
                         sorted(truth["lib"]))
        self.assertEqual(len(st["stacks"]), 1, st)
        s = st["stacks"][0]
        self.assertEqual((s["count"], s["bytes"]), (2, 2 * CHUNK))
        return s["frames"]

    def test_dlopen_dlclose_library(self):
        frames = self.run_lib(self.lib)
        self.assertRegex(frames[0], LIBC_MMAP)
        self.assertRegex(frames[1], r"^lib_alloc_one\+0x[0-9a-f]+ \(libleak\.so\)$")
        self.assertRegex(frames[2], r"^lib_alloc_chunks\+0x[0-9a-f]+ \(libleak\.so\)$")
        self.assertRegex(frames[3], r"^main\+0x[0-9a-f]+ \(stackpaths\)$")

    def test_dlopen_stripped_library(self):
        lib = os.path.join(self.tmp, "libleak-stripped.so")
        shutil.copy(self.lib, lib)
        subprocess.run(["strip", "--strip-all", lib], check=True)
        frames = self.run_lib(lib)
        # The static function is in no symbol table left: never the exported neighbour's name.
        m = re.match(r"^\[unknown\] \(libleak-stripped\.so\+0x([0-9a-f]+)\)$", frames[1])
        self.assertTrue(m, frames)
        self.assertEqual(mtlib.elf_function_at(self.lib, int(m.group(1), 16) - 1),
                         "lib_alloc_one")
        # The exported one is still named, from .dynsym.
        self.assertRegex(frames[2], r"^lib_alloc_chunks\+0x[0-9a-f]+ \(libleak-stripped\.so\)$")
        self.assertRegex(frames[3], r"^main\+0x[0-9a-f]+ \(stackpaths\)$")

    def test_stacks_none(self):
        r = self.run_paths(self.fp, opts=["--stacks", "none"])
        truth = r.truth()
        out = r.ctl("outstanding", "--stacks", "--limit", "100000")
        st = r.ctl("stacks")
        human = mtlib.ctl_run(r.d.sock, "stacks").stdout
        self.finish(r)
        self.assertGreaterEqual(out["total"], 6)
        for m in out["mappings"]:
            self.assertEqual((m["stack_id"], m["stack"]), (0, []), m)
        self.assertEqual(st["total"], 1)
        g = st["stacks"][0]
        self.assertEqual((g["id"], g["frames"], g["count"]), (0, [], out["total"]))
        self.assertEqual(g["bytes"], sum(m["length"] for m in out["mappings"]))
        self.assertGreaterEqual(g["bytes"], 5 * CHUNK + LARGE)
        self.assertIn("mappings (no stack captured)", human)
        self.assertIn("(1 of 1 stacks shown)", human)
        self.assertEqual(len(truth["a"]), 3)

    def policy_run(self, policy):
        opts = ["--stacks", policy] if policy else []
        r = self.run_paths(self.fp, ["-a", "1", "-b", "0", "-l", "1", "-s", "2", "-u", "5"],
                           opts=opts)
        truth = r.truth()
        out = by_start(r.ctl("outstanding", "--stacks", "--limit", "100000"))
        self.finish(r)
        return truth, out

    def test_stacks_all(self):
        truth, out = self.policy_run("all")
        for a in truth["s"]:
            self.assertNotEqual(out[a]["stack_id"], 0)
            self.assertIn("alloc_small_s", " ".join(out[a]["stack"]))
        x, y = out[truth["x"]], out[truth["y"]]
        self.assertIn("mark_path_x", " ".join(x["stack"]))
        self.assertIn("mark_path_y", " ".join(y["stack"]))
        # Five munmaps, five new stacks, between X and Y.
        self.assertEqual(y["stack_id"] - x["stack_id"], 6)

    def test_stacks_default_policy(self):
        for policy in (None, "chunk"):
            with self.subTest(policy=policy):
                truth, out = self.policy_run(policy)
                for a in truth["s"]:
                    self.assertEqual(out[a]["stack_id"], 0)
                x, y = out[truth["x"]], out[truth["y"]]
                self.assertEqual(y["stack_id"] - x["stack_id"], 1)
                self.assertIn("alloc_large_l", " ".join(out[truth["l"][0]]["stack"]))
                self.assertIn("alloc_chunk_a", " ".join(out[truth["a"][0]]["stack"]))
        r = subprocess.run([mtlib.MEMTRACED, "--no-socket", "--stacks", "some", "--",
                            "/bin/true"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--stacks: use none, chunk, large or all", r.stderr)

    def test_stacks_large(self):
        truth, out = self.policy_run("large")
        self.assertEqual(out[truth["a"][0]]["stack_id"], 0)
        self.assertEqual(out[truth["x"]]["stack_id"], 0)
        self.assertIn("alloc_large_l", " ".join(out[truth["l"][0]]["stack"]))

    def test_mremap_chunk_has_stack(self):
        """A chunk made by mremap (4 pages grown to 16 MiB + 4 KiB) under the
        default policy, which captures stacks for chunk-sized mremaps: the
        chunk should carry the stack of that call (grow_path_r)."""
        r = self.run_paths(self.fp, ["-a", "0", "-b", "0", "-l", "0", "-r"])
        truth = r.truth()
        m = by_start(r.ctl("outstanding", "--stacks", "--class", "chunk"))[truth["r"][0]]
        self.finish(r)
        self.assertEqual(m["length"], CHUNK)
        self.assertNotEqual(m["stack_id"], 0, "the mremap's stack was captured and dropped")
        self.assertIn("grow_path_r", " ".join(m["stack"]))

    def test_twin_callers_same_place(self):
        """Two callers of one function, alternating, leave the thread at the
        same pc and stack pointer in mmap: a capture may reuse the walk of
        an earlier one only when the stack still holds what it read then,
        so every chunk names its own caller."""
        for exe in (self.fp, self.o2):
            with self.subTest(exe=os.path.basename(exe)):
                r = self.run_paths(exe, ["-a", "0", "-b", "0", "-l", "0", "-t", "12"])
                truth = r.truth()
                maps = by_start(r.d.ctl("outstanding", "--stacks", "--limit", "100000"))
                self.finish(r)
                for path, other in (("p", "q"), ("q", "p")):
                    self.assertEqual(len(truth[path]), 12)
                    for addr in truth[path]:
                        frames = maps[addr]["stack"]
                        i = index_of(frames, "twin_alloc")
                        self.assertTrue(frames[i + 1].startswith("twin_path_%s+0x" % path),
                                        frames)
                        self.assertTrue(frames[i + 2].startswith("main+0x"), frames)
                        self.assertNotIn("twin_path_" + other, " ".join(frames))

    def test_stack_depth(self):
        r = self.run_paths(self.fp, ["-a", "2", "-b", "1", "-l", "1"],
                           opts=["--stack-depth", "4"])
        truth = r.truth()
        st = r.ctl("stacks", "--limit", "1000")
        out = by_start(r.ctl("outstanding", "--class", "chunk"))
        self.finish(r)
        for s in st["stacks"]:
            self.assertLessEqual(len(s["frames"]), 4, s)
        a = with_fn(st["stacks"], "alloc_chunk_a")
        self.assertEqual(len(a), 1)
        self.assertRegex(a[0]["frames"][0], LIBC_MMAP)
        self.assertEqual([f.split("+")[0] for f in a[0]["frames"][1:]],
                         ["alloc_chunk_a", "leak_path_a", "main"])
        # Path b is deeper inside malloc than 4 frames: cut there.
        b = [s for s in st["stacks"] if s["id"] == out[truth["b"][0]]["stack_id"]]
        self.assertEqual(len(b), 1)
        self.assertRegex(b[0]["frames"][0], LIBC_MMAP)
        self.assertEqual(len(b[0]["frames"]), 4, b)
        self.assertFalse([f for f in b[0]["frames"] if "alloc_chunk_b" in f], b)
        self.assertEqual(b[0]["count"], len(truth["b"]))
        r2 = subprocess.run([mtlib.MEMTRACED, "--no-socket", "--stack-depth", "65", "--",
                             "/bin/true"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r2.returncode, 2, r2.stderr)
        self.assertIn("--stack-depth", r2.stderr)

    def test_cxx_demangled(self):
        if not shutil.which("g++"):
            self.skipTest("g++ is missing")
        src = os.path.join(self.tmp, "cxxpool.cc")
        with open(src, "w") as f:
            f.write(CXX_SRC)
        exe = cc(os.path.join(self.tmp, "cxxpool"), "-O1", "-g", src, compiler="g++")
        nm = subprocess.run(["nm", exe], capture_output=True, text=True).stdout
        mangled = [l.split()[-1] for l in nm.splitlines() if "4fill" in l]
        self.assertEqual(len(mangled), 1, nm)
        fill = subprocess.run(["c++filt", mangled[0]], capture_output=True,
                              text=True).stdout.strip()
        go = os.path.join(self.tmp, "go-cxx")
        r = Traced([exe, go], go)
        self.addCleanup(r.d.kill)
        truth = r.truth()
        out = r.ctl("outstanding", "--stacks", "--class", "chunk")
        human = mtlib.ctl_run(r.d.sock, "outstanding", "--stacks", "--class", "chunk").stdout
        self.finish(r)
        m = by_start(out)[truth["addr"]]
        frames = m["stack"]
        self.assertRegex(frames[0], LIBC_MMAP)
        self.assertRegex(frames[1], r"^ns::Pool::grow\(unsigned long\)\+0x[0-9a-f]+ \(cxxpool\)$")
        self.assertTrue(frames[2].startswith(fill + "+0x"), (fill, frames))
        self.assertTrue(frames[3].startswith("main+0x"), frames)
        self.assertFalse([f for f in frames if "_Z" in f], frames)
        self.assertRegex(human, r"\n      ns::Pool::grow\(unsigned long\)\+0x[0-9a-f]+ "
                         r"\(cxxpool\)\n      %s\+0x" % re.escape(fill))

    def test_threads_java_refuses_non_jvm(self):
        """threads --java on a C target: exit 1 with a reason, no SIGQUIT
        (whose default action would end the target), no attach file."""
        r = self.run_paths(self.fp, ["-a", "1", "-b", "0", "-l", "0"])
        r.truth()
        cwd = os.readlink("/proc/%d/cwd" % r.pid)
        res = mtlib.ctl_run(r.d.sock, "threads", "--java")
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("not a HotSpot JVM", res.stderr)
        self.assertEqual(res.stdout, "")
        res = mtlib.ctl_run(r.d.sock, "--json", "threads", "--java")
        self.assertEqual(res.returncode, 1, res)
        # Nothing to wait for: a SIGQUIT, sent at any time, would end the
        # target before it could exit 0 at the end.
        self.assertTrue(os.path.exists("/proc/%d" % r.pid))
        self.assertNotEqual(mtlib.proc_state(r.pid), "Z")
        self.assertEqual(r.ctl("status")["target"]["state"], "running")
        self.assertFalse(os.path.exists(os.path.join(cwd, ".attach_pid%d" % r.pid)))
        self.assertFalse(os.path.exists("/tmp/.attach_pid%d" % r.pid))
        rc, err = r.stop()
        self.assertEqual(rc, 0, err)  # it ran to its end: no SIGQUIT reached it


class JavaStacks(unittest.TestCase):
    """One JVM run (JDK 17, -XX:+PreserveFramePointer -Xbatch, leakDirect
    not inlined), asked before and after `jcmd PID Compiler.perfmap`, with
    MEMTRACE_NO_VMSTRUCTS set: JIT frames named from the perf map alone, as
    for a JVM whose structures memtraced cannot read (test_java_frames.py
    has the JVM's own names).  --no-perf-map keeps memtraced from asking
    for the map itself (test_java_perfmap.py), so the map is jcmd's."""

    @classmethod
    def setUpClass(cls):
        for tool in ("java", "javac", "jcmd"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is missing" % tool)
        cls.tmp = tempfile.mkdtemp(prefix="mt-jstacks-")
        subprocess.run(["javac", "-d", cls.tmp, JAVA_SRC], check=True, timeout=120)
        argv = ["java", "-XX:+PreserveFramePointer", "-Xbatch", "-XX:CompileCommand=quiet",
                "-XX:CompileCommand=dontinline,StackLeak::leakDirect", "-cp", cls.tmp,
                "StackLeak", "20000", "2", cls.tmp]
        env = dict(os.environ, MEMTRACE_NO_VMSTRUCTS="1")
        r = cls.jvm = Traced(argv, os.path.join(cls.tmp, "done"), opts=["--no-perf-map"],
                             env=env)
        cls.perfmap = "/tmp/perf-%d.map" % r.pid
        try:
            if os.path.exists(cls.perfmap):
                os.unlink(cls.perfmap)  # a stale one from an earlier process with this pid
            r.out.wait_prefix("WARM", 60)
            cls.maps_before = mtlib.proc_maps(r.pid)
            cls.before = r.ctl("stacks", "--class", "chunk")
            # memtraced learns the Java names from a thread dump, and re-reads
            # comm once a second; wait for both.
            mtlib.wait_for(lambda: any((t["name"], t["comm"]) ==
                                       ("nioEventLoopGroup-2-1", "nioEventLoopGro")
                                       for t in r.ctl("threads")["threads"]), timeout=30)
            cls.threads = mtlib.ctl_run(r.d.sock, "--json", "threads", "--java")
            cls.comms = {}
            for tid in os.listdir("/proc/%d/task" % r.pid):
                with open("/proc/%d/task/%s/comm" % (r.pid, tid)) as f:
                    cls.comms[int(tid)] = f.read().strip()
            cls.jcmd = subprocess.run(["jcmd", str(r.pid), "Compiler.perfmap"],
                                      capture_output=True, text=True, timeout=60)
            with open(os.path.join(cls.tmp, "go"), "w"):
                pass
            cls.truth = r.truth(60)
            cls.after = r.ctl("stacks", "--class", "chunk")
            cls.rc, cls.err = r.stop()
        finally:
            r.d.kill()
            if os.path.exists(cls.perfmap):
                os.unlink(cls.perfmap)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_run(self):
        self.assertEqual(self.rc, 0, self.err)
        self.assertEqual(self.jcmd.returncode, 0, self.jcmd.stdout + self.jcmd.stderr)

    def test_native_frames(self):
        st = self.after["stacks"]
        self.assertEqual(sum(s["count"] for s in st), self.truth["chunks"] + 1)
        self.assertEqual(sum(s["bytes"] for s in st), 3 * CHUNK)
        for s in st:
            f = s["frames"]
            k = index_of(f, "malloc")
            self.assertTrue(f[k].endswith("(libc.so.6)"), f)
            j = [i for i, x in enumerate(f) if x.startswith("os::malloc(")
                 or x.startswith("Unsafe_AllocateMemory0+")]
            self.assertTrue(j, f)
            self.assertTrue(all(f[i].endswith("(libjvm.so)") for i in j), f)
            self.assertEqual(j[0], k + 1, f)
            self.assertTrue(f[j[-1]].startswith("Unsafe_AllocateMemory0+"), f)

    def java_part(self, frames):
        """The frames between Unsafe_AllocateMemory0 and JavaCalls::call_helper."""
        lo = index_of(frames, "Unsafe_AllocateMemory0")
        hi = [i for i, x in enumerate(frames) if x.startswith("JavaCalls::call_helper(")]
        self.assertTrue(hi, frames)
        self.assertGreater(hi[0], lo + 1, frames)
        return frames[lo + 1:hi[0]]

    def test_jit_frames_named_from_perf_map(self):
        main = [s for s in self.after["stacks"] if s["count"] == self.truth["chunks"]]
        self.assertEqual(len(main), 1, self.after)
        part = self.java_part(main[0]["frames"])
        for f in part:
            self.assertTrue(f.endswith(" [jit]"), part)
        self.assertIn("java.nio.ByteBuffer StackLeak.leakDirect(int) [jit]", part)
        self.assertIn("long jdk.internal.misc.Unsafe.allocateMemory0(long) [jit]", part)

    def test_jit_frames_unknown_without_perf_map(self):
        """Before the perf map exists, code-cache frames are bare addresses in
        anonymous executable memory, never a library's name; the same stack,
        named again after jcmd, gets names (looked up at query time)."""
        self.assertEqual(len(self.before["stacks"]), 1, self.before)
        s = self.before["stacks"][0]
        part = self.java_part(s["frames"])
        anon_x = [(lo, hi) for lo, hi, perms, path in self.maps_before
                  if "x" in perms and not path]
        for f in part:
            m = re.match(r"^\[unknown\] 0x([0-9a-f]+)$", f)
            self.assertTrue(m, part)
            pc = int(m.group(1), 16)
            self.assertTrue(any(lo <= pc < hi for lo, hi in anon_x), f)
        later = [x for x in self.after["stacks"] if x["id"] == s["id"]]
        self.assertEqual(len(later), 1)
        for f in self.java_part(later[0]["frames"]):
            self.assertTrue(f.endswith(" [jit]"), later)

    def test_threads_java(self):
        self.assertEqual(self.threads.returncode, 0, self.threads.stderr)
        ans = __import__("json").loads(self.threads.stdout)
        named = {t["java_name"]: t for t in ans["threads"] if "java_name" in t}
        self.assertIn("nioEventLoopGroup-2-1", named, ans)
        t = named["nioEventLoopGroup-2-1"]
        self.assertEqual(self.comms.get(t["tid"]), "nioEventLoopGro")
        self.assertEqual((t["name"], t["comm"], t["java"]),
                         ("nioEventLoopGroup-2-1", "nioEventLoopGro", True))
        self.assertEqual((t["chunks"]["count"], t["chunks"]["bytes"]), (1, CHUNK))
        self.assertTrue(t["java_state"].startswith("TIMED_WAITING"), t)
        for name in ("main", "Reference Handler", "Finalizer"):
            self.assertIn(name, named)
        # Every joined tid is a thread of the JVM with a matching comm prefix.
        for jn, th in named.items():
            self.assertIn(th["tid"], self.comms)
            if jn != "main":
                self.assertEqual(self.comms[th["tid"]], jn[:15], th)


# A stand-in for a JVM whose attach listener never answers: it maps a file
# called libjvm.so (so threads --java takes it for HotSpot) and listens on
# /tmp/.java_pid<pid> without ever accepting.  It runs until ARGV[1]/go exists.
SILENT_JVM = r"""
import mmap, os, socket, sys, time
lib = os.path.join(sys.argv[1], "libjvm.so")
with open(lib, "wb") as f:
    f.write(bytes(4096))
with open(lib, "rb") as f:
    m = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)
s = socket.socket(socket.AF_UNIX)
s.bind("/tmp/.java_pid%d" % os.getpid())
s.listen(1)
print("READY", flush=True)
for _ in range(6000):  # until go exists, at most 60 s
    if os.path.exists(os.path.join(sys.argv[1], "go")):
        break
    time.sleep(0.01)
os.unlink("/tmp/.java_pid%d" % os.getpid())
"""


def ignore_gone(fn, *args):
    """FN(*ARGS), ignoring a process or file that is already gone."""
    try:
        fn(*args)
    except (ProcessLookupError, FileNotFoundError):
        pass


class JavaNoWait(unittest.TestCase):
    """threads --java never waits on a JVM that cannot answer."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-jnowait-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def threads_java(self, sock, *args):
        """(CompletedProcess, seconds) of memtracectl ARGS threads --java."""
        t0 = time.monotonic()
        res = mtlib.ctl_run(sock, *args, "threads", "--java", timeout=40)
        return res, time.monotonic() - t0

    def test_stopped_jvm_refused_at_once(self):
        """A traced JVM stopped by SIGSTOP (its threads show 't', not 'T')
        is refused within seconds, both before its attach listener runs and
        after (when connecting would succeed and the read would wait
        forever); after SIGCONT the same command works, and no SIGQUIT was
        left pending (HotSpot would print a thread dump on its stdout)."""
        for tool in ("java", "javac"):
            if not shutil.which(tool):
                self.skipTest("%s is missing" % tool)
        subprocess.run(["javac", "-d", self.tmp, JAVA_SRC], check=True, timeout=120)
        with open(os.path.join(self.tmp, "go"), "w"):
            pass
        # memtraced itself would start the attach listener (test_java_names).
        r = Traced(["java", "-cp", self.tmp, "StackLeak", "0", "0", self.tmp],
                   os.path.join(self.tmp, "done"), opts=["--no-java-names"])
        self.addCleanup(r.d.kill)
        self.addCleanup(ignore_gone, os.kill, r.pid, signal.SIGCONT)
        r.truth(60)
        for listener in ("not started yet", "running"):
            with self.subTest(listener=listener):
                os.kill(r.pid, signal.SIGSTOP)
                self.assertTrue(mtlib.wait_stopped(r.pid), mtlib.task_states(r.pid))
                self.assertIn("t", mtlib.task_states(r.pid).values())
                res, took = self.threads_java(r.d.sock)
                self.assertLess(took, 10, res)
                self.assertEqual(res.returncode, 1, res)
                self.assertIn("PID %d is stopped" % r.pid, res.stderr)
                self.assertIn("SIGCONT", res.stderr)
                self.assertEqual(res.stdout, "")
                os.kill(r.pid, signal.SIGCONT)
                res, _ = self.threads_java(r.d.sock, "--json")
                self.assertEqual(res.returncode, 0, res.stderr)
                names = {t.get("java_name") for t in json.loads(res.stdout)["threads"]}
                self.assertIn("nioEventLoopGroup-2-1", names)
        self.assertNotIn("Full thread dump", r.out.text())
        rc, err = r.stop()
        self.assertEqual(rc, 0, err)

    def test_silent_attach_socket_times_out(self):
        """An attach socket that takes the connection and never answers: the
        command gives up with a reason instead of blocking in read()."""
        src = os.path.join(self.tmp, "silent_jvm.py")
        with open(src, "w") as f:
            f.write(SILENT_JVM)
        r = Traced(["python3", src, self.tmp], os.path.join(self.tmp, "go"),
                   opts=["--no-java-names"])
        self.addCleanup(r.d.kill)
        self.addCleanup(ignore_gone, os.unlink, "/tmp/.java_pid%d" % r.pid)
        r.out.wait_prefix("READY")
        res, took = self.threads_java(r.d.sock)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("PID %d did not answer" % r.pid, res.stderr)
        self.assertLess(took, 20)
        rc, err = r.stop()
        self.assertEqual(rc, 0, err)


class JavaPerfMapAtExit(unittest.TestCase):
    def test_perf_map_at_exit_names_jit_frames(self):
        """-XX:+DumpPerfMapAtExit writes /tmp/perf-PID.map as the JVM exits,
        so only a --linger query after the exit can use it: JIT frames are
        named from it.  A map older than the target is not its map: with
        the file's time set back, the same frames are [unknown] again."""
        for tool in ("java", "javac"):
            if not shutil.which(tool):
                self.skipTest("%s is missing" % tool)
        tmp = tempfile.mkdtemp(prefix="mt-jexitmap-")
        self.addCleanup(shutil.rmtree, tmp, True)
        subprocess.run(["javac", "-d", tmp, JAVA_SRC], check=True, timeout=120)
        for name in ("go", "done"):
            with open(os.path.join(tmp, name), "w"):
                pass
        argv = ["java", "-XX:+PreserveFramePointer", "-Xbatch", "-XX:CompileCommand=quiet",
                "-XX:CompileCommand=dontinline,StackLeak::leakDirect",
                "-XX:+UnlockDiagnosticVMOptions", "-XX:+DumpPerfMapAtExit",
                "-cp", tmp, "StackLeak", "20000", "2", tmp]
        d = mtlib.Daemon(argv, ["--linger"])
        self.addCleanup(shutil.rmtree, d.dir, True)
        self.addCleanup(d.kill)
        out = mtlib.LineReader(d.proc.stdout)
        d.wait_socket()
        pid = mtlib.target_pid(d)
        perfmap = "/tmp/perf-%d.map" % pid
        self.addCleanup(ignore_gone, os.unlink, perfmap)
        truth = mtlib.truth(out.wait_prefix("TRUTH ", 60))
        self.assertTrue(mtlib.wait_for(lambda: d.ctl("status")["target"]["state"] == "exited",
                                       timeout=60))
        self.assertTrue(mtlib.pid_gone(pid))
        self.assertTrue(os.path.exists(perfmap), "the JVM wrote no perf map at exit")
        st = d.ctl("stacks", "--class", "chunk")
        main = [s for s in st["stacks"] if s["count"] == truth["chunks"]]
        self.assertEqual(len(main), 1, st)
        self.assertIn("java.nio.ByteBuffer StackLeak.leakDirect(int) [jit]", main[0]["frames"])
        written = os.stat(perfmap)

        def frames_now():
            again = [s for s in d.ctl("stacks", "--class", "chunk")["stacks"]
                     if s["id"] == main[0]["id"]]
            self.assertEqual(len(again), 1)
            return again[0]["frames"]

        def assert_unnamed(why):
            frames = frames_now()
            self.assertFalse([f for f in frames if f.endswith(" [jit]")], (why, frames))
            self.assertTrue([f for f in frames if re.match(r"^\[unknown\] 0x[0-9a-f]+$", f)],
                            (why, frames))

        old = time.time() - 3600
        os.utime(perfmap, (old, old))
        assert_unnamed("a map older than the target")
        os.utime(perfmap, ns=(written.st_atime_ns, written.st_mtime_ns))
        self.assertIn("java.nio.ByteBuffer StackLeak.leakDirect(int) [jit]", frames_now())
        # /tmp is anyone's: a map of another user is not the JVM's, and a
        # FIFO in its place must not make memtraced wait for a writer.
        if os.geteuid() == 0:
            os.chown(perfmap, 65534, -1)
            os.utime(perfmap, ns=(written.st_atime_ns, written.st_mtime_ns))
            assert_unnamed("a map of another user")
            os.chown(perfmap, written.st_uid, -1)
        os.rename(perfmap, perfmap + ".real")
        self.addCleanup(ignore_gone, os.unlink, perfmap + ".real")
        os.mkfifo(perfmap)
        assert_unnamed("a FIFO")
        d.ctl("stop")
        self.assertEqual(d.finish(30), 0, d.err)


def traced_cost(argv, policy):
    """Run ARGV under memtraced --stacks POLICY; (wall s, CPU s of memtraced
    and the target, events recorded)."""
    cmd = [mtlib.MEMTRACED, "--no-socket", "--summary", "--json", "--stacks", policy, "--",
           *argv]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise AssertionError("memtraced exited %d: %s" % (p.returncode, err))
    summary = [json.loads(l) for l in err.splitlines() if l.startswith("{")][-1]
    return wall, ru.ru_utime + ru.ru_stime, summary["events"]["recorded"]


class CaptureCost(unittest.TestCase):
    def test_zz_measure_capture_cost(self):
        """Prints what a captured stack costs; asserts only that the runs
        worked and recorded the same events.  Runs alternate between the two
        policies; the machine may be shared, so the minimum over the runs
        is the figure (and the spread is printed)."""
        exe = mtlib.target("chunks")
        args = ["-t", "1", "-n", "2000", "-f", "1"]
        res = {"none": [], "all": []}
        for _ in range(5):
            for policy in ("none", "all"):
                res[policy].append(traced_cost([exe, *args], policy))
        events = {e for runs in res.values() for _, _, e in runs}
        self.assertEqual(len(events), 1, res)
        n = events.pop()
        # In-call time: an event's duration runs from the entry stop (where the
        # stack is taken) to the exit stop.
        durs = {"none": [], "all": []}
        for _ in range(2):
            for policy in ("none", "all"):
                d = mtlib.Daemon([exe, *args], ["--stacks", policy, "--linger"])
                try:
                    d.wait_socket()
                    self.assertTrue(mtlib.wait_for(
                        lambda: d.ctl("status")["target"]["state"] == "exited", 30))
                    ev = d.ctl("events", "--limit", "65536")["events"]
                    self.assertEqual(len(ev), n)
                    durs[policy].append(statistics.median(
                        e["duration_ns"] for e in ev if e["syscall"] in ("mmap", "munmap")))
                    d.ctl("stop")
                    d.finish(30)
                finally:
                    d.kill()
                    shutil.rmtree(d.dir, ignore_errors=True)
        w = {p: sorted(x[0] for x in res[p]) for p in res}
        c = {p: sorted(x[1] for x in res[p]) for p in res}
        print("\nMEASURE chunks %s under memtraced: %d events, every one with a stack "
              "under --stacks all" % (" ".join(args), n))
        print("MEASURE wall s, none: %s; all: %s" % (["%.3f" % x for x in w["none"]],
                                                   ["%.3f" % x for x in w["all"]]))
        print("MEASURE CPU s (memtraced + target), none: %s; all: %s"
              % (["%.3f" % x for x in c["none"]], ["%.3f" % x for x in c["all"]]))
        print("MEASURE per captured stack: wall %.1f us (min vs min), CPU %.1f us (min vs min)"
              % ((w["all"][0] - w["none"][0]) / n * 1e6, (c["all"][0] - c["none"][0]) / n * 1e6))
        print("MEASURE median mmap/munmap in-call time, none: %s us; all: %s us; "
              "+%.1f us (min vs min)" % (["%.1f" % (x / 1e3) for x in durs["none"]],
                                         ["%.1f" % (x / 1e3) for x in durs["all"]],
                                         (min(durs["all"]) - min(durs["none"])) / 1e3))


if __name__ == "__main__":
    mtlib.main()
