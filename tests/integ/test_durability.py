"""Nothing accepted is lost: kill -9 of the daemon and of a batch crawl at
random moments, full disks under the journal and the results, running out
of file descriptors, and DNS servers that time out or answer garbage.

Sizes are scaled for make check; RF_CHAOS=1 (make chaos) runs the full
ones: 20,000 jobs and 20 kills each for the daemon and for --resume."""
import sys, os
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: F401,F403
from harness import _pdeathsig, read_records, sanitizer_errors

import json
import random
import signal
import socket
import subprocess
import threading
import time

import harness
_n_tests = len(harness._TESTS)
from test_daemon import Daemon, Line, by_id  # noqa: E402
from test_dns import Dnsmasq  # noqa: E402
del harness._TESTS[_n_tests:]   # their helpers, not their tests

FULL = os.environ.get("RF_CHAOS") == "1"
SEED = int(os.environ.get("RF_SEED", str(int(time.time()))))


def kill9(d):
    """SIGKILL the daemon by PID and reap it."""
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.proc = None


class Submitter(threading.Thread):
    """Submits its ids in pipelined windows, reconnecting after the daemon
    dies; an id whose acknowledgement was not read is never sent again (it
    may or may not have been accepted)."""

    def __init__(self, d, ids, url_of, window=20, pause=0.005):
        super().__init__(daemon=True)
        self.d, self.ids, self.url_of = d, list(ids), url_of
        self.window, self.pause = window, pause
        self.acked = {}         # id -> job number
        self.unknown = set()    # sent, answer not read
        self.refused = {}       # id -> error class
        self.error = None

    def connect(self, until):
        while time.monotonic() < until:
            try:
                return Line(self.d.sock, timeout=30)
            except OSError:
                time.sleep(0.05)
        raise AssertionError("no daemon to connect to")

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the test
            self.error = e

    def _run(self):
        until = time.monotonic() + (600 if FULL else 150)
        i, c = 0, None
        while i < len(self.ids):
            if c is None:
                c = self.connect(until)
            batch = self.ids[i:i + self.window]
            try:
                c.send(b"".join(json.dumps(
                    {"op": "submit", "url": self.url_of(x), "id": x}
                ).encode() + b"\n" for x in batch))
                for x in batch:
                    r = c.response()
                    if r.get("ok"):
                        self.acked[x] = r["job"]
                    else:
                        self.refused[x] = r.get("error")
            except (OSError, AssertionError, ValueError):
                self.unknown.update(x for x in batch
                                    if x not in self.acked and
                                    x not in self.refused)
                c = None
                time.sleep(0.05)
            i += len(batch)
            time.sleep(self.pause)
        if c:
            c.close()


def settle(d, timeout):
    def idle():
        st = d.status()
        return (st["queued"] == 0 and st["in_flight"] == 0 and
                st["retry_waiting"] == 0)
    wait_until(idle, timeout, interval=0.2, what="every job finished")


def check_exactly_once(recs, subs, what):
    ids = by_id(recs)
    acked = {}
    for s in subs:
        acked.update(s.acked)
    lost = [x for x in acked if x not in ids]
    dup = [x for x, v in ids.items() if len(v) > 1]
    check(not lost, "%s: %d acknowledged ids without a record, e.g. %s" % (
        what, len(lost), lost[:5]))
    check(not dup, "%s: %d ids with two records, e.g. %s" % (
        what, len(dup), dup[:5]))
    for x, num in acked.items():
        check_eq(ids[x][0]["job"], num, "%s: job number of %s" % (what, x))
    nums = [r["job"] for r in recs]
    check_eq(len(nums), len(set(nums)), "%s: job numbers unique" % what)
    return len(acked)


@test("daemon: kill -9 at random moments, restart each time: every "
      "acknowledged id ends with exactly one record", timeout=900)
def _():
    jobs, kills = (20000, 20) if FULL else (800, 5)
    rng = random.Random(SEED)
    diag("seed %d (RF_SEED), %d jobs, %d kills" % (SEED, jobs, kills))
    with Server() as srv:
        d = Daemon("limits:\n  concurrency: 128\n  per_host: 128\n"
                   "queue:\n  capacity: 2000\n",
                   env={"RINGFETCH_JOURNAL_COMPACT": "16384"},
                   args=["--set", "output.rotate_size=256KiB",
                         "--set", "output.rotate_keep=0",
                         "--set", "output.sync_interval=50ms"])
        d.start()
        n_cli, window = 4, 20
        span = 25.0 if FULL else 4.0
        ids = ["c%d-%d" % (k, i) for k in range(n_cli)
               for i in range(jobs // n_cli)]
        # submits spread over the kills' span
        pause = span / (jobs / n_cli / window)
        subs = [Submitter(d, ids[k::n_cli],
                          lambda x: srv.url("/delay/%d" % (100 + hash(x) % 300)),
                          window, pause)
                for k in range(n_cli)]
        for s in subs:
            s.start()
        for k in range(kills):
            time.sleep(rng.uniform(0.05, span / kills * 2))
            kill9(d)
            d.start()
            taken = [ln for ln in d.log().splitlines() if "taken back" in ln]
            if taken:
                diag("restart %d: %s" % (k + 1, taken[0].split("journal: ")[-1]))
        for s in subs:
            s.join(600 if FULL else 150)
            check(not s.is_alive(), "submitter finished")
            check(s.error is None, "submitter: %r" % s.error)
        settle(d, 600 if FULL else 120)
        st = d.status()
        check_eq(d.stop(), 0, "clean stop at the end")
        recs = d.records()
        n = check_exactly_once(recs, subs, "daemon")
        diag("journal: %d bytes at the end, %d compactions in the last run"
             % (st["journal_bytes"], st["journal_compactions"]))
        unknown = sum(len(s.unknown) for s in subs)
        refused = sum(len(s.refused) for s in subs)
        diag("%d acknowledged, %d unanswered at a kill, %d refused, %d "
             "records" % (n, unknown, refused, len(recs)))
        check(n >= jobs // 2, "most submits acknowledged")



@test("the journal compacts while running (RINGFETCH_JOURNAL_COMPACT), "
      "then kill -9 and restart: every acknowledged id once")
def _():
    with Server() as srv:
        d = Daemon("limits:\n  concurrency: 16\n  per_host: 16\n",
                   env={"RINGFETCH_JOURNAL_COMPACT": "4096"})
        d.start()
        c = d.conn()
        for i in range(400):
            c.send({"op": "submit", "id": "k%d" % i,
                    "url": srv.url("/delay/%d?i=%d" % (i % 50, i))})
        acks = [c.response() for _ in range(400)]
        check(all(a.get("ok") for a in acks), "acknowledged")
        wait_until(lambda: d.status()["journal_compactions"] > 0, 20,
                   what="a compaction")
        kill9(d)
        d.start()
        settle(d, 60)
        check_eq(d.stop(), 0, "exit")
        ids = by_id(d.records())
        for i in range(400):
            check_eq(len(ids.get("k%d" % i, [])), 1, "one record for k%d" % i)


@test("pipelining clients behind a full queue, acknowledgements held for "
      "the journal: every submit is answered", timeout=240)
def _():
    with Server() as srv:
        d = Daemon("queue:\n  capacity: 100\nlimits:\n  concurrency: 32\n"
                   "  per_host: 32\n")
        d.start()
        n, per, got, errs = 4, 3000, [0] * 4, []

        def one(k):
            try:
                c = Line(d.sock, timeout=60)
                pad = "x" * 200     # fills held output sooner
                data = "".join(json.dumps({"op": "submit", "id": "%d-%d" % (
                    k, i), "url": srv.url("/ok?%s&i=%d" % (pad, i))}) + "\n"
                    for i in range(per)).encode()
                threading.Thread(target=c.s.sendall, args=(data,),
                                 daemon=True).start()
                for _ in range(per):
                    check(c.response().get("ok"), "acknowledged")
                    got[k] += 1
                c.close()
            except Exception as e:
                errs.append(e)

        ts = [threading.Thread(target=one, args=(k,)) for k in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(200)
        check(not errs, "clients: %r; answered %r of %d each; status %r" % (
            errs[:2], got, per, d.status() if d.proc else None))
        check_eq(got, [per] * n, "every submit answered")
        settle(d, 60)
        check_eq(d.stop(), 0, "exit")
        check_eq(len(d.records()), n * per, "records")


# ------------------------------------------------------------ batch --resume

def write_urls(path, urls):
    with open(path, "w") as f:
        f.write("# a comment line is not a job\n\n")
        for u in urls:
            f.write(u + "\n")


def crawl_args(ufile, out, *extra, conc=128):
    return ["--batch", ufile, "--out", out, "-q", "--concurrency", str(conc),
            "--per-host", str(conc), "--set", "retry.attempts=1",
            "--set", "output.rotate_size=128KiB",
            "--set", "output.rotate_keep=0",
            "--set", "output.compress=gzip",
            "--set", "output.sync_interval=50ms"] + list(extra)


@test("batch --resume after kill -9 at random moments: every line ends "
      "with exactly one record, numbered by its line", timeout=900)
def _():
    lines, kills = (20000, 20) if FULL else (2000, 5)
    rng = random.Random(SEED + 1)
    diag("seed %d (RF_SEED), %d lines, %d kills" % (SEED, lines, kills))
    with Server() as srv:
        work = scratch_dir("resume")
        ufile, out = os.path.join(work, "urls.txt"), os.path.join(work, "out")
        urls = [srv.url("/delay/%d?line=%d" % (20 + i % 80, i))
                for i in range(lines)]
        urls[7] = "not a url"           # a record of its own, once
        write_urls(ufile, urls)
        # about 20 s (full) or 4 s of fetching in all, cut into pieces
        conc = 64 if FULL else 32
        resume, killed, runs, finished = [], 0, 0, False
        while killed < kills and not finished:
            p = start_rf(crawl_args(ufile, out, *resume, conc=conc))
            runs += 1
            if not resume:
                # a crawl killed before it wrote its manifest has begun
                # nothing, and --resume rightly refuses it: on a loaded
                # machine the ASan start can take longer than the sleep
                wait_until(lambda: os.path.exists(os.path.join(
                    out, ".crawl")) or p.poll() is not None, 60,
                    what="the crawl's manifest")
            time.sleep(rng.uniform(0.1, 1.0 if FULL else 0.7))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                killed += 1
            finished = p.finish(60).rc in (0, 1)
            resume = ["--resume"]
        t0 = time.monotonic()
        last = run_rf(crawl_args(ufile, out, "--resume", "--summary-json",
                                 os.path.join(work, "s.json"), conc=conc),
                      timeout=300)
        diag("last run: %.1fs" % (time.monotonic() - t0))
        check_in(last.rc, (0, 1), "the last run finishes: %s" % last.stderr)
        check(not sanitizer_errors(last.stderr), "sanitizers: " + last.stderr)
        recs, problems = read_records(out)
        check(not problems, "whole records: %s" % problems[:5])
        by_url = {}
        for r in recs:
            by_url.setdefault(r["url"], []).append(r)
        missing = [u for u in urls if u not in by_url]
        dup = [u for u, v in by_url.items() if len(v) > 1]
        check(not missing, "%d lines without a record, e.g. %s" % (
            len(missing), missing[:3]))
        check(not dup, "%d lines with two records, e.g. %s" % (
            len(dup), dup[:3]))
        for i, u in enumerate(urls):
            check_eq(by_url[u][0]["job"], i + 1, "job number of line %d" % i)
        with open(os.path.join(work, "s.json")) as f:
            summ = json.load(f)
        check_eq(summ["total"] + summ.get("already_done", 0), lines,
                 "this run's jobs and the lines already done add up")
        diag("%d runs, %d killed; the last fetched %d, %d already done" % (
            runs + 1, killed, summ["total"], summ.get("already_done", 0)))


@test("--resume refuses other files, changed files, stdin and a directory "
      "without a crawl (exit 2); a new crawl numbers on after the last")
def _():
    with Server() as srv:
        work = scratch_dir("resume2")
        a, b = os.path.join(work, "a.txt"), os.path.join(work, "b.txt")
        out = os.path.join(work, "out")
        write_urls(a, [srv.url("/ok?a=%d" % i) for i in range(5)])
        write_urls(b, [srv.url("/ok?b=%d" % i) for i in range(3)])
        r = run_rf(crawl_args(a, out, "--resume"))
        check_eq(r.rc, 2, "nothing to resume: " + r.stderr)
        check(".crawl" in r.stderr and "without --resume" in r.stderr,
              "says why: " + r.stderr)
        r = run_rf(crawl_args(a, out))
        check_eq(r.rc, 0, "first crawl: " + r.stderr)
        r = run_rf(crawl_args(b, out, "--resume"))
        check_eq(r.rc, 2, "other file: " + r.stderr)
        check("differ" in r.stderr, "says why: " + r.stderr)
        r = run_rf(["--batch", "-", "--out", out, "--resume"], input="x\n")
        check_eq(r.rc, 2, "stdin: " + r.stderr)
        r = run_rf(crawl_args(a, out, "--resume", "--summary-json",
                              os.path.join(work, "s.json")))
        check_eq(r.rc, 0, "resuming a finished crawl: " + r.stderr)
        with open(os.path.join(work, "s.json")) as f:
            check_eq(json.load(f).get("already_done"), 5, "all done before")
        with open(a, "a") as f:
            f.write(srv.url("/ok?a=new") + "\n")
        r = run_rf(crawl_args(a, out, "--resume"))
        check_eq(r.rc, 2, "changed file: " + r.stderr)
        r = run_rf(crawl_args(b, out))
        check_eq(r.rc, 0, "a second crawl: " + r.stderr)
        recs, problems = read_records(out)
        check(not problems, "whole records")
        check_eq(sorted(x["job"] for x in recs), list(range(1, 9)),
                 "numbers never repeat: 1-5, then 6-8")


# ------------------------------------------------------------ full disks

class Tmpfs:
    """A small tmpfs (root only: skips otherwise), unmounted at exit."""

    def __init__(self, size="512k"):
        self.mnt = scratch_dir("tmpfs")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                            "tmpfs", self.mnt], capture_output=True)
        if p.returncode != 0:
            skip("cannot mount a tmpfs (needs root): %s" %
                 p.stderr.decode().strip())
        self.filler = os.path.join(self.mnt, "filler")

    def fill(self):
        with open(self.filler, "wb", buffering=0) as f:
            for chunk in (65536, 4096, 512, 1):
                try:
                    while True:
                        f.write(b"x" * chunk)
                except OSError:
                    pass

    def free(self):
        os.unlink(self.filler)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        return False


def read_acks(c, n, timeout):
    """Up to n responses within timeout -> list (short when held)."""
    got, until = [], time.monotonic() + timeout
    c.s.settimeout(0.1)
    while len(got) < n and time.monotonic() < until:
        try:
            got.append(c.response())
        except (socket.timeout, TimeoutError):
            continue
    c.s.settimeout(30)
    return got


@test("journal on a full disk: acknowledgements are held (never sent for "
      "what is not on the disk), sent once space returns; kill -9 then "
      "loses nothing acknowledged", timeout=180)
def _():
    with Server() as srv, Tmpfs() as fs:
        d = Daemon("limits:\n  concurrency: 8\n  per_host: 8\n")
        d.state = os.path.join(fs.mnt, "state")
        d.write_config("limits:\n  concurrency: 8\n  per_host: 8\n")
        d.start()
        fs.fill()
        c = d.conn()
        # 1 KiB lines: past the journal's last page, which tmpfs has
        pad = "p" * 1000
        c.send(b"".join(json.dumps({"op": "submit", "id": "f%d" % i,
                                    "url": srv.url("/delay/200?i=%d&%s" %
                                                   (i, pad))}
                                   ).encode() + b"\n" for i in range(50)))
        held = read_acks(c, 50, 2.0)
        check(len(held) < 10, "acknowledgements held while the journal "
              "cannot be written (%d sent: those that fit its last page)" %
              len(held))
        check(d.status()["state"] == "running", "others are still served")
        check_in("tried again", d.log(), "the failure is logged")
        fs.free()
        acks = held + read_acks(c, 50, 20)
        check_eq(len(acks), 50, "every submit answered once space returned")
        check(all(a.get("ok") for a in acks), "all acknowledged")
        kill9(d)
        d.start()
        settle(d, 60)
        check_eq(d.stop(), 0, "exit")
        ids = by_id(d.records())
        for i in range(50):
            check_eq(len(ids.get("f%d" % i, [])), 1, "one record for f%d" % i)


@test("results on a full disk: fetches wait, SIGTERM and kill -9 while "
      "full lose nothing acknowledged, work resumes when space returns",
      timeout=180)
def _():
    with Server() as srv, Tmpfs("256k") as fs:
        cfg = "limits:\n  concurrency: 16\n  per_host: 16\n"
        d = Daemon(cfg)
        d.out = os.path.join(fs.mnt, "out")
        d.write_config(cfg)
        d.start()
        fs.fill()
        c = d.conn()
        try:
            for i in range(200):
                c.send({"op": "submit", "id": "r%d" % i,
                        "url": srv.url("/size/%d?i=%d" % (300 + i, i))})
            acks = [c.response() for _ in range(200)]
        except Exception:
            diag(d.log()[-3000:])
            raise
        check(all(a.get("ok") for a in acks), "acknowledged: the journal "
              "is elsewhere")
        d.wait = wait_until(lambda: "new fetches wait" in d.log(), 20,
                            what="results blocked")
        c.close()
        check_eq(d.stop(), 0, "SIGTERM while full: clean exit")
        d.start()
        time.sleep(0.5)
        kill9(d)
        fs.free()
        d.start()
        settle(d, 60)
        check_eq(d.stop(), 0, "exit")
        ids = by_id(d.records())
        for i in range(200):
            check_eq(len(ids.get("r%d" % i, [])), 1, "one record for r%d" % i)


# ------------------------------------------------------------ descriptors

def nofile(n):
    import resource

    def pre():
        _pdeathsig()
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return pre


@test("ulimit -n 64, concurrency 512, 2,000 URLs: every job ok, no attempt "
      "charged for the shortage")
def _():
    with Server() as srv:
        work = scratch_dir("emfile")
        ufile, out = os.path.join(work, "urls.txt"), os.path.join(work, "out")
        write_urls(ufile, [srv.url("/delay/30?i=%d" % i) for i in range(2000)])
        p = subprocess.run(
            [rf_bin(), "--batch", ufile, "--out", out, "--concurrency", "512",
             "--per-host", "512", "--set", "retry.attempts=1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=240,
            preexec_fn=nofile(64))
        err = p.stderr.decode(errors="replace")
        check_eq(p.returncode, 0, "exit status:\n" + err[-2000:])
        recs, problems = read_records(out)
        check(not problems, "whole records")
        check_eq(len(recs), 2000, "records")
        check(all(r["ok"] and r["attempts"] == 1 for r in recs),
              "all ok in one attempt")
        check("descriptors" in err, "the shortage is logged: " + err[-500:])


@test("ulimit -n 64 while names resolve through a loopback DNS server: "
      "no descriptor for the resolver's socket is a shortage, not class dns")
def _():
    with Server() as srv, Dnsmasq() as dns:
        work = scratch_dir("emfile-dns")
        ufile, out = os.path.join(work, "urls.txt"), os.path.join(work, "out")
        # many names, so that queries start while fetches hold every
        # descriptor; c-ares opens its socket anew for each burst
        write_urls(ufile, ["http://h%d.test:%d/delay/30?i=%d" %
                           (i % 100, srv.port, i) for i in range(2000)])
        p = subprocess.run(
            [rf_bin(), "--batch", ufile, "--out", out, "--concurrency", "512",
             "--per-host", "512", "--set", "retry.attempts=1",
             "--set", "dns.cache_min_ttl=0s", "--set", "dns.cache_max_ttl=0s"]
            + dns.args(),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=240,
            preexec_fn=nofile(64))
        err = p.stderr.decode(errors="replace")
        check_eq(p.returncode, 0, "exit status:\n" + err[-2000:])
        recs, problems = read_records(out)
        check(not problems, "whole records")
        check_eq(len(recs), 2000, "records")
        bad = [r for r in recs if not r["ok"] or r["attempts"] != 1]
        check(not bad, "all ok in one attempt: %s" % bad[:2])
        check("descriptors" in err, "the shortage is logged: " + err[-500:])


@test("ulimit -n 64 with bodies spooled to files and to WARC: no "
      "descriptor for a body file is a shortage; every body is stored")
def _():
    with Server() as srv:
        for mode in ("files", "warc"):
            work = scratch_dir("emfile-" + mode)
            ufile = os.path.join(work, "urls.txt")
            out = os.path.join(work, "out")
            # 64 KiB bodies: past the 32 KiB held in memory, so spooled
            write_urls(ufile, [srv.url("/size/65536?i=%d" % i)
                               for i in range(1000)])
            p = subprocess.run(
                [rf_bin(), "--batch", ufile, "--out", out, "--concurrency",
                 "512", "--per-host", "512", "--set", "retry.attempts=1",
                 "--set", "output.bodies=" + mode],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=240, preexec_fn=nofile(64))
            err = p.stderr.decode(errors="replace")
            check_eq(p.returncode, 0, mode + ": exit status:\n" + err[-2000:])
            recs, problems = read_records(out)
            check(not problems, "whole records")
            check_eq(len(recs), 1000, mode + ": records")
            bad = [r for r in recs if not r["ok"] or r["attempts"] != 1
                   or not r.get("body_path")]
            check(not bad, "%s: all ok in one attempt, body stored: %s"
                  % (mode, bad[:2]))


@test("daemon under ulimit -n 64: idle clients and fetches share the "
      "descriptors, every job ok; the soft limit is raised to the hard one")
def _():
    with Server() as srv:
        d = Daemon("limits:\n  concurrency: 512\n  per_host: 512\n")
        d.wrap = ["prlimit", "--nofile=64:64", "--"]
        d.start()
        idle = []
        for _ in range(30):
            try:
                idle.append(d.conn())
            except OSError:
                break
        c = d.conn() if len(idle) < 30 else idle.pop()
        for i in range(300):
            c.send({"op": "submit", "url": srv.url("/delay/50?i=%d" % i),
                    "id": "e%d" % i})
        for i in range(300):
            check(c.response().get("ok"), "acknowledged")
        settle(d, 120)
        for x in idle:
            x.close()
        c.close()
        check_eq(d.stop(), 0, "exit")
        recs = d.records()
        check_eq(len(recs), 300, "records")
        bad = [r for r in recs if not r["ok"]]
        check(not bad, "all ok: %s" % bad[:2])
    d = Daemon()
    d.wrap = ["prlimit", "--nofile=64:4096", "--"]
    d.start()
    with open("/proc/%d/limits" % d.proc.pid) as f:
        row = [ln for ln in f if ln.startswith("Max open files")][0]
    check_eq(row.split()[3], "4096", "soft limit raised: " + row)
    check_eq(d.stop(), 0, "exit")


# ------------------------------------------------------------ DNS faults

class BadDns(threading.Thread):
    """A UDP responder on loopback: 'silent' never answers, 'garbage'
    answers every query with bytes that are not DNS, 'wrongid' with a
    well-formed answer under another query id."""

    def __init__(self, mode):
        super().__init__(daemon=True)
        self.mode = mode
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.stopping = False
        self.queries = 0

    def run(self):
        rng = random.Random(5)
        while not self.stopping:
            try:
                q, peer = self.s.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.mode == "garbage":
                self.s.sendto(bytes(rng.randrange(256)
                                    for _ in range(rng.randrange(1, 80))),
                              peer)
            elif self.mode == "wrongid" and len(q) >= 12:
                qid = bytes([q[0] ^ 0x55, q[1]])
                self.s.sendto(qid + b"\x81\x80\x00\x01\x00\x00\x00\x00"
                              b"\x00\x00" + q[12:], peer)

    def stop(self):
        self.stopping = True
        self.s.close()


@test("a DNS server that times out or answers garbage: jobs end with "
      "class dns within the timeouts, the daemon keeps serving")
def _():
    with Server() as srv:
        for mode in ("silent", "garbage", "wrongid"):
            dns = BadDns(mode)
            dns.start()
            try:
                d = Daemon("dns:\n  servers: [\"127.0.0.1:%d\"]\n"
                           "  timeout: 300ms\n  attempts: 2\n" % dns.port)
                d.start()
                c = d.conn()
                t0 = time.monotonic()
                for i in range(5):
                    r = c.ask({"op": "submit", "wait": True,
                               "url": "http://h%d.test:%d/ok" % (i, srv.port)})
                    check(r.get("ok"), "acknowledged: %r" % r)
                got = [c.line()["result"] for _ in range(5)]
                check(time.monotonic() - t0 < 20,
                      "%s: ended within the timeouts" % mode)
                check(all(g["error"] == "dns" for g in got),
                      "%s: class dns: %s" % (mode, [g["error"] for g in got]))
                r = c.ask({"op": "submit", "url": srv.url("/ok"),
                           "wait": True})
                check(c.line()["result"]["ok"], "%s: still fetching" % mode)
                check_eq(d.status()["state"], "running", mode + ": running")
                c.close()
                check_eq(d.stop(), 0, mode + ": exit")
                check(dns.queries > 0, mode + ": the server was asked")
            finally:
                dns.stop()


if __name__ == "__main__":
    main()
