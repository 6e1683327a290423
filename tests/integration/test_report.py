#!/usr/bin/env python3
"""memtracectl report --html: one self-contained page, live and from --report.

Against tests/targets/chunkhold, run through a link whose name holds HTML
("chunk<b>&hold", so the page must escape what the target names), mapping
eight chunks 600 ms apart under a ceiling of 134M: warn is raised at the
seventh chunk and crit at the eighth; then it holds them.  While it holds,
the page is written from the live daemon and compared with status,
threads, stacks and alerts asked at the same time: the summary's exact
byte counts, the thread table's, the flame graph's root (all outstanding
bytes) and its chunkhold frame (the eight chunks), an alert mark and a
table row per alert.  Then memtracectl stop ends the run (the target is
killed holding its chunks, so the --report file holds them too) and the
page is drawn again from that file, with no daemon to ask.  Both pages
must fetch nothing (no http:, https:, src=, href=, url() or @import) and
both are rendered by Debian's chromium, headless: it must exit 0, the DOM
it dumps must hold the SVG charts and the tables, and the page must log
nothing to the console.  Screenshots are left in $MT_BUILD/log/.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mtlib  # noqa: E402

CHUNK = 16781312
NCHUNKS = 8
NAME = "chunk<b>&hold"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--enable-logging=stderr", "--v=0"]


def chromium():
    """The chromium binary, installed through scripts/install-deps when root; else skip."""
    path = shutil.which("chromium")
    if path:
        return path
    if os.geteuid() != 0:
        mtlib.skip("chromium is not installed and only root may install it "
                   "(scripts/install-deps --browser)")
    r = subprocess.run([os.path.join(mtlib.ROOT, "scripts", "install-deps"), "--browser"],
                       capture_output=True, text=True, timeout=900)
    path = shutil.which("chromium")
    if not path:
        mtlib.skip("chromium could not be installed: %s" % (r.stderr.strip() or r.stdout.strip()))
    return path


def summary_value(page, row_id):
    """The exact value (data-value) of summary row ROW_ID."""
    m = re.search(r'<tr id="%s"><th>[^<]*</th><td data-value="(-?\d+)">' % row_id, page)
    if not m:
        raise AssertionError("no summary row %s with a value" % row_id)
    return int(m.group(1))


def table(page, table_id):
    """The <tr> rows of table TABLE_ID, header row excluded, as raw HTML."""
    m = re.search(r'<table id="%s">(.*?)</table>' % table_id, page, re.S)
    if not m:
        raise AssertionError("no table %s" % table_id)
    return re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.S)[1:]


def flame_frames(page):
    """(title text, data-bytes) of every frame of the flame graph."""
    m = re.search(r'<svg id="flame".*?</svg>', page, re.S)
    if not m:
        raise AssertionError("no flame graph")
    return [(html.unescape(t), int(b)) for b, t in
            re.findall(r'<g class="f" data-bytes="(\d+)"><title>(.*?)</title>', m.group(0), re.S)]


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chromium = chromium()
        cls.dir = tempfile.mkdtemp(prefix="mt-report-")
        link = os.path.join(cls.dir, NAME)
        os.symlink(mtlib.target("chunkhold"), link)
        cls.json_path = os.path.join(cls.dir, "report.json")
        cls.d = mtlib.Daemon([link, "-n", str(NCHUNKS), "-i", "600", "-h", "120000"],
                             ["--ceiling", "134M", "--report", cls.json_path])
        try:
            cls.run_target()
        except BaseException:
            cls.d.kill()
            raise

    @classmethod
    def run_target(cls):
        d = cls.d
        d.wait_socket()

        def crit_raised():
            a = d.ctl("alerts")["alerts"]
            return any(x["level"] == "crit" and x["state"] == "raised" for x in a)
        if not mtlib.wait_for(lambda: d.ctl("status")["chunks"]["count"] == NCHUNKS and
                              crit_raised(), timeout=30):
            raise AssertionError("chunkhold never held %d chunks with crit raised: %s"
                                 % (NCHUNKS, d.ctl("status")))
        # The run as the page will show it, asked around the page's own requests.
        cls.status = d.ctl("status")
        cls.threads = d.ctl("threads", "--all")
        cls.stacks = d.ctl("stacks", "--limit", "100000")
        cls.alerts = d.ctl("alerts", "--limit", "256")
        cls.live = os.path.join(cls.dir, "live.html")
        cls.live_run = mtlib.ctl_run(d.sock, "report", "--html", cls.live)
        cls.status_after = d.ctl("status")
        # stop: the target is killed holding its chunks; the --report file keeps them.
        mtlib.ctl_run(d.sock, "stop")
        d.proc.wait(timeout=30)
        cls.from_path = os.path.join(cls.dir, "from.html")
        cls.from_run = mtlib.ctl_run(os.path.join(cls.dir, "no-daemon.sock"), "report",
                                     "--html", cls.from_path, "--from", cls.json_path)

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def has(self, text, pattern):
        """TEXT matches PATTERN (dot matching newlines); a short message when not."""
        self.assertTrue(re.search(pattern, text, re.S), "no match for %r" % pattern)

    def contains(self, text, part, yes=True):
        """PART is (YES) or is not in TEXT; a short message when wrong."""
        self.assertEqual(part in text, yes, "%r %s the page" % (part, "missing from" if yes else "in"))

    def page(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_live_written(self):
        self.assertEqual(self.live_run.returncode, 0, self.live_run.stderr)
        # The chunks held still while the page was written: its numbers are exact.
        for key in ("bytes", "count"):
            self.assertEqual(self.status["outstanding"][key], self.status_after["outstanding"][key])

    def check_page(self, page, exited):
        st = self.status
        # Self-contained: nothing to fetch.
        for bad in ("http:", "https:", "src=", "href=", "url(", "@import", "<link", "<iframe"):
            self.contains(page, bad, False)
        # What the target names is escaped.
        self.contains(page, NAME, False)
        self.contains(page, html.escape(NAME))
        # The summary: exact figures, and the chunks are the target's own.
        self.assertEqual(summary_value(page, "sum-chunks"), NCHUNKS * CHUNK)
        self.assertEqual(summary_value(page, "sum-weighed"), st["ceiling"]["weighed_bytes"])
        self.assertEqual(summary_value(page, "sum-ceiling"), 134 << 20)
        self.assertEqual(summary_value(page, "sum-outstanding"), st["outstanding"]["bytes"])
        # The timeline: both lines, the ceiling and its levels, a mark per alert.
        for cls in ("weighed", "chunk"):
            m = re.search(r'<polyline class="%s" points="([^"]*)"' % cls, page)
            self.assertIsNotNone(m, cls)
            self.assertGreaterEqual(len(m.group(1).split()), 3)
        for cls in ("ceiling", "warn", "crit"):
            self.has(page, r'<line class="%s" ' % cls)
        marks = re.findall(r'<g class="alert (warn|crit) (raised|cleared)">', page)
        self.assertEqual(marks, [(a["level"], a["state"]) for a in self.alerts["alerts"]])
        self.assertIn(("crit", "raised"), marks)
        self.assertIn(("warn", "raised"), marks)
        # The projection only while the target lives and grows toward the ceiling.
        growing = st["growth"]["eta_s"] is not None and st["growth"]["eta_s"] > 0
        if exited:
            self.contains(page, '<line class="projection"', False)
        else:
            self.assertEqual('<line class="projection"' in page, growing, st["growth"])
        # Per thread: chunkhold's thread has its line.
        tid = [t for t in self.threads["threads"] if t["name"] == "nioEventLoop-7"][0]["tid"]
        self.has(page, r'<svg id="threads-chart".*<g class="thread" data-tid="%d"' % tid)
        # The thread table: its outstanding and chunk bytes, exactly.
        rows = [r for r in table(page, "threads-table") if ">nioEventLoop-7<" in r]
        self.assertEqual(len(rows), 1)
        cells = [int(b) for b in re.findall(r'data-bytes="(\d+)"', rows[0])]
        th = [t for t in self.threads["threads"] if t["tid"] == tid][0]
        self.assertEqual(cells[0], th["outstanding"]["bytes"])
        self.assertEqual(cells[1], NCHUNKS * CHUNK)
        # The flame graph: the root is every outstanding byte; the loop frame the chunks.
        frames = flame_frames(page)
        self.assertTrue(frames[0][0].startswith("all \u2014 "), frames[0])
        self.assertEqual(frames[0][1], st["outstanding"]["bytes"])
        loop = [b for t, b in frames if t.startswith("loop (chunkhold)")]
        self.assertEqual(loop, [NCHUNKS * CHUNK])
        # The stacks table: as the stacks answer, largest first.
        rows = table(page, "stacks-table")
        self.assertEqual(len(rows), min(15, len(self.stacks["stacks"])))
        got = [int(re.search(r'data-bytes="(\d+)"', r).group(1)) for r in rows]
        self.assertEqual(got, [s["bytes"] for s in self.stacks["stacks"]][:15])
        # One alerts row per alert.
        self.assertEqual(len(table(page, "alerts-table")), len(self.alerts["alerts"]))
        self.assertIsNotNone(re.search(r'<table id="suspects-table">', page))

    def test_live_page(self):
        self.check_page(self.page(self.live), exited=False)

    def test_from_report(self):
        self.assertEqual(self.from_run.returncode, 0, self.from_run.stderr)
        page = self.page(self.from_path)
        self.check_page(page, exited=True)
        self.contains(page, "from the report file")

    def test_ten_hours(self):
        """A --report file of a ten-hour run, as the daemon's timeline keeps it
        (1025 points): every point is drawn, in order, inside the chart."""
        t0, n, hour = 1700000000 * 10**9, 1025, 3600 * 10**9
        hist = [{"time_ns": t0 + i * 10 * hour // (n - 1), "bytes": i << 20,
                 "chunk_bytes": i << 19, "outstanding_bytes": i << 20,
                 "threads": [{"tid": 7, "bytes": i << 20}]} for i in range(n)]
        rep = {"status": {"ok": True, "target": {"pid": 7, "argv": ["long"], "state": "exited"},
                          "ceiling": {"bytes": 2 << 30, "warn_percent": 80.0,
                                      "crit_percent": 95.0, "weighed_bytes": (n - 1) << 20},
                          "history": hist},
               "alerts": {"alerts": [{"seq": 1, "time_ns": t0 + 9 * hour, "level": "warn",
                                      "state": "raised", "bytes": 900 << 20, "reason": "r"}]},
               "threads": {"threads": [{"tid": 7, "name": "worker<7>"}]},
               "stacks": {"stacks": [{"id": 1, "bytes": (n - 1) << 20, "count": 1,
                                      "frames": ["leaf", "root"]}]}}
        src, out = os.path.join(self.dir, "long.json"), os.path.join(self.dir, "long.html")
        with open(src, "w") as f:
            json.dump(rep, f)
        r = mtlib.ctl_run(os.path.join(self.dir, "none.sock"), "report", "--html", out,
                          "--from", src)
        self.assertEqual(r.returncode, 0, r.stderr)
        page = self.page(out)
        m = re.search(r'<polyline class="weighed" points="([^"]*)"', page)
        xs = [float(p.split(",")[0]) for p in m.group(1).split()]
        self.assertEqual(len(xs), n)
        self.assertEqual(xs, sorted(xs))
        self.assertGreaterEqual(xs[0], 72)
        self.assertLessEqual(xs[-1], 960 - 16)
        # Ticks every two hours, up to the tenth.
        self.contains(page, ">2h 00m</text>")
        self.contains(page, ">10h 00m</text>")
        self.contains(page, "worker&lt;7&gt; (7)")
        self.assertEqual(len(re.findall(r'<g class="alert warn raised">', page)), 1)

    def test_errors(self):
        r = mtlib.ctl_run(self.d.sock, "report")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--html FILE is needed", r.stderr)
        r = mtlib.ctl_run(self.d.sock, "report", "--html", os.path.join(self.dir, "x.html"),
                          "--from", os.path.join(self.dir, "missing.json"))
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.html")))
        r = mtlib.ctl_run(os.path.join(self.dir, "none.sock"), "report", "--html",
                          os.path.join(self.dir, "x.html"))
        self.assertEqual(r.returncode, 3)

    def render(self, path, what):
        """Render PATH in chromium: the dumped DOM and the console lines."""
        prof = tempfile.mkdtemp(prefix="mt-chromium-", dir=self.dir)
        r = subprocess.run([self.chromium, *CHROMIUM_ARGS, "--user-data-dir=" + prof,
                            "--dump-dom", "file://" + path],
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
        self.assertEqual(console, [], "the page logged to the console")
        shot = os.path.join(mtlib.BUILD, "log", "report-%s.png" % what)
        os.makedirs(os.path.dirname(shot), exist_ok=True)
        s = subprocess.run([self.chromium, *CHROMIUM_ARGS, "--user-data-dir=" + prof,
                            "--window-size=1280,2400", "--screenshot=" + shot, "file://" + path],
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(s.returncode, 0, s.stderr[-2000:])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(shot), 20000)
        return r.stdout

    def check_dom(self, dom):
        for svg in ("timeline", "threads-chart", "flame"):
            self.has(dom, r'<svg id="%s"[^>]*>.*?<(polyline|rect)' % svg)
        for t in ("summary-table", "threads-table", "stacks-table", "suspects-table",
                  "alerts-table"):
            self.has(dom, r'<table id="%s"( class="kv")?>' % t)
        # The browser read the escaped name back as text.
        self.contains(dom, "<h1>memtrace report: %s</h1>"
                      % html.escape(os.path.join(self.dir, NAME), quote=False))

    def test_browser_live(self):
        self.check_dom(self.render(self.live, "live"))

    def test_browser_from_report(self):
        self.check_dom(self.render(self.from_path, "from"))


if __name__ == "__main__":
    mtlib.main()
