#!/usr/bin/env python3
"""Metrics labels for a fleet: every series names its target (--name, the
config's name key, or the program), memtrace_target_info alone carries the
PID and the mode, two daemons' textfiles merge without a clash, and the
--metrics-file a daemon leaves behind says its target no longer runs.

    memtraced --name web -- sleep 30
    memtracectl metrics   ->  memtrace_chunk_bytes{target="web"} 0
                              memtrace_target_info{target="web",pid="N",mode="launch"} 1
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import mtlib
from test_alerts import parse_exposition


def metrics(sock):
    r = mtlib.ctl_run(sock, "metrics")
    if r.returncode != 0:
        raise AssertionError("memtracectl metrics: %d %s" % (r.returncode, r.stderr))
    return r.stdout


def labelsets(fams):
    """{(family, frozenset(labels without target))} and the set of target values."""
    series, targets = set(), set()
    for name, fam in fams.items():
        for lb, _ in fam["samples"]:
            targets.add(lb.get("target"))
            series.add((name, frozenset((k, v) for k, v in lb.items() if k != "target")))
    return series, targets


class Labels(unittest.TestCase):

    def stopped(self, d):
        """Kill D at the test's end and close its pipes."""
        def done():
            d.kill()
            for f in (d.proc.stdout, d.proc.stderr):
                if f:
                    f.close()
        self.addCleanup(done)

    def launch(self, opts=(), argv=("/bin/sleep", "30")):
        d = mtlib.Daemon(list(argv), opts=list(opts))
        self.stopped(d)
        d.wait_socket()
        mtlib.wait_for(lambda: mtlib.ctl_run(d.sock, "metrics").returncode == 0)
        return d

    def check_fleet_labels(self, text, name, pid, mode):
        fams = parse_exposition(text)
        series, targets = labelsets(fams)
        self.assertEqual(targets, {name}, "every series carries target=%r" % name)
        info = fams["memtrace_target_info"]["samples"]
        self.assertEqual(info, [({"target": name, "pid": str(pid), "mode": mode}, 1)])
        # The PID and the mode stay off every other series: a restart adds
        # one series, not a new copy of each.
        for fam, labels in series:
            if fam != "memtrace_target_info":
                self.assertFalse({"pid", "mode"} & {k for k, _ in labels}, fam)
        # No label other than the target takes more than a handful of values.
        values = {}
        for fam, labels in series:
            for k, v in labels:
                values.setdefault(k, set()).add(v)
        for k, vs in values.items():
            if k != "pid":
                self.assertLessEqual(len(vs), 8, "label %s: %s" % (k, sorted(vs)))
        return fams

    def test_name_option(self):
        d = self.launch(["--name", "web"])
        pid = mtlib.target_pid(d)
        self.check_fleet_labels(metrics(d.sock), "web", pid, "launch")

    def test_default_is_the_program(self):
        d = self.launch([], argv=(mtlib.target("chunkhold"), "-n", "1", "-h", "30000"))
        self.check_fleet_labels(metrics(d.sock), "chunkhold", mtlib.target_pid(d), "launch")

    def test_config_key_and_command_line(self):
        tmp = tempfile.mkdtemp(prefix="mt-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "app.conf")
        with open(conf, "w") as f:
            f.write("name = from-file\n")
        d = self.launch(["-c", conf])
        self.check_fleet_labels(metrics(d.sock), "from-file", mtlib.target_pid(d), "launch")
        d = self.launch(["-c", conf, "--name", "from-cli"])
        self.check_fleet_labels(metrics(d.sock), "from-cli", mtlib.target_pid(d), "launch")

    def test_attach_mode(self):
        p = subprocess.Popen(["/bin/sleep", "60"])
        self.addCleanup(lambda: (p.kill(), p.wait()))
        d = mtlib.AttachDaemon(p.pid)
        self.stopped(d)
        d.wait_state("running")
        self.check_fleet_labels(metrics(d.sock), "sleep", p.pid, "attach")

    def test_label_value_escaped(self):
        name = 'a "quoted" \\ name'
        d = self.launch(["--name", name])
        text = metrics(d.sock)
        self.assertIn('target="a \\"quoted\\" \\\\ name"', text)
        self.check_fleet_labels(text, name, mtlib.target_pid(d), "launch")

    def test_two_textfiles_merge(self):
        """node_exporter's textfile collector refuses a series that two files
        both hold; two daemons on a host never write the same one."""
        a = self.launch(["--name", "app"])
        b = self.launch(["--name", "db"])
        fa, fb = parse_exposition(metrics(a.sock)), parse_exposition(metrics(b.sock))
        keys = lambda fams: {(n, tuple(sorted(lb.items())))
                             for n, f in fams.items() for lb, _ in f["samples"]}
        self.assertEqual(keys(fa) & keys(fb), set())
        self.assertEqual({n: f["help"] for n, f in fa.items()},
                         {n: f["help"] for n, f in fb.items()})
        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=metrics(a.sock),
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_metrics_file_last_word(self):
        """When memtraced stops, its --metrics-file says so (target_running 0)."""
        tmp = tempfile.mkdtemp(prefix="mt-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "memtrace-web.prom")
        d = self.launch(["--name", "web", "--metrics-file", path])
        def running():
            try:
                with open(path) as f:
                    fams = parse_exposition(f.read())
            except FileNotFoundError:
                return None
            return fams["memtrace_target_running"]["samples"] == [({"target": "web"}, 1)]
        # Rewritten every 5 s; the first file may predate the target's start.
        self.assertTrue(mtlib.wait_for(running, timeout=15), "the file never said running")
        mtlib.ctl_run(d.sock, "stop")
        # Launch mode: the target ends with SIGTERM, and memtraced with 128 + 15.
        self.assertEqual(d.finish(timeout=30), 143, d.err)
        with open(path) as f:
            fams = parse_exposition(f.read())
        self.assertEqual(fams["memtrace_target_running"]["samples"], [({"target": "web"}, 0)])
        self.assertFalse(os.path.exists(path + ".tmp"))

    def test_bad_names_refused(self):
        for bad, why in (("", "1 to 63 characters"), ("x" * 64, "1 to 63 characters"),
                         ("a\nb", "control characters")):
            with self.subTest(name=bad):
                r = subprocess.run([mtlib.MEMTRACED, "--no-socket", "--name", bad, "--",
                                    "/bin/true"], capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(why, r.stderr)
        r = subprocess.run([mtlib.MEMTRACED, "--no-socket", "--name", "x" * 63, "--",
                            "/bin/true"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    mtlib.main()
