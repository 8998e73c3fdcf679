#!/usr/bin/python3
"""Fair intake at the issue's full size (tests/integ/test_fair.py runs the
same scaled to seconds): 100 hosts x 200 URLs sorted by host at
per_host_rate 10 (ideal 19.9 s), and 200,000 lines of a slow host followed
by 10 of another (the 10 must end within seconds, peak RSS under 64 MiB,
SIGINT leaves no .frontier/). Hosts are listeners of the project's test
server on 127.0.0.1. Prints what it measured.

    scripts/fair-full.py            (uses build/rel, or $RF_BUILD)
"""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
os.environ.setdefault("RF_BUILD", "build/rel")
from harness import Server, run_batch, start_rf, peak_rss_kib  # noqa: E402
from harness import scratch_dir  # noqa: E402


def sorted_hosts():
    with Server(ports=100) as srv:
        urls = [srv.url("/ok?h=%d&n=%d" % (h, n), i=h)
                for h in range(100) for n in range(200)]
        t0 = time.monotonic()
        r = run_batch(urls, timeout=300,
                      args=["--set", "limits.per_host_rate=10",
                            "--set", "queue.capacity=1000"])
        took = time.monotonic() - t0
        print("100 hosts x 200 URLs sorted by host, per_host_rate 10, "
              "queue 1000: exit %d, %d records, %.1f s = %.2fx the ideal "
              "19.9 s" % (r.rc, len(r.records), took, took / 19.9))


def slow_backlog():
    with Server(ports=2) as srv:
        work = scratch_dir("fairfull")
        ufile, out = os.path.join(work, "urls.txt"), os.path.join(work, "out")
        with open(ufile, "w") as f:
            for i in range(200000):
                f.write(srv.url("/ok?s=%d" % i, i=0) + "\n")
            for i in range(10):
                f.write(srv.url("/ok?f=%d" % i, i=1) + "\n")
        p = start_rf(["--batch", ufile, "--out", out,
                      "--set", "limits.per_host_rate=5",
                      "--set", "queue.capacity=100"])
        t0 = time.monotonic()
        while time.monotonic() < t0 + 60:
            if srv.stats(1).get("requests_total", 0) >= 10:
                break
            time.sleep(0.05)
        fast = time.monotonic() - t0
        time.sleep(1)
        rss = peak_rss_kib(p.pid)
        p.send_signal(signal.SIGINT)
        res = p.finish(60)
        print("200,000 lines of a slow host then 10 of another: the 10 "
              "fetched %.1f s after start (%d of 10); peak RSS %.1f MiB; "
              "SIGINT: exit %d, .frontier left: %s" % (
                  fast, srv.stats(1).get("requests_total", 0), rss / 1024,
                  res.rc, os.path.exists(os.path.join(out, ".frontier"))))


if __name__ == "__main__":
    sorted_hosts()
    slow_backlog()
