#!/usr/bin/env python3
"""Trend alerts end to end: a steady leak raises warn long before the
percentage warn would, and a sawtooth never raises it.

Two daemons run at once (the machine is shared; this halves the wait):
  steady:   leakshape steady -i 2000 -n 64 under --ceiling 1G: a 16 MiB
            chunk every 2 s, never freed.  The percentage warn (80 %) would
            come at chunk 52, about 102 s in; the trend rule (20 s of steady
            growth, ceiling within the 12 h horizon) must warn in the first
            35 s.
  sawtooth: leakshape sawtooth -i 1000 -n 12 under --ceiling 256M: twelve
            chunks a second apart (75 % of the ceiling, under the 80 % warn),
            then all freed, again and again for 60 s.  No alert of any
            kind, and the trend level stays ok at every poll.
Both are polled (status, alerts) every half second; the steady daemon's
check and metrics answers are read once its trend alert is up.
"""
import json
import math
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

CHUNK = 16781312
MIB = 1 << 20
REASON = re.compile(r"^\+[0-9.]+ (B|KiB|MiB|GiB)/s for [0-9.]+ (s|min|h), ceiling in [0-9.]+ (s|min|h)$")


def ctl_text(sock, *args):
    return subprocess.run([mtlib.MEMTRACECTL, "-s", sock, *args], capture_output=True,
                          text=True, timeout=30)


class TrendAlerts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        leak = mtlib.target("leakshape")
        if not os.path.exists(leak):
            mtlib.skip("leakshape is not built (make)")
        cls.steady = mtlib.Daemon([leak, "steady", "-i", "2000", "-n", "64", "-t", "40"],
                                  opts=["--ceiling", "1G"])
        cls.saw = mtlib.Daemon([leak, "sawtooth", "-i", "1000", "-n", "12", "-t", "60"],
                               opts=["--ceiling", "256M"])
        cls.steady.wait_socket()
        cls.saw.wait_socket()
        cls.t0 = time.time()
        cls.first_trend = None  # (seconds, alert, status) of the steady daemon's first trend alert
        cls.steady_extra = None  # (check, metrics) read while the trend alert was up
        cls.saw_levels = []  # (seconds, trend level, level, steady) of every sawtooth poll
        cls.saw_alerts = None
        deadline = cls.t0 + 64
        steady_alive = True
        while time.time() < deadline:
            now = time.time() - cls.t0
            if steady_alive and cls.steady.proc.poll() is None:
                try:
                    st = cls.steady.ctl("status")
                    al = cls.steady.ctl("alerts")
                except Exception:
                    steady_alive = False
                    st = al = None
                trend = [a for a in (al or {}).get("alerts", [])
                         if a.get("cause") == "trend" and a["state"] == "raised"]
                if trend and cls.first_trend is None:
                    cls.first_trend = (now, trend[0], st)
                    chk = ctl_text(cls.steady.sock, "check")
                    met = cls.steady.ctl("metrics")["text"]
                    cls.steady_extra = (chk, met, ctl_text(cls.steady.sock, "status").stdout)
            if cls.saw.proc.poll() is None:
                try:
                    st = cls.saw.ctl("status")
                    cls.saw_levels.append((now, st["trend"]["level"], st["ceiling"]["level"],
                                           st["trend"]["steady"]))
                    cls.saw_alerts = cls.saw.ctl("alerts")["alerts"]
                except Exception:
                    pass
            elif cls.first_trend is not None:
                break
            time.sleep(0.5)
        cls.steady.kill()
        cls.steady.finish()
        cls.saw_rc = cls.saw.finish(timeout=30)
        cls.saw_truth = mtlib.truth(cls.saw.out)

    @classmethod
    def tearDownClass(cls):
        cls.steady.kill()
        cls.saw.kill()

    def test_steady_leak_warns_early(self):
        self.assertIsNotNone(self.first_trend, "no trend alert from a steady leak in 64 s")
        when, alert, _ = self.first_trend
        self.assertEqual(alert["level"], "warn")
        self.assertLessEqual(when, 35, "trend warn only %.1f s after start" % when)
        # The percentage warn is far away: at 80 % of 1 GiB, chunk 52, ~102 s in.
        self.assertLess(alert["percent"], 40)
        pct_warn_at = math.ceil(0.8 * (1 << 30) / CHUNK) * 2.0
        self.assertGreaterEqual(pct_warn_at - when, 60)
        print("trend warn %.1f s after start at %.1f%%; the percentage warn would come at "
              "about %.0f s" % (when, alert["percent"], pct_warn_at))

    def test_steady_alert_says_why(self):
        self.assertIsNotNone(self.first_trend)
        _, alert, _ = self.first_trend
        self.assertRegex(alert["reason"], REASON)
        # 16 MiB every 2 s is 8 MiB/s; the eta matches the reason's projection.
        self.assertAlmostEqual(alert["rate_bytes_per_s"] / MIB, 8.0, delta=1.0)
        self.assertGreater(alert["eta_s"], 0)
        self.assertAlmostEqual(alert["eta_s"],
                               (alert["ceiling"] - alert["bytes"]) / alert["rate_bytes_per_s"],
                               delta=1.0)

    def test_steady_check_and_metrics(self):
        self.assertIsNotNone(self.steady_extra)
        chk, met, status_text = self.steady_extra
        # Warn or crit (an ETA of about 100 s is inside the 10 min crit horizon too).
        self.assertIn(chk.returncode, (1, 2), chk.stdout)
        self.assertRegex(chk.stdout, r"; trend \+[0-9.]+ MiB/s for [0-9]+ s, ceiling in [0-9]+ s \(alert\) \|")
        self.assertRegex(chk.stdout, r" ceiling_eta=[0-9]+s$")
        values = {}
        for line in met.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name.split("{", 1)[0]] = float(value)  # one target: its labels aside
        self.assertGreaterEqual(values["memtrace_trend_level"], 1)
        self.assertGreater(values["memtrace_trend_eta_seconds"], 0)
        self.assertLess(values["memtrace_trend_eta_seconds"], 200)
        self.assertGreater(values["memtrace_trend_growth_bytes_per_second"], 6 * MIB)
        self.assertRegex(met, r"(?m)^# trend: \+[0-9.]+ MiB/s for ")
        self.assertRegex(status_text, r"(?m)^trend        \+[0-9.]+ MiB/s for .*level (warn|crit)")

    def test_sawtooth_never_raises(self):
        self.assertEqual(self.saw_rc, 0)
        t = self.saw_truth
        # The sawtooth really happened: teeth of twelve chunks, freed, several times.
        self.assertGreaterEqual(t["mapped"], 48)
        self.assertGreaterEqual(t["unmapped"], 36)
        self.assertGreaterEqual(len(self.saw_levels), 60)
        self.assertGreater(self.saw_levels[-1][0], 50)
        for now, trend, level, steady in self.saw_levels:
            self.assertEqual(trend, "ok", "sawtooth trend %s at %.1f s" % (trend, now))
            self.assertEqual(level, "ok", "sawtooth level %s at %.1f s" % (level, now))
        self.assertEqual(self.saw_alerts, [], json.dumps(self.saw_alerts))


if __name__ == "__main__":
    mtlib.main()
