#!/usr/bin/env python3
"""Attach mode: memtraced --pid PID on a process that already runs.

Most tests attach to tests/targets/attachee.c: before its threads start it
mallocs 5 blocks of 16 MiB with M_MMAP_THRESHOLD at 128 KiB, so glibc maps
each as its own 16781312-byte mapping right below the last and
/proc/PID/maps shows the five as one merged region; then it runs threads
blocked in read() on a pipe, in nanosleep(), in pthread_cond_wait() and one
that keeps creating and joining short threads, and takes commands on stdin
("alloc N", "free N", "report", "poke", "signal", "exit CODE"), answering
each with a TRUTH line that lists the blocks it holds and its counters.

memtraced's answers are compared with that ground truth and with
/proc/PID/maps and /proc/PID/task/*/status.
"""
import bisect
import ctypes
import errno
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import AttachDaemon, proc_maps, tracer_pids, wait_for  # noqa: E402

CHUNK = 16781312  # what glibc mmaps for malloc(16 MiB)
EXIT_ATTACH = 4


class Attachee:
    """tests/targets/attachee (or another program) talking TRUTH lines on stdin/stdout."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, bufsize=0)
        self.pid = self.proc.pid
        self.buf = b""
        self.ready = self.read_truth(timeout=30)

    def readline(self, timeout=10):
        end = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise AssertionError("target %d did not answer within %ss" % (self.pid, timeout))
            if select.select([fd], [], [], left)[0]:
                data = os.read(fd, 65536)
                if not data:
                    raise AssertionError("target %d closed its stdout (exit status %s)"
                                         % (self.pid, self.proc.poll()))
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def read_truth(self, timeout=10):
        while True:
            line = self.readline(timeout)
            if line.startswith("TRUTH "):
                return json.loads(line[6:])

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def cmd(self, line, timeout=10):
        """Send a command; return its TRUTH answer."""
        self.send(line)
        t = self.read_truth(timeout)
        if t.get("cmd") != line.split()[0]:
            raise AssertionError("answer to %r is for %r" % (line, t.get("cmd")))
        return t

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def sigqueue(pid, sig):
    """rt_sigqueueinfo(PID, SIG): unlike kill(), it fails with EAGAIN instead of
    silently merging the signal into a pending one when the queue is full.
    Returns False on EAGAIN."""
    nr = {"x86_64": 129, "aarch64": 138}[os.uname().machine]
    if not hasattr(sigqueue, "libc"):
        sigqueue.libc = ctypes.CDLL(None, use_errno=True)
    # siginfo_t: signo, errno, code = SI_QUEUE (-1), pad, then si_pid, si_uid.
    info = ctypes.create_string_buffer(
        struct.pack("iiiiii", sig, 0, -1, 0, os.getpid(), os.getuid()).ljust(128, b"\0"), 128)
    if sigqueue.libc.syscall(ctypes.c_long(nr), ctypes.c_long(pid), ctypes.c_long(sig),
                             info) == 0:
        return True
    err = ctypes.get_errno()
    if err != errno.EAGAIN:
        raise OSError(err, os.strerror(err))
    return False


task_states = mtlib.task_states


def held_for(pred, seconds, interval=0.02):
    """True when PRED() stays true for SECONDS."""
    end = time.time() + seconds
    while time.time() < end:
        if not pred():
            return False
        time.sleep(interval)
    return bool(pred())


def all_stopped(pid, letters):
    st = task_states(pid)
    return bool(st) and all(s in letters for s in st.values())


def none_stopped(pid):
    st = task_states(pid)
    return bool(st) and not any(s in "Tt" for s in st.values())


def stuck_tids(pid, seconds, interval=0.02):
    """Threads of PID in a stop ('t' or 'T') at every sample for SECONDS.

    While attached, every syscall is a ptrace stop, so a thread that makes
    many (one that keeps creating threads) is often caught in 't' for a
    moment; only a thread that never leaves the stop is stuck."""
    end = time.time() + seconds
    stuck = None
    while stuck != set():
        now = {t for t, s in task_states(pid).items() if s in "tT"}
        stuck = now if stuck is None else stuck & now
        if time.time() >= end:
            break
        time.sleep(interval)
    return stuck


def traced_by(pid, tracer):
    """True when every thread of PID has TracerPid TRACER (0: untraced)."""
    t = tracer_pids(pid)
    return bool(t) and all(v == tracer for v in t.values())


def mapping_start(m):
    return int(m["start"], 16)


class AttachTest(unittest.TestCase):

    # --- set-up helpers --------------------------------------------------

    def start(self, *args):
        a = Attachee([mtlib.target("attachee"), *args])
        self.addCleanup(a.kill)
        return a

    def attach(self, pid, opts=(), ready=True):
        d = AttachDaemon(pid, opts)
        self.addCleanup(d.kill)
        if ready:
            d.wait_state("running")
        return d

    def outstanding(self, d, *args):
        o = d.ctl("outstanding", "--limit", "100000", *args)
        self.assertEqual(o["total"], o["count"], "outstanding was cut short")
        return o["mappings"]

    def chunk_starts(self, d):
        return sorted(mapping_start(m) for m in self.outstanding(d, "--class", "chunk"))

    def detach(self, d, how="ctl"):
        """Detach by HOW (ctl, SIGTERM or SIGINT); memtraced must exit 0."""
        if how == "ctl":
            d.ctl("stop")
        else:
            d.proc.send_signal(getattr(signal, how))
        try:
            rc = d.finish(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("memtraced did not exit within 20s of %s" % how)
        self.assertEqual(rc, 0, "memtraced exit code after detach by %s; stderr: %s"
                         % (how, d.err))
        self.assertFalse(os.path.exists(d.sock), "socket left behind after detach")

    def assert_untraced(self, pid):
        """Every thread of PID is let go, and PID still lives."""
        self.assertTrue(wait_for(lambda: traced_by(pid, 0)),
                        "threads still traced: %s" % tracer_pids(pid))
        self.assertNotIn(mtlib.proc_state(pid), ("Z", "X"), "the target died")

    def poll_report(self, a, pred, timeout=10):
        """Ask A for reports until PRED(report) holds; return the last one."""
        last = [None]

        def check():
            last[0] = a.cmd("report")
            return pred(last[0])
        wait_for(check, timeout=timeout)
        return last[0]

    def assert_same_chunks(self, d, truth):
        """The chunk-class table is exactly the blocks the target holds."""
        self.assertEqual(self.chunk_starts(d), sorted(truth["chunks"]))
        st = d.ctl("status")
        self.assertEqual(st["chunks"]["count"], len(truth["chunks"]))
        self.assertEqual(st["chunks"]["bytes"], CHUNK * len(truth["chunks"]))
        return st

    def assert_matches_maps(self, d, pid):
        """Every outstanding mapping lies in one /proc/PID/maps region with its
        protection, together they cover every region (but [vsyscall]) exactly,
        and status's totals are theirs.  Retried while the maps change."""
        for _ in range(20):
            before = proc_maps(pid)
            st = d.ctl("status")
            ms = self.outstanding(d)
            if before == proc_maps(pid):
                break
        else:
            self.fail("/proc/%d/maps never held still" % pid)
        regions = [r for r in before if r[3] != "[vsyscall]"]
        starts = [r[0] for r in regions]
        covered = [0] * len(regions)
        spans = sorted((int(m["start"], 16), int(m["end"], 16), m["prot"]) for m in ms)
        for a, b in zip(spans, spans[1:]):
            self.assertLessEqual(a[1], b[0], "overlapping mappings %s %s" % (a, b))
        for lo, hi, prot in spans:
            i = bisect.bisect_right(starts, lo) - 1
            inside = i >= 0 and regions[i][0] <= lo and hi <= regions[i][1]
            self.assertTrue(inside, "mapping %#x-%#x %s is not inside one region of "
                            "/proc/%d/maps" % (lo, hi, prot, pid))
            self.assertEqual(prot, regions[i][2], "protection of %#x-%#x (region %s)"
                             % (lo, hi, regions[i][3]))
            covered[i] += hi - lo
        for r, c in zip(regions, covered):
            self.assertEqual(c, r[1] - r[0], "region %#x-%#x %s %s is covered by %d of %d bytes"
                             % (r[0], r[1], r[2], r[3], c, r[1] - r[0]))
        self.assertEqual(st["outstanding"]["bytes"], sum(r[1] - r[0] for r in regions))
        self.assertEqual(st["outstanding"]["count"], len(ms))
        return st

    def assert_merged(self, pid, starts):
        """One /proc/PID/maps region holds all the blocks starting at STARTS."""
        lo, hi = min(starts), max(starts) + CHUNK
        regions = [r for r in proc_maps(pid) if r[0] <= lo and hi <= r[1]]
        self.assertEqual(len(regions), 1, "the %d blocks %#x-%#x are not one region of "
                         "/proc/%d/maps: the test would prove nothing" % (len(starts), lo, hi, pid))
        return regions[0]

    def assert_working(self, a):
        """The target answers and its threads all still work."""
        t0 = a.cmd("report")
        a.cmd("poke")
        a.cmd("signal")
        t1 = self.poll_report(a, lambda t: (t["pipe_reads"] > t0["pipe_reads"] and
                                            t["cond_wakes"] > t0["cond_wakes"] and
                                            t["naps"] > t0["naps"] and
                                            t["storm_spawned"] > t0["storm_spawned"]))
        self.assertEqual(t1["pipe_reads"], t0["pipe_reads"] + 1, "read()-blocked thread")
        self.assertEqual(t1["cond_wakes"], t0["cond_wakes"] + 1, "cond_wait-blocked thread")
        self.assertGreater(t1["naps"], t0["naps"], "nanosleep thread")
        self.assertGreater(t1["storm_spawned"], t0["storm_spawned"], "thread-storm thread")
        self.assertEqual(t1["storm_errors"], 0)
        # Interrupted syscalls must restart unseen.
        self.assertEqual(t1["read_eintr"], 0)
        self.assertEqual(t1["nap_eintr"], 0)
        self.assertIn(str(t1["tids"]["storm"]), os.listdir("/proc/%d/task" % a.pid))
        # Memory syscalls still work.
        t2 = a.cmd("alloc 1")
        self.assertEqual(len(t2["new"]), 1)
        t3 = a.cmd("free 1")
        self.assertEqual(len(t3["chunks"]), len(t1["chunks"]))
        return t3

    # --- seeding -----------------------------------------------------------

    def test_seed(self):
        """Attach after 5 adjacent blocks: each is its own chunk, the table is /proc/PID/maps."""
        a = self.start("-k", "5")
        t = a.ready
        self.assertEqual(len(t["chunks"]), 5)
        region = self.assert_merged(a.pid, t["chunks"])
        self.assertGreaterEqual(region[1] - region[0], 5 * CHUNK)
        d = self.attach(a.pid)
        st = d.ctl("status")
        self.assertEqual(st["target"]["pid"], a.pid)
        self.assertGreater(st["seeded"]["count"], 0)
        self.assertGreater(st["seeded"]["bytes"], 0)
        chunks = self.outstanding(d, "--class", "chunk")
        self.assertEqual(sorted(mapping_start(m) for m in chunks), sorted(t["chunks"]))
        for m in chunks:
            self.assertEqual(m["length"], CHUNK)
            self.assertTrue(m["preexisting"])
            self.assertTrue(m["anonymous"])
            self.assertEqual(m["prot"], "rw-p")
        self.assert_same_chunks(d, t)
        st = self.assert_matches_maps(d, a.pid)
        # Nothing but the seed so far (the target is idle in memory terms).
        self.assertEqual(st["events"]["recorded"], 0)
        self.assertEqual((st["seeded"]["count"], st["seeded"]["bytes"]),
                         (st["outstanding"]["count"], st["outstanding"]["bytes"]))
        self.detach(d)

    def test_seed_first_query(self):
        """The very first status answer already has the seeded table.

        The vforker thread (-v) keeps a vfork child alive for 300 ms at a
        time, so the attach waits for that thread's first stop; a client
        that connects as soon as the socket takes connections must still
        see the attached, seeded target, not an empty "starting" one."""
        a = self.start("-k", "5", "-v", "300")
        self.assert_merged(a.pid, a.ready["chunks"])
        d = self.attach(a.pid, ready=False)
        st = d.first_status()
        self.assertEqual((st["target"]["pid"], st["target"]["state"]), (a.pid, "running"),
                         "first status answer: %s" % st["target"])
        self.assertEqual(st["chunks"]["count"], 5, "first status answer: %s" % st["chunks"])
        self.assertGreater(st["seeded"]["count"], 0)
        d.wait_state("running")
        self.assert_same_chunks(d, a.cmd("report"))
        self.detach(d)
        self.assert_untraced(a.pid)
        v0 = a.cmd("report")["vforks"]
        self.assertGreater(self.poll_report(a, lambda t: t["vforks"] > v0)["vforks"], v0,
                           "the vforking thread stopped after the detach")

    def test_seeded_arena_grows(self):
        """A thread's malloc arena exists before the attach, and glibc's
        raised threshold sends 16 MiB mallocs to it after: the heap grows by
        mprotect inside its seeded reservation.  That is arena memory, as
        the status warning says, never chunks."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")}
        p = subprocess.Popen([mtlib.target("threshold"), "-g", "-n", "3", "-h", "20000"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertEqual(p.stdout.readline().strip(), "ready")
        d = self.attach(p.pid)
        before = d.ctl("status")
        p.stdin.write("go\n")
        p.stdin.flush()
        self.assertEqual(mtlib.read_truth_line(p)["held"], 3)
        st = d.ctl("status")
        self.assertGreaterEqual(st["events"]["by_syscall"]["mprotect"], 3, st["events"])
        self.assertEqual(st["chunks"]["count"], 0,
                         "arena memory counted as chunks: %s" % st["outstanding"]["classes"])
        # The seeded heap counts as arena memory from the start.
        self.assertTrue(0 < before["arena"]["committed_bytes"] < 16 << 20, before["arena"])
        self.assertGreaterEqual(st["arena"]["committed_bytes"], 3 * 16 << 20, st["arena"])

    def test_exec_after_attach(self):
        """The attached process execs another program: status names it, the
        table is seeded anew from the new address space, and the command
        line is the real argument list, not one string."""
        tmp = tempfile.mkdtemp(prefix="mt-exec-")
        self.addCleanup(shutil.rmtree, tmp, True)
        gate = os.path.join(tmp, "gate")
        script = "while [ ! -e %s ]; do sleep 0.05; done; exec %s -n 2 -h 20000" % (
            gate, mtlib.target("chunkhold"))
        p = subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        d = self.attach(p.pid)
        self.assertEqual(d.ctl("status")["target"]["argv"], ["/bin/sh", "-c", script])
        open(gate, "w").close()
        self.assertTrue(wait_for(lambda: d.ctl("status")["chunks"]["count"] == 2, timeout=10),
                        d.ctl("status")["chunks"])
        st = d.ctl("status")
        self.assertEqual(st["target"]["argv"], [mtlib.target("chunkhold"), "-n", "2", "-h", "20000"])
        self.assert_matches_maps(d, p.pid)
        self.detach(d, "SIGTERM")
        self.assert_untraced(p.pid)

    def test_attach_does_not_wait_long_for_one_thread(self):
        """A thread in an uninterruptible wait (a vfork parent whose child
        sleeps 5 s before it exits) stops only when the wait ends.  The attach
        must not hold the whole process that long: after at most about a
        second the others run, traced, and the late thread joins when it
        stops."""
        a = self.start("-k", "3", "-v", "5000")
        time.sleep(0.2)  # the vforker is in its first vfork by now
        t0 = time.monotonic()
        d = self.attach(a.pid)
        self.assertLess(time.monotonic() - t0, 3.0, "the attach waited for the vfork")
        # The process works while the vforker still waits.
        self.assertEqual(a.cmd("report")["vforks"], 0)
        t = a.cmd("alloc 1")
        self.assert_same_chunks(d, t)
        self.assertTrue(traced_by(a.pid, d.proc.pid), tracer_pids(a.pid))
        # The vfork ends; the vforker, traced, goes on to the next one.
        self.poll_report(a, lambda r: r["vforks"] >= 1, timeout=15)
        self.assert_same_chunks(d, a.cmd("report"))
        self.detach(d)
        self.assert_untraced(a.pid)

    def test_seed_raw_neighbour(self):
        """A mapping the program made itself (no chunk header) right below the
        blocks merges with them in /proc/PID/maps; the blocks are still five
        chunks."""
        a = self.start("-k", "5", "-r", "16")
        t = a.ready
        raw_start, raw_len = t["raw"]
        self.assertEqual(raw_start + raw_len, min(t["chunks"]), "the raw pages did not land "
                         "right below the blocks")
        region = self.assert_merged(a.pid, t["chunks"])
        self.assertLessEqual(region[0], raw_start, "the raw pages are not merged with the blocks")
        d = self.attach(a.pid)
        self.assert_matches_maps(d, a.pid)
        self.assert_same_chunks(d, t)
        self.detach(d)

    def test_attach_by_thread_id(self):
        """--pid with the id of a thread that is not the leader: either refused
        (exit 4), or the whole process is traced and reported by its pid."""
        a = self.start("-k", "5")
        tid = a.ready["tids"]["sleeper"]
        self.assertNotEqual(tid, a.pid)
        d = AttachDaemon(tid)
        self.addCleanup(d.kill)
        try:
            st = d.wait_state("running")
        except AssertionError:
            rc = d.finish(timeout=10)
            self.assertEqual(rc, EXIT_ATTACH, d.err)
            self.assertEqual(len(d.err.strip().splitlines()), 1, d.err)
            return
        t = a.cmd("alloc 1")
        self.assertEqual(st["target"]["pid"], a.pid, "status names a thread as the target")
        self.assert_same_chunks(d, t)
        ev = d.ctl("events")["events"]
        self.assertEqual([(e["pid"], e["tid"]) for e in ev], [(a.pid, t["tids"]["worker"])])
        self.detach(d)
        self.assert_untraced(a.pid)

    # --- live tracing --------------------------------------------------------

    def test_live_after_attach(self):
        """alloc/free after the attach: exact counts, events from the right thread."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        self.assert_same_chunks(d, a.ready)
        worker = a.ready["tids"]["worker"]

        t = a.cmd("alloc 3")
        self.assertEqual(len(t["new"]), 3)
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 8)
        by_start = {mapping_start(m): m for m in self.outstanding(d, "--class", "chunk")}
        for s in t["new"]:
            self.assertFalse(by_start[s]["preexisting"])
            self.assertEqual(by_start[s]["tid"], worker)
            self.assertEqual(by_start[s]["thread"], "worker")
        for s in a.ready["chunks"]:
            self.assertTrue(by_start[s]["preexisting"])

        # The two oldest are preexisting: their munmaps cut seeded entries.
        t = a.cmd("free 2")
        self.assertEqual(t["freed"], a.ready["chunks"][:2])
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 6)
        self.assertEqual(st["chunks"]["bytes"], 6 * CHUNK)
        self.assertEqual(st["events"]["by_syscall"]["mmap"], 3)
        self.assertEqual(st["events"]["by_syscall"]["munmap"], 2)

        ev = d.ctl("events", "--limit", "1000")["events"]
        got = [(e["syscall"], e["pid"], e["tid"], e["done"]) for e in ev]
        self.assertEqual(got, [("mmap", a.pid, worker, True)] * 3 +
                         [("munmap", a.pid, worker, True)] * 2)
        self.assertEqual([e["ret"] for e in ev[:3]], t["chunks"][-3:])
        self.assertEqual([e["args"][1] for e in ev], [CHUNK] * 5)
        self.assertEqual([e["args"][0] for e in ev[3:]], t["freed"])
        threads = {x["tid"]: x for x in d.ctl("threads", "--all")["threads"]}
        w = threads[worker]
        self.assertEqual((w["mapped"]["count"], w["unmapped"]["count"]), (3, 2))
        self.assertEqual(w["chunks"], {"count": 3, "bytes": 3 * CHUNK})
        self.assertEqual(w["pid"], a.pid)

        # Every thread works while traced, and the table still is the maps.
        self.assert_working(a)
        self.assert_matches_maps(d, a.pid)
        self.detach(d)

    # --- detach ----------------------------------------------------------------

    def check_detach(self, how):
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        a.cmd("alloc 1")
        a.cmd("poke")
        self.assertEqual(d.ctl("status")["chunks"]["count"], 6)
        self.assertTrue(traced_by(a.pid, d.proc.pid),
                        "not every thread is traced by memtraced: %s" % tracer_pids(a.pid))
        self.detach(d, how)
        self.assert_untraced(a.pid)
        self.assertTrue(held_for(lambda: none_stopped(a.pid), 0.3),
                        "threads left stopped: %s" % task_states(a.pid))
        self.assert_working(a)
        self.assertTrue(traced_by(a.pid, 0), tracer_pids(a.pid))

    def test_detach_stop_command(self):
        """memtracectl stop: exit 0, nothing traced, every thread goes on."""
        self.check_detach("ctl")

    def test_detach_sigterm(self):
        self.check_detach("SIGTERM")

    def test_detach_sigint(self):
        self.check_detach("SIGINT")

    def test_attach_with_a_zombie_leader(self):
        """The leader left with pthread_exit() before the attach: its worker
        is traced.  A zombie leader has no address space (empty maps and
        cmdline), so the seed, the command line and residency come through
        the worker; live calls are seen; when the process ends, memtraced
        exits with its status."""
        argv = [mtlib.target("leaderexit"), "-l", "100", "-w", "4000", "-c"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z", timeout=5))
        d = self.attach(p.pid)
        st = d.ctl("status")
        self.assertEqual(st["target"]["argv"], argv)
        self.assertGreater(st["seeded"]["count"], 5, st["seeded"])
        self.assertEqual(st["chunks"]["count"], 1, "the chunk mapped before the attach")
        self.assertEqual(st["chunks"]["rss_bytes"], 4096, "its one touched page")
        self.assertTrue(wait_for(lambda: d.ctl("status")["chunks"]["count"] == 2, timeout=10))
        starts = sorted(int(m["start"], 16)
                        for m in d.ctl("outstanding", "--class", "chunk")["mappings"])
        self.assertEqual(starts, sorted(mtlib.read_truth_line(p)["chunks"]))
        self.assertEqual(d.finish(timeout=20), 0, d.err)
        self.assertEqual(p.wait(timeout=10), 0)

    def test_exec_after_a_zombie_leader(self):
        """Attached through the worker of a zombie leader, the worker execs:
        the kernel reports that exec under the leader's tid, which was never
        ours.  The new program must run on, be traced and named, and end."""
        prog = mtlib.target("chunkhold")
        p = subprocess.Popen([mtlib.target("leaderexit"), "-l", "100", "-w", "3000", "-x", prog],
                             stdout=subprocess.DEVNULL)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z", timeout=5))
        d = self.attach(p.pid)
        self.assertTrue(wait_for(lambda: d.ctl("status")["target"]["argv"] == [prog], timeout=10),
                        "states: %s" % mtlib.task_states(p.pid))
        self.assertTrue(wait_for(lambda: d.ctl("status")["chunks"]["count"] == 5, timeout=10),
                        "states: %s" % mtlib.task_states(p.pid))
        self.assertEqual(p.wait(timeout=20), 0)
        self.assertEqual(d.finish(timeout=20), 0, d.err)

    def test_detach_with_a_zombie_leader(self):
        """The main thread left with pthread_exit() while attached: a zombie
        leader never stops again, and the detach must not wait for it."""
        p = subprocess.Popen([mtlib.target("leaderexit"), "-l", "1500", "-w", "6000"],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        d = self.attach(p.pid)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z", timeout=5))
        t0 = time.monotonic()
        self.detach(d, "SIGTERM")
        self.assertLess(time.monotonic() - t0, 2.0, "the detach waited for the worker")
        self.assertTrue(wait_for(lambda: traced_by(p.pid, 0)), tracer_pids(p.pid))
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(mtlib.truth(p.stdout.read()), {"worker": "done"})

    def test_i386_calls_are_not_read_as_x86_64(self):
        """i386 calls (int 0x80) numbered like x86_64 memory calls (10:
        unlink/mprotect, 12: chdir/brk) must not be read as those."""
        p = subprocess.Popen([mtlib.target("int80"), "-n", "1000"], stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        if p.stdout.readline().strip() != "ready":
            self.skipTest("int 0x80 is not available here (exit %s)" % p.wait())
        d = self.attach(p.pid)
        time.sleep(0.4)
        st = d.ctl("status")
        self.assertEqual((st["events"]["by_syscall"]["mprotect"],
                          st["events"]["by_syscall"]["brk"]), (0, 0), st["events"])
        self.assertEqual(d.finish(timeout=20), 0, d.err)
        t = mtlib.truth(p.stdout.read())
        self.assertEqual((t["calls"], t["efault"]), (2000, 2000))

    def test_detach_reports_detached(self):
        """After a detach the summary and the report say "detached", with no
        exit code: the process was let go, it did not exit."""
        a = self.start("-k", "2")
        report = os.path.join(tempfile.mkdtemp(prefix="mt-report-"), "r.json")
        self.addCleanup(shutil.rmtree, os.path.dirname(report), True)
        d = self.attach(a.pid, opts=["--summary", "--json", "--report", report])
        self.detach(d, "SIGTERM")
        self.assert_untraced(a.pid)
        summary = [json.loads(l) for l in d.err.splitlines() if l.startswith("{")][-1]
        with open(report) as f:
            rep = json.load(f)
        for st in (summary, rep["status"] if "status" in rep else rep):
            self.assertEqual(st["target"]["state"], "detached", st["target"])
            self.assertNotIn("exit_code", st["target"])
            self.assertEqual(st["chunks"]["count"], 2)
        d2 = self.attach(a.pid, opts=["--summary"])
        self.detach(d2, "SIGINT")
        self.assertRegex(d2.err, r"pid %d detached\b" % a.pid)
        self.assertNotIn("exit code", d2.err)
        self.assert_working(a)

    def test_attach_thread_churn(self):
        """Attach and detach again and again while 8 threads create and join
        threads as fast as they can: every attach must succeed (threads born
        to already-seized threads during the attach are memtraced's own)."""
        a = self.start("-k", "2", "-n", "8", "-s", "0")
        for i in range(50):
            d = AttachDaemon(a.pid)
            self.addCleanup(d.kill)
            try:
                d.wait_state("running")
            except AssertionError as e:
                self.fail("attach %d of 50 failed: %s" % (i + 1, e))
            self.assertEqual(d.ctl("status")["chunks"]["count"], 2)
            self.detach(d, ("ctl", "SIGINT")[i % 2])
        self.assert_untraced(a.pid)
        self.assert_working(a)

    def read_fifo_until_exit(self, path, d, timeout=20):
        """Read the FIFO PATH until memtraced D exits.  Opened without
        blocking, so a memtraced that never opens it cannot hang the test;
        kept open until the end, so one that opens it late is not left
        waiting for a reader."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            end = time.time() + timeout
            while d.proc.poll() is None and time.time() < end:
                try:
                    if os.read(fd, 65536):
                        continue
                except BlockingIOError:
                    pass
                time.sleep(0.01)
        finally:
            os.close(fd)

    def test_detach_lets_go_before_exit(self):
        """Every thread is let go by the detach itself, not only when
        memtraced exits (the kernel releases every tracee then anyway), even
        while 8 threads create threads: one born during the detach must be
        waited for and let go too (that happens in some of the 20 rounds,
        depending on timing).  After the detach memtraced writes its --report
        through REPORT.tmp; that is a FIFO here, so memtraced waits in open()
        until the test has looked: by then no thread of the target may still
        have memtraced as its tracer."""
        a = self.start("-k", "1", "-n", "8", "-s", "0")
        tmp = tempfile.mkdtemp(prefix="mt-detach-")
        self.addCleanup(shutil.rmtree, tmp, True)
        report = os.path.join(tmp, "report.json")
        for i in range(20):
            os.mkfifo(report + ".tmp")
            d = AttachDaemon(a.pid, opts=["--report", report])
            self.addCleanup(d.kill)
            d.wait_state("running")
            time.sleep(0.05)
            d.proc.send_signal(signal.SIGINT)
            let_go = wait_for(lambda: d.proc.pid not in tracer_pids(a.pid).values(), timeout=3)
            still = [t for t, p in tracer_pids(a.pid).items() if p == d.proc.pid]
            self.read_fifo_until_exit(report + ".tmp", d)
            self.assertEqual(d.finish(timeout=20), 0, d.err)
            self.assertTrue(let_go, "detach %d of 20: threads %s still traced by a live memtraced"
                            % (i + 1, still))
        self.assert_untraced(a.pid)
        self.assert_working(a)

    def test_signals_across_detach(self):
        """Signals sent while memtraced attaches and detaches, over and over,
        each reach the target's handler once: none lost, none doubled."""
        if os.uname().machine not in ("x86_64", "aarch64"):
            self.skipTest("rt_sigqueueinfo's number is not known here")
        # A slow thread storm: attach races with thread churn are test_attach_thread_churn's.
        a = self.start("-k", "1", "-s", "200000")
        sig = int(signal.SIGRTMIN) + 1  # queued, unlike SIGUSR1: every one counts
        sent = [0]
        done = threading.Event()

        def sender():
            while not done.is_set():
                if sigqueue(a.pid, sig):
                    sent[0] += 1
                else:  # the queue is full: nothing was sent
                    time.sleep(0.001)
        th = threading.Thread(target=sender)
        th.start()
        try:
            for i in range(16):
                d = self.attach(a.pid)
                time.sleep(0.03)
                self.detach(d, ("ctl", "SIGTERM")[i % 2])
                self.assert_untraced(a.pid)
        finally:
            done.set()
            th.join()
        self.assertGreater(sent[0], 100)
        self.poll_report(a, lambda t: t["signals"] >= sent[0], timeout=3)
        time.sleep(0.1)  # a doubled signal would still be on its way
        self.assertEqual(a.cmd("report")["signals"], sent[0], "signals received vs sent")

    def test_accounting_through_stops_and_signals(self):
        """Memory calls made while signals interrupt blocking calls and the
        process is stopped and continued again and again: the table must
        still be exactly what the target holds, every call counted once."""
        if os.uname().machine not in ("x86_64", "aarch64"):
            self.skipTest("rt_sigqueueinfo's number is not known here")
        a = self.start("-k", "2", "-s", "500")
        d = self.attach(a.pid)
        sig = int(signal.SIGRTMIN) + 1
        done = threading.Event()
        stops = [0]

        def disturber():
            while not done.is_set():
                for _ in range(20):
                    sigqueue(a.pid, sig)
                os.kill(a.pid, signal.SIGSTOP)
                time.sleep(0.002)
                os.kill(a.pid, signal.SIGCONT)
                stops[0] += 1
                time.sleep(0.005)
        th = threading.Thread(target=disturber)
        th.start()
        n = 0
        deadline = time.monotonic() + 60
        try:
            # The table grows by one chunk a round, so a call lost anywhere
            # shows.  Rounds keep pace with the disturber (a round waits for
            # its next stop when it lags behind), however the two threads
            # are scheduled, until both have done enough.
            while n < 25 or stops[0] < 50:
                self.assertLess(time.monotonic(), deadline,
                                "%d rounds, %d stops in 60 s" % (n, stops[0]))
                a.cmd("alloc 2", timeout=30)
                t = a.cmd("free 1", timeout=30)
                n += 1
                seen = stops[0]
                if seen < n:
                    wait_for(lambda: stops[0] > seen, timeout=5)
        finally:
            done.set()
            th.join()
        self.assertGreaterEqual(stops[0], 50)
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 2 + n)
        self.assertEqual(st["events"]["by_syscall"]["mmap"], 2 * n)
        self.assertEqual(st["events"]["by_syscall"]["munmap"], n)
        ev = d.ctl("events", "--limit", str(4 * n))["events"]
        self.assertEqual(len(ev), 3 * n)
        self.assertEqual([e for e in ev if not e["done"] or e["ret"] < 0], [])
        self.assert_matches_maps(d, a.pid)
        self.assert_working(a)
        self.detach(d)

    # --- group-stop ----------------------------------------------------------

    def test_group_stop_before_attach(self):
        """Stopped by the user before the attach: still stopped after the detach."""
        a = self.start("-k", "5")
        os.kill(a.pid, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: all_stopped(a.pid, "T")), task_states(a.pid))
        tids = set(task_states(a.pid))
        d = self.attach(a.pid)
        self.assert_same_chunks(d, a.ready)
        # Traced, a group-stopped thread shows 't'; none may run.
        self.assertTrue(held_for(lambda: all_stopped(a.pid, "tT"), 0.3),
                        "a thread runs while attached: %s" % task_states(a.pid))
        self.assertEqual(set(task_states(a.pid)), tids, "threads came or went while stopped")
        self.detach(d)
        self.assert_untraced(a.pid)
        # Threads the detach kicked may run for a moment on their way back to T.
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "T"), 0.5)),
                        "not group-stopped after the detach: %s" % task_states(a.pid))
        self.assertEqual(set(task_states(a.pid)), tids)
        os.kill(a.pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: none_stopped(a.pid)), task_states(a.pid))
        self.assert_working(a)

    def test_group_stop_while_attached(self):
        """SIGSTOP/SIGCONT while attached; then stopped across a detach."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        os.kill(a.pid, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "tT"), 0.2)),
                        "not stopped: %s" % task_states(a.pid))
        tids = set(task_states(a.pid))
        self.assertTrue(held_for(lambda: all_stopped(a.pid, "tT"), 0.3))
        self.assertEqual(set(task_states(a.pid)), tids, "threads came or went while stopped")
        os.kill(a.pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: not stuck_tids(a.pid, 0.5)),
                        "not running after SIGCONT: %s" % task_states(a.pid))
        t = a.cmd("alloc 2")
        self.assert_same_chunks(d, t)
        self.assert_working(a)

        os.kill(a.pid, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "tT"), 0.2)))
        self.detach(d, "SIGTERM")
        self.assert_untraced(a.pid)
        # Threads the detach kicked may run for a moment on their way back to T.
        self.assertTrue(wait_for(lambda: held_for(lambda: all_stopped(a.pid, "T"), 0.5)),
                        "not group-stopped after the detach: %s" % task_states(a.pid))
        os.kill(a.pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: none_stopped(a.pid)), task_states(a.pid))
        self.assert_working(a)

    # --- memtraced killed, target exits ----------------------------------------

    def test_sigkill_memtraced(self):
        """SIGKILL memtraced while attached: the target goes on, untraced."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        t = a.cmd("alloc 1")
        self.assert_same_chunks(d, t)
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(held_for(lambda: a.proc.poll() is None, 0.3),
                        "the target died with memtraced")
        self.assert_untraced(a.pid)
        self.assertTrue(held_for(lambda: none_stopped(a.pid), 0.3), task_states(a.pid))
        self.assert_working(a)

    def test_target_exits(self):
        """The target exits while attached: memtraced exits with its code."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        a.send("exit 7")
        try:
            rc = d.finish(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("memtraced did not notice the target's exit")
        self.assertEqual(rc, 7, d.err)
        self.assertEqual(a.proc.wait(timeout=10), 7)

    def test_target_killed(self):
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        os.kill(a.pid, signal.SIGKILL)
        try:
            rc = d.finish(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("memtraced did not notice the target's death")
        self.assertEqual(rc, 128 + signal.SIGKILL, d.err)
        self.assertEqual(a.proc.wait(timeout=10), -signal.SIGKILL)

    def test_target_exits_linger(self):
        """With --linger memtraced answers after the exit, state "exited"."""
        a = self.start("-k", "5")
        d = self.attach(a.pid, ["--linger"])
        a.cmd("alloc 1")
        a.send("exit 7")
        self.assertEqual(a.proc.wait(timeout=10), 7)
        st = d.wait_state("exited")
        self.assertEqual(st["target"]["pid"], a.pid)
        self.assertEqual(st["target"]["exit_code"], 7)
        self.assertTrue(held_for(lambda: d.proc.poll() is None, 0.3), "memtraced did not linger")
        self.assertEqual(d.ctl("status")["target"]["state"], "exited")
        d.ctl("stop")
        self.assertEqual(d.finish(timeout=20), 7, d.err)

    # --- re-attach -------------------------------------------------------------

    def test_reattach(self):
        """Attach, detach, attach again: the second seed is the process as it is now."""
        a = self.start("-k", "5")
        d = self.attach(a.pid)
        a.cmd("alloc 2")
        t = a.cmd("free 1")
        self.assert_same_chunks(d, t)
        self.detach(d, "SIGINT")
        self.assert_untraced(a.pid)
        t = a.cmd("alloc 1")  # one block no memtraced ever saw mapped
        self.assertEqual(len(t["chunks"]), 7)

        d = self.attach(a.pid)
        st = d.ctl("status")
        self.assertGreater(st["seeded"]["count"], 0)
        self.assertEqual(st["events"]["recorded"], 0)
        for m in self.outstanding(d, "--class", "chunk"):
            self.assertTrue(m["preexisting"])
            self.assertEqual(m["length"], CHUNK)
        self.assert_same_chunks(d, t)
        self.assert_matches_maps(d, a.pid)
        t = a.cmd("alloc 1")
        self.assert_same_chunks(d, t)
        t = a.cmd("free 3")
        st = self.assert_same_chunks(d, t)
        self.assertEqual(st["chunks"]["count"], 5)
        self.detach(d, "SIGTERM")
        self.assert_untraced(a.pid)
        self.assert_working(a)

    # --- attach failures ---------------------------------------------------------

    def attach_fails(self, pid, opts=(), prefix=()):
        """Run memtraced --pid PID; it must exit 4 with one line on stderr."""
        sockdir = tempfile.mkdtemp(prefix="mt-test-")
        self.addCleanup(shutil.rmtree, sockdir, True)
        sock = os.path.join(sockdir, "mt.sock")
        sockopt = ["--no-socket"] if "--no-socket" in opts else ["-s", sock]
        cmd = [*prefix, mtlib.MEMTRACED, *sockopt, *[o for o in opts if o != "--no-socket"],
               "--pid", str(pid)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        self.assertEqual(r.returncode, EXIT_ATTACH, "exit code; stderr: %r" % r.stderr)
        self.assertEqual(len(lines), 1, "want one line on stderr, got %r" % r.stderr)
        self.assertFalse(os.path.exists(sock), "socket left behind by a failed attach")
        return lines[0]

    def test_error_no_such_pid(self):
        p = subprocess.Popen(["true"])
        p.wait()
        self.assertFalse(os.path.exists("/proc/%d" % p.pid))
        msg = self.attach_fails(p.pid)
        self.assertIn(str(p.pid), msg)
        self.assertIn("no process", msg)

    def test_error_zombie(self):
        p = subprocess.Popen(["true"])
        self.addCleanup(p.wait)
        self.assertTrue(wait_for(lambda: mtlib.proc_state(p.pid) == "Z"))
        msg = self.attach_fails(p.pid)
        self.assertIn(str(p.pid), msg)
        self.assertIn("zombie", msg)
        self.assertEqual(mtlib.proc_state(p.pid), "Z")

    def strace(self, tid, *opts):
        if not shutil.which("strace"):
            self.skipTest("strace is not installed")
        s = subprocess.Popen(["strace", *opts, "-o", "/dev/null", "-p", str(tid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            s.terminate()
            s.wait()
        self.addCleanup(stop)
        return s

    def test_error_already_traced(self):
        """Another tracer holds the process: the message names it."""
        a = self.start("-k", "5")
        s = self.strace(a.pid, "-f")
        self.assertTrue(wait_for(lambda: traced_by(a.pid, s.pid)),
                        "strace did not attach: %s" % tracer_pids(a.pid))
        msg = self.attach_fails(a.pid)
        self.assertIn("PID %d" % s.pid, msg)
        self.assertIn("strace", msg)
        self.assertTrue(traced_by(a.pid, s.pid), tracer_pids(a.pid))
        self.assertEqual(a.cmd("report")["pid"], a.pid)

    def test_error_one_thread_traced(self):
        """Another tracer holds one thread only (not the leader): the attach fails,
        the message names that tracer, and the threads memtraced had seized
        already are let go."""
        a = self.start("-k", "5")
        worker = a.ready["tids"]["worker"]
        s = self.strace(worker)
        self.assertTrue(wait_for(lambda: tracer_pids(a.pid).get(worker) == s.pid),
                        "strace did not attach: %s" % tracer_pids(a.pid))
        msg = self.attach_fails(a.pid)

        def traced():
            return {k: v for k, v in tracer_pids(a.pid).items() if v}
        wait_for(lambda: traced() == {worker: s.pid}, timeout=5)
        self.assertEqual(traced(), {worker: s.pid}, "threads left traced by the failed attach")
        self.assertTrue(held_for(lambda: none_stopped(a.pid), 0.3), task_states(a.pid))
        self.assertEqual(a.cmd("report")["pid"], a.pid)
        self.assertIn("PID %d" % s.pid, msg)
        self.assertIn("strace", msg)

    def test_error_not_permitted(self):
        """Not root, attaching to root's process: the message says what is needed."""
        if os.geteuid() != 0:
            self.skipTest("needs root to start a process as another user")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is not installed")
        a = self.start("-k", "1")
        msg = self.attach_fails(a.pid, ["--no-socket"],
                                ["setpriv", "--reuid", "65534", "--regid", "65534",
                                 "--clear-groups"])
        self.assertTrue("CAP_SYS_PTRACE" in msg or "root" in msg, msg)
        self.assertIn(str(a.pid), msg)
        self.assertEqual(a.cmd("report")["pid"], a.pid)
        self.assertTrue(traced_by(a.pid, 0), tracer_pids(a.pid))

    def test_error_root_without_cap_sys_ptrace(self):
        """Root, but CAP_SYS_PTRACE dropped: the message names the capability."""
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv")
        a = self.start("-k", "1")
        msg = self.attach_fails(a.pid, ["--no-socket"],
                                ["setpriv", "--inh-caps=-sys_ptrace",
                                 "--bounding-set=-sys_ptrace"])
        self.assertIn("without CAP_SYS_PTRACE", msg)
        self.assertIn(str(a.pid), msg)
        self.assertTrue(traced_by(a.pid, 0), tracer_pids(a.pid))

    # --- a real JVM ------------------------------------------------------------------

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
