#!/usr/bin/env python3
"""contrib/: the Prometheus rules and the Grafana dashboard speak memtrace's
metrics as `memtracectl metrics` emits them today.

The names are read from a live memtraced, never from a list kept here: a
metric renamed or dropped in libtrace/metrics.c fails this test until the
rules and the dashboard follow.  With promtool (scripts/install-deps fetches
it into build/tools): `promtool check rules` accepts the rules and every
dashboard query, and `promtool test rules` passes the rules' unit tests.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import mtlib
from test_alerts import parse_exposition

CONTRIB = os.path.join(mtlib.ROOT, "contrib")
RULES = os.path.join(CONTRIB, "prometheus", "memtrace.rules.yml")
RULES_TEST = os.path.join(CONTRIB, "prometheus", "memtrace.rules.test.yml")
DASHBOARD = os.path.join(CONTRIB, "grafana", "memtrace.json")
# A memtrace metric name, not a recording rule's (memtrace:...) nor memtraced.
NAME = re.compile(r"(?<![\w:])memtrace_[a-z0-9_]+")

EMITTED = None


def setUpModule():
    """The families one memtraced emits (launch mode, a running target)."""
    global EMITTED
    d = mtlib.Daemon(["/bin/sleep", "30"], opts=["--name", "contrib"])
    try:
        d.wait_socket()
        r = mtlib.wait_for(lambda: (lambda x: x if x.returncode == 0 else None)(
            mtlib.ctl_run(d.sock, "metrics")), timeout=10)
        if not r:
            raise AssertionError("memtracectl metrics never answered")
        EMITTED = set(parse_exposition(r.stdout))
        mtlib.ctl_run(d.sock, "stop")
        d.finish(timeout=30)
    finally:
        d.kill()
        for f in (d.proc.stdout, d.proc.stderr):
            if f:
                f.close()
    if len(EMITTED) < 10:
        raise AssertionError("too few families: %s" % sorted(EMITTED))


def dashboard_exprs(dash):
    """[(panel title, expr)] of every query, variables' too."""
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            out.append(("variable " + v["name"], q))
    return out


def promtool():
    return shutil.which("promtool")


class Dashboard(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)

    def test_every_metric_is_emitted(self):
        used = set()
        for title, expr in dashboard_exprs(self.dash):
            names = set(NAME.findall(expr))
            self.assertTrue(names, "%s: no memtrace metric in %r" % (title, expr))
            self.assertLessEqual(names, EMITTED, "%s: not emitted: %s" % (title, names - EMITTED))
            used |= names
        # What the dashboard is for: the ceiling, weighed and chunk bytes,
        # growth, the alert level, bytes by class, events and drops.
        for want in ("memtrace_ceiling_bytes", "memtrace_weighed_bytes", "memtrace_chunk_bytes",
                     "memtrace_growth_bytes_per_second", "memtrace_alert_level",
                     "memtrace_outstanding_bytes", "memtrace_events_total",
                     "memtrace_events_dropped_total", "memtrace_ceiling_used_ratio"):
            self.assertIn(want, used)

    def test_queries_follow_the_variables(self):
        """Each panel selector is narrowed to the chosen hosts and targets."""
        names = {v["name"] for v in self.dash["templating"]["list"]}
        self.assertLessEqual({"datasource", "instance", "target"}, names)
        for p in self.dash["panels"]:
            for t in p["targets"]:
                for m in NAME.finditer(t["expr"]):
                    sel = re.match(r"\{([^}]*)\}", t["expr"][m.end():])
                    self.assertIsNotNone(sel, "%s: %s without a selector" % (p["title"], m.group()))
                    self.assertIn('instance=~"$instance"', sel.group(1), p["title"])
                    self.assertIn('target=~"$target"', sel.group(1), p["title"])

    def test_structure(self):
        d = self.dash
        self.assertTrue(d["uid"] and d["title"])
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for p in d["panels"]:
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            self.assertTrue(p["targets"], p["title"])
        # No two panels overlap on the grid.
        cells = {}
        for p in d["panels"]:
            g = p["gridPos"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, "%s overlaps %s" % (p["title"], cells.get((x, y))))
                    cells[(x, y)] = p["title"]

    def test_queries_parse(self):
        """Every query is PromQL promtool accepts (as a recording rule)."""
        if not promtool():
            self.skipTest("promtool is not installed (scripts/install-deps fetches it)")
        tmp = tempfile.mkdtemp(prefix="mt-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "dash.rules.yml")
        with open(path, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, (_, expr) in enumerate(dashboard_exprs(self.dash)):
                if expr.startswith("label_values("):
                    expr = re.match(r"label_values\((.*),\s*\w+\)$", expr).group(1)
                expr = expr.replace("$__rate_interval", "5m")
                f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(expr)))
        r = subprocess.run([promtool(), "check", "rules", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Rules(unittest.TestCase):

    def test_every_metric_is_emitted(self):
        for path in (RULES, RULES_TEST):
            with open(path) as f:
                names = set(NAME.findall(f.read()))
            self.assertTrue(names)
            self.assertLessEqual(names, EMITTED, "%s: not emitted: %s"
                                 % (os.path.basename(path), names - EMITTED))

    def test_promtool(self):
        if not promtool():
            self.skipTest("promtool is not installed (scripts/install-deps fetches it)")
        r = subprocess.run([promtool(), "check", "rules", RULES], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([promtool(), "test", "rules", os.path.basename(RULES_TEST)],
                           cwd=os.path.dirname(RULES_TEST), capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)


if __name__ == "__main__":
    mtlib.main()
