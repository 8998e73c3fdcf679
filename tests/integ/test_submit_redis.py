"""ringfetch submit --redis: jobs XADDed straight into the fleet's Redis
streams. Against a real redis-server started here (a free port on
127.0.0.1 and a unix socket, no persistence, stopped by PID): each URL lands
in PREFIX:P with P = FNV-1a-32(lower-case host) mod N, computed here in
Python; URLs from stdin, thousands of them over several pipelined batches,
in order; a bad URL is reported and the rest still pushed; an unreachable
Redis or a refused password is one clear error and exit status 3."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def fnv1a32_lower(s):
    h = 2166136261
    for c in s.lower().encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def partition(url, n):
    return fnv1a32_lower(urllib.parse.urlsplit(url).hostname) % n


class Redis:
    """redis-server on a free port and a unix socket, under a context
    manager; .cmd(*args) speaks RESP2 itself (no client library needed)."""

    def __init__(self, password=None):
        self.password = password
        self.dir = scratch_dir("redis")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        if not os.path.exists(REDIS_SERVER):
            skip("redis-server not installed")
        args = [REDIS_SERVER, "--port", str(self.port), "--bind",
                "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                self.dir, "--unixsocket", self.sock]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(self._accepts, timeout=10, what="redis-server listening")
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    @property
    def url(self):
        auth = ":%s@" % self.password if self.password else ""
        return "redis://%s127.0.0.1:%d" % (auth, self.port)

    def cmd(self, *args, db=0):
        out = b""
        pre = []
        if self.password:
            pre.append(("AUTH", self.password))
        if db:
            pre.append(("SELECT", str(db)))
        for c in pre + [args]:
            out += b"*%d\r\n" % len(c)
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            s.sendall(out)
            f = s.makefile("rb")
            for _ in pre:
                _read_reply(f)
            return _read_reply(f)


def _read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError("bad reply %r" % line)


def entries(r, stream, db=0):
    """[(id, {field: value})] of a stream."""
    out = []
    for eid, fields in r.cmd("XRANGE", stream, "-", "+", db=db):
        out.append((eid, dict(zip(fields[::2], fields[1::2]))))
    return out


def submit(args, input=None, timeout=60):
    return run_rf(["submit"] + args, binary=rf_bin("ringfetch"),
                  input=input, timeout=timeout)


def answers(p):
    return [json.loads(ln) for ln in p.stdout.splitlines()]


HOSTS = ["example.org", "Example.COM", "a.b.c.example.net", "127.0.0.1",
         "[::1]", "xn--bcher-kva.example", "UPPER.example", "x.y"]


@test("each URL goes to PREFIX:FNV-1a(host) mod N, as Python computes it")
def _():
    urls = []
    for i in range(200):
        h = HOSTS[i % len(HOSTS)]
        port = ":8080" if i % 3 == 0 else ""
        urls.append("http%s://%s%s/p/%d" % ("s" if i % 2 else "", h, port,
                                             i))
    with Redis() as r:
        p = submit(["--redis", r.url, "--stream", "t1", "--partitions", "7"]
                   + urls)
        check_eq(p.rc, 0, "exit status; stderr: " + p.stderr)
        check_eq(p.stderr, "", "stderr")
        got = answers(p)
        check_eq([a["url"] for a in got], urls, "one answer per URL, in order")
        seen = {}
        for u, a in zip(urls, got):
            check(a["ok"], "ok: %r" % a)
            check_eq(a["stream"], "t1:%d" % partition(u, 7), "stream of " + u)
            check(a["id"] is None, "no id")
            seen.setdefault(a["stream"], []).append((a["entry"], u))
        check(len(seen) > 1, "more than one partition used")
        for stream, want in seen.items():
            have = [(e, f["url"]) for e, f in entries(r, stream)]
            check_eq(have, want, "entries of " + stream)
            check(all("id" not in f for _, f in entries(r, stream)),
                  "no id field")


@test("stdin, one a line, comments and blanks skipped; --id; the defaults")
def _():
    lines = ["http://one.example/a", "", "  # a comment", "  https://TWO.example:444/b  ",
             "http://one.example/c"]
    with Redis() as r:
        p = submit(["--redis", r.url, "--id", "batch-7"],
                   input="\n".join(lines) + "\n")
        check_eq(p.rc, 0, "exit status; stderr: " + p.stderr)
        got = answers(p)
        want = ["http://one.example/a", "https://TWO.example:444/b",
                "http://one.example/c"]
        check_eq([a["url"] for a in got], want, "URLs pushed")
        for u, a in zip(want, got):
            check_eq(a["stream"], "ringfetch:jobs:%d" % partition(u, 16),
                     "default prefix and 16 partitions")
            check_eq(a["id"], "batch-7", "id in the answer")
            ent = dict(entries(r, a["stream"]))
            check_eq(ent[a["entry"]], {"url": u, "id": "batch-7"},
                     "entry fields")


@test("5,000 URLs from stdin: every one pushed, answered in order")
def _():
    urls = ["http://h%d.example/%d" % (i % 97, i) for i in range(5000)]
    with Redis() as r:
        t0 = time.monotonic()
        p = submit(["--redis", r.url, "--partitions", "4"],
                   input="\n".join(urls), timeout=120)
        diag("5,000 XADDs in %.2f s" % (time.monotonic() - t0))
        check_eq(p.rc, 0, "exit status; stderr: " + p.stderr[-500:])
        got = answers(p)
        check_eq([a["url"] for a in got], urls, "answers in input order")
        total = sum(r.cmd("XLEN", "ringfetch:jobs:%d" % i) for i in range(4))
        check_eq(total, 5000, "entries in the four streams")


@test("a bad URL is reported, the exit status is 1, the others are pushed")
def _():
    urls = ["http://good.example/1", "not a url", "ftp://files.example/x",
            "http://good.example/2"]
    with Redis() as r:
        p = submit(["--redis", r.url] + urls)
        check_eq(p.rc, 1, "exit status")
        check_in("not a url", p.stderr, "stderr names the bad URL")
        check_in("ftp://files.example/x", p.stderr, "and the bad scheme")
        got = answers(p)
        check_eq([a["url"] for a in got], urls, "a line per URL, in order")
        check_eq([a["ok"] for a in got], [True, False, False, True], "ok")
        check_eq(got[1]["error"], "invalid_url", "error class")
        stream = "ringfetch:jobs:%d" % partition(urls[0], 16)
        check_eq([f["url"] for _, f in entries(r, stream)],
                 [urls[0], urls[3]], "the good ones are in Redis")


@test("Redis down: a clear error, exit status 3, nothing pushed")
def _():
    port = closed_port()
    p = submit(["--redis", "redis://127.0.0.1:%d" % port,
                "http://a.example/"])
    check_eq(p.rc, 3, "exit status")
    check_in("cannot reach Redis at 127.0.0.1:%d" % port, p.stderr, "stderr")
    check_in("refused", p.stderr, "stderr says why")
    check_eq(p.stdout, "", "stdout")


@test("a password: the right one works, a wrong one is exit status 3")
def _():
    with Redis(password="pw") as r:
        p = submit(["--redis", r.url, "http://a.example/"])
        check_eq(p.rc, 0, "exit status; stderr: " + p.stderr)
        p = submit(["--redis", "redis://:nope@127.0.0.1:%d" % r.port,
                    "http://a.example/"])
        check_eq(p.rc, 3, "exit status")
        check_in("AUTH failed", p.stderr, "stderr")
        check_in("WRONGPASS", p.stderr, "the server's words")
        p = submit(["--redis", "redis://127.0.0.1:%d" % r.port,
                    "http://a.example/"])
        check_eq(p.rc, 3, "exit status without a password")
        check_in("NOAUTH", p.stderr, "stderr")


@test("unix:// and a database number")
def _():
    with Redis() as r:
        p = submit(["--redis", "unix://" + r.sock, "http://u.example/"])
        check_eq(p.rc, 0, "exit status; stderr: " + p.stderr)
        stream = answers(p)[0]["stream"]
        check_eq(r.cmd("XLEN", stream), 1, "pushed over the unix socket")
        p = submit(["--redis", r.url + "/2", "http://d.example/"])
        check_eq(p.rc, 0, "exit status; stderr: " + p.stderr)
        stream = answers(p)[0]["stream"]
        check_eq(r.cmd("XLEN", stream, db=2), 1, "in database 2")
        check_eq(r.cmd("XLEN", stream), 0, "not in database 0")


@test("usage errors: exit status 2")
def _():
    for args, what in [
            (["--redis", "http://x/", "http://a/"], "expected redis://"),
            (["--redis", "redis://127.0.0.1:1", "--partitions", "0"],
             "--partitions"),
            (["--redis", "redis://127.0.0.1:1", "--wait"], "--wait"),
            (["--stream", "s", "http://a/"], "--redis")]:
        p = submit(args)
        check_eq(p.rc, 2, "exit status of %r" % args)
        check_in(what, p.stderr, "stderr of %r" % args)


main()
