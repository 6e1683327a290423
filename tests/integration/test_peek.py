#!/usr/bin/env python3
"""What is in it: peek and residency, against tests/targets/memfill.c.

memfill writes known bytes into a chunk (text, a time(NULL) and an epoch
milliseconds value at known offsets, a token string), touches exactly 100
pages of a second chunk and none of a third, and prints the addresses.

peek: the JSON answer's hex equals those bytes; the human output is
`hexdump -C` of the same bytes (saved with --out), line for line, with
repeated lines collapsed to one "*" (1 MiB of chunk p, mostly zeros, is a
few hundred lines, not 65537);
--strings lists the text with its offsets; both flag the two timestamps
with the date they hold (today); peek by event id reads the mapping that
event made, capped at its length; a read running into a PROT_NONE page
stops there; length 0 and lengths above 1 MiB are bad_arg (exit 2); without
--allow-peek, or for a caller that is not root, the answer is "denied";
every peek request is logged on memtraced's stderr.

Residency: outstanding --rss gives 100 pages for the touched chunk, the
glibc header page for the untouched one, and, where a mapping is exactly
one kernel VMA (memfill puts guard pages between chunks), the same Rss
and dirty bytes as /proc/PID/smaps; status chunks.rss_bytes is their sum.
A chunk whose pages the target only read (resident or not, by how this
kernel answers a read fault: mtlib probes it) and a chunk a peek read
beyond what the target wrote must still match smaps Rss.  No peek adds a
byte to the target's Rss: pages it never wrote are not read, and the
answer says so ("gaps"; the hexdump marks those lines).

One memtraced --allow-peek serves most tests (peeks are counted for the
log check, which runs last); the denial tests start their own.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import mtlib

PAGE = mtlib.PAGE
HELLO = b"HELLO-MEMTRACE-"
TOKEN = b"SECRET-TOKEN=ABC123"


def expected_page(truth):
    """The first page of chunk p, as memfill wrote it."""
    b = bytearray(PAGE)
    b[0:960] = HELLO * 64
    b[1024:1028] = truth["time_s"].to_bytes(4, "little")
    b[2048:2056] = truth["time_ms"].to_bytes(8, "little")
    b[3000:3000 + len(TOKEN)] = TOKEN
    return bytes(b)


def smaps(pid):
    """{(start, end): {field: kB}} of /proc/PID/smaps."""
    out, cur = {}, None
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ")
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = head.match(line)
            if m:
                cur = out.setdefault((int(m.group(1), 16), int(m.group(2), 16)), {})
                continue
            parts = line.split()
            if cur is not None and len(parts) == 3 and parts[2] == "kB":
                cur[parts[0].rstrip(":")] = int(parts[1])
    return out


class Peek(unittest.TestCase):
    peeks = 0  # peek requests sent to the shared daemon, for the log check

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mt-peek-")
        cls.go = os.path.join(cls.tmp, "go")
        cls.d = mtlib.Daemon([mtlib.target("memfill"), "-w", cls.go], ["--allow-peek"])
        cls.out = mtlib.LineReader(cls.d.proc.stdout)
        try:
            cls.d.wait_socket()
            cls.pid = mtlib.target_pid(cls.d)
            cls.truth = mtlib.truth(cls.out.wait_prefix("TRUTH ", 30))
        except BaseException:
            cls.d.kill()
            raise
        cls.day_start = time.strftime("%Y-%m-%d")

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        shutil.rmtree(cls.d.dir, ignore_errors=True)

    def peek(self, *args, json_out=True):
        """memtracectl [--json] peek ARGS on the shared daemon; a peek must
        leave the target's resident bytes as they were, to the page."""
        Peek.peeks += 1
        before = mtlib.rss_bytes(self.pid)
        r = mtlib.ctl_run(self.d.sock, *(["--json"] if json_out else []), "peek", *args)
        self.assertEqual(mtlib.rss_bytes(self.pid), before,
                         "peek %s added to the target's RSS" % " ".join(args))
        return r

    def answer(self, *args):
        r = self.peek(*args)
        self.assertTrue(r.stdout, r.stderr)
        return r, json.loads(r.stdout.splitlines()[0])

    def addr(self, key, plus=0):
        return "%#x" % (self.truth[key] + plus)

    def test_json_data(self):
        r, a = self.answer(self.addr("p"), "--length", "4096")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((a["ok"], a["address"], a["length"]), (True, self.addr("p"), 4096))
        self.assertEqual(bytes.fromhex(a["data"]), expected_page(self.truth))
        # An address can also be decimal, with --address.
        r, a = self.answer("--address", str(self.truth["p"] + 3000), "--length", "19")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(bytes.fromhex(a["data"]), TOKEN)

    def hexdump_lines(self, path):
        return subprocess.run(["hexdump", "-C", path], capture_output=True, text=True,
                              check=True).stdout.splitlines()

    def test_hexdump_layout(self):
        for length in (None, "100", "1M"):
            with self.subTest(length=length):
                extra = ["--length", length] if length else []
                n = {None: 4096, "100": 100, "1M": 1 << 20}[length]
                path = os.path.join(self.tmp, "dump-%s" % n)
                saved = self.peek(self.addr("p"), *extra, "--out", path, json_out=False)
                self.assertEqual(saved.returncode, 0, saved.stderr)
                self.assertEqual(saved.stdout.splitlines()[0],
                                 "%d bytes from %s saved to %s" % (n, self.addr("p"), path))
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), expected_page(self.truth).ljust(n, b"\0")[:n])
                want = self.hexdump_lines(path)
                # The zeros between and after memfill's pieces collapse.
                if n >= 4096:
                    self.assertIn("*", want)
                    self.assertLess(len(want), 4096 // 16 + 10)
                if n > PAGE:
                    # Pages memfill never wrote are not read: zeros, marked,
                    # and never collapsed into the read page's zeros.
                    rest = subprocess.run(["hexdump", "-C", "-s", str(PAGE), path],
                                          capture_output=True, text=True,
                                          check=True).stdout.splitlines()
                    want = [l for l in want if l == "*" or int(l.split()[0], 16) < PAGE]
                    want += [l if l == "*" or len(l) == 8 else l + "  not resident, not read"
                             for l in rest]
                shown = self.peek(self.addr("p"), *extra, json_out=False)
                self.assertEqual(shown.returncode, 0, shown.stderr)
                self.assertEqual(shown.stdout.splitlines()[:len(want)], want)
                explicit = self.peek(self.addr("p"), *extra, "--hexdump", json_out=False)
                self.assertEqual(explicit.stdout, shown.stdout)

    def test_strings(self):
        r = self.peek(self.addr("p"), "--strings", json_out=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stdout.splitlines() if ", epoch " not in l]
        self.assertIn("00000000  " + (HELLO * 64).decode(), lines)
        self.assertIn("00000bb8  " + TOKEN.decode(), lines)
        # Anything else can only be bytes of the two timestamps that happen to print.
        for line in lines:
            off = int(line.split()[0], 16)
            self.assertTrue(off in (0, 3000) or 1024 <= off < 1028 or 2048 <= off < 2056, line)
        # A string cut by the end of what was read still shows, from its offset.
        r = self.peek(self.addr("p", 3000), "--length", "10", "--strings", json_out=False)
        self.assertEqual(r.stdout.splitlines(), ["00000000  SECRET-TOK"])

    def test_timestamps(self):
        t = self.truth
        day = time.strftime("%Y-%m-%d", time.localtime(t["time_s"]))
        self.assertIn(day, (self.day_start, time.strftime("%Y-%m-%d")), "not today's date")
        def date(secs, frac=""):
            return "%s%s UTC, %s%s %s" % (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)), frac,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(secs)), frac,
                time.strftime("%Z", time.localtime(secs)))
        ms = t["time_ms"]
        want = ["00000400  8 bytes LE, epoch s: %s" % date(t["time_s"]),
                "00000800  8 bytes LE, epoch ms: %s" % date(ms // 1000, ".%03d" % (ms % 1000))]
        for mode in ([], ["--strings"]):
            with self.subTest(mode=mode):
                r = self.peek(self.addr("p"), *mode, json_out=False)
                self.assertEqual([l for l in r.stdout.splitlines() if ", epoch " in l], want)
        # The text alone holds no date.
        r = self.peek(self.addr("p"), "--length", "960", json_out=False)
        self.assertNotIn(", epoch ", r.stdout)

    def outstanding(self):
        return {int(m["start"], 16): m
                for m in self.d.ctl("outstanding", "--limit", "100000", "--rss")["mappings"]}

    def test_peek_by_id(self):
        maps = self.outstanding()
        p, s = maps[self.truth["p"]], maps[self.truth["s"]]
        self.assertNotEqual(p["id"], s["id"])
        r, a = self.answer(str(p["id"]), "--length", "64")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((a["address"], a["length"]), (self.addr("p"), 64))
        self.assertEqual(bytes.fromhex(a["data"]), expected_page(self.truth)[:64])
        # Capped at the mapping's length: 2 pages of "SMALLMAP".
        r, a = self.answer("--id", str(s["id"]), "--length", "1M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((a["address"], a["length"]), (self.addr("s"), 2 * PAGE))
        self.assertEqual(bytes.fromhex(a["data"]), b"SMALLMAP" * (2 * PAGE // 8))
        # Human output by id too.
        r = self.peek(str(p["id"]), "--length", "16", json_out=False)
        self.assertTrue(r.stdout.startswith("00000000  48 45 4c 4c 4f 2d 4d 45  4d 54 52 41 43 45"
                                            " 2d 48  |HELLO-MEMTRACE-H|\n"), r.stdout)
        r, a = self.answer("999999999")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(a["error"]["code"], "not_found")

    def test_unreadable(self):
        # Page 1 of e is readable, page 2 PROT_NONE: the read stops there.
        r, a = self.answer(self.addr("e", PAGE), "--length", str(2 * PAGE))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a["length"], PAGE)
        self.assertEqual(bytes.fromhex(a["data"]), b"EDGE" * (PAGE // 4))
        r, a = self.answer(self.addr("e", 2 * PAGE))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(a["error"]["code"], "failed")
        r, a = self.answer("0x10")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(a["error"]["code"], "failed")

    def test_length_caps(self):
        for length in ("0", "1048577", "2M"):
            with self.subTest(length=length):
                r, a = self.answer(self.addr("p"), "--length", length)
                self.assertEqual(r.returncode, 2)
                self.assertEqual(a["error"]["code"], "bad_arg")
                self.assertIn("(bad_arg)", r.stderr)
        r, a = self.answer(self.addr("p"), "--length", "1M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a["length"], 1 << 20)
        data = bytes.fromhex(a["data"])
        self.assertEqual(data[:PAGE], expected_page(self.truth))
        self.assertEqual(data[PAGE:], bytes((1 << 20) - PAGE))
        # memfill wrote page 0 only: the rest was never read, and says so.
        self.assertEqual(a["gaps"], [{"offset": PAGE, "length": (1 << 20) - PAGE,
                                      "why": "not resident"}])
        # Raw requests: both or neither of address and id.
        Peek.peeks += 3
        for req in ({"cmd": "peek", "address": self.addr("p"), "length": 0},
                    {"cmd": "peek", "address": self.addr("p"), "id": 1},
                    {"cmd": "peek"}):
            with self.subTest(req=req):
                a = self.d.request(json.dumps(req) + "\n")[0]
                self.assertEqual(a["error"]["code"], "bad_arg", a)

    def check_rss_against_smaps(self, ans):
        """Each chunk's rss_bytes and dirty_bytes equal smaps' Rss and dirty."""
        sm = smaps(self.pid)
        for m in ans["mappings"]:
            with self.subTest(start=m["start"]):
                lo, hi = mtlib.mapping_range(m)
                self.assertEqual(hi - lo, self.truth["chunk"])
                self.assertIn((lo, hi), sm, "not one VMA: the guard pages failed")
                v = sm[(lo, hi)]
                self.assertEqual(m["rss_bytes"], v["Rss"] * 1024,
                                 "memtrace's resident bytes differ from smaps Rss")
                self.assertEqual(m["dirty_bytes"], (v["Private_Dirty"] + v["Shared_Dirty"]) * 1024)

    def test_a_rss(self):
        """Runs before any peek reads pages the target never wrote."""
        t = self.truth
        ans = self.d.ctl("outstanding", "--rss", "--class", "chunk")
        chunks = {int(m["start"], 16): m for m in ans["mappings"]}
        self.assertEqual(sorted(chunks), sorted([t["p"], t["t"], t["u"], t["r"]]))
        touched, untouched, filled = chunks[t["t"]], chunks[t["u"]], chunks[t["p"]]
        self.assertEqual(filled["rss_bytes"], PAGE)
        self.assertGreaterEqual(touched["rss_bytes"], t["touched"] * PAGE)
        self.assertLessEqual(touched["rss_bytes"], (t["touched"] + 1) * PAGE)
        self.assertLessEqual(untouched["rss_bytes"], PAGE)
        for m in (filled, touched, untouched):
            self.assertEqual(m["dirty_bytes"], m["rss_bytes"])
        st = self.d.ctl("status")
        self.assertEqual(st["chunks"]["count"], 4)
        self.assertEqual(st["chunks"]["rss_bytes"], sum(m["rss_bytes"] for m in chunks.values()))
        # Small mappings too: s has both pages written; e's first piece one of its 2.
        maps = self.outstanding()
        self.assertEqual(maps[t["s"]]["rss_bytes"], 2 * PAGE)
        self.assertEqual(maps[t["e"]]["length"], 2 * PAGE)
        self.assertEqual(maps[t["e"]]["rss_bytes"], PAGE)
        # No --rss, no figures.
        plain = self.d.ctl("outstanding", "--class", "chunk")["mappings"][0]
        self.assertNotIn("rss_bytes", plain)
        # Chunk r: pages the target only read.  Where the kernel maps the
        # zero page for a read fault they are not resident (smaps Rss 0);
        # here a read fault allocates a page, so they are resident and dirty.
        read = t["read"] * PAGE if mtlib.read_fault_allocates() else 0
        self.assertEqual(chunks[t["r"]]["dirty_bytes"], read)
        self.check_rss_against_smaps(
            {"mappings": [m for k, m in chunks.items() if k != t["r"]]})
        with self.subTest(chunk="r, read-only pages"):
            self.check_rss_against_smaps({"mappings": [chunks[t["r"]]]})

    def test_rss_after_peek(self):
        """Runs after test_length_caps read 1 MiB of chunk p (255 pages p
        never wrote): reading is not writing, smaps Rss stays 1 page, and
        so should rss_bytes; status chunks.rss_bytes is still the sum."""
        ans = self.d.ctl("outstanding", "--rss", "--class", "chunk")
        st = self.d.ctl("status")
        self.assertEqual(st["chunks"]["rss_bytes"],
                         sum(m["rss_bytes"] for m in ans["mappings"]))
        self.check_rss_against_smaps(
            {"mappings": [m for m in ans["mappings"] if int(m["start"], 16) == self.truth["p"]]})

    def test_zz_every_peek_logged(self):
        """Last: stop the target, count the "peek by uid" lines."""
        with open(self.go, "w"):
            pass
        rc = self.d.finish(60)
        self.assertEqual(rc, 0, self.d.err)
        logged = [l for l in self.d.err.splitlines() if l.startswith("memtraced: peek by uid 0: ")]
        self.assertEqual(len(logged), Peek.peeks, self.d.err)
        self.assertTrue(any('"address":"%s"' % self.addr("p") in l for l in logged))
        self.assertTrue(any('"length":0' in l for l in logged))


class PeekDenied(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-peekd-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.go = os.path.join(self.tmp, "go")

    def start(self, opts):
        d = mtlib.Daemon([mtlib.target("memfill"), "-w", self.go], opts)
        self.addCleanup(shutil.rmtree, d.dir, True)
        self.addCleanup(d.kill)
        out = mtlib.LineReader(d.proc.stdout)
        d.wait_socket()
        return d, mtlib.truth(out.wait_prefix("TRUTH ", 30))

    def finish(self, d):
        with open(self.go, "w"):
            pass
        self.assertEqual(d.finish(60), 0, d.err)
        return d.err

    def test_without_allow_peek(self):
        d, truth = self.start([])
        r = mtlib.ctl_run(d.sock, "--json", "peek", "%#x" % truth["p"])
        self.assertEqual(r.returncode, 1)
        a = json.loads(r.stdout)
        self.assertEqual(a["error"]["code"], "denied")
        self.assertNotIn("data", a)
        r = mtlib.ctl_run(d.sock, "peek", "%#x" % truth["p"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("(denied)", r.stderr)
        self.assertEqual(r.stdout, "")
        err = self.finish(d)
        self.assertEqual(len([l for l in err.splitlines() if "peek by uid 0" in l]), 2, err)

    def test_non_root(self):
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is missing")
        # The socket reachable by anyone: 0666 in a 0755 directory.
        d, truth = self.start(["--allow-peek"])
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        r = mtlib.ctl_run(d.sock, "--json", "peek", "%#x" % truth["p"], user=65534)
        self.assertEqual(r.returncode, 1, r)
        a = json.loads(r.stdout)
        self.assertEqual(a["error"]["code"], "denied")
        self.assertNotIn("data", a)
        r = mtlib.ctl_run(d.sock, "--json", "status", user=65534)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], "denied")
        err = self.finish(d)
        self.assertIn("refused a client with uid 65534", err)
        self.assertNotIn("peek by uid 0", err)

    def test_non_root_in_socket_group(self):
        """A user the socket lets in (--socket-group) may ask status but not peek."""
        if not shutil.which("setpriv"):
            self.skipTest("setpriv is missing")
        d, truth = self.start(["--allow-peek", "--socket-group", "nogroup"])
        os.chmod(d.dir, 0o755)
        r = mtlib.ctl_run(d.sock, "--json", "status", user=65534)
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(json.loads(r.stdout)["ok"])
        r = mtlib.ctl_run(d.sock, "--json", "peek", "%#x" % truth["p"], user=65534)
        self.assertEqual(r.returncode, 1, r)
        a = json.loads(r.stdout)
        self.assertEqual(a["error"]["code"], "denied")
        self.assertIn("only root", a["error"]["message"])
        self.assertNotIn("data", a)
        err = self.finish(d)
        self.assertEqual(len([l for l in err.splitlines() if "peek by uid 65534" in l]), 1, err)


if __name__ == "__main__":
    mtlib.main()
