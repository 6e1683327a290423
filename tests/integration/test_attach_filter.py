#!/usr/bin/env python3
"""Attach in filter mode: memtraced --attach-mode filter --pid PID installs
memtrace's seccomp filter inside the running target.

Targets: tests/targets/blockers.c (threads blocked in read, epoll_wait,
futex and nanosleep at the moment of attach, each printing its call's
result; "churn S" maps and unmaps for S seconds and prints how many calls
failed) and tests/targets/attachee.c (see mtlib.Attachee).
"""
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402
from mtlib import AttachDaemon, tracer_pids, wait_for  # noqa: E402
Attachee = mtlib.Attachee

FILTER = ("--attach-mode", "filter")


def pid_alive(pid):
    """Whether PID runs (a zombie does not)."""
    try:
        return mtlib.proc_state(pid) != "Z"
    except OSError:
        return False


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


SYS_RT_SIGTIMEDWAIT = 128  # x86_64, sigwait()'s call


def untraced_descendants(pid):
    """The live processes descending from PID with no tracer."""
    parent, tracer = {}, {}
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/status" % d) as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
            parent[int(d)] = int(st["PPid"])
            tracer[int(d)] = int(st["TracerPid"]) or st["State"].strip()[0] == "Z"
        except (OSError, ValueError, KeyError):
            pass

    def descends(p):
        seen = set()
        while p in parent and p not in seen:
            seen.add(p)
            p = parent[p]
            if p == pid:
                return True
        return False
    return [p for p in parent if tracer[p] == 0 and descends(p)]


def seccomp_filters(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Seccomp_filters:"):
                return int(line.split()[1])
    return None


class Blockers:
    """tests/targets/blockers with a line reader on its stdout."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([mtlib.target("blockers"), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)
        self.pid = self.proc.pid
        self.a = Attachee.__new__(Attachee)
        self.a.proc, self.a.pid, self.a.buf = self.proc, self.pid, b""
        line = self.a.readline(timeout=10)
        assert line == "READY %d" % self.pid, line

    def line(self, timeout=10):
        return self.a.readline(timeout)

    def cmd(self, line, timeout=10):
        self.a.send(line)
        return self.a.read_truth(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stdin.close()


def filter_counts(pid):
    """Each thread of PID's Seccomp_filters."""
    counts = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            counts[int(tid)] = int(re.search(r"^Seccomp_filters:\s*(\d+)", f.read(), re.M).group(1))
    return counts


class FilterAttachTest(unittest.TestCase):
    assert_matches_maps = mtlib.AttachCase.assert_matches_maps
    assert_working = mtlib.AttachCase.assert_working
    poll_report = mtlib.AttachCase.poll_report
    outstanding = mtlib.AttachCase.outstanding

    def blockers(self, *args):
        b = Blockers(*args)
        self.addCleanup(b.kill)
        return b

    def attach(self, pid, opts=FILTER):
        d = AttachDaemon(pid, opts)
        self.addCleanup(d.kill)
        return d, d.wait_state("running")

    def wait_blocked(self, pid, n):
        """Wait until N threads besides the main one sleep (S) inside a
        system call (/proc/PID/task/TID/syscall names its number)."""
        def in_call(tid):
            try:
                with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
                    return f.read().split()[0].isdigit()
            except (OSError, IndexError):
                return False

        def sleeping():
            states = mtlib.task_states(pid)
            return sum(1 for tid, st in states.items()
                       if tid != pid and st == "S" and in_call(tid)) >= n
        self.assertTrue(wait_for(sleeping), "threads never blocked: %s" % mtlib.task_states(pid))

    def check_results(self, b):
        b.a.send("wake")
        got = {}
        while True:
            line = b.line(timeout=10)
            if line.startswith("TRUTH"):
                break
            name, *vals = line.split()[1:]
            got[name] = [int(v) for v in vals]
        self.assertEqual(got, {"read": [1, 0], "epoll_wait": [1, 0], "futex": [0, 0],
                               "nanosleep": [0, 0, 1]},
                         "each blocked call ends with the result it would have had untraced")

    def test_blocked_calls_complete(self):
        """Threads blocked at the attach end their calls as untraced; accounting is exact."""
        b = self.blockers("block")
        self.wait_blocked(b.pid, 4)
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter", st["attach"])
        self.assertEqual(seccomp_filters(b.pid), 1)
        self.check_results(b)
        self.assertEqual(b.cmd("signal")["signals"], 1, "the signal reached its handler")
        before = d.ctl("status")["events"]["by_syscall"]
        self.assertEqual(b.cmd("map 200")["failed"], 0)
        after = wait_for(lambda: (lambda s: s if s["mmap"] >= before["mmap"] + 200 and
                                  s["munmap"] >= before["munmap"] + 200 else None)(
            d.ctl("status")["events"]["by_syscall"]))
        self.assertTrue(after, "the filter's stops were not recorded: %s" % before)
        self.assert_matches_maps(d, b.pid)
        # Only memory calls stop: the thousands of other calls made no event.
        self.assertEqual(sum(after.values()) - sum(before.values()),
                         sum(after[k] - before[k] for k in ("mmap", "munmap")))

    def test_fork_after_attach_is_followed(self):
        """A child forked under the filter is traced: its calls work and are counted."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        t = b.cmd("fork")
        self.assertEqual(t["failed"], 0, "memory calls of the forked child failed")
        self.assertTrue(wait_for(lambda: d.ctl("status")["events"]["children"] >= 200),
                        "the child's calls were not seen: %s" % d.ctl("status")["events"])
        self.assert_matches_maps(d, b.pid)

    def test_attachee_works(self):
        """attachee's threads (read, cond_wait, nanosleep, a thread storm) all go on."""
        a = Attachee([mtlib.target("attachee"), "-k", "3"])
        self.addCleanup(a.kill)
        d, st = self.attach(a.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        self.assert_working(a)
        self.assert_matches_maps(d, a.pid)

    def test_tsync_conflict_falls_back(self):
        """A thread with a filter of its own: syscall mode, and status says why."""
        b = self.blockers("block", "own-filter")
        self.wait_blocked(b.pid, 4)
        before = filter_counts(b.pid)
        self.assertEqual(sorted(before.values()), [0, 0, 0, 0, 1], before)
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "syscall")
        self.assertIn("TSYNC", st["attach"]["note"])
        # Whichever thread the attach borrowed, none was given another's filter.
        self.assertEqual(filter_counts(b.pid), before)
        self.check_results(b)
        self.assertEqual(b.cmd("map 50")["failed"], 0)
        d.ctl("stop")
        self.assertEqual(d.finish(timeout=20), 0)
        self.assertTrue(wait_for(lambda: all(v == 0 for v in tracer_pids(b.pid).values())))
        self.assertEqual(b.cmd("map 50")["failed"], 0)

    def test_filter_of_an_earlier_daemon_is_reused(self):
        """A second memtraced finds the first one's filter and does not stack another."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        self.assertEqual(seccomp_filters(b.pid), 1)
        guard = st["attach"]["guard"]
        self.assertGreater(guard, 0, st["attach"])
        # The target makes no memory call meanwhile: it is blocked.  With
        # memtraced and its guard gone, nothing traces the filter's calls.
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the guard did not take over: %s" % tracer_pids(b.pid))
        os.kill(guard, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: all(v == 0 for v in tracer_pids(b.pid).values())))
        d2, st2 = self.attach(b.pid)
        self.assertEqual(st2["attach"]["mode"], "filter")
        self.assertIn("already", st2["attach"]["note"])
        self.assertEqual(seccomp_filters(b.pid), 1, "a second filter was stacked")
        self.check_results(b)
        self.assertEqual(b.cmd("map 50")["failed"], 0)
        self.assertTrue(wait_for(lambda: d2.ctl("status")["events"]["by_syscall"]["mmap"] >= 50))

    def end(self, d, how):
        """End memtraced D by HOW: "stop" (memtracectl stop) or a signal's name."""
        if how == "stop":
            d.ctl("stop")
        else:
            d.proc.send_signal(getattr(signal, how))

    def check_end(self, how):
        """End memtraced by HOW while the target maps and unmaps: it hands
        the target over to its guard and exits at once, the guard holds
        every thread and ends the handover's stop, not one call fails, and
        the guard leaves with the target."""
        b = self.blockers("churn", "6")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        self.assertTrue(pid_alive(guard), st["attach"])
        # Stopped in the middle of the calls: memtraced has seen some.
        self.assertTrue(wait_for(lambda: d.ctl("status")["events"]["by_syscall"]["mmap"] > 100))
        self.end(d, how)
        self.assertEqual(d.finish(timeout=10), 0, d.err)
        self.assertIsNone(b.proc.poll(), "memtraced did not exit before the target: %s" % d.err)
        self.assertIn("stop: pid %d carries memtrace's seccomp filter; memtraced-guard (pid %d) "
                      "resumes its memory calls until it exits" % (b.pid, guard), d.err)
        self.assertEqual(set(tracer_pids(b.pid).values()), {guard}, "the guard holds every thread")
        self.assertTrue(wait_for(lambda: mtlib.proc_state(b.pid) != "T"),
                        "the target was left stopped")
        self.assertEqual(b.proc.wait(timeout=30), 0, "the target saw failed memory calls")
        line = b.line()
        self.assertTrue(line.startswith("CHURN ") and line.endswith(" failed=0"), line)
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived the target")

    def check_end_unguarded(self, how):
        """The guard killed first, memtraced ended by HOW while the target
        maps and unmaps: memtraced becomes a keeper, resumes every call until
        the target exits, and then exits too."""
        b = self.blockers("churn", "4")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        os.kill(st["attach"]["guard"], signal.SIGKILL)
        self.assertTrue(wait_for(lambda: d.ctl("status")["attach"]["guard"] == 0),
                        d.ctl("status")["attach"])
        self.end(d, how)
        self.assertTrue(wait_for(lambda: (d.ctl("status", check=False) or {}).get(
            "attach", {}).get("keeping")), "memtraced did not turn keeper")
        self.assertTrue(wait_for(lambda: comm(d.proc.pid) == "memtraced-keep"), comm(d.proc.pid))
        self.assertIsNone(d.proc.poll(), "memtraced left a target that carries its filter")
        self.assertEqual(b.proc.wait(timeout=30), 0, "the target saw failed memory calls")
        line = b.line()
        self.assertTrue(line.startswith("CHURN ") and line.endswith(" failed=0"), line)
        self.assertEqual(d.finish(timeout=10), 0, d.err)
        self.assertIn("stop: pid %d carries memtrace's seccomp filter; with no guard to hand it "
                      "to, memtraced stays" % b.pid, d.err)

    def test_end_by_sigkill(self):
        """memtraced killed: its guard takes over every thread, the blocked
        calls end as untraced, memory calls, signals and a fork work, and
        the guard leaves with the target."""
        b = self.blockers("block")
        self.wait_blocked(b.pid, 4)
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        self.assertTrue(pid_alive(guard), st["attach"])
        self.assertTrue(wait_for(lambda: comm(guard) == "memtraced-guard"), comm(guard))
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the guard did not take over: %s" % tracer_pids(b.pid))
        self.check_results(b)
        self.assertEqual(b.cmd("map 500")["failed"], 0)
        self.assertEqual(b.cmd("signal")["signals"], 1, "the signal reached its handler")
        self.assertEqual(b.cmd("fork")["failed"], 0, "memory calls of the forked child failed")
        self.assertEqual(set(tracer_pids(b.pid).values()), {guard})
        b.kill()
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived the target")

    def spawn(self, b, seconds, go=False, orphan=False):
        """Have blockers B fork its "spawn" child (see blockers.c) and wait
        until memtraced traces it; returns its pid."""
        child = b.cmd("spawn %g%s%s" % (seconds, " go" if go else "",
                                        " orphan" if orphan else ""))["child"]
        self.addCleanup(lambda: pid_alive(child) and os.kill(child, signal.SIGKILL))
        self.assertTrue(wait_for(lambda: (lambda t: t and 0 not in t.values())(
            tracer_pids(child))), "the forked child was not traced: %s" % tracer_pids(child))
        return child

    def spawned(self, b):
        """The "SPAWNED" line of the spawn child, as a dict of numbers."""
        while True:
            line = b.line(timeout=30)
            if line.startswith("SPAWNED "):
                return {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}

    def test_guard_takes_forked_child(self):
        """memtraced killed: its guard takes over a child the target forked
        under the filter too; the child's memory calls, forks and execs then
        all work, and the guard leaves when the last of them exits."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        child = self.spawn(b, 1.5)
        # Killed in the child's memory call, memtraced would fail it: wait until it sleeps.
        self.assertTrue(wait_for(lambda: mtlib.in_syscall(child, SYS_RT_SIGTIMEDWAIT)),
                        "the child never waited for its signal")
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard} and
                                 set(tracer_pids(child).values()) == {guard}),
                        "the guard did not take the forked child over: target %s, child %s"
                        % (tracer_pids(b.pid), tracer_pids(child)))
        os.kill(child, signal.SIGUSR2)
        r = self.spawned(b)
        self.assertEqual(r["failed"], 0, "memory calls of the forked child failed: %s" % r)
        self.assertGreater(r["execs"], 0, r)
        self.assertGreater(r["ok"], 1000, r)
        b.kill()
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived the target")

    def test_guard_takes_orphan(self):
        """memtraced killed: its guard takes over a process forked under the
        filter whose parent has exited (init's child now, out of the target's
        tree in /proc): memtraced told the guard of it at its fork."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        orphan = self.spawn(b, 1.0, orphan=True)
        with open("/proc/%d/status" % orphan) as f:
            self.assertNotIn("PPid:\t%d\n" % b.pid, f.read())
        self.assertTrue(wait_for(lambda: mtlib.in_syscall(orphan, SYS_RT_SIGTIMEDWAIT)),
                        "the orphan never waited for its signal")
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(orphan).values()) == {guard}),
                        "the guard did not take the orphan over: %s" % tracer_pids(orphan))
        os.kill(orphan, signal.SIGUSR2)
        r = self.spawned(b)
        self.assertEqual(r["failed"], 0, "memory calls of the orphan failed: %s" % r)
        self.assertGreater(r["execs"], 0, r)
        b.kill()
        self.assertTrue(wait_for(lambda: not pid_alive(orphan)))
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived them")

    def test_guard_takes_churning_child(self):
        """memtraced killed while a forked child maps and unmaps: once the
        guard has it, not one of its calls fails (only the instant of the
        kill may, see memtraced(8))."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        child = self.spawn(b, 2, go=True)
        self.assertTrue(wait_for(lambda: d.ctl("status")["events"]["children"] >= 1000),
                        "the child's calls were not seen: %s" % d.ctl("status")["events"])
        d.proc.kill()
        d.proc.wait()
        # Taken over once the child is the guard's and no process it forked
        # before that (a grandchild, found by the guard's next look) is untraced.
        self.assertTrue(wait_for(lambda: set(tracer_pids(child).values()) == {guard} and
                                 not untraced_descendants(b.pid), interval=0.001),
                        "the guard did not take the forked child over: %s %s"
                        % (tracer_pids(child), untraced_descendants(b.pid)))
        taken = time.monotonic_ns()
        r = self.spawned(b)
        self.assertLess(r["last_fail_ns"], taken, "memory calls failed after the guard took "
                        "the child over: %s" % r)
        self.assertGreater(r["forks"], 0, r)
        sys.stderr.write("child's failed calls at the kill: %d of %d\n"
                         % (r["failed"], r["ok"] + r["failed"]))

    def test_keeper_follows_forks(self):
        """With no guard, a keeper resumes the memory calls of a child forked
        before or after the stop, and of the processes it forks and execs;
        it exits when the last of them has."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        os.kill(st["attach"]["guard"], signal.SIGKILL)
        self.assertTrue(wait_for(lambda: d.ctl("status")["attach"]["guard"] == 0))
        before = self.spawn(b, 1.5)
        d.ctl("stop")
        self.assertTrue(wait_for(lambda: comm(d.proc.pid) == "memtraced-keep"), comm(d.proc.pid))
        after = self.spawn(b, 1.5, go=True)
        os.kill(before, signal.SIGUSR2)
        for _ in (before, after):
            r = self.spawned(b)
            self.assertEqual(r["failed"], 0, "memory calls failed under the keeper: %s" % r)
            self.assertGreater(r["execs"], 0, r)
        self.assertIsNone(d.proc.poll(), "the keeper left")
        b.a.send("exit")
        self.assertEqual(b.proc.wait(timeout=10), 0)
        self.assertTrue(wait_for(lambda: not pid_alive(before) and not pid_alive(after)))
        self.assertEqual(d.finish(timeout=10), 0, d.err)

    def test_stop_with_forked_child(self):
        """A stop while memtraced traces a child the target forked: the
        target goes to the guard, memtraced stays for the child (and what
        it forks and execs) and exits after it; a child forked after the
        stop is the guard's; not one memory call fails."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        before = self.spawn(b, 1.5)
        d.ctl("stop")
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the guard did not take the target: %s" % tracer_pids(b.pid))
        self.assertTrue(wait_for(lambda: mtlib.proc_state(b.pid) != "T"),
                        "the target was left stopped")
        self.assertEqual(set(tracer_pids(before).values()), {d.proc.pid})
        after = self.spawn(b, 1.5, go=True)
        self.assertEqual(set(tracer_pids(after).values()), {guard})
        os.kill(before, signal.SIGUSR2)
        for _ in (before, after):
            r = self.spawned(b)
            self.assertEqual(r["failed"], 0, "memory calls failed: %s" % r)
            self.assertGreater(r["execs"], 0, r)
        self.assertEqual(d.finish(timeout=10), 0, d.err)
        self.assertIn("memtraced-guard (pid %d) resumes its memory calls until it exits; "
                      "memtraced stays until the processes it forked" % guard, d.err)
        self.assertEqual(b.cmd("map 200")["failed"], 0)
        b.a.send("exit")
        self.assertEqual(b.proc.wait(timeout=10), 0)
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived the target")

    def test_stop_then_kill_with_forked_child(self):
        """Stopped with a forked child it traces, memtraced hands the target
        to the guard and stays for the child; killed then, the guard, which
        traces the target, takes the child over too."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        child = self.spawn(b, 1.5)
        self.assertTrue(wait_for(lambda: mtlib.in_syscall(child, SYS_RT_SIGTIMEDWAIT)),
                        "the child never waited for its signal")
        d.ctl("stop")
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the guard did not take the target: %s" % tracer_pids(b.pid))
        self.assertEqual(set(tracer_pids(child).values()), {d.proc.pid})
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(child).values()) == {guard}),
                        "the guard did not take the child: %s" % tracer_pids(child))
        os.kill(child, signal.SIGUSR2)
        r = self.spawned(b)
        self.assertEqual(r["failed"], 0, "memory calls of the child failed: %s" % r)
        self.assertGreater(r["execs"], 0, r)
        self.assertEqual(b.cmd("map 200")["failed"], 0)
        b.kill()
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived the target")

    def test_guard_ignores_stop_signals(self):
        """SIGTERM, SIGINT, SIGHUP (a terminal's, systemd's) do not end the guard."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        guard = st["attach"]["guard"]
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            os.kill(guard, sig)
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the guard did not take over: %s" % tracer_pids(b.pid))
        self.assertEqual(b.cmd("map 100")["failed"], 0)

    def test_guard_killed(self):
        """The guard killed while memtraced traces: status stops naming it (its
        pid may be reused, and memtraced signals its guard at every fork),
        and the target's memory calls go on working."""
        b = self.blockers("block")
        d, st = self.attach(b.pid)
        guard = st["attach"]["guard"]
        self.assertGreater(guard, 0)
        os.kill(guard, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: d.ctl("status")["attach"]["guard"] == 0),
                        d.ctl("status")["attach"])
        self.assertEqual(b.cmd("map 100")["failed"], 0)

    def guarded(self):
        """blockers with its threads blocked, attached in filter mode, then
        memtraced killed while the target makes no memory call: its guard
        traces it.  Returns (blockers, guard pid)."""
        b = self.blockers("block")
        self.wait_blocked(b.pid, 4)
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the guard did not take over: %s" % tracer_pids(b.pid))
        return b, guard

    def kept(self, guarded=False):
        """blockers with its threads blocked, attached in filter mode, then
        told to stop with no guard to hand it to: memtraced is a keeper.
        Its guard is killed first; or, GUARDED, stopped (SIGSTOP) until
        memtraced, tired of waiting for it to take the target, has taken it
        back: the keeper then keeps its guard.  Returns (blockers, daemon,
        guard pid or 0)."""
        b = self.blockers("block")
        self.wait_blocked(b.pid, 4)
        d, st = self.attach(b.pid)
        self.assertEqual(st["attach"]["mode"], "filter")
        guard = st["attach"]["guard"]
        if guarded:
            os.kill(guard, signal.SIGSTOP)
            self.addCleanup(lambda: pid_alive(guard) and os.kill(guard, signal.SIGCONT))
        else:
            os.kill(guard, signal.SIGKILL)
            self.assertTrue(wait_for(lambda: d.ctl("status")["attach"]["guard"] == 0))
        d.ctl("stop")
        self.assertTrue(wait_for(lambda: (d.ctl("status", check=False) or {}).get(
            "attach", {}).get("keeping")), "memtraced did not turn keeper")
        self.assertTrue(wait_for(lambda: comm(d.proc.pid) == "memtraced-keep"), comm(d.proc.pid))
        if guarded:
            # Handed to the stopped guard (every thread left stopped), then taken back after 10 s.
            self.assertTrue(wait_for(lambda: self.handed(b.pid)), "the handover did not begin: %s"
                            % tracer_pids(b.pid))
            self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {d.proc.pid} and
                                     mtlib.proc_state(b.pid) != "T", timeout=30),
                            "the keeper did not take the target back: %s %s"
                            % (tracer_pids(b.pid), mtlib.task_states(b.pid)))
            os.kill(guard, signal.SIGCONT)
            # Told to stand down, it waits again, holding nothing.
            self.assertTrue(wait_for(lambda: mtlib.proc_state(guard) == "S"))
            self.assertEqual(set(tracer_pids(b.pid).values()), {d.proc.pid})
            return b, d, guard
        return b, d, 0

    def test_takeover_from_keeper(self):
        """A second memtraced takes the target over from a keeper, which
        then exits with its guard: nothing fails, the blocked calls end as
        untraced, accounting is exact."""
        b, d, guard = self.kept(guarded=True)
        d2, st2 = self.attach(b.pid)
        self.assertIn("taken over from a keeper, pid %d" % d.proc.pid, st2["attach"]["note"])
        self.assertEqual(d.finish(timeout=20), 0, d.err)
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the keeper's guard stayed")
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {d2.proc.pid}),
                        tracer_pids(b.pid))
        self.assertEqual(seccomp_filters(b.pid), 1, "a second filter was stacked")
        self.check_results(b)
        self.assertEqual(b.cmd("map 200")["failed"], 0)
        self.assertTrue(wait_for(lambda: d2.ctl("status")["events"]["by_syscall"]["mmap"] >= 200))
        self.assert_matches_maps(d2, b.pid)

    def test_takeover_from_keeper_while_mapping(self):
        """The keeper's handover while the target maps and unmaps: not one call fails."""
        b, d, guard = self.kept()
        b.a.send("map 50000")
        d2, st2 = self.attach(b.pid)
        self.assertIn("taken over from a keeper", st2["attach"]["note"])
        self.assertEqual(b.a.read_truth(60)["failed"], 0, "memory calls failed at the handover")
        self.assertEqual(d.finish(timeout=20), 0, d.err)
        mmaps = wait_for(lambda: d2.ctl("status")["events"]["by_syscall"]["mmap"])
        self.assertTrue(0 < mmaps < 50000, "no overlap with the handover: %s mmaps seen" % mmaps)

    def handed(self, pid):
        """Whether every thread of PID waits stopped (T) with no tracer."""
        states, tracers = mtlib.task_states(pid), tracer_pids(pid)
        return states and all(st == "T" for st in states.values()) and \
            not any(tracers.values())

    def test_keeper_killed_in_handover(self):
        """A keeper killed in its handover, its threads left stopped for a
        new tracer that never comes: its guard takes the target, which then
        runs on without a failed call, and leaves with it."""
        b, d, guard = self.kept(guarded=True)
        self.assertTrue(pid_alive(guard), "the keeper has no guard")
        # What a second memtraced --pid asks; this one will not seize.
        os.kill(d.proc.pid, signal.SIGUSR1)
        self.assertTrue(wait_for(lambda: self.handed(b.pid)),
                        "the keeper did not hand the threads over: %s %s"
                        % (mtlib.task_states(b.pid), tracer_pids(b.pid)))
        d.proc.kill()
        d.proc.wait()
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard}),
                        "the keeper's guard did not take the target over: %s"
                        % tracer_pids(b.pid))
        # The stop is the new memtraced's to end; it would, on failing to seize.
        os.kill(b.pid, signal.SIGCONT)
        # Back in their calls before the wake (the sleeper has long finished): a futex
        # wait restarted after the wake would see the word changed (EAGAIN), traced or not.
        self.wait_blocked(b.pid, 3)
        self.check_results(b)
        self.assertEqual(b.cmd("map 500")["failed"], 0)
        self.assertEqual(b.cmd("signal")["signals"], 1, "the signal reached its handler")
        self.assertEqual(set(tracer_pids(b.pid).values()), {guard})
        b.kill()
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the guard outlived the target")

    def test_keeper_takes_back_an_unclaimed_handover(self):
        """A handover no memtraced completes: the keeper seizes the target
        again and ends its stop, and the target runs on, traced."""
        b, d, guard = self.kept()
        os.kill(d.proc.pid, signal.SIGUSR1)
        self.assertTrue(wait_for(lambda: self.handed(b.pid)),
                        "the keeper did not hand the threads over")
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {d.proc.pid},
                                 timeout=20), "the keeper did not take the target back: %s"
                        % tracer_pids(b.pid))
        self.assertTrue(wait_for(lambda: mtlib.proc_state(b.pid) != "T"),
                        "the target was left stopped")
        self.check_results(b)
        self.assertEqual(b.cmd("map 500")["failed"], 0)
        self.assertIsNone(d.proc.poll(), "the keeper left")
        b.a.send("exit")
        self.assertEqual(b.proc.wait(timeout=10), 0)
        self.assertEqual(d.finish(timeout=10), 0, d.err)
        self.assertIn("no memtraced took it over; kept again", d.err)

    def test_keeper_killed_while_taken_over(self):
        """A keeper killed while a second memtraced takes the target over:
        one of the two (the new memtraced, or the keeper's guard) ends up
        with every thread, the target is not left stopped, and not one of
        its calls fails."""
        b, d, guard = self.kept(guarded=True)
        b.a.send("map 30000")
        d2 = AttachDaemon(b.pid, FILTER)
        self.addCleanup(d2.kill)
        self.assertTrue(wait_for(lambda: self.handed(b.pid) or
                                 d2.proc.pid in tracer_pids(b.pid).values(), interval=0.0005),
                        "no handover seen: tracers %s, new memtraced exit %s"
                        % (tracer_pids(b.pid), d2.proc.poll()))
        d.proc.kill()
        d.proc.wait()
        self.assertEqual(b.a.read_truth(60)["failed"], 0, "memory calls failed at the handover")
        owners = set(tracer_pids(b.pid).values())
        self.assertIn(owners, ({d2.proc.pid}, {guard}), owners)
        self.assertNotEqual(mtlib.proc_state(b.pid), "T", "the target was left stopped")
        sys.stderr.write("taken by %s\n" % ("the keeper's guard" if owners == {guard}
                                             else "the new memtraced"))
        if owners == {guard}:
            self.assertNotEqual(d2.finish(timeout=20), 0, "the new memtraced holds nothing")
        else:
            self.assertTrue(wait_for(lambda: not pid_alive(guard)),
                            "the keeper's guard stayed after the handover")
        self.assertEqual(b.cmd("map 200")["failed"], 0)

    def test_takeover_from_guard(self):
        """A second memtraced takes the target over from the guard: the
        blocked calls end as untraced, nothing fails, the filter is not
        stacked, accounting is exact, and the old guard leaves."""
        b, guard = self.guarded()
        d2, st2 = self.attach(b.pid)
        self.assertEqual(st2["attach"]["mode"], "filter", st2["attach"])
        self.assertIn("taken over from the guard, pid %d" % guard, st2["attach"]["note"])
        self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {d2.proc.pid}),
                        tracer_pids(b.pid))
        self.assertTrue(wait_for(lambda: not pid_alive(guard)), "the old guard stayed")
        self.assertNotEqual(st2["attach"]["guard"], guard)
        self.assertTrue(pid_alive(st2["attach"]["guard"]), "no new guard")
        self.assertEqual(seccomp_filters(b.pid), 1, "a second filter was stacked")
        self.assertNotEqual(mtlib.proc_state(b.pid), "T", "the target was left stopped")
        self.check_results(b)
        self.assertEqual(b.cmd("signal")["signals"], 1, "the signal reached its handler")
        self.assertEqual(b.cmd("map 200")["failed"], 0)
        self.assertTrue(wait_for(lambda: d2.ctl("status")["events"]["by_syscall"]["mmap"] >= 200))
        self.assert_matches_maps(d2, b.pid)

    def test_takeover_while_mapping(self):
        """The handover while the target maps and unmaps: not one call fails."""
        b, guard = self.guarded()
        b.a.send("map 50000")
        d2, st2 = self.attach(b.pid)
        self.assertIn("taken over from the guard", st2["attach"]["note"])
        self.assertEqual(b.a.read_truth(60)["failed"], 0, "memory calls failed at the handover")
        self.assertEqual(set(tracer_pids(b.pid).values()), {d2.proc.pid})
        # The handover came in the middle of the calls: some were the guard's, some ours.
        mmaps = wait_for(lambda: d2.ctl("status")["events"]["by_syscall"]["mmap"])
        self.assertTrue(0 < mmaps < 50000, "no overlap with the handover: %s mmaps seen" % mmaps)

    def test_end_by_stop_command(self):
        self.check_end("stop")

    def test_end_by_sigterm(self):
        self.check_end("SIGTERM")

    def test_end_by_sigint(self):
        self.check_end("SIGINT")

    def test_killed_in_stop_handover(self):
        """memtraced SIGKILLed at a random moment of the handover its
        SIGTERM began (it takes a few milliseconds; from the first thread it
        leaves), while the target maps and unmaps, eight times: the target
        is never left stopped, ends up with every thread traced by the
        guard, and not one of its calls fails."""
        rng = random.Random(os.getpid())
        alive_at_kill = 0
        for round in range(8):
            b = self.blockers("churn", "3")
            d, st = self.attach(b.pid)
            self.assertEqual(st["attach"]["mode"], "filter")
            guard = st["attach"]["guard"]
            self.assertTrue(wait_for(lambda: d.ctl("status")["events"]["by_syscall"]["mmap"] > 100))
            delay = rng.uniform(0, 0.003)
            d.proc.send_signal(signal.SIGTERM)
            # In the handover: once a thread has left memtraced, after its SIGSTOP
            # (a kill before is a plain SIGKILL, see test_end_by_sigkill).
            self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) != {d.proc.pid},
                                     interval=0.0002), "memtraced never began the handover")
            time.sleep(delay)  # the moment of the kill, not a wait for a state
            alive = d.proc.poll() is None
            d.proc.kill()
            d.proc.wait()
            alive_at_kill += alive
            what = "round %d, killed %.1f ms into the handover%s" % (
                round, delay * 1000, "" if alive else " (it had exited)")
            sys.stderr.write(what + "\n")
            self.assertTrue(wait_for(lambda: set(tracer_pids(b.pid).values()) == {guard} and
                                     mtlib.proc_state(b.pid) != "T"),
                            "%s: the guard does not hold the running target: %s %s"
                            % (what, tracer_pids(b.pid), mtlib.task_states(b.pid)))
            self.assertEqual(b.proc.wait(timeout=30), 0, "%s: failed memory calls" % what)
            line = b.line()
            self.assertTrue(line.startswith("CHURN ") and line.endswith(" failed=0"),
                            "%s: %s" % (what, line))
            self.assertTrue(wait_for(lambda: not pid_alive(guard)),
                            "%s: the guard outlived the target" % what)
            b.kill()
            d.kill()
        self.assertGreater(alive_at_kill, 0, "every kill came after memtraced had exited")

    def test_end_unguarded_by_stop_command(self):
        self.check_end_unguarded("stop")

    def test_end_unguarded_by_sigterm(self):
        self.check_end_unguarded("SIGTERM")


if __name__ == "__main__":
    mtlib.main()
