"""Helpers for memtrace's integration tests.

Each test runs real targets under a real memtraced on a private socket
and compares the daemon's JSON answers with ground truth the target
prints itself (a "TRUTH {json}" line) or with /proc/PID/maps.

Exit codes follow the project's convention: 0 pass, 77 skip, 99 harness
broke; unittest failures exit 1.
"""
import bisect
import contextlib
import ctypes
import errno
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("MT_BUILD", "build"))
MEMTRACED = os.path.join(BUILD, "memtraced")
MEMTRACECTL = os.path.join(BUILD, "memtracectl")
TARGETS = os.path.join(ROOT, "build", "targets")


def target(name):
    """Path of a test target program (always the plain build)."""
    path = os.path.join(TARGETS, name)
    if not os.path.exists(path):
        path = os.path.join(BUILD, "targets", name)
    return path


def truth(text):
    """The TRUTH object a target printed."""
    for line in text.splitlines():
        if line.startswith("TRUTH "):
            return json.loads(line[6:])
    raise AssertionError("no TRUTH line in target output:\n" + text)


def read_truth_line(proc, timeout=30):
    """The TRUTH object a running target prints on PROC's stdout."""
    import select
    end = time.time() + timeout
    text = ""
    while time.time() < end:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if not line:
                break
            text += line
            if line.startswith("TRUTH "):
                return truth(line)
    raise AssertionError("no TRUTH from the target: %r" % text)


def skip(reason):
    print(reason)
    sys.exit(77)


class Daemon:
    """A memtraced on a private socket, running ARGV as its target."""

    def __init__(self, argv, opts=(), env=None, stdout=subprocess.PIPE, stdin=None):
        self.dir = tempfile.mkdtemp(prefix="mt-test-")
        self.sock = os.path.join(self.dir, "mt.sock")
        self.cmd = [MEMTRACED, "-s", self.sock, *opts, "--", *argv]
        self.proc = subprocess.Popen(self.cmd, stdout=stdout, stderr=subprocess.PIPE,
                                     stdin=stdin, env=env, text=True)
        self.out = self.err = None

    def wait_socket(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(self.sock):
                return
            if self.proc.poll() is not None:
                raise AssertionError("memtraced exited early: %s" % self.proc.stderr.read())
            time.sleep(0.01)
        raise AssertionError("socket never appeared")

    def ctl(self, *args, check=True):
        """Run memtracectl --json ARGS; return the parsed answer.  events
        --json prints one event a line: that is {"events": [...]} here."""
        r = subprocess.run([MEMTRACECTL, "-s", self.sock, "--json", *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("memtracectl %s failed (%d): %s" % (args, r.returncode, r.stderr))
        if args and args[0] == "events" and r.returncode == 0:
            return {"events": [json.loads(l) for l in r.stdout.splitlines()]}
        return json.loads(r.stdout.splitlines()[0]) if r.stdout else None

    def request(self, line, read_lines=1):
        """Send raw bytes LINE on a fresh connection; return the parsed answers."""
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        s.sendall(line if isinstance(line, bytes) else line.encode())
        buf = b""
        while buf.count(b"\n") < read_lines:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        return [json.loads(x) for x in buf.decode().splitlines()]

    def finish(self, timeout=60):
        """Wait for memtraced to exit; return its exit code."""
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_traced(argv, opts=(), env=None, timeout=120):
    """Run ARGV under memtraced --summary --json --no-socket.

    Returns (exit code, target stdout, summary object, memtraced stderr)."""
    cmd = [MEMTRACED, "--no-socket", "--summary", "--json", *opts, "--", *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    summary = None
    for line in r.stderr.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return r.returncode, r.stdout, summary, r.stderr


def proc_maps(pid):
    """[(start, end, perms, path)] of /proc/PID/maps."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return out


def wait_for(pred, timeout=10, interval=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def proc_state(pid):
    """The one-letter state of /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]



# --- helpers for the tracing tests (test_trace_*.py) ---------------------

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid):
    """The target's resident bytes, from /proc/PID/smaps_rollup (to the page)."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no Rss in smaps_rollup of %d" % pid)


def _probe_read_fault():
    """Whether a read of a never-written private anonymous page makes it
    resident on this kernel (no shared zero page), asked of the kernel:
    map 8 pages, read one byte of each, count smaps' Rss of the range."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    n = 8
    # PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS
    addr = libc.mmap(None, n * PAGE, 1, 0x02 | 0x20, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap")
    try:
        total = sum(ctypes.c_ubyte.from_address(addr + i * PAGE).value for i in range(n))
        assert total == 0
        rss = None
        with open("/proc/self/smaps") as f:
            inside = False
            for line in f:
                head = line.split()[0]
                if "-" in head and ":" not in head:
                    lo = int(head.split("-")[0], 16)
                    inside = lo == addr
                elif inside and line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                    break
        if rss is None:
            raise AssertionError("probe mapping not found in smaps")
        return rss == n * PAGE
    finally:
        libc.munmap(addr, n * PAGE)


_read_fault = None


def read_fault_allocates():
    """True where a read fault on untouched anonymous memory allocates a
    page (this machine's kernel), False where it maps the zero page."""
    global _read_fault
    if _read_fault is None:
        _read_fault = _probe_read_fault()
    return _read_fault


def page_up(n):
    return (n + PAGE - 1) // PAGE * PAGE


def target_pid(daemon, timeout=10):
    """The traced target's pid, once memtraced has launched it."""
    pid = wait_for(lambda: daemon.ctl("status")["target"]["pid"], timeout=timeout)
    if not pid:
        raise AssertionError("memtraced never reported a target pid")
    return pid


def pid_gone(pid, timeout=5):
    """True once PID no longer exists (a zombie counts as still there)."""
    return wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=timeout)


def task_states(pid):
    """{tid: state letter} of every thread of PID ({} when it is gone)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                out[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            pass
    return out


def wait_stopped(pid, timeout=10, settle=0.15):
    """Wait until every thread of PID is stopped and stays so for SETTLE s.

    A group-stopped process shows 'T' untraced but 't' (tracing stop) under
    ptrace; a traced task also passes through 't' for a few microseconds at
    every syscall stop, hence the settle time."""
    end = time.time() + timeout
    since = None
    while time.time() < end:
        st = task_states(pid)
        if st and all(s in "Tt" for s in st.values()):
            since = since or time.time()
            if time.time() - since >= settle:
                return True
        else:
            since = None
        time.sleep(0.01)
    return False


def merge(intervals):
    """Union of [lo, hi) intervals as a sorted list of disjoint ones."""
    out = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(x) for x in out]


def mapping_range(m):
    """(start, end) of an "outstanding" mapping object."""
    return int(m["start"], 16), int(m["end"], 16)


def table_vs_maps(tc, mappings, maps):
    """Assert the outstanding MAPPINGS are exactly the target's /proc/PID/maps:
    each lies inside one maps region with the same "rwxp" permissions, they
    do not overlap, and together they cover every maps byte (the
    [vsyscall] page, the kernel's and not part of the address space proper,
    excluded)."""
    regions = [(lo, hi, perms, path) for lo, hi, perms, path in maps if path != "[vsyscall]"]
    bad = []
    for m in mappings:
        lo, hi = mapping_range(m)
        tc.assertEqual(hi - lo, m["length"], m)
        inside = [r for r in regions if r[0] <= lo and hi <= r[1]]
        if len(inside) != 1 or inside[0][2] != m["prot"]:
            bad.append("%#x-%#x %s (maps: %s)" % (
                lo, hi, m["prot"],
                ", ".join("%#x-%#x %s %s" % r for r in inside) or "no region holds it"))
    tc.assertEqual(bad, [], "outstanding mappings not matching /proc/PID/maps")
    ranges = [mapping_range(m) for m in mappings]
    union = merge(ranges)
    tc.assertEqual(sum(hi - lo for lo, hi in union), sum(hi - lo for lo, hi in ranges),
                   "outstanding mappings overlap")
    want = merge((lo, hi) for lo, hi, _, _ in regions)
    missing = _subtract(want, union)
    extra = _subtract(union, want)
    tc.assertEqual((missing, extra), ([], []),
                   "maps bytes the table lacks / table bytes not in maps:\n%s" % "\n".join(
                       "%#x-%#x %s %s" % r for r in regions))


def _subtract(a, b):
    """Intervals of A not covered by B (both merged), as hex strings."""
    out = []
    for lo, hi in a:
        cur = lo
        for blo, bhi in b:
            if bhi <= cur or blo >= hi:
                continue
            if blo > cur:
                out.append((cur, blo))
            cur = max(cur, bhi)
        if cur < hi:
            out.append((cur, hi))
    return ["%#x-%#x" % x for x in out]


class FullPipe:
    """A pipe filled to capacity before a target gets its write end as stdout.

    The target's first write to stdout then blocks, so a target that prints
    its TRUTH line only after its last memory syscall is frozen alive in that
    write: its table and /proc/PID/maps can be compared at leisure.
    read_rest() drains the filler and returns what the target wrote."""

    def __init__(self):
        self.r, self.w = os.pipe()
        os.set_blocking(self.w, False)
        self.filler = 0
        for size in (65536, 1):
            try:
                while True:
                    self.filler += os.write(self.w, b"\0" * size)
            except BlockingIOError:
                pass
        os.set_blocking(self.w, True)

    def close_writer(self):
        if self.w >= 0:
            os.close(self.w)
            self.w = -1

    def read_rest(self):
        self.close_writer()
        data = b""
        while True:
            chunk = os.read(self.r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(self.r)
        return data[self.filler:].decode(errors="replace")


def syscall_of(tid):
    """The fields of /proc/TID/syscall (the call's number, then its
    arguments in hex), [] when TID is gone.  Any thread's tid works."""
    try:
        with open("/proc/%d/syscall" % tid) as f:
            return f.read().split()
    except OSError:
        return []


def in_syscall(tid, nr):
    """Whether thread TID sleeps in system call NR (x86-64 numbers)."""
    try:
        return syscall_of(tid)[:1] == [str(nr)] and proc_state(tid) == "S"
    except OSError:
        return False


def blocked_in_write(pid):
    """True when PID's main thread sleeps in write(2) (x86-64 nr 1)."""
    if in_syscall(pid, 1):
        return True
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "pipe_write" in f.read() and proc_state(pid) == "S"
    except OSError:
        return False


# --- helpers for attach mode (test_attach_*.py) ---------------------------

class AttachDaemon(Daemon):
    """A memtraced attached to the running process PID (--pid PID), in
    attach mode MODE (syscall or filter; None: memtraced's default, filter)."""

    def __init__(self, pid, opts=(), env=None, mode=None):
        self.dir = tempfile.mkdtemp(prefix="mt-test-")
        self.sock = os.path.join(self.dir, "mt.sock")
        mode_opts = ["--attach-mode", mode] if mode else []
        self.cmd = [MEMTRACED, "-s", self.sock, *mode_opts, *opts, "--pid", str(pid)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, text=True)
        self.out = self.err = None

    def connect(self, timeout=10):
        """A connection to the socket, made as soon as it accepts one."""
        import socket
        end = time.time() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect(self.sock)
                return s
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
            if self.proc.poll() is not None:
                raise AssertionError("memtraced exited early (%d): %s"
                                     % (self.proc.returncode, self.proc.stderr.read()))
            if time.time() > end:
                raise AssertionError("memtraced's socket never accepted a connection")
            time.sleep(0.0005)

    def first_status(self, timeout=10):
        """The answer to the very first status request memtraced can take."""
        s = self.connect(timeout)
        try:
            s.sendall(b'{"cmd":"status"}\n')
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return json.loads(buf.decode())

    def wait_state(self, state="running", timeout=10):
        """Poll status until target.state is STATE; return that status."""
        def poll():
            st = self.ctl("status", check=False)
            if st is None and self.proc.poll() is not None:
                raise AssertionError("memtraced exited (%d): %s"
                                     % (self.proc.returncode, self.proc.stderr.read()))
            return st if st and st.get("target", {}).get("state") == state else None
        self.connect(timeout).close()
        st = wait_for(poll, timeout=timeout)
        if not st:
            raise AssertionError("target state never became %r: %s"
                                 % (state, self.ctl("status")["target"]))
        return st

    def kill(self):
        super().kill()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def tracer_pids(pid):
    """{tid: TracerPid} of every thread of PID ({} when it is gone)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("TracerPid:"):
                        out[int(tid)] = int(line.split()[1])
        except OSError:
            pass
    return out


def main():
    if not os.path.exists(MEMTRACED):
        print("memtraced is not built")
        sys.exit(99)
    unittest.main(verbosity=2)


# --- helpers for the tests that run Java programs ---

def need_java(files=(), missing="missing: %s"):
    """Exit 99 when memtraced is not built; skip (77) without java and
    javac, or when one of FILES is missing (MISSING % their list)."""
    if not os.path.exists(MEMTRACED):
        print("memtraced is not built")
        sys.exit(99)
    if not shutil.which("java") or not shutil.which("javac"):
        skip("no java/javac: apt-get install default-jdk-headless")
    gone = [f for f in files if not os.path.exists(f)]
    if gone:
        skip(missing % ", ".join(gone))


@contextlib.contextmanager
def javac(sources, prefix, classpath=(), release=None):
    """SOURCES compiled into a new directory named PREFIX..., yielded and
    removed afterwards; exit 99 when javac fails."""
    classes = tempfile.mkdtemp(prefix=prefix)
    try:
        argv = ["javac", "-d", classes]
        if release:
            argv += ["--release", str(release)]
        if classpath:
            argv += ["-cp", ":".join(classpath)]
        r = subprocess.run(argv + list(sources), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            print("javac failed:\n" + r.stdout + r.stderr)
            sys.exit(99)
        yield classes
    finally:
        shutil.rmtree(classes, ignore_errors=True)


# --- helpers for the stack and peek tests (test_stacks.py, test_peek.py) ---

class LineReader:
    """Collect the lines of a text stream (a daemon's stdout) in a thread.

    wait_prefix() waits for the first line starting with PREFIX; text()
    returns everything read so far."""

    def __init__(self, stream):
        import threading
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_prefix(self, prefix, timeout=30):
        end = time.time() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = end - time.time()
                if self.eof or left <= 0:
                    raise AssertionError("no %r line within %ss; output so far:\n%s"
                                         % (prefix, timeout, "\n".join(self.lines)))
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(self.lines)


def ctl_run(sock, *args, user=None, timeout=60):
    """Run memtracectl -s SOCK ARGS (no --json added); the CompletedProcess.

    USER: a numeric uid to run it as (setpriv, that uid's gid, no groups)."""
    cmd = [MEMTRACECTL, "-s", sock, *args]
    if user is not None:
        cmd = ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups",
               "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def elf_type(path):
    """"EXEC" or "DYN" (readelf -h)."""
    out = subprocess.run(["readelf", "-hW", path], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("Type:"):
            return line.split()[1]
    raise AssertionError("no ELF type in readelf -h %s" % path)


def elf_function_at(path, file_offset):
    """The FUNC symbol of ELF file PATH whose code holds FILE_OFFSET, or None.

    The offset becomes a virtual address through the PT_LOAD segment that
    holds it, as a symbolizer must do; symbols come from nm -S."""
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                         check=True).stdout
    va = None
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            off, vaddr, filesz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
            if off <= file_offset < off + filesz:
                va = file_offset - off + vaddr
                break
    if va is None:
        return None
    out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTW":
            lo, size = int(f[0], 16), int(f[1], 16)
            if lo <= va < lo + size:
                return f[3]
    return None


# --- helpers for the attach tests (test_attach_*.py): tests/targets/attachee ---

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


class AttachCase(unittest.TestCase):
    """Set-up and checks of the attach tests, around Attachee."""

    def start(self, *args):
        a = Attachee([target("attachee"), *args])
        self.addCleanup(a.kill)
        return a

    def attach(self, pid, opts=(), ready=True, mode="syscall"):
        """memtraced attached to PID.  Syscall mode unless MODE says otherwise:
        most attach tests end in a detach that leaves the process untraced,
        which only syscall mode does; filter mode, memtraced's default, has
        tests of its own (test_attach_filter, test_attach_echo)."""
        d = AttachDaemon(pid, opts, mode=mode)
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
        self.assertNotIn(proc_state(pid), ("Z", "X"), "the target died")

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


# --- helpers for the command-line tests (test_cli_*.py) ---

MIB = 1 << 20
DEFAULT_ROOT_SOCKET = "/run/memtrace/memtraced.sock"
STRACE_LINE = re.compile(r"^\d+ \d\d:\d\d:\d\d\.\d{6} (mmap|munmap|mremap|mprotect|brk)\(.*\) = "
                         r"(0x[0-9a-f]+|-?\d+|\?)( \S.*)? <(\d+\.\d{6}|inferred)>$")


def ctl(*args, sock=None, env=None, prefix=(), timeout=30):
    """Run memtracectl ARGS (with -s SOCK when given); CompletedProcess."""
    cmd = [*prefix, MEMTRACECTL]
    if sock is not None:
        cmd += ["-s", sock]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                          timeout=timeout)


def human(n):
    """N bytes as memtracectl prints sizes (mt_format_size): 512, 16.0M."""
    if n < 1024:
        return str(n)
    v, unit = float(n), -1
    while v >= 1024 and unit < 5:
        v /= 1024
        unit += 1
    return "%.1f%s" % (v, "KMGTPE"[unit])


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("MEMTRACE_SOCKET",)}
    env.update(extra)
    return env


def command_names():
    """Every protocol command, read from the schema in libtrace/cmds.c."""
    with open(os.path.join(ROOT, "libtrace", "cmds.c")) as f:
        src = f.read()
    m = re.search(r"const struct mt_cmd mt_cmds\[\] = \{(.*?)\n\};", src, re.S)
    assert m, "no mt_cmds table in cmds.c"
    names = re.findall(r'^\s*\{"(\w+)",', m.group(1), re.M)
    assert "status" in names and "stop" in names, names
    return names


def own_command_names():
    """memtracectl's own commands: the rows of its table that send no
    protocol command (NULL proto), read from cli/memtracectl.c."""
    with open(os.path.join(ROOT, "cli", "memtracectl.c")) as f:
        src = f.read()
    m = re.search(r"const struct ctl_cmd ctl_cmds\[\] = \{(.*?)\n\};", src, re.S)
    assert m, "no ctl_cmds table in memtracectl.c"
    names = re.findall(r'^\s*\{"(\w+)", NULL,', m.group(1), re.M)
    assert "wait" in names and "check" in names, names
    return names


def wait_gone(path, timeout=10):
    return wait_for(lambda: not os.path.exists(path), timeout)




class Raw:
    """A memtraced started with an exact command line (no -s added)."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen([MEMTRACED, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.out = self.err = None

    def finish(self, timeout=30):
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=10)
        except ValueError:
            pass


def wait_socket(path, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise AssertionError("memtraced exited early (%d): %s" %
                                 (proc.returncode, proc.stderr.read()))
        time.sleep(0.01)
    raise AssertionError("socket %s never appeared" % path)
