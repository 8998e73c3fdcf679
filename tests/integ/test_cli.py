"""The operator's view of ringfetchd: options, --help and --version, the
configuration through the binary (round trip, --check-config, overrides),
exit statuses, the end-of-crawl summary against the records of the same run,
the progress line under a pseudo-terminal, and the man pages."""
import collections
import errno
import fcntl
import json
import os
import pty
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

FAST = ["--set", "retry.backoff_base=10ms", "--set", "retry.backoff_max=50ms"]
REF_CONFIG = os.path.join(repo_root(), "config", "ringfetch.yaml")
MAN_DIR = os.path.join(repo_root(), "man")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def long_options():
    """Every long option main.c accepts, from its getopt table, so a new
    option without a line in --help fails here."""
    with open(os.path.join(repo_root(), "daemon", "app", "main.c")) as f:
        src = f.read()
    table = src[src.index("long_opts[]"):]
    table = table[:table.index("};")]
    return re.findall(r'\{\s*"([a-z0-9-]+)"', table)


# ---------------------------------------------------------------- options

@test("--help lists every option on stdout and exits 0")
def _():
    p = run_rf(["--help"])
    check_eq(p.rc, 0, "exit status")
    opts = long_options()
    check(len(opts) >= 13, "found main.c's option table: %r" % opts)
    for o in opts:
        check_in("--" + o, p.stdout, "--help")
    for short in ("-c,", "-q,", "-h,"):
        check_in(short, p.stdout, "--help short option")
    check_eq(p.stderr, "", "stderr")
    for ln in p.stdout.splitlines():
        check(len(ln) < 80, "--help line under 80 columns: %r" % ln)


@test("--version prints one line and exits 0")
def _():
    p = run_rf(["--version"])
    check_eq(p.rc, 0, "exit status")
    check(re.fullmatch(r"ringfetchd \S+ \(\S+\)\n", p.stdout),
          "version line: %r" % p.stdout)


@test("an unknown option exits 2 with a one-line hint")
def _():
    p = run_rf(["--no-such-option"])
    check_eq(p.rc, 2, "exit status")
    check_in("--no-such-option", p.stderr, "names the option")
    check_in("--help", p.stderr, "points at --help")
    check(len(p.stderr.strip().splitlines()) <= 2, "short: %r" % p.stderr)


# ---------------------------------------------------------------- config

@test("--print-config round-trips through -c, defaults and overrides alike")
def _():
    work = scratch_dir("cfg")
    sets = ["--set", "limits.concurrency=77", "--set", "limits.per_host=3",
            "--set", "timeouts.idle=1500ms", "--set", "http.max_body=3MiB",
            "--set", "retry.statuses=[429,503]",
            "--set", "http.headers={X-A: b, From: \"me@example.org\"}",
            "--set", "dns.servers=[\"127.0.0.1:5353\"]",
            "--set", "limits.per_host_rate=0.5",
            "--set", "output.compress=gzip", "--set", "log.level=warn"]
    for extra in ([], sets):
        p1 = run_rf(["--print-config"] + extra)
        check_eq(p1.rc, 0, "print-config exit (%s)" % p1.stderr)
        f = write(os.path.join(work, "printed.yaml"), p1.stdout)
        p2 = run_rf(["-c", f, "--print-config"])
        check_eq(p2.rc, 0, "reload exit (%s)" % p2.stderr)
        check_eq(p2.stdout, p1.stdout, "second print")
        p3 = run_rf(["-c", f, "--check-config"])
        check_eq((p3.rc, p3.stdout, p3.stderr), (0, "", ""), "check-config")
    check_in("concurrency: 77", p1.stdout, "override printed")
    check_in("idle: 1500ms", p1.stdout, "duration printed")


@test("--check-config: the reference config exits 0, and equals the defaults")
def _():
    p = run_rf(["-c", REF_CONFIG, "--check-config"])
    check_eq((p.rc, p.stdout, p.stderr), (0, "", ""), "check-config")
    a = run_rf(["-c", REF_CONFIG, "--print-config"])
    b = run_rf(["--print-config"])
    check_eq(a.stdout, b.stdout, "reference config prints as the defaults")


BAD_CONFIGS = [
    ("limits:\n  per_hots: 3\n",
     "2:3: limits.per_hots: unknown key (did you mean per_host?)"),
    ("timeouts:\n  idle: 5x\n",
     "2:9: timeouts.idle: expected a duration like 250ms, 5s, 2m, 1h"),
    ("limits:\n  concurrency: 4\n  per_host: 8\n",
     "3:13: limits.per_host: must not exceed limits.concurrency (4)"),
    ("retry:\n  jitter: yes\n",
     "2:11: retry.jitter: expected true or false"),
    ("limits:\n  concurrency: 8\n   per_host: 2\n",
     "3:12: YAML syntax error: mapping values are not allowed in this "
     "context"),
    ("limits:\n\tconcurrency: 8\n",
     "2:1: YAML syntax error: tabs are not allowed for indentation; "
     "indent with spaces"),
    ("foo:\n  bar: 1\n", "1:1: foo: unknown key"),
]


@test("--check-config on bad files: exit 2, one line file:line:col: key: problem")
def _():
    work = scratch_dir("bad")
    for text, want in BAD_CONFIGS:
        f = write(os.path.join(work, "ringfetch.yaml"), text)
        p = run_rf(["-c", f, "--check-config"])
        check_eq(p.rc, 2, "exit status for %r" % text)
        check_eq(p.stdout, "", "stdout")
        check_eq(p.stderr, "%s:%s\n" % (f, want), "message for %r" % text)
    p = run_rf(["-c", os.path.join(work, "missing.yaml"), "--check-config"])
    check_eq(p.rc, 2, "missing file")
    check_in("missing.yaml", p.stderr, "names the file")


@test("a bad config or override fetches nothing: exit 2, no results")
def _():
    with Server() as srv:
        cases = [
            (["--set", "limits.per_hots=3"], None,
             "ringfetchd: --set limits.per_hots: unknown key "
             "(did you mean per_host?)\n"),
            (["--set", "timeouts.idle=soon"], None,
             "ringfetchd: --set timeouts.idle: expected a duration like "
             "250ms, 5s, 2m, 1h\n"),
            (["--concurrency", "0"], None,
             "ringfetchd: --concurrency 0: limits.concurrency: must be at "
             "least 1\n"),
            (["--timeout", "5x"], None,
             "ringfetchd: --timeout 5x: timeouts.total: expected a duration "
             "like 250ms, 5s, 2m, 1h\n"),
            (["--set", "nokey"], None,
             "ringfetchd: --set nokey: expected KEY=VALUE\n"),
            # "log" is two edits from "foo": too far to be a typo of it
            (["--set", "foo=1"], None,
             "ringfetchd: --set foo: unknown key\n"),
            ([], "limits:\n  per_hots: 3\n", None),
        ]
        for args, config, msg in cases:
            r = run_batch([srv.url("/ok")], args=args, config=config)
            check_eq(r.rc, 2, "exit status for %r" % args)
            if msg is not None:
                check_eq(r.stderr, msg, "message for %r" % args)
            check(not os.path.exists(r.out), "no output dir for %r" % args)
        check_eq(srv.stats()["requests_total"], 0, "server saw nothing")


@test("overrides win over the file, whatever their order")
def _():
    work = scratch_dir("ovr")
    f = write(os.path.join(work, "c.yaml"),
              "limits:\n  concurrency: 16\n  per_host: 2\n"
              "http:\n  max_redirects: 5\n"
              "output:\n  dir: %s\n" % os.path.join(work, "from-file"))
    p = run_rf(["--per-host", "3", "--set", "http.max_redirects=0",
                "-c", f, "--concurrency", "9", "--print-config"])
    check_eq(p.rc, 0, "exit status (%s)" % p.stderr)
    check_in("  concurrency: 9\n", p.stdout, "--concurrency")
    check_in("  per_host: 3\n", p.stdout, "--per-host before -c")
    check_in("  max_redirects: 0\n", p.stdout, "--set")
    with Server() as srv:
        url = srv.url("/redirect-chain/1")
        r = run_batch([url], config=open(f).read(),
                      args=["--set", "http.max_redirects=0"])
        check_eq(r.rc, 1, "exit status")
        rec = r.by_url()[url]
        check_eq(rec["error"], "http_status", "3xx not followed")
        check(not os.path.exists(os.path.join(work, "from-file")),
              "--out won over output.dir")


# ---------------------------------------------------------------- exit codes

@test("exit status: 0 all ok, 1 some failed, 2 usage (a bad output path too)")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/ok"), srv.url("/size/10")], args=FAST)
        check_eq(r.rc, 0, "all ok")
        r = run_batch([srv.url("/ok"), srv.url("/status/404")], args=FAST)
        check_eq(r.rc, 1, "some failed")
        check_eq(len(r.records), 2, "records")
        p = run_rf(["--batch"])
        check_eq(p.rc, 2, "--batch without files")
        work = scratch_dir("exit3")
        blocker = write(os.path.join(work, "plain-file"), "x")
        urls = write(os.path.join(work, "urls.txt"), srv.url("/ok") + "\n")
        p = run_rf(["--batch", urls, "--out", os.path.join(blocker, "out")])
        check_eq(p.rc, 2, "output dir under a regular file (%s)" % p.stderr)
        check_in("plain-file", p.stderr, "names the path")
        check_eq(srv.stats()["requests_total"], 2 + 2, "nothing fetched")


@test("an output path that cannot be written exits 2 before anything is "
      "fetched: --summary-json, --out, metrics.textfile")
def _():
    with Server() as srv:
        work = scratch_dir("outpaths")
        blocker = write(os.path.join(work, "plain-file"), "x")
        urls = write(os.path.join(work, "urls.txt"), srv.url("/ok") + "\n")
        out = os.path.join(work, "out")
        bad = os.path.join(blocker, "x", "summary.json")
        cases = [
            (["--summary-json", bad], "--summary-json " + bad),
            (["--summary-json", work], "--summary-json " + work),
            (["--out", os.path.join(blocker, "out")], blocker),
            (["--set", "metrics.textfile=" +
              os.path.join(blocker, "m.prom")], blocker),
        ]
        for args, named in cases:
            o = out if "--out" not in args else None
            p = run_rf(["--batch", urls] + (["--out", o] if o else []) + args)
            check_eq(p.rc, 2, "exit status for %r (%s)" % (args, p.stderr))
            check_in(named, p.stderr, "the message names the path")
            check_eq(len(p.stderr.strip().splitlines()), 1,
                     "one line: %r" % p.stderr)
            check_eq(srv.stats()["requests_total"], 0,
                     "nothing fetched for %r" % args)
            check(not os.path.exists(os.path.join(out, "results.jsonl")) or
                  os.path.getsize(os.path.join(out, "results.jsonl")) == 0,
                  "no records for %r" % args)
        # a good path is still written at the end, replacing what was there
        summ = write(os.path.join(work, "summary.json"), "x" * 10000)
        p = run_rf(["--batch", urls, "--out", out, "--summary-json", summ])
        check_eq(p.rc, 0, "exit status (%s)" % p.stderr)
        with open(summ) as f:
            s = json.load(f)
        check_eq((s["total"], s["ok"]), (1, 1), "summary written")


# ---------------------------------------------------------------- summary

def summary_text(stderr):
    """The text summary as {label: value}, classes and hosts apart."""
    lines = stderr.splitlines()
    start = [i for i, ln in enumerate(lines)
             if ln.startswith("ringfetchd: crawl finished")]
    check(start, "summary on stderr:\n" + stderr)
    top, classes, hosts, section = {}, {}, [], None
    for ln in lines[start[-1] + 1:]:
        m = re.match(r"^( +)(\S.*?) {2,}(\S+)", ln) or \
            re.match(r"^( +)(\S+) +(\S+)", ln)
        if ln.strip().startswith("top failing hosts"):
            section = "hosts"
            continue
        if not m:
            continue
        indent, key, val = len(m.group(1)), m.group(2).strip(), m.group(3)
        if section == "hosts":
            hosts.append((key, int(val)))
        elif indent == 4:
            classes[key] = int(val)
        else:
            top[key] = val
    return top, classes, hosts


def host_of(url):
    m = re.match(r"https?://([^/]+)", url)
    return m.group(1)


HOST_FAILURES = ("dns", "connect", "connect_timeout", "tls_handshake",
                 "tls_verify", "timeout", "deadline", "reset", "protocol")


def host_failed(rec):
    """Whether a record is a failure of its host's (not a 404, an invalid
    URL, a cancel): what "top failing hosts" counts."""
    return rec["error"] in HOST_FAILURES or (
        rec["error"] == "http_status" and (rec["status"] or 0) >= 500)


@test("the summary (text and --summary-json) agrees with the records")
def _():
    with Server(ports=3) as srv:
        dead = "http://127.0.0.1:%d/x" % closed_port()
        urls = [srv.url("/size/%d" % n) for n in (10, 2000, 70000)]
        urls += [srv.url("/redirect-chain/2"), srv.url("/redirect-chain/3?a")]
        urls += [srv.url("/status/404?%d" % i, i=1) for i in range(3)]
        urls += [srv.url("/status/503?%d" % i, i=2) for i in range(2)]
        urls += [dead, "ftp://example.org/", "not a url"]
        r = run_batch(urls, args=FAST + ["--set", "retry.attempts=2"],
                      summary=True)
        check_eq(r.rc, 1, "exit status")
        recs = r.records
        check_eq(len(recs), len(urls), "one record per URL")
        ok = sum(1 for x in recs if x["ok"])
        want = {
            "total": len(recs), "ok": ok, "failed": len(recs) - ok,
            "failed_by_class": dict(collections.Counter(
                x["error"] for x in recs if not x["ok"])),
            "retried": sum(1 for x in recs if x["attempts"] > 1),
            "redirects": sum(x["redirects"] for x in recs),
            "bytes": sum(x["bytes"] for x in recs),
        }
        check(want["retried"] >= 3, "some jobs were retried: %r" % want)
        check_eq(want["redirects"], 5, "redirects in records")
        s = r.summary
        for k, v in want.items():
            check_eq(s[k], v, "summary JSON %s" % k)
        check_eq(s["success_ratio"], round(ok / len(recs), 4), "ratio")
        check(s["elapsed_s"] > 0, "elapsed_s")
        check(abs(s["requests_per_s"] - len(recs) / s["elapsed_s"]) <
              0.1 + 0.01 * s["requests_per_s"], "requests_per_s")
        fails = collections.Counter(
            host_of(x["final_url"] or x["url"]) for x in recs
            if host_failed(x))
        check_eq(len(fails), 2, "the 503 host and the dead one: %r" % fails)
        top = sorted(fails.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        check_eq([(h["host"], h["failed"]) for h in s["top_failing_hosts"]],
                 top, "top failing hosts")
        check_eq(s["top_failing_hosts_exact"], True, "exact")
        text, classes, hosts = summary_text(r.stderr)
        for k in ("total", "ok", "failed", "retried", "redirects", "bytes"):
            check_eq(int(text[k]), want[k], "text %s" % k)
        check_eq(classes, want["failed_by_class"], "text classes")
        check_eq(hosts, top, "text hosts")
        check_eq(float(text["success ratio"]), s["success_ratio"], "text ratio")


@test("top failing hosts stay bounded: many hosts, the heavy one first")
def _():
    with Server() as srv:
        heavy = [srv.url("/status/503?%d" % i) for i in range(30)]
        ports = set()
        while len(ports) < 70:
            ports.add(closed_port())
        dead = ["http://127.0.0.1:%d/" % p for p in sorted(ports)]
        r = run_batch(heavy + dead, summary=True,
                      args=["--set", "retry.attempts=1"])
        check_eq(r.rc, 1, "exit status")
        s = r.summary
        check_eq(s["failed"], len(heavy) + len(dead), "failed")
        check_eq(s["top_failing_hosts_exact"], False, "over 64 hosts")
        top = s["top_failing_hosts"]
        check_eq(len(top), 5, "five hosts")
        check_eq(top[0]["host"], "127.0.0.1:%d" % srv.port, "heavy first")
        check(top[0]["failed"] >= len(heavy), "counts are upper bounds")
        check_in("approximate", r.stderr, "text says so")


@test("the summary's figures stay in one column with a long class name")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/redirect-loop"), srv.url("/ok")],
                      args=["--set", "http.max_redirects=2"])
        check_eq(r.rc, 1, "exit status")
        lines = r.stderr.splitlines()
        start = [i for i, ln in enumerate(lines)
                 if ln.startswith("ringfetchd: crawl finished")]
        check(start, "summary on stderr:\n" + r.stderr)
        body = []
        for ln in lines[start[-1] + 1:]:
            if ln.strip().startswith("top failing hosts"):
                break
            body.append(ln)
        check(any("too_many_redirects" in ln for ln in body),
              "the class is listed:\n" + "\n".join(body))
        # no label has a digit: the first one starts the figure
        cols = {re.search(r"\d", ln).start() for ln in body}
        check_eq(len(cols), 1, "one column of figures:\n" + "\n".join(body))


def serve_header_lines(stop):
    """A loopback server answering GET /N with N header lines (Connection:
    close included): -> (port, thread)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    ls.settimeout(0.2)

    def run():
        with ls:
            while not stop.is_set():
                try:
                    c, _ = ls.accept()
                except socket.timeout:
                    continue
                with c:
                    c.settimeout(5)
                    req = b""
                    while b"\r\n\r\n" not in req:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        req += chunk
                    n = int(req.split(b" ")[1].strip(b"/") or b"1")
                    head = [b"HTTP/1.1 200 OK", b"Connection: close",
                            b"Content-Length: 2"]
                    head += [b"X-Filler-%d: x" % i for i in range(n - 2)]
                    c.sendall(b"\r\n".join(head) + b"\r\n\r\nok")
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return ls.getsockname()[1], t


@test("the 200-line response-header limit holds and is documented")
def _():
    stop = threading.Event()
    port, t = serve_header_lines(stop)
    try:
        base = "http://127.0.0.1:%d/" % port
        r = run_batch([base + "200", base + "201"],
                      args=["--set", "retry.attempts=1", "--per-host", "1"])
    finally:
        stop.set()
        t.join(5)
    recs = r.by_url()
    check(recs[base + "200"]["ok"], "200 lines pass: %r" % recs[base + "200"])
    bad = recs[base + "201"]
    check_eq(bad["error"], "protocol", "201 lines fail")
    check_in("over 200 lines", bad["error_detail"], "the detail says why")
    with open(os.path.join(repo_root(), "README.md")) as f:
        check_in("200 header lines", f.read(), "README names the limit")
    with open(os.path.join(MAN_DIR, "ringfetchd.8")) as f:
        check_in("200 header lines", f.read(), "ringfetchd.8 names it")


@test("-q prints no summary, --summary-json is still written")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/ok")], args=["-q"], summary=True)
        check_eq(r.rc, 0, "exit status")
        check_eq(r.stderr, "", "stderr")
        check_eq(r.summary["ok"], 1, "summary JSON")


# ---------------------------------------------------------------- progress

def run_on_pty(args, timeout=60, cols=120):
    """Run ringfetchd with stderr on a pseudo-terminal (stdout to
    /dev/null); returns (rc, everything the terminal received, seconds)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", 40, cols, 0, 0))
    p = subprocess.Popen([rf_bin()] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave,
                         cwd=scratch_dir("pty"))
    os.close(slave)
    chunks = []
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # every slave closed: the end
                    break
                raise
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if p.poll() is None:
            p.terminate()
        rc = p.wait(10)
    return rc, b"".join(chunks).decode(errors="replace"), \
        time.monotonic() - t0


@test("the progress line is redrawn with \\r on a terminal, then cleared")
def _():
    with Server() as srv:
        work = scratch_dir("prog")
        n = 24
        urls = write(os.path.join(work, "urls.txt"), "".join(
            srv.url("/delay/150?%d" % i) + "\n" for i in range(n)))
        rc, out, secs = run_on_pty(["--batch", urls, "--per-host", "2",
                              "--out", os.path.join(work, "out")])
        check_eq(rc, 0, "exit status:\n" + out)
        # the pty turns \n into \r\n: look at the bare \r redraws only
        body = out.replace("\r\n", "\n")
        draws = [d for d in body.split("\r") if d.startswith("done ")]
        check(len(draws) >= 3, "several redraws:\n%r" % out[:2000])
        for d in draws:
            check(re.match(r"done \d+/(\d+ \(\d+%\)|\?), \d+ req/s, "
                           r"[\d.]+ MB/s, \d+ in flight, \d+ retrying, "
                           r"\d+ failed", d), "progress line: %r" % d)
            check("\n" not in d.rstrip(" "), "one line: %r" % d)
        check(any(("/%d (" % n) in d for d in draws), "total known")
        check(any(" 2 in flight" in d for d in draws), "in flight shown")
        # cleared: blanks, \r, then the summary at the start of the line
        check(re.search(r"\r +\rringfetchd: crawl finished", out),
              "line erased before the summary:\n%r" % out[-1500:])
        check("ERROR: AddressSanitizer" not in out, "sanitizer:\n" + out)
        # at most ~4 redraws a second
        check(len(draws) <= 4 * secs + 2,
              "rate-limited: %d redraws in %.1f s" % (len(draws), secs))


@test("log events on a terminal stand on their own lines, not after the progress line")
def _():
    with Server() as srv:
        work = scratch_dir("proglog")
        urls = write(os.path.join(work, "urls.txt"), "".join(
            srv.url("/delay/200?%d" % i) + "\n" for i in range(8)))
        rc, out, secs = run_on_pty(["--batch", urls, "--per-host", "1",
                                    "--concurrency", "1",
                                    "--set", "log.level=debug",
                                    "--out", os.path.join(work, "out")])
        check_eq(rc, 0, "exit status")
        check("ringfetchd: debug:" in out, "debug events logged")
        check("done " in out, "progress drawn")
        bad = re.search(r"done [^\r\n]*ringfetchd: debug", out)
        check(not bad, "a log line glued to the progress line: %r" %
              (bad.group(0)[:200] if bad else ""))


@test("no progress line when stderr is a pipe, nor with -q on a terminal")
def _():
    with Server() as srv:
        urls = [srv.url("/delay/150?%d" % i) for i in range(12)]
        r = run_batch(urls, args=["--per-host", "2"])
        check_eq(r.rc, 0, "exit status")
        check("\r" not in r.stderr, "no \\r on a pipe: %r" % r.stderr)
        check("req/s" not in r.stderr, "no progress on a pipe")
        check_in("crawl finished", r.stderr, "summary still printed")
        work = scratch_dir("q")
        f = write(os.path.join(work, "urls.txt"), "\n".join(urls) + "\n")
        rc, out, _ = run_on_pty(["-q", "--batch", f, "--per-host", "2",
                              "--out", os.path.join(work, "out")])
        check_eq(rc, 0, "exit status -q")
        check_eq(out, "", "nothing on the terminal with -q")


# ---------------------------------------------------------------- man pages

MAN_PAGES = ["ringfetchd.8", "ringfetch.yaml.5", "ringfetch.1"]


@test("man pages render without warnings")
def _():
    man, groff = shutil.which("man"), shutil.which("groff")
    if not man and not groff:
        skip("neither man nor groff installed")
    for page in MAN_PAGES:
        path = os.path.join(MAN_DIR, page)
        check(os.path.exists(path), "%s exists" % page)
        if man:
            p = subprocess.run([man, "--warnings", "-l", path],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=60,
                               env=dict(os.environ, MANWIDTH="80"))
            check_eq(p.stderr.decode(), "", "man --warnings %s" % page)
            check_eq(p.returncode, 0, "man exit %s" % page)
        if groff:
            p = subprocess.run([groff, "-ww", "-man", "-z", path],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=60)
            check_eq(p.stderr.decode(), "", "groff -ww %s" % page)


@test("the man pages name every key, option and client command")
def _():
    with open(os.path.join(MAN_DIR, "ringfetch.yaml.5")) as f:
        page5 = f.read().replace("\\-", "-")
    printed = run_rf(["--print-config"]).stdout
    keys = []
    path = []       # (indent, name) of the sections open at a line
    for ln in printed.splitlines():
        indent = len(ln) - len(ln.lstrip(" "))
        name, _, value = ln.strip().partition(":")
        while path and path[-1][0] >= indent:
            path.pop()
        if value == "" and name != "headers":
            path.append((indent, name))     # a section, maybe nested
        elif path and indent > path[-1][0] and name:
            keys.append(".".join([p[1] for p in path] + [name]))
    check(len(keys) >= 45, "keys from --print-config: %d" % len(keys))
    for k in keys:
        check(re.search(r"^\.BR %s " % re.escape(k), page5, re.M),
              "ringfetch.yaml.5 documents %s" % k)
    with open(os.path.join(MAN_DIR, "ringfetchd.8")) as f:
        page8 = f.read().replace("\\-", "-")
    for o in long_options():
        check_in("--" + o, page8, "ringfetchd.8 option")
    client = rf_bin("ringfetch")
    if os.path.exists(client):
        with open(os.path.join(MAN_DIR, "ringfetch.1")) as f:
            page1 = f.read().replace("\\-", "-")
        helptext = run_rf(["--help"], binary=client).stdout
        for o in set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", helptext)):
            check_in(o, page1, "ringfetch.1 option")
        for cmd in ("submit", "status", "watch", "cancel"):
            check_in(".B " + cmd, page1, "ringfetch.1 command")


main()
