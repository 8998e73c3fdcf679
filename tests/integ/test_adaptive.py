"""limits.adaptive as the server sees it: a 429/503 halves how many requests
a host gets at once and later answers win it back; answers that slow down
far beyond the host's own latency cut it by a quarter; with the key off,
neither happens. The server's live in_flight count is sampled while the
crawl runs."""
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

NO_RETRY = ["--set", "retry.attempts=1"]


class Sampler:
    """Polls the server's counters every 10 ms in a thread: samples of
    (seconds, in_flight, requests_total, responses)."""

    def __init__(self, srv):
        self.srv = srv
        self.samples = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        t0 = time.monotonic()
        while not self.stop.is_set():
            try:
                st = self.srv.stats()
            except Exception:
                break
            answered = sum(st.get("status_counts", {}).values())
            self.samples.append((time.monotonic() - t0, st["in_flight"],
                                 st["requests_total"], answered))
            time.sleep(0.01)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(5)


def crawl_503_then_slow(srv, adaptive):
    urls = [srv.url("/flaky/busy%s/8?n=%d" % (adaptive, i))
            for i in range(8)]
    urls += [srv.url("/delay/300?n=%d" % i) for i in range(40)]
    with Sampler(srv) as smp:
        r = run_batch(urls, NO_RETRY + [
            "--per-host", "8", "--concurrency", "8",
            "--set", "limits.adaptive=%s" % adaptive], timeout=60)
    return r, smp.samples


@test("a 503 halves the host's requests at once; answers win them back")
def _():
    with Server() as srv:
        r, samples = crawl_503_then_slow(srv, "true")
        check_eq(r.rc, 1, "exit status (8 x 503)\n" + r.describe())
        check_eq(sum(1 for x in r.records if x["status"] == 503), 8, "503s")
        # the first 300 ms of the delay phase: the halved cap
        start = next(t for t, _, req, _ in samples if req > 8)
        early = [inf for t, inf, _, _ in samples if start < t < start + 0.25]
        late = [inf for t, inf, _, _ in samples if t > start + 0.9]
        check(early and max(early) <= 4,
              "at most 4 at once after the 503s: %r" % early)
        check(late and max(late) >= 6, "won back: %r" % late)
        check_in("answered 503: now up to 4 requests at once", r.stderr,
                 "the cut is logged")
        check_eq(r.stderr.count("limits.adaptive"), 1,
                 "one cut for the burst of 503s")


@test("a cut to one request is logged in the singular")
def _():
    with Server() as srv:
        urls = [srv.url("/status/503?n=%d" % i) for i in range(2)]
        r = run_batch(urls, NO_RETRY + ["--per-host", "2"], timeout=60)
        check_eq(r.rc, 1, "exit status\n" + r.describe())
        check_in("answered 503: now up to 1 request at once", r.stderr,
                 "the cut is logged")
        check("1 requests" not in r.stderr, "no '1 requests':\n" + r.stderr)


@test("limits.adaptive=false: a 503 changes nothing")
def _():
    with Server() as srv:
        r, samples = crawl_503_then_slow(srv, "false")
        start = next(t for t, _, req, _ in samples if req > 8)
        early = [inf for t, inf, _, _ in samples if start < t < start + 0.25]
        check(early and max(early) == 8, "8 at once: %r" % early)
        check("limits.adaptive" not in r.stderr, "no cut logged")


@test("answers that slow down 100-fold cut the host's requests by a quarter")
def _():
    with Server() as srv:
        urls = [srv.url("/delay/5?n=%d" % i) for i in range(24)]
        urls += [srv.url("/delay/700?n=%d" % i) for i in range(24)]
        with Sampler(srv) as smp:
            r = run_batch(urls, ["--per-host", "8", "--concurrency", "8"],
                          timeout=60)
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        check_in("slows down", r.stderr, "the cut is logged")
        # once the first 8 slow answers are in, at most 6 run at once
        after = next((t for t, _, _, ans in smp.samples if ans >= 32), None)
        check(after is not None, "the first slow wave was answered")
        later = [inf for t, inf, _, _ in smp.samples if t > after + 0.05]
        check(later and max(later) <= 6, "at most 6 at once: %r" % later)


main()
