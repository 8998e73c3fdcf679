"""Prometheus metrics: the textfile written at the end of a crawl and the
/metrics listener scraped mid-crawl agree with the result records."""
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

FAST = ["--set", "retry.backoff_base=10ms", "--set", "retry.backoff_max=50ms"]


def parse(text):
    vals = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN|\+Inf)$', line)
        check(m, "well-formed sample line: %r" % line)
        check(m.group(1).startswith("ringfetch_"), "name prefix: " + line)
        vals[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return vals


@test("the textfile agrees with the records of the same crawl")
def _():
    with Server() as srv:
        urls = ([srv.url("/size/%d" % i) for i in range(1, 60)] +
                [srv.url("/status/404"), srv.url("/malformed/status"),
                 "not a url"])
        tf = os.path.join(scratch_dir("m"), "ringfetch.prom")
        r = run_batch(urls, args=FAST + ["--set", "metrics.textfile=" + tf])
        v = parse(open(tf).read())
        ok = sum(1 for x in r.records if x["ok"])
        check_eq(v['ringfetch_requests_total{result="ok"}'], ok, "ok count")
        check_eq(v['ringfetch_requests_total{result="http_status"}'], 1, "http_status")
        check_eq(v['ringfetch_requests_total{result="protocol"}'], 1, "protocol")
        check_eq(v['ringfetch_requests_total{result="invalid_url"}'], 1, "invalid_url")
        check_eq(v["ringfetch_bytes_total"], sum(x["bytes"] for x in r.records), "bytes")
        check_eq(v['ringfetch_phase_duration_seconds_count{phase="total"}'],
                 len(r.records), "total histogram count")
        check(not [f for f in os.listdir(os.path.dirname(tf)) if ".tmp" in f],
              "no temporary file left")
        check_eq(v["ringfetch_adaptive_cuts_total"], 0, "no 429/503: no cut")


@test("ringfetch_adaptive_cuts_total counts limits.adaptive's cuts")
def _():
    with Server() as srv:
        urls = [srv.url("/status/503?n=%d" % i) for i in range(4)]
        tf = os.path.join(scratch_dir("m"), "ringfetch.prom")
        run_batch(urls, args=["--set", "retry.attempts=1", "--per-host", "1",
                              "--set", "metrics.textfile=" + tf])
        v = parse(open(tf).read())
        # one cut a second at most: 4 quick 503s in a row cut once
        check_eq(v["ringfetch_adaptive_cuts_total"], 1, "cuts")


@test("/metrics is served through the ring while the crawl runs")
def _():
    with Server() as srv:
        port = free_port()
        urls = [srv.url("/delay/300?n=%d" % i) for i in range(40)]
        got = {}

        def scrape():
            for _ in range(100):
                try:
                    with urllib.request.urlopen(
                            "http://127.0.0.1:%d/metrics" % port, timeout=2) as f:
                        got["text"] = f.read().decode()
                        got["ctype"] = f.headers.get("Content-Type")
                        return
                except OSError:
                    time.sleep(0.05)

        t = threading.Thread(target=scrape)
        t.start()
        r = run_batch(urls, args=FAST + ["--per-host", "4", "--concurrency", "4",
                                         "--set", "metrics.listen=127.0.0.1:%d" % port])
        t.join(10)
        check("text" in got, "scraped during the crawl")
        v = parse(got["text"])
        check(v["ringfetch_in_flight"] <= 4, "in flight within the cap")
        check_in("text/plain", got["ctype"], "content type")
        check_eq(len(r.records), 40, "crawl unaffected")


main()
