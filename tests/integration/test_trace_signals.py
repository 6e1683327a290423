#!/usr/bin/env python3
"""Signals through memtraced: delivered to the target untouched, job
control (stop/continue) that really stops and resumes the target, and
memtraced's own SIGTERM handling (SIGTERM the target, SIGKILL after
--kill-timeout).  Every test also checks that no traced process is left
behind and that the socket file is removed.

Under ptrace a group-stopped task shows state 't' (tracing stop), not 'T':
since Linux 3.1 every stop of a traced task is a trace stop.  So "stopped"
is judged by mtlib.wait_stopped (all threads 't'/'T' for a while) and,
where the target has a heartbeat, by the heartbeat freezing.
"""
import json
import os
import select
import shutil
import signal
import tempfile
import time
import unittest

import mtlib


def read_counter(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


def kernel_frames(pid, tid):
    """The function names on thread TID's kernel stack (root only), None
    when the kernel does not show them."""
    try:
        with open("/proc/%d/task/%d/stack" % (pid, tid)) as f:
            return [l.split("]", 1)[1].strip().split("+")[0] for l in f if "]" in l]
    except OSError:
        return None


def in_group_stop(pid, tid):
    """True when thread TID of PID is in a group stop: stopped in
    do_signal_stop(), or, traced, in the job-control trap that get_signal()
    enters for it (ptrace_do_notify() called from get_signal(); a syscall or
    event stop calls it from elsewhere).  Where the kernel does not show
    its stack, a stop that lasts 60 ms is taken for it: a syscall or event
    stop lasts microseconds when the tracer gets a CPU."""
    f = kernel_frames(pid, tid)
    if f is None:
        return mtlib.held_for(lambda: mtlib.task_states(pid).get(tid, "?") in "tT", 0.06, 0.01)
    if "do_signal_stop" in f or "do_jobctl_trap" in f:
        return True
    return any(a == "ptrace_do_notify" and b == "get_signal" for a, b in zip(f, f[1:]))


def outside_stop(pid, seconds, interval=0.02):
    """Threads of PID that run on through a group stop that has begun:
    outside the stop at every sample for SECONDS, and asleep ('S') at two
    samples or more.  This checks that something does not happen, so it
    takes its time.  A thread on its way into the stop may wait its turn
    for a CPU ('R') but cannot be asleep: the stop woke it.  A thread that
    has ended (Z, X) is not outside the stop."""
    end = time.time() + seconds
    out, asleep = None, {}
    while True:
        st = mtlib.task_states(pid)
        now = {t for t, s in st.items() if s not in "tTZX"}
        out = now if out is None else out & now
        for t in now:
            asleep[t] = asleep.get(t, 0) + (st[t] == "S")
        if not out or time.time() >= end:
            break
        time.sleep(interval)
    return {t for t in out if asleep[t] >= 2}


def summary_of(err):
    """The --summary --json object in memtraced's stderr."""
    for line in (err or "").splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("no JSON summary in:\n%s" % err)


class Base(unittest.TestCase):
    def setUp(self):
        self.daemons = []
        self.pids = []
        self.tmp = tempfile.mkdtemp(prefix="mt-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def tearDown(self):
        for d in self.daemons:
            d.kill()
        for pid in self.pids:
            alive = not mtlib.pid_gone(pid, timeout=5)
            if alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.assertFalse(alive, "target %d was left behind" % pid)

    def daemon(self, argv, opts=()):
        d = mtlib.Daemon(argv, opts=["--summary", "--json", *opts])
        self.daemons.append(d)
        d.wait_socket()
        return d

    def pid_of(self, d):
        pid = mtlib.target_pid(d)
        self.pids.append(pid)
        return pid

    def assert_gone(self, d, pid):
        self.assertTrue(mtlib.pid_gone(pid), "target %d still exists" % pid)
        self.assertFalse(os.path.exists(d.sock), "socket file left behind")


class Delivery(Base):
    def test_signals_target(self):
        """SIGSEGV (fixed by mprotect in the handler), SIGUSR1, queued RT
        signals in order with their values, SIGCHLD: all as untraced."""
        rc, out, s, err = mtlib.run_traced([mtlib.target("signals")])
        t = mtlib.truth(out)
        self.assertEqual(t, {"segv": 100, "segv_accerr": 100, "usr1": 10, "rt": 10,
                             "rt_in_order": True, "rt_values": list(range(10)), "chld": 1,
                             "child_status": 0})
        self.assertEqual(rc, 0, err)
        # The handler's 100 mprotect calls, plus the loop's 100, were traced.
        self.assertGreaterEqual(s["events"]["by_syscall"]["mprotect"], 200)


class JobControl(Base):
    def stop_and_continue(self, stopsig):
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 3),
                        "stopcont never counted")
        os.kill(pid, stopsig)
        self.assertTrue(mtlib.wait_stopped(pid), "not stopped: %s" % mtlib.task_states(pid))
        # Not a wait for a state: the stop must hold, and the counter stay
        # put, for the whole half second.
        a = read_counter(path)
        self.assertTrue(mtlib.held_for(lambda: read_counter(path) == a
                                       and mtlib.all_stopped(pid, "tT"), 0.5),
                        "the counter moved while stopped: %d -> %d, %s"
                        % (a, read_counter(path), mtlib.task_states(pid)))
        b = read_counter(path)
        # memtraced keeps answering while its target is stopped.
        self.assertEqual(d.ctl("status")["target"]["pid"], pid)
        os.kill(pid, signal.SIGCONT)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > b + 3, timeout=5),
                        "the counter did not move after SIGCONT")
        os.kill(pid, signal.SIGUSR1)
        self.assertEqual(d.finish(timeout=30), 0, d.err)
        t = mtlib.truth(d.out)
        self.assertEqual(t["reason"], "usr1")
        self.assertGreaterEqual(t["counter"], b + 3)
        self.assert_gone(d, pid)

    def test_sigstop(self):
        self.stop_and_continue(signal.SIGSTOP)

    def test_sigtstp(self):
        self.stop_and_continue(signal.SIGTSTP)

    def test_stop_twice(self):
        """A second SIGSTOP while stopped, then one SIGCONT resumes."""
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 3))
        os.kill(pid, signal.SIGSTOP)
        self.assertTrue(mtlib.wait_stopped(pid))
        os.kill(pid, signal.SIGTSTP)
        # kill() has queued the SIGTSTP; whatever memtraced makes of it, the
        # process must settle stopped again, and stay so (not a wait: the
        # counter must not move for those 0.3 s).
        self.assertTrue(mtlib.wait_stopped(pid), "not stopped: %s" % mtlib.task_states(pid))
        a = read_counter(path)
        self.assertTrue(mtlib.held_for(lambda: read_counter(path) == a, 0.3),
                        "the counter moved while stopped twice")
        os.kill(pid, signal.SIGCONT)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > a + 3, timeout=5))
        os.kill(pid, signal.SIGUSR1)
        self.assertEqual(d.finish(timeout=30), 0, d.err)
        self.assert_gone(d, pid)

    def test_group_stop_multithreaded(self):
        """demo's four threads map and free 16 MiB blocks twice a second:
        while the process is stopped no thread may make a memory syscall."""
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
        d = mtlib.Daemon([mtlib.target("demo"), "-d", "3"], opts=["--summary", "--json"],
                         env=env)
        self.daemons.append(d)
        d.wait_socket()
        pid = self.pid_of(d)

        def recorded():
            return d.ctl("status")["events"]["recorded"]
        self.assertTrue(mtlib.wait_for(lambda: len(mtlib.task_states(pid)) == 5, timeout=10))
        first = recorded()
        self.assertTrue(mtlib.wait_for(lambda: recorded() > first + 4, timeout=5),
                        "demo makes no memory syscalls")
        os.kill(pid, signal.SIGSTOP)
        self.assertTrue(mtlib.wait_stopped(pid), "not stopped: %s" % mtlib.task_states(pid))
        # Not a wait for a state: no thread may map or free for 0.8 s
        # (demo maps twice a second).
        a = recorded()
        self.assertTrue(mtlib.held_for(lambda: recorded() == a, 0.8, interval=0.1),
                        "memory syscalls while the process was stopped")
        self.assertEqual(len(mtlib.task_states(pid)), 5)
        os.kill(pid, signal.SIGCONT)
        self.assertTrue(mtlib.wait_for(lambda: recorded() > a + 4, timeout=5),
                        "no memory syscalls after SIGCONT")
        self.assertEqual(d.finish(timeout=60), 0, d.err)
        self.assertIn("leaked", mtlib.truth(d.out))
        self.assert_gone(d, pid)


    def test_group_stop_during_thread_churn(self):
        """Threads are born and die continuously; a SIGSTOP must stop every
        one of them, including threads created while the stop happens."""
        d = self.daemon([mtlib.target("threadstorm"), "-m", "-n", "100000000", "-c", "20"])
        pid = self.pid_of(d)

        def recorded():
            return d.ctl("status")["events"]["recorded"]
        first = recorded()
        self.assertTrue(mtlib.wait_for(lambda: recorded() > first + 100, timeout=5))
        for _ in range(3):
            os.kill(pid, signal.SIGSTOP)
            self.assertTrue(mtlib.wait_stopped(pid), "not stopped: %s" % mtlib.task_states(pid))
            # Not a wait for a state: nothing recorded for 0.4 s of the stop.
            a = recorded()
            self.assertTrue(mtlib.held_for(lambda: recorded() == a, 0.4, interval=0.05),
                            "memory syscalls while the process was stopped")
            os.kill(pid, signal.SIGCONT)
            self.assertTrue(mtlib.wait_for(lambda: recorded() > a + 100, timeout=5),
                            "no progress after SIGCONT")
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(d.finish(timeout=30), 137, d.err)
        self.assert_gone(d, pid)


    def test_threads_born_into_a_group_stop_stay_stopped(self):
        """A thread created while SIGSTOP takes effect joins the stop: its
        first ptrace stop says so, and it must not be resumed from it.
        Round after round, no thread may stay out of the stop."""
        # A thread every 100 us, each napping 300 ms: one is nearly always
        # in clone() when the stop comes, and an escaped one shows 'S'.
        d = self.daemon([mtlib.target("threadstorm"), "-d", "300"])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: len(mtlib.task_states(pid)) > 50, timeout=10),
                        "threadstorm never had 50 threads")
        escaped = []
        for i in range(30):
            os.kill(pid, signal.SIGSTOP)
            # The stop has begun once the thread that makes threads is in it:
            # from then on no thread may be asleep outside it.
            self.assertTrue(mtlib.wait_for(lambda: in_group_stop(pid, pid), timeout=10),
                            "round %d: the stop never reached the main thread" % i)
            out = outside_stop(pid, 0.15)
            if out:
                escaped.append((i, sorted(out)))
                break
            self.assertTrue(mtlib.wait_for(lambda: mtlib.all_stopped(pid, "tTZX"), timeout=10),
                            "round %d: threads never stopped: %s" % (i, mtlib.task_states(pid)))
            before = set(mtlib.task_states(pid))
            os.kill(pid, signal.SIGCONT)
            # Running again: the main thread makes new threads.
            self.assertTrue(mtlib.wait_for(lambda: set(mtlib.task_states(pid)) - before,
                                           timeout=10),
                            "round %d: no thread born after SIGCONT" % i)
        self.assertEqual(escaped, [], "threads ran while the process was stopped")
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(d.finish(timeout=30), 137, d.err)
        self.assert_gone(d, pid)


class Termination(Base):
    def test_sigkill_target(self):
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 0))
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(d.finish(timeout=30), 137, d.err)
        s = summary_of(d.err)
        self.assertEqual(s["target"]["signal"], 9)
        self.assertEqual(s["target"]["exit_code"], 137)
        self.assert_gone(d, pid)

    def test_sigkill_stopped_target(self):
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 0))
        os.kill(pid, signal.SIGSTOP)
        self.assertTrue(mtlib.wait_stopped(pid))
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(d.finish(timeout=30), 137, d.err)
        self.assert_gone(d, pid)

    def test_sigterm_daemon(self):
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 0))
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.finish(timeout=30), 143, d.err)
        # stopcont does not catch SIGTERM: it dies of it at once, no SIGKILL needed.
        self.assertLess(time.time() - t0, 3)
        s = summary_of(d.err)
        self.assertEqual(s["target"]["signal"], signal.SIGTERM)
        self.assertNotIn("TRUTH", d.out)
        self.assert_gone(d, pid)

    def test_sigterm_daemon_target_ignores_it(self):
        d = mtlib.Daemon([mtlib.target("ignoreterm"), "-r"],
                         opts=["--summary", "--json", "--kill-timeout", "1s"])
        self.daemons.append(d)
        self.assertEqual(d.proc.stdout.readline().strip(), "READY")
        pid = self.pid_of(d)
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        # The target's handler says the SIGTERM has come; it lives on and
        # goes back to sleep in pause() until the SIGKILL.
        ready, _, _ = select.select([d.proc.stdout], [], [], 10)
        self.assertEqual(d.proc.stdout.readline().strip() if ready else None, "TERM",
                         "the target never got the SIGTERM")
        self.assertTrue(os.path.exists("/proc/%d" % pid),
                        "target gone before --kill-timeout 1s expired")
        self.assertTrue(mtlib.wait_for(lambda: mtlib.proc_state(pid) == "S", timeout=0.8),
                        "target should sleep in pause() again, not %s" % mtlib.proc_state(pid))
        rc = d.finish(timeout=30)
        took = time.time() - t0
        self.assertEqual(rc, 137, d.err)
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 3.5)
        self.assertEqual(summary_of(d.err)["target"]["signal"], 9)
        self.assert_gone(d, pid)

    def test_sigterm_daemon_stopped_target(self):
        """A stopped target cannot act on SIGTERM; the SIGKILL after
        --kill-timeout must still end it."""
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path], opts=["--kill-timeout", "1s"])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 0))
        os.kill(pid, signal.SIGSTOP)
        self.assertTrue(mtlib.wait_stopped(pid))
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        rc = d.finish(timeout=30)
        self.assertLess(time.time() - t0, 3.5)
        self.assertIn(rc, (137, 143), d.err)
        self.assert_gone(d, pid)

    def test_sigint_daemon(self):
        """SIGINT is a stop request like SIGTERM: the target gets SIGTERM."""
        path = os.path.join(self.tmp, "counter")
        d = self.daemon([mtlib.target("stopcont"), path])
        pid = self.pid_of(d)
        self.assertTrue(mtlib.wait_for(lambda: read_counter(path) > 0))
        d.proc.send_signal(signal.SIGINT)
        self.assertEqual(d.finish(timeout=30), 143, d.err)
        self.assert_gone(d, pid)


if __name__ == "__main__":
    mtlib.main()
