"""Helpers for ringfetch's integration tests (Python 3 stdlib only).

A test file is a plain script run by /usr/bin/python3 from the repository
root (tests/run.sh); it prints TAP on stdout and exits 1 when a test failed:

    import sys, os
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from harness import *

    @test("fetches /ok")
    def _():
        with Server() as srv:
            r = run_batch([srv.url("/ok")])
            check_eq(r.rc, 0, "exit status")
            rec = r.by_url()[srv.url("/ok")]
            check(rec["ok"], "record ok")
            check_eq(rec["sha256"], sha256_of_bytes(b"hello"), "sha256")

    main()

API
  Server(ports=1, host="127.0.0.1", bind6=False, tls=None, args=())
      context manager running tests/server/rfserver.py; .port, .ports,
      .url(path, i=0, host=None), .stats(i=0), .stats_all(), .reset(i=None),
      .log(i=0, path=None, n=100), .robots(body, status=200, i=None),
      .control(path, i=0), .stop()
  run_batch(urls, args=(), timeout=60, env=None, summary=False,
            strict=True, check_sanitizers=True, config=None,
            peak_rss=False) -> BatchResult
      .rc .stdout .stderr .records .by_url(allow_dup=False) .summary
      .out (output dir) .timed_out .elapsed .cmd .problems .peak_rss_kib
  run_rf(args, timeout=30, env=None, input=None, cwd=None, binary=...,
         peak_rss=False)
      -> Proc(rc, stdout, stderr, timed_out, elapsed, peak_rss_kib)
  peak_rss_kib(pid) -> VmHWM of a live process in KiB (None once gone)
  start_rf(args, cwd=None, env=None, stdin=False, binary=...) -> Running
      a binary in the background, stdout/stderr to files: .pid .stdin
      .poll() .send_signal(sig) .stderr_text() .wait_stderr(text, timeout)
      .finish(timeout=30) -> Proc (SIGTERM/SIGKILL on timeout) .stop()
      (a context manager: leaving it stops the process)
  rf_bin(name="ringfetchd"), repo_root(), scratch_dir(prefix)
  content_of(n), sha256_of(n), sha256_of_bytes(b), gzip_sha256_of(n)
  free_port(), closed_port()
  test(name=None, timeout=120), main(), skip(reason), diag(msg)
  check(cond, what), check_eq(actual, expected, what), check_in(x, coll, what)
  wait_until(pred, timeout=10, interval=0.05, what="condition")
  make_cert(dirpath, cn="localhost") -> (cert, key)    # needs openssl(1)
  yaml_of(cfg) -> YAML text of {"section": {"key": value}} (values: str,
      int, float, bool, list, dict; lists and dicts as JSON flow style)
  prom_samples(text) -> {"name{labels}": float} of Prometheus text
  Control(sock_path, timeout=20): a control-socket client; .send(obj|str)
      .line() .response() (next line that is no {"result":..}) .ask(req)
      .close()
  RfDaemon(cfg=None, args=(), env=None): ringfetchd in daemon mode on a
      scratch socket, state dir and output dir (cfg as for yaml_of; its
      daemon: and output: sections merge with those); .start() .status()
      .ask(req) .conn() .submit_many(reqs, clients=1) .write_config(cfg)
      .send_signal(sig) .stop(sig=SIGTERM) -> exit status (raises on a
      timeout or a sanitizer report) .log() .records() .sock .state .out
      .pid
      (a context manager: leaving it stops the daemon)

Environment: RF_BUILD (default "build/asan", relative to the repo root)
selects the binaries; RF_KEEP=1 keeps the scratch directories (printed as
"# kept ..." lines); RF_TEST=substring runs only the matching tests (also
the first command-line argument).
"""

import atexit
import ctypes
import gzip
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

__all__ = [
    "Server", "run_batch", "run_rf", "BatchResult", "Proc", "rf_bin",
    "repo_root", "scratch_dir", "content_of", "sha256_of", "sha256_of_bytes",
    "gzip_sha256_of", "free_port", "closed_port", "test", "main", "skip",
    "diag", "check", "check_eq", "check_in", "wait_until", "make_cert",
    "peak_rss_kib", "start_rf", "Running",
    "Skip", "TestTimeout", "PY", "SERVER",
    "yaml_of", "prom_samples", "Control", "Daemon", "RfDaemon",
    "suite_passes_whole",
]

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(os.path.dirname(HERE), "server", "rfserver.py")
ALPHA = b"abcdefghijklmnopqrstuvwxyz"


def repo_root():
    """The repository root: the parent of tests/."""
    return os.path.dirname(os.path.dirname(HERE))


def rf_bin(name="ringfetchd"):
    build = os.environ.get("RF_BUILD", "build/asan")
    if not os.path.isabs(build):
        build = os.path.join(repo_root(), build)
    return os.path.join(build, name)


# ---------------------------------------------------------------- scratch

_SCRATCH_ROOT = None


def scratch_dir(prefix="rf"):
    """A fresh directory, removed at exit (unless RF_KEEP=1)."""
    global _SCRATCH_ROOT
    if _SCRATCH_ROOT is None:
        _SCRATCH_ROOT = tempfile.mkdtemp(prefix="rf-integ-")
        atexit.register(_cleanup_scratch)
    return tempfile.mkdtemp(prefix=prefix + "-", dir=_SCRATCH_ROOT)


def _cleanup_scratch():
    if _SCRATCH_ROOT is None:
        return
    if os.environ.get("RF_KEEP") == "1":
        print("# kept %s" % _SCRATCH_ROOT, flush=True)
    else:
        shutil.rmtree(_SCRATCH_ROOT, ignore_errors=True)


# ---------------------------------------------------------------- content

def content_of(n):
    """The server's deterministic body for /size/N (N bytes)."""
    return (ALPHA * (n // 26 + 1))[:n]


def sha256_of(n):
    """Hex SHA-256 of the server's /size/N, /big/N, /chunked/N, /close/N
    body; n is the byte count (any size; computed incrementally)."""
    h = hashlib.sha256()
    block = ALPHA * 2520  # 65520, a multiple of 26
    while n >= len(block):
        h.update(block)
        n -= len(block)
    h.update(block[:n])
    return h.hexdigest()


def sha256_of_bytes(b):
    return hashlib.sha256(b).hexdigest()


def gzip_sha256_of(n):
    """Hex SHA-256 of the server's /gzip/N body (content coding kept)."""
    return hashlib.sha256(
        gzip.compress(content_of(n), compresslevel=6, mtime=0)).hexdigest()


# ---------------------------------------------------------------- ports

def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (nothing listens on it)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


closed_port = free_port  # connecting to it gets ECONNREFUSED (most likely)


# ---------------------------------------------------------------- processes

def _pdeathsig():
    """In the child: get SIGTERM when the test process dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop_proc(p, grace=3.0):
    """SIGTERM the process (by PID), SIGKILL after grace; returns rc."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            p.wait()
    return p.returncode


class Server:
    """rfserver.py under a context manager.

    with Server(ports=3) as srv:
        srv.url("/ok", i=2)   -> "http://127.0.0.1:PORT2/ok"
        srv.stats(2)          -> counters of listener 2 (dict)
    """

    def __init__(self, ports=1, host="127.0.0.1", bind6=False, tls=None,
                 args=()):
        self.nports = ports
        self.host = host
        self.bind6 = bind6
        self.tls = tls  # None or (certfile, keyfile)
        self.extra = list(args)
        self.ports = []
        self.proc = None
        self.dir = None

    @property
    def port(self):
        return self.ports[0]

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    def start(self):
        self.dir = scratch_dir("server")
        pf = os.path.join(self.dir, "ports")
        self.errpath = os.path.join(self.dir, "stderr")
        cmd = [PY, SERVER, "--port", "0", "--ports", str(self.nports),
               "--host", self.host, "--port-file", pf]
        if self.bind6:
            cmd.append("--bind6")
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        cmd += self.extra
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, preexec_fn=_pdeathsig)
        deadline = time.monotonic() + 10
        while True:
            try:
                with open(pf) as f:
                    txt = f.read()
                if txt.endswith("\n"):
                    self.ports = [int(x) for x in txt.split()]
                    break
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("rfserver exited %s: %s" % (
                    self.proc.returncode, self.server_log()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("rfserver did not start in 10 s: %s" %
                                   self.server_log())
            time.sleep(0.02)
        return self

    def stop(self):
        if self.proc is None:
            return None
        rc = _stop_proc(self.proc)
        self.proc = None
        return rc

    def server_log(self):
        try:
            with open(self.errpath, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        rc = self.stop()
        log = self.server_log().strip()
        if log:
            print("# rfserver stderr (exit %s):" % rc)
            for ln in log.splitlines()[-40:]:
                print("#   " + ln)
        return False

    def url(self, path, i=0, host=None):
        if not path.startswith("/"):
            path = "/" + path
        h = host or self.host
        if ":" in h:
            h = "[%s]" % h
        return "%s://%s:%d%s" % (self.scheme, h, self.ports[i], path)

    def control(self, path, i=0):
        """GET a control endpoint (path like "/__stats?all=1") -> JSON."""
        h = self.host
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection(h, self.ports[i], timeout=10,
                                            context=ctx)
        else:
            c = http.client.HTTPConnection(h, self.ports[i], timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError("%s -> %d %r" % (path, r.status, body))
            return json.loads(body)
        finally:
            c.close()

    def stats(self, i=0):
        return self.control("/__stats", i)

    def stats_all(self):
        return self.control("/__stats?all=1")

    def reset(self, i=None):
        """Zero counters, flaky keys and the request log (all listeners
        when i is None)."""
        self.control("/__reset?all=1" if i is None else "/__reset",
                     0 if i is None else i)

    def log(self, i=0, path=None, n=100):
        """Recent requests seen by listener i (oldest first): dicts with
        port, conn, method, target, headers ([[name, value], ...]) and t
        (when the server read it, seconds, monotonic)."""
        import urllib.parse as up
        q = {"n": str(n)}
        if path:
            q["path"] = path
        return self.control("/__log?" + up.urlencode(q), i)["requests"]

    def robots(self, body, status=200, i=None, silent=False):
        """Set /robots.txt (body None and status None: unset -> 404;
        silent: read and never answered)."""
        import urllib.parse as up
        q = {}
        if body is not None:
            q["body"] = body
        if status is not None:
            q["status"] = str(status)
        if silent:
            q["silent"] = "1"
        if i is None:
            q["all"] = "1"
        self.control("/__robots?" + up.urlencode(q), i or 0)


def peak_rss_kib(pid):
    """The peak resident set size (VmHWM) of a live process in KiB; None
    when it is gone or already a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except (OSError, ValueError):
        pass
    return None


class _PeakSampler:
    """Samples a process's VmHWM every 10 ms until stopped; .peak is the
    highest value seen (VmHWM only grows, so this misses at most the last
    10 ms before the process exits), None if no sample was taken."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = None
        self.done = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            v = peak_rss_kib(self.pid)
            if v is not None and (self.peak is None or v > self.peak):
                self.peak = v
            if self.done.wait(0.01):
                return

    def stop(self):
        self.done.set()
        self.t.join(5)
        return self.peak


class Proc:
    def __init__(self, cmd, rc, stdout, stderr, timed_out, elapsed,
                 peak_rss_kib=None):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.elapsed = elapsed
        self.peak_rss_kib = peak_rss_kib

    def __repr__(self):
        return "<Proc rc=%r timed_out=%r %s>" % (self.rc, self.timed_out,
                                                  " ".join(self.cmd))


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "ERROR: ThreadSanitizer",
                   "WARNING: ThreadSanitizer", "ERROR: UndefinedBehavior")


def sanitizer_errors(text):
    return [ln for ln in text.splitlines()
            if any(m in ln for m in SANITIZER_MARKS)]


def run_rf(args, timeout=30, env=None, input=None, cwd=None, binary=None,
           peak_rss=False):
    """Run a ringfetch binary (bounded); returns Proc.  On timeout the
    process gets SIGTERM, then SIGKILL after 3 s; rc is then its status and
    timed_out True.  input: str/bytes for stdin (None: /dev/null).
    peak_rss: sample the process's VmHWM while it runs (.peak_rss_kib)."""
    cmd = [binary or rf_bin()] + [str(a) for a in args]
    if not os.path.exists(cmd[0]):
        raise RuntimeError("binary not found: %s (set RF_BUILD)" % cmd[0])
    e = os.environ.copy()
    if env:
        e.update(env)
    if isinstance(input, str):
        input = input.encode()
    t0 = time.monotonic()
    p = subprocess.Popen(
        cmd, cwd=cwd or scratch_dir("cwd"), env=e,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=_pdeathsig)
    sampler = _PeakSampler(p.pid) if peak_rss else None
    timed_out = False
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
    finally:
        peak = sampler.stop() if sampler else None
    return Proc(cmd, p.returncode, out.decode(errors="replace"),
                err.decode(errors="replace"), timed_out,
                time.monotonic() - t0, peak)


class Running:
    """A ringfetch binary started in the background by start_rf().  Its
    stdout and stderr go to files, so a test can poll what it logged while
    it runs (wait_stderr) without a pipe filling up."""

    def __init__(self, cmd, cwd, env, stdin):
        d = scratch_dir("run")
        self.cmd = cmd
        self.outpath = os.path.join(d, "stdout")
        self.errpath = os.path.join(d, "stderr")
        self.t0 = time.monotonic()
        with open(self.outpath, "wb") as o, open(self.errpath, "wb") as e:
            self.p = subprocess.Popen(
                cmd, cwd=cwd or d, env=env,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=o, stderr=e, preexec_fn=_pdeathsig)
        self.stdin = self.p.stdin

    @property
    def pid(self):
        return self.p.pid

    def poll(self):
        return self.p.poll()

    def send_signal(self, sig):
        self.p.send_signal(sig)

    def _read(self, path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr_text(self):
        return self._read(self.errpath)

    def wait_stderr(self, text, timeout=10):
        """Poll until stderr contains text (returns all of it); raise
        AssertionError with the stderr on timeout or when the process
        exits without logging it."""
        deadline = time.monotonic() + timeout
        while True:
            exited = self.p.poll() is not None
            err = self.stderr_text()
            if text in err:
                return err
            if exited:
                raise AssertionError("exited %s before logging %r:\n%s" % (
                    self.p.returncode, text, err[-3000:]))
            if time.monotonic() > deadline:
                raise AssertionError(
                    "timed out after %ss waiting for %r on stderr:\n%s" % (
                        timeout, text, err[-3000:]))
            time.sleep(0.02)

    def finish(self, timeout=30):
        """Wait for the exit (bounded: SIGTERM at timeout, SIGKILL 3 s
        later, .timed_out set) -> Proc."""
        if self.stdin is not None and not self.stdin.closed:
            self.stdin.close()
        timed_out = False
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop_proc(self.p)
        return Proc(self.cmd, self.p.returncode, self._read(self.outpath),
                    self.stderr_text(), timed_out,
                    time.monotonic() - self.t0)

    def stop(self):
        if self.stdin is not None and not self.stdin.closed:
            try:
                self.stdin.close()
            except OSError:
                pass
        return _stop_proc(self.p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def start_rf(args, cwd=None, env=None, stdin=False, binary=None):
    """Start a ringfetch binary in the background -> Running.  stdin: give
    it a pipe (.stdin) instead of /dev/null."""
    cmd = [binary or rf_bin()] + [str(a) for a in args]
    if not os.path.exists(cmd[0]):
        raise RuntimeError("binary not found: %s (set RF_BUILD)" % cmd[0])
    e = os.environ.copy()
    if env:
        e.update(env)
    return Running(cmd, cwd, e, stdin)


class BatchResult(Proc):
    """Outcome of run_batch: Proc fields plus records and summary."""

    def __init__(self, proc, out, records, problems, summary):
        Proc.__init__(self, proc.cmd, proc.rc, proc.stdout, proc.stderr,
                      proc.timed_out, proc.elapsed, proc.peak_rss_kib)
        self.out = out
        self.records = records
        self.problems = problems
        self.summary = summary

    def by_url(self, allow_dup=False):
        """url -> record; AssertionError on a URL with two records unless
        allow_dup (then the last one wins)."""
        d = {}
        for r in self.records:
            u = r.get("url")
            if u in d and not allow_dup:
                raise AssertionError("two records for %r:\n  %s\n  %s" % (
                    u, json.dumps(d[u]), json.dumps(r)))
            d[u] = r
        return d

    def describe(self):
        """Multi-line text for failure messages."""
        lines = ["cmd: " + " ".join(self.cmd),
                 "rc=%r timed_out=%r elapsed=%.2fs records=%d" % (
                     self.rc, self.timed_out, self.elapsed,
                     len(self.records))]
        err = self.stderr.strip().splitlines()
        if err:
            lines.append("stderr (last 30 lines):")
            lines += ["  " + x for x in err[-30:]]
        return "\n".join(lines)


def read_records(outdir):
    """All records in outdir: rotated results-*.jsonl[.gz] (by name), then
    results.jsonl.  Returns (records, problems)."""
    records, problems = [], []
    if not os.path.isdir(outdir):
        return records, problems  # e.g. exit 2: nothing was started
    names = sorted(n for n in os.listdir(outdir)
                   if n.startswith("results-") and
                   (n.endswith(".jsonl") or n.endswith(".jsonl.gz")))
    if os.path.exists(os.path.join(outdir, "results.jsonl")):
        names.append("results.jsonl")
    for n in names:
        path = os.path.join(outdir, n)
        opener = gzip.open if n.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            problems.append("%s: last line not terminated by a newline" % n)
        for no, line in enumerate(data.split(b"\n"), 1):
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                problems.append("%s:%d: not JSON (%s): %r" % (
                    n, no, e, line[:200]))
                continue
            if not isinstance(obj, dict):
                problems.append("%s:%d: not a JSON object" % (n, no))
                continue
            records.append(obj)
    return records, problems


def run_batch(urls, args=(), timeout=60, env=None, summary=False,
              strict=True, check_sanitizers=True, config=None,
              peak_rss=False):
    """Run `ringfetchd --batch FILE --out DIR [args]` on the URL list.

    urls: list of str (written one a line).  config: YAML text written to a
    file and passed as -c.  summary=True adds --summary-json; a
    --summary-json FILE given in args is read as well.  With strict
    (default) a results line that is not a whole JSON object raises
    AssertionError; with check_sanitizers an ASan/UBSan/LSan report on
    stderr raises AssertionError.  A timeout does not raise: see .timed_out.
    peak_rss: sample the daemon's peak RSS while it runs (.peak_rss_kib).
    """
    work = scratch_dir("batch")
    ufile = os.path.join(work, "urls.txt")
    with open(ufile, "w") as f:
        for u in urls:
            f.write(u + "\n")
    out = os.path.join(work, "out")
    cmd = []
    if config is not None:
        cfile = os.path.join(work, "ringfetch.yaml")
        with open(cfile, "w") as f:
            f.write(config)
        cmd += ["-c", cfile]
    cmd += ["--batch", ufile, "--out", out]
    args = [str(a) for a in args]
    sfile = None
    if summary:
        sfile = os.path.join(work, "summary.json")
        cmd += ["--summary-json", sfile]
    if "--summary-json" in args:
        sfile = args[args.index("--summary-json") + 1]
        if not os.path.isabs(sfile):
            sfile = os.path.join(work, sfile)
    cmd += args
    p = run_rf(cmd, timeout=timeout, env=env, cwd=work, peak_rss=peak_rss)
    records, problems = read_records(out)
    summ = None
    if sfile and os.path.exists(sfile):
        try:
            with open(sfile) as f:
                summ = json.load(f)
        except ValueError as e:
            problems.append("summary JSON invalid: %s" % e)
    r = BatchResult(p, out, records, problems, summ)
    if strict and problems:
        raise AssertionError("bad results output:\n  " +
                             "\n  ".join(problems[:20]) + "\n" + r.describe())
    if check_sanitizers:
        bad = sanitizer_errors(p.stderr)
        if bad:
            raise AssertionError("sanitizer report:\n" + r.describe())
    return r


# ---------------------------------------------------------------- TLS

def make_cert(dirpath, cn="localhost"):
    """Self-signed cert for cn (+ SAN localhost, 127.0.0.1, ::1) via the
    openssl command; returns (certfile, keyfile)."""
    cert = os.path.join(dirpath, "cert.pem")
    key = os.path.join(dirpath, "key.pem")
    san = "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1" % cn
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
         "-addext", san],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=60)
    return cert, key


# ---------------------------------------------------------------- config

def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)    # JSON is YAML flow style
    v = str(v)
    if v and all(c.isalnum() or c in "_./:-+@" for c in v) and \
            v.lower() not in ("true", "false", "yes", "no", "on", "off",
                              "null", "~"):
        return v
    return json.dumps(v)


def yaml_of(cfg):
    """YAML text of a two-level mapping: {"limits": {"workers": 2}}."""
    out = []
    for sec, keys in cfg.items():
        out.append("%s:" % sec)
        for k, v in keys.items():
            out.append("  %s: %s" % (k, _yaml_scalar(v)))
    return "\n".join(out) + "\n"


def prom_samples(text):
    """Prometheus text format -> {"name{labels}": value}; raises
    AssertionError on a sample line that does not parse."""
    import re
    vals = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? '
                     r'([0-9.e+-]+|NaN|[+-]Inf)$', line)
        if not m:
            raise AssertionError("malformed sample line: %r" % line)
        vals[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return vals


# ---------------------------------------------------------------- daemon

class Control:
    """A control-socket client: one JSON line per request, bounded waits."""

    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        if isinstance(data, dict):
            data = json.dumps(data)
        if isinstance(data, str):
            data = data.encode()
        if not data.endswith(b"\n"):
            data += b"\n"
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; have %r" %
                                     self.buf[:200])
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        return json.loads(ln)

    def response(self):
        """The next line that is not a {"result":..}."""
        while True:
            o = self.line()
            if "result" not in o:
                return o

    def ask(self, req):
        self.send(req)
        return self.response()

    def close(self):
        self.s.close()


class Daemon:
    """ringfetchd in daemon mode on a temporary socket and directories."""

    def __init__(self, extra="", workdir=None, env=None, wrap=None,
                 args=()):
        self.args = [str(a) for a in args]
        self.dir = workdir or scratch_dir("daemon")
        self.sock = os.path.join(self.dir, "run", "rf.sock")
        self.state = os.path.join(self.dir, "state")
        self.out = os.path.join(self.dir, "out")
        self.cfg = os.path.join(self.dir, "ringfetch.yaml")
        self.env = env
        self.wrap = wrap
        self.proc = None
        self.errpath = None
        self.write_config(extra)

    def write_config(self, extra="", daemon=""):
        """The test's paths, retry.attempts 1, then extra YAML (sections
        other than daemon:, whose further keys go in daemon)."""
        with open(self.cfg, "w") as f:
            f.write("daemon:\n  socket: %s\n  state_dir: %s\n"
                    "  shutdown_grace: 2s\n%soutput:\n  dir: %s\n" % (
                        self.sock, self.state, daemon, self.out))
            f.write("retry:\n  attempts: 1\n")
            f.write(extra)

    def start(self, wait=True):
        e = os.environ.copy()
        if self.env:
            e.update(self.env)
        self.errpath = os.path.join(self.dir, "stderr.%d" % time.time_ns())
        cmd = (self.wrap or []) + [rf_bin(), "-c", self.cfg] + self.args
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, env=e, preexec_fn=_pdeathsig)
        if wait:
            wait_until(self.listening, 15, what="daemon socket")
        return self

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("daemon exited %s:\n%s" % (
                self.proc.returncode, self.log()))
        log = self.log()
        if "listening on" not in log:   # not the socket of a dead one
            return False
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.sock)
            s.close()
            return True
        except OSError:
            return False

    def log(self):
        if not self.errpath:
            return ""
        try:
            with open(self.errpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def conn(self, timeout=20):
        return Control(self.sock, timeout)

    def ask(self, req):
        c = self.conn()
        try:
            return c.ask(req)
        finally:
            c.close()

    def status(self):
        r = self.ask({"op": "status"})
        check(r.get("ok"), "status ok: %r" % r)
        return r["status"]

    def kill_sig(self, sig):
        self.proc.send_signal(sig)

    send_signal = kill_sig

    def submit_many(self, reqs, clients=1, timeout=60):
        """Submit reqs (dicts or bare URL lines) over `clients`
        connections at once, each sending its share pipelined; returns
        the acknowledgements in the order of reqs (raises on a refusal)."""
        acks = [None] * len(reqs)
        errs = []

        def one(k):
            try:
                c = self.conn(timeout)
                mine = list(range(k, len(reqs), clients))
                data = "".join((json.dumps(reqs[i]) if isinstance(
                    reqs[i], dict) else reqs[i]) + "\n" for i in mine)
                t = threading.Thread(target=c.s.sendall,
                                     args=(data.encode(),), daemon=True)
                t.start()
                for i in mine:
                    acks[i] = c.response()
                t.join(timeout)
                c.close()
            except Exception as e:  # noqa: reported below
                errs.append(e)
        ts = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout + 5)
        if errs:
            raise AssertionError("submitting: %r" % errs[:3])
        bad = [a for a in acks if not (a and a.get("ok"))]
        if bad:
            raise AssertionError("%d submits refused, first %r" % (
                len(bad), bad[0]))
        return acks


    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal by PID and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = _stop_proc(self.proc, 1)
            raise AssertionError("daemon did not stop in %ss:\n%s" % (
                timeout, self.log()[-3000:]))
        finally:
            bad = sanitizer_errors(self.log())
            self.proc = None
        if bad:
            raise AssertionError("sanitizer report:\n" + self.log()[-6000:])
        return rc

    def kill(self):
        if self.proc is not None:
            _stop_proc(self.proc, 1)
            self.proc = None

    def records(self):
        recs, problems = read_records(self.out)
        check(not problems, "results: %s" % problems[:5])
        return recs

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(timeout=15)
            except AssertionError:
                if exc[0] is None:
                    raise
        return False


class RfDaemon(Daemon):
    """Daemon configured from a dict, {"section": {"key": value}} (see
    yaml_of): the daemon: section gets socket, state_dir and
    shutdown_grace 2s and output.dir the scratch output directory unless
    cfg sets them; nothing else is added (no retry default)."""

    def __init__(self, cfg=None, args=(), env=None):
        super().__init__(cfg or {}, args=args, env=env)

    def write_config(self, cfg=None, daemon=""):
        if not isinstance(cfg, dict):
            return super().write_config(cfg or "", daemon)
        full = {"daemon": {"socket": self.sock, "state_dir": self.state,
                           "shutdown_grace": "2s"},
                "output": {"dir": self.out}}
        for sec, keys in cfg.items():
            full.setdefault(sec, {}).update(keys)
        with open(self.cfg, "w") as f:
            f.write(yaml_of(full))


def suite_passes_whole(name, env, least):
    """Run tests/integ/NAME (another test file) under the extra
    environment env and check that it passed whole: no "not ok", at least
    `least` oks, exit 0 (a forced fallback runs a suite both ways)."""
    e = dict(os.environ)
    e.update(env)
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run([sys.executable, os.path.join(here, name)],
                       env=e, capture_output=True, text=True, timeout=280)
    bad = [ln for ln in p.stdout.splitlines() if ln.startswith("not ok")]
    good = [ln for ln in p.stdout.splitlines() if ln.startswith("ok ")]
    check(not bad, "failures: %r\n%s" % (bad, p.stdout[-2000:]))
    check(len(good) >= least, "ran: %d ok" % len(good))
    check_eq(p.returncode, 0, "exit status")


# ---------------------------------------------------------------- checks

def check(cond, what="check"):
    if not cond:
        raise AssertionError(what)


def check_eq(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError("%s: got %r, expected %r" % (
            what, actual, expected))


def check_in(x, coll, what="value"):
    if x not in coll:
        raise AssertionError("%s: %r not in %r" % (what, x, coll))


def wait_until(pred, timeout=10, interval=0.05, what="condition"):
    """Poll pred() until truthy (returned) or raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (
                timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- TAP runner

class Skip(Exception):
    pass


class TestTimeout(Exception):
    pass


_TESTS = []


def test(name=None, timeout=120):
    """Decorator registering a test: @test, @test("name"),
    @test("name", timeout=30)."""
    if callable(name):
        fn = name
        _TESTS.append((fn.__name__, fn, timeout))
        return fn

    def deco(fn):
        _TESTS.append((name or fn.__name__, fn, timeout))
        return fn
    return deco


def skip(reason):
    raise Skip(reason)


def diag(msg):
    for ln in str(msg).splitlines() or [""]:
        print("# " + ln)
    sys.stdout.flush()


def _alarm(signum, frame):
    raise TestTimeout("test timed out")


def main(argv=None):
    """Run the registered tests, print TAP, exit 1 if any failed."""
    argv = sys.argv[1:] if argv is None else argv
    only = argv[0] if argv else os.environ.get("RF_TEST")
    signal.signal(signal.SIGALRM, _alarm)
    n = failed = 0
    for name, fn, tmo in _TESTS:
        if only and only not in name:
            continue
        n += 1
        status, detail = "ok", None
        t0 = time.monotonic()
        signal.alarm(int(tmo))
        try:
            fn()
        except Skip as e:
            status = "ok"
            name = "%s # SKIP %s" % (name, e)
        except TestTimeout:
            status = "not ok"
            detail = "timed out after %ss\n%s" % (tmo, traceback.format_exc())
        except BaseException as e:  # noqa: report everything, go on
            if isinstance(e, KeyboardInterrupt):
                signal.alarm(0)
                raise
            status = "not ok"
            detail = traceback.format_exc()
        finally:
            signal.alarm(0)
        if status != "ok":
            failed += 1
        print("%s %d - %s" % (status, n, name))
        if detail:
            for ln in detail.rstrip().splitlines():
                print("# " + ln)
        if os.environ.get("RF_TIMES") == "1":
            print("# %.2fs" % (time.monotonic() - t0))
        sys.stdout.flush()
    print("1..%d" % n)
    sys.stdout.flush()
    sys.exit(1 if failed else 0)
