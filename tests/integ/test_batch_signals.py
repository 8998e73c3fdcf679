"""SIGINT and SIGTERM during a batch crawl (SPEC): URL files stop being read,
lines not yet started get no record and are counted as not_started, jobs
waiting to retry end cancelled, running ones get daemon.shutdown_grace (a
second signal, or the grace running out, cancels them); cancelled jobs are
counted apart from failures, and the exit status is 130 after SIGINT, 143
after SIGTERM. Every job that was tried has exactly one record."""
import json
import os
import re
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


def text_summary(err):
    """The text summary's top-level figures as {label: first word}."""
    out = {}
    for ln in err.splitlines():
        m = re.match(r"^  (\S(?:.*?\S)?) {2,}(\S+)", ln)
        if m:
            out[m.group(1)] = m.group(2)
    return out


@test("SIGINT: lines not started get no record, running ones finish, "
      "exit 130")
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
            check_eq(rc, 130, "exit status\n" + err[-2000:])
            check_eq(len(recs), 4, "records of the 4 running jobs only\n" +
                     err[-2000:])
            check(all(r["ok"] for r in recs), "the 4 running jobs finished")
            check_eq(len({r["url"] for r in recs}), 4, "distinct lines")
            check(took < 5, "stopped in %.1f s (the running ones take 0.7 s)" %
                  took)
            check_in("signal 2", err, "stderr")
            check_in("36 not started", err, "the log says what was dropped")
            check_in("crawl interrupted by signal 2", err, "summary")
            t = text_summary(err)
            check_eq((t.get("total"), t.get("ok"), t.get("failed"),
                      t.get("cancelled"), t.get("not started")),
                     ("4", "4", "0", "0", "36"), "text summary\n" + err)
            check_eq(t.get("success ratio"), "1.0000", "text ratio")
            s = load_summary(summ)
            check_eq(s["interrupted"], True, "summary JSON")
            check_eq((s["total"], s["ok"], s["failed"], s["cancelled"],
                      s["not_started"]), (4, 4, 0, 0, 36),
                     "total, ok, failed, cancelled, not_started")
            check_eq(s["failed_by_class"], {}, "no failure")
            check_eq(s["success_ratio"], 1.0, "ratio of fetched jobs")
            check(abs(s["requests_per_s"] - 4 / s["elapsed_s"]) <
                  0.1 + 0.01 * s["requests_per_s"],
                  "rate of fetched jobs: %r" % s)


@test("a second SIGTERM cancels the running jobs at once, exit 143")
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
            check_eq(rc, 143, "exit status")
            check_eq(len(recs), 2, "records of the running ones only\n" +
                     err[-2000:])
            check(all(r["error"] == "cancelled" for r in recs),
                  "all cancelled: %r" % [r["error"] for r in recs])
            check(all(r["attempts"] == 1 for r in recs),
                  "both were cut off while running")
            check(took < 3, "stopped in %.1f s" % took)
            check_in("signal 15 again", err, "stderr")
            s = load_summary(summ)
            check_eq((s["total"], s["ok"], s["failed"], s["cancelled"],
                      s["not_started"]), (2, 0, 0, 2, 8),
                     "total, ok, failed, cancelled, not_started")
            check_eq(s["failed_by_class"], {}, "cancelled is not a failure")
            check_eq(s["top_failing_hosts"], [], "no host failed")
            check_eq(s["success_ratio"], 1.0, "nothing fetched failed")
            check_eq(s["requests_per_s"], 0.0, "nothing was fetched")


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
            check_eq(rc, 130, "exit status")
            check_eq(len(recs), 3, "a record for every running job")
            check(all(r["error"] == "cancelled" for r in recs),
                  "all cancelled")
            check(0.3 < took < 3, "stopped after the grace: %.2f s" % took)
            check_in("daemon.shutdown_grace (400 ms) over", err, "stderr")
            s = load_summary(summ)
            check_eq((s["cancelled"], s["not_started"]), (3, 3),
                     "cancelled, not_started")


@test("a job waiting to retry has started: it ends cancelled, with a record")
def _():
    with Server() as srv:
        urls = [srv.url("/status/503"), srv.url("/delay/300")]
        p, out, summ = start_batch(urls, [
            "--set", "retry.backoff_base=20s", "--set", "retry.jitter=false",
            "--set", "retry.backoff_max=20s"])
        with p:  # stopped (by PID) if a check fails
            check(wait_requests(srv, 2), "both reached the server")
            # The 503 is answered at once; give ringfetchd a moment to
            # read it and start the 20 s backoff (/delay/300 may still
            # run: it finishes within the grace either way).
            time.sleep(0.3)
            p.send_signal(signal.SIGINT)
            rc, err = finish(p)
            recs, _ = read_records(out)
            check_eq(rc, 130, "exit status\n" + err[-2000:])
            by = {r["url"]: r for r in recs}
            check_eq(sorted(by), sorted(urls), "a record for each\n" + err)
            r = by[srv.url("/status/503")]
            check_eq((r["error"], r["attempts"], r["status"]),
                     ("cancelled", 1, 503), "the retry-waiting job")
            s = load_summary(summ)
            check_eq((s["ok"], s["failed"], s["cancelled"], s["not_started"]),
                     (1, 0, 1, 0), "ok, failed, cancelled, not_started")


main()
