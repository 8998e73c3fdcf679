"""batch.dedupe: a URL listed four times (with case, fragment and
dot-segment variants) is fetched once; the other lines get one record each
with error duplicate and duplicate_of naming the first job, counted apart
in the summary and not making the exit status 1; past dedupe_memory newer
URLs are fetched without the check, said once in the log."""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403


@test("each URL listed four times with variants is fetched once; the "
      "others are duplicate records naming the first job")
def _():
    with Server() as srv:
        port = srv.port
        urls = []
        for i in range(50):
            p = "/size/%d?n=%d" % (100 + i, i)
            urls += ["http://127.0.0.1:%d%s" % (port, p),
                     "HTTP://127.0.0.1:%d%s#frag" % (port, p),
                     "http://127.0.0.1:%d/a/../size/%d?n=%d" % (port, 100 + i, i),
                     "http://127.0.0.1:%d%s" % (port, p)]
        r = run_batch(urls, summary=True, args=["--set", "batch.dedupe=true"])
        check_eq(r.rc, 0, "exit status: duplicates are not failures")
        check_eq(len(r.records), 200, "one record a line")
        ok = [x for x in r.records if x["ok"]]
        dup = [x for x in r.records if x["error"] == "duplicate"]
        check_eq(len(ok), 50, "fetched once each")
        check_eq(len(dup), 150, "the rest are duplicates")
        first = {x["final_url"]: x["job"] for x in ok}
        for x in dup:
            check(x["duplicate_of"] in first.values(),
                  "duplicate_of names a fetched job: %r" % x)
        check_eq(srv.stats()["requests_total"], 50, "the server saw 50")
        check_eq(r.summary["duplicates"], 150, "summary counts them")
        check_eq(r.summary["failed"], 0, "none failed")


@test("without batch.dedupe every line is fetched")
def _():
    with Server() as srv:
        u = srv.url("/ok")
        r = run_batch([u, u, u])
        check(all(x["ok"] for x in r.records), "all ok")
        check(all(x["duplicate_of"] is None for x in r.records), "no field")
        check_eq(srv.stats()["requests_total"], 3, "three requests")


@test("past batch.dedupe_memory newer URLs are fetched and the log says "
      "so once")
def _():
    with Server() as srv:
        urls = [srv.url("/ok?n=%d" % i) for i in range(3000)]
        r = run_batch(urls + urls[:5], args=[
            "--set", "batch.dedupe=true",
            "--set", "batch.dedupe_memory=64KiB"])
        check_eq(len(r.records), 3005, "one record a line")
        check_eq(r.stderr.count("batch.dedupe_memory"), 1, "said once")
        dup = [x for x in r.records if x["error"] == "duplicate"]
        check_eq(len(dup), 5, "the first URLs are still remembered")


main()
