"""SIGINT and SIGTERM during a batch crawl: URL files stop being read, queued
jobs end as cancelled records, running ones get daemon.shutdown_grace (a
second signal, or the grace running out, cancels them), the summary says the
crawl was interrupted, and the exit status is 3. Every line read has exactly
one record."""
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from harness import read_records, sanitizer_errors  # noqa: E402


def start_batch(urls, args):
    """Start a crawl without waiting: (Running, out dir, summary path)."""
    work = scratch_dir("sig")
    ufile = os.path.join(work, "urls.txt")
    with open(ufile, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    out = os.path.join(work, "out")
    summ = os.path.join(work, "summary.json")
    cmd = ["--batch", ufile, "--out", out, "--summary-json", summ]
    return start_rf(cmd + list(args), cwd=work), out, summ


def wait_requests(srv, n, timeout=10):
    """Wait until n requests have reached the server (answered or not)."""
    wait_until(lambda: srv.stats().get("requests_total", 0) >= n, timeout,
               what="%d requests at the server" % n)
    return True


def finish(p, timeout=15):
    r = p.finish(timeout)
    if r.timed_out:
        raise AssertionError("ringfetchd did not exit after the signal:\n" +
                             r.stderr[-3000:])
    bad = sanitizer_errors(r.stderr)
    check(not bad, "sanitizer report:\n" + r.stderr[-3000:])
    return r.rc, r.stderr


def load_summary(path):
    with open(path) as f:
        return json.load(f)


@test("SIGINT: queued jobs are cancelled, running ones finish, exit 3")
def _():
    with Server() as srv:
        urls = [srv.url("/delay/700?n=%d" % i) for i in range(40)]
        p, out, summ = start_batch(urls, ["--per-host", "4",
                                          "--concurrency", "4"])
        with p:  # stopped (by PID) if a check fails
            check(wait_requests(srv, 4),
                  "the first requests reached the server")
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            rc, err = finish(p)
            took = time.monotonic() - t0
            recs, problems = read_records(out)
            check_eq(problems, [], "results file")
            check_eq(rc, 3, "exit status\n" + err[-2000:])
            check_eq(sorted(r["url"] for r in recs), sorted(urls),
                     "one record per line")
            ok = [r for r in recs if r["ok"]]
            cancelled = [r for r in recs if r["error"] == "cancelled"]
            check_eq(len(ok), 4, "the 4 running jobs finished\n" + err[-2000:])
            check_eq(len(cancelled), 36, "the queued ones were cancelled")
            for r in cancelled:
                check_eq(r["error_detail"], "crawl interrupted by signal 2",
                         "detail")
                check_eq(r["attempts"], 0, "a cancelled queued job never ran")
            check(took < 5, "stopped in %.1f s (the running ones take 0.7 s)" %
                  took)
            check_in("signal 2", err, "stderr")
            check_in("crawl interrupted by signal 2", err, "summary")
            s = load_summary(summ)
            check_eq(s["interrupted"], True, "summary JSON")
            check_eq(s["total"], 40, "summary total")
            check_eq(s["failed_by_class"].get("cancelled"), 36,
                     "summary by class")


@test("a second SIGTERM cancels the running jobs at once")
def _():
    with Server() as srv:
        urls = [srv.url("/delay/20000?n=%d" % i) for i in range(10)]
        p, out, summ = start_batch(urls, ["--per-host", "2"])
        with p:  # stopped (by PID) if a check fails
            check(wait_requests(srv, 2), "two requests are running")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            p.wait_stderr("signal 15: stopping", 10)
            check(p.poll() is None, "still waiting for the running jobs")
            p.send_signal(signal.SIGTERM)
            rc, err = finish(p)
            took = time.monotonic() - t0
            recs, _ = read_records(out)
            check_eq(rc, 3, "exit status")
            check_eq(len(recs), 10, "a record for every line\n" + err[-2000:])
            check(all(r["error"] == "cancelled" for r in recs),
                  "all cancelled: %r" % [r["error"] for r in recs])
            check_eq(sum(1 for r in recs if r["attempts"] == 1), 2,
                     "two were cut off while running")
            check(took < 3, "stopped in %.1f s" % took)
            check_in("signal 15 again", err, "stderr")


@test("daemon.shutdown_grace bounds how long running jobs may take")
def _():
    with Server() as srv:
        urls = [srv.url("/delay/20000?n=%d" % i) for i in range(6)]
        p, out, summ = start_batch(urls, ["--per-host", "3", "--set",
                                          "daemon.shutdown_grace=400ms"])
        with p:  # stopped (by PID) if a check fails
            check(wait_requests(srv, 3), "three requests are running")
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            rc, err = finish(p)
            took = time.monotonic() - t0
            recs, _ = read_records(out)
            check_eq(rc, 3, "exit status")
            check_eq(len(recs), 6, "a record for every line")
            check(all(r["error"] == "cancelled" for r in recs),
                  "all cancelled")
            check(0.3 < took < 3, "stopped after the grace: %.2f s" % took)
            check_in("daemon.shutdown_grace (400 ms) over", err, "stderr")


main()
