"""robots.obey as the server sees it: each host's /robots.txt is fetched
once, first, and obeyed (RFC 9309); disallowed URLs are never requested and
end `robots` with the rule or the cause; Crawl-delay spaces request starts,
capped by robots.max_delay; the cache expires after robots.cache_ttl; and
the daemon does the same for jobs submitted over its socket."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from harness import _pdeathsig, sanitizer_errors  # noqa: E402

OBEY = ["--set", "robots.obey=true"]
# The server stamps a request when its event loop reads it, a few ms after
# it arrived when that loop is busy: spacings are checked to within this.
READ_JITTER_S = 0.01
FAST_RETRY = ["--set", "retry.backoff_base=50ms", "--set",
              "retry.backoff_max=100ms"]


def targets(srv, i=0):
    return [e["target"] for e in srv.log(i, n=10000)]


def robots_fetches(srv, i=0):
    return srv.stats(i)["per_path_counts"].get("/robots.txt", 0)


def rec_of(r, url):
    return r.by_url()[url]


@test("a disallowed path is never requested and ends robots; others fetched")
def _():
    with Server() as srv:
        srv.robots("User-agent: *\nDisallow: /private\n")
        ok = [srv.url("/ok"), srv.url("/size/10"), srv.url("/size/1")]
        bad = [srv.url("/private"), srv.url("/private/x?y=1")]
        r = run_batch(ok + bad, OBEY, timeout=60, summary=True)
        check_eq(r.rc, 1, "exit status: some failed\n" + r.describe())
        for u in ok:
            check(rec_of(r, u)["ok"], "%s fetched: %r" % (u, rec_of(r, u)))
        for u in bad:
            x = rec_of(r, u)
            check_eq((x["error"], x["error_detail"], x["status"]),
                     ("robots", "disallowed by robots.txt: Disallow: "
                      "/private", None), u)
        seen = targets(srv)
        check_eq(seen[0], "/robots.txt", "robots.txt first")
        check_eq(sorted(seen[1:]), ["/ok", "/size/1", "/size/10"],
                 "no request for a disallowed URL")
        s = r.summary
        check_eq((s["total"], s["ok"], s["failed"]), (5, 3, 2),
                 "the fetch is no job of the user's")
        check_eq(s["failed_by_class"], {"robots": 2}, "by class")


@test("robots.txt is fetched once per host for a crawl of 1,000 URLs")
def _():
    with Server(ports=2) as srv:
        srv.robots("User-agent: *\nDisallow: /x\n")
        urls = [srv.url("/size/%d" % (i % 50), i % 2) + "?n=%d" % i
                for i in range(1000)]
        r = run_batch(urls, OBEY + ["--per-host", "8"], timeout=120,
                      summary=True)
        check_eq(r.rc, 0, "all ok\n" + r.describe())
        check_eq(r.summary["total"], 1000, "records")
        for i in range(2):
            check_eq(robots_fetches(srv, i), 1, "robots.txt of host %d" % i)
            check_eq(srv.stats(i)["requests_total"], 501, "requests %d" % i)


@test("a 404 robots.txt allows everything")
def _():
    with Server() as srv:
        urls = [srv.url("/ok"), srv.url("/size/5"), srv.url("/")]
        r = run_batch(urls, OBEY, timeout=60)
        check_eq(r.rc, 0, "all ok\n" + r.describe())
        check_eq(robots_fetches(srv), 1, "asked once")
        check_eq(srv.stats()["requests_total"], 4, "every URL requested")


@test("a 503 robots.txt is retried, then disallows with the reason")
def _():
    with Server() as srv:
        srv.robots("busy", status=503)
        urls = [srv.url("/ok"), srv.url("/size/3")]
        r = run_batch(urls, OBEY + FAST_RETRY + [
            "--set", "retry.attempts=2"], timeout=60, summary=True)
        check_eq(r.rc, 1, "exit status\n" + r.describe())
        for u in urls:
            x = rec_of(r, u)
            check_eq(x["error"], "robots", u)
            check_in("robots.txt answered 503", x["error_detail"], u)
        check_eq(targets(srv), ["/robots.txt"] * 2,
                 "robots.txt twice (retry.attempts), nothing else")
        check_eq(r.summary["retried"], 0, "the fetch's retries are apart")
        check_in("robots.txt answered 503", r.stderr, "logged")
        check_in("for the next 600 s", r.stderr,
                 "cached 10 minutes, not robots.cache_ttl")


@test("a silent server (accepts, never answers) disallows with the reason")
def _():
    with Server() as srv:
        srv.robots(None, status=None, silent=True)
        urls = [srv.url("/ok")]
        t0 = time.monotonic()
        r = run_batch(urls, OBEY + [
            "--set", "retry.attempts=1",
            "--set", "timeouts.first_byte=300ms"], timeout=60)
        check_eq(r.rc, 1, "exit status\n" + r.describe())
        x = rec_of(r, urls[0])
        check_eq(x["error"], "robots", "class")
        check_in("robots.txt unreachable: timeout", x["error_detail"],
                 "the cause")
        check_eq(targets(srv), ["/robots.txt"], "nothing else asked")
        diag("silent robots.txt: crawl took %.2f s" %
             (time.monotonic() - t0))


@test("other hosts go on while one host's robots.txt does not answer")
def _():
    with Server(ports=2) as srv:
        srv.robots(None, status=None, silent=True, i=0)
        slow = srv.url("/ok", 0)
        fast = [srv.url("/size/%d" % i, 1) for i in range(20)]
        r = run_batch([slow] + fast, OBEY + [
            "--set", "retry.attempts=1",
            "--set", "timeouts.first_byte=1500ms"], timeout=60)
        recs = r.by_url()
        check_eq(recs[slow]["error"], "robots", "the silent host")
        for u in fast:
            check(recs[u]["ok"], "fetched: %r" % recs[u])
            check(recs[u]["ts"] < recs[slow]["ts"],
                  "done before the silent host's robots.txt gave up")


@test("a group for ringfetch beats the * group")
def _():
    with Server() as srv:
        srv.robots("User-agent: *\nDisallow: /\n\n"
                   "User-agent: RingFetch\nDisallow: /no\n")
        yes, no = srv.url("/yes-page"), srv.url("/no")
        r = run_batch([yes, no], OBEY, timeout=60)
        check_eq(rec_of(r, yes)["status"], 404, "allowed: requested")
        check_eq(rec_of(r, no)["error"], "robots", "our group's rule")
        check_eq(targets(srv), ["/robots.txt", "/yes-page"], "requests")


def starts(srv):
    return [(e["target"], e["t"]) for e in srv.log(n=10000)]


@test("Crawl-delay: 1 spaces request starts by at least 1 s")
def _():
    with Server() as srv:
        srv.robots("User-agent: *\nCrawl-delay: 1\n")
        urls = [srv.url("/ok?n=%d" % i) for i in range(3)]
        r = run_batch(urls, OBEY + ["--per-host", "6"], timeout=60)
        check_eq(r.rc, 0, "all ok\n" + r.describe())
        s = starts(srv)
        check_eq(len(s), 4, "robots.txt and 3 URLs: %r" % s)
        gaps = [b[1] - a[1] for a, b in zip(s[1:], s[2:])]
        diag("gaps between the URLs' requests: %s" %
             ", ".join("%.3f s" % g for g in gaps))
        check(min(gaps) >= 1.0 - READ_JITTER_S,
              "at least 1 s apart: %r" % gaps)


@test("robots.max_delay caps a larger Crawl-delay")
def _():
    with Server() as srv:
        srv.robots("User-agent: *\nCrawl-delay: 60\n")
        urls = [srv.url("/ok?n=%d" % i) for i in range(3)]
        r = run_batch(urls, OBEY + ["--set", "robots.max_delay=400ms"],
                      timeout=60)
        check_eq(r.rc, 0, "all ok\n" + r.describe())
        s = starts(srv)
        gaps = [b[1] - a[1] for a, b in zip(s[1:], s[2:])]
        diag("gaps: %s" % ", ".join("%.3f s" % g for g in gaps))
        check(min(gaps) >= 0.4 - READ_JITTER_S,
              "max_delay apart: %r" % gaps)
        check(r.elapsed < 30, "not 60 s apart (%.1f s)" % r.elapsed)


@test("a cache TTL of 1 s fetches robots.txt again once it expired")
def _():
    with Server() as srv:
        srv.robots("User-agent: *\nDisallow: /x\n")
        # one at a time: the last URL starts 1.5 s after the fetch
        urls = [srv.url("/ok"), srv.url("/delay/1500"), srv.url("/size/1")]
        r = run_batch(urls, OBEY + ["--per-host", "1", "--set",
                                    "robots.cache_ttl=1s"], timeout=60)
        check_eq(r.rc, 0, "all ok\n" + r.describe())
        check_eq(targets(srv), ["/robots.txt", "/ok", "/delay/1500",
                                "/robots.txt", "/size/1"], "requests")
        srv.reset()
        r = run_batch(urls, OBEY + ["--per-host", "1"], timeout=60)
        check_eq(robots_fetches(srv), 1, "the default TTL: once")


@test("a redirect to another host is checked against that host's robots.txt")
def _():
    with Server(ports=2) as srv:
        srv.robots("User-agent: *\nDisallow: /private\n", i=1)
        srv.robots("User-agent: *\nDisallow:\n", i=0)
        import urllib.parse as up
        to = srv.url("/private/p", 1)
        start = srv.url("/redirect/302?to=" + up.quote(to, safe=""), 0)
        r = run_batch([start], OBEY, timeout=60)
        x = rec_of(r, start)
        check_eq((x["error"], x["final_url"], x["redirects"]),
                 ("robots", to, 1), "the hop was disallowed")
        check_eq(targets(srv, 1), ["/robots.txt"], "never asked for it")


# ------------------------------------------------------------ daemon mode

class Daemon:
    """ringfetchd in daemon mode with robots.obey, on a temporary socket."""

    def __init__(self, ua="ringfetch/test"):
        self.dir = scratch_dir("robotsd")
        self.sock = os.path.join(self.dir, "rf.sock")
        self.cfg = os.path.join(self.dir, "ringfetch.yaml")
        self.errpath = os.path.join(self.dir, "stderr")
        self.write_config(ua)
        self.proc = None

    def write_config(self, ua):
        with open(self.cfg, "w") as f:
            f.write("daemon:\n  socket: %s\n  state_dir: %s\n"
                    "  shutdown_grace: 2s\n"
                    "output:\n  dir: %s\n"
                    "queue:\n  journal: false\n"
                    "http:\n  user_agent: %s\n"
                    "robots:\n  obey: true\n" % (
                        self.sock, os.path.join(self.dir, "state"),
                        os.path.join(self.dir, "out"), json.dumps(ua)))

    def __enter__(self):
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                [rf_bin(), "-c", self.cfg], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err,
                preexec_fn=_pdeathsig)
        wait_until(lambda: self.ask_ok(), 15, what="daemon socket")
        return self

    def ask_ok(self):
        check(self.proc.poll() is None, "daemon exited: %s" % self.log())
        try:
            self.ask({"op": "status"})
            return True
        except OSError:
            return False

    def ask(self, req, results=0):
        """Send req; return its response and the next `results` lines."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(self.sock)
        try:
            s.sendall((json.dumps(req) + "\n").encode())
            buf, lines = b"", []
            while len(lines) < 1 + results:
                chunk = s.recv(65536)
                check(chunk, "connection closed: %r" % buf)
                buf += chunk
                while b"\n" in buf:
                    ln, buf = buf.split(b"\n", 1)
                    lines.append(json.loads(ln))
            return lines if results else lines[0]
        finally:
            s.close()

    def submit(self, url):
        ack, res = self.ask({"op": "submit", "url": url, "wait": True}, 1)
        check(ack.get("ok"), "ack: %r" % ack)
        return res["result"]

    def status(self):
        return self.ask({"op": "status"})["status"]

    def log(self):
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        bad = sanitizer_errors(self.log())
        if bad and exc[0] is None:
            raise AssertionError("sanitizer report:\n" + self.log()[-4000:])
        return False


@test("daemon mode: submitted jobs obey robots.txt; status counts it; "
      "SIGHUP with a new user agent forgets the rules")
def _():
    with Server() as srv, Daemon() as d:
        srv.robots("User-agent: *\nDisallow: /private\n")
        x = d.submit(srv.url("/private/a"))
        check_eq((x["error"], x["error_detail"]),
                 ("robots", "disallowed by robots.txt: Disallow: /private"),
                 "disallowed")
        check(d.submit(srv.url("/ok"))["ok"], "allowed")
        st = d.status()
        check_eq((st["robots_fetches"], st["robots_hosts_cached"],
                  st["robots_denied"], st["accepted"], st["done"]),
                 (1, 1, 1, 2, 2), "status: %r" % st)
        check_eq(targets(srv), ["/robots.txt", "/ok"], "requests")
        d.write_config("otherbot/1.0")
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] == 1, 10, what="reload")
        check_eq(d.status()["robots_hosts_cached"], 0, "forgotten")
        srv.robots("User-agent: otherbot\nDisallow: /\n")
        x = d.submit(srv.url("/ok"))
        check_eq(x["error"], "robots", "the new agent's group: %r" % x)
        check_eq(robots_fetches(srv), 2, "fetched again after the reload")
        check_in("robots.txt rules of 1 hosts are forgotten", d.log(),
                 "logged")



@test("daemon: SIGTERM while a robots.txt fetch hangs exits at once, "
      "the waiting job spilled")
def _():
    with Server() as srv, Daemon() as d:
        srv.robots(None, status=None, silent=True)
        ack = d.ask({"op": "submit", "url": srv.url("/ok")})
        check(ack.get("ok"), "ack: %r" % ack)
        wait_until(lambda: robots_fetches(srv) == 1, 10,
                   what="the robots.txt request")
        check_eq(d.status()["in_flight"], 1, "only the fetch runs")
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc = d.proc.wait(15)
        check_eq(rc, 0, "exit status\n" + d.log()[-2000:])
        check(time.monotonic() - t0 < 5, "no wait on the silent server")
        check_in("1 unfinished jobs saved", d.log(), "spilled")
        check_eq(targets(srv), ["/robots.txt"], "nothing else asked")


if __name__ == "__main__":
    main()
