"""Re-crawls that transfer only what changed: records carry etag and
last_modified; a URL-file line that is a JSON object (so a result log is a
URL file) sends them back as If-None-Match / If-Modified-Since, and a 304
ends ok with status 304 and no bytes; bad JSON lines get one invalid_url
record each; the daemon's submit takes the same fields."""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from harness import read_records  # noqa: E402


def batch_file(lines, args=()):
    d = scratch_dir("recrawl")
    f = os.path.join(d, "urls.jsonl")
    with open(f, "w") as fh:
        for ln in lines:
            fh.write(ln + "\n")
    out = os.path.join(d, "out")
    r = run_rf(["--batch", f, "--out", out, "-q"] + list(args))
    recs, problems = read_records(out)
    check(not problems, "results: %r" % problems[:3])
    return r, recs


@test("a crawl of its own result log sends the validators back and gets "
      "only 304s, each ok with status 304 and bytes 0")
def _():
    with Server() as srv:
        urls = [srv.url("/validators?etag=%%22v%d%%22&n=%d" % (i, i))
                for i in range(20)]
        first = run_batch(urls)
        for x in first.records:
            check(x["ok"] and x["status"] == 200, "first fetch: %r" % x)
            check(x["etag"] and x["etag"].startswith('"v'), "etag kept")
            check(x["last_modified"], "last_modified kept")
        log = os.path.join(first.out, "results.jsonl")
        sj = os.path.join(scratch_dir("sj"), "summary.json")
        r, again = batch_file(open(log).read().splitlines(),
                              args=["--summary-json", sj])
        check_eq(r.rc, 0, "exit status")
        summary = json.load(open(sj))
        check_eq(summary["not_modified"], 20, "summary counts unchanged pages")
        check_eq(summary["ok"], 20, "and they are ok")
        check_eq(len(again), 20, "one record a line")
        for x in again:
            check(x["ok"], "a 304 is ok: %r" % x)
            check_eq(x["status"], 304, "status")
            check_eq(x["bytes"], 0, "bytes")
        sent = [dict((k.lower(), v) for k, v in e["headers"])
                for e in srv.log(n=20)]
        check(all("if-none-match" in h for h in sent), "If-None-Match sent")


@test("last_modified alone sends If-Modified-Since; a changed page is 200")
def _():
    with Server() as srv:
        lm = "Sun, 06 Nov 1994 08:49:37 GMT"
        lines = [json.dumps({"url": srv.url("/validators?etag=x&n=1"),
                             "last_modified": lm}),
                 json.dumps({"url": srv.url("/validators?n=2"),
                             "etag": '"stale"', "id": "two"})]
        r, recs = batch_file(lines)
        by = {x["url"]: x for x in recs}
        a = by[srv.url("/validators?etag=x&n=1")]
        b = by[srv.url("/validators?n=2")]
        check_eq(a["status"], 304, "unchanged by date")
        check_eq(b["status"], 200, "changed etag fetched whole")
        check_eq(b["id"], "two", "id from the line")
        check(b["bytes"] > 0, "body")


@test("a 304 to a request without validators is still http_status")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/status/304")],
                      args=["--set", "retry.attempts=1"])
        check_eq(r.records[0]["error"], "http_status", "class")


@test("JSON lines: headers are sent; bad JSON, no url and a bad field each "
      "give one invalid_url record saying why")
def _():
    with Server() as srv:
        lines = [json.dumps({"url": srv.url("/headers"),
                             "headers": {"X-Test": "yes"}}),
                 '{"url": "http://127.0.0.1:1/", oops',
                 '{"id": "no url"}',
                 json.dumps({"url": srv.url("/ok"), "etag": 5}),
                 json.dumps({"url": "ftp://x/"})]
        r, recs = batch_file(lines, args=["--set", "retry.attempts=1"])
        check_eq(len(recs), 5, "one record a line")
        ok = [x for x in recs if x["ok"]]
        check_eq(len(ok), 1, "the good line")
        heads = srv.log()[-1]["headers"]
        check(["X-Test", "yes"] in heads, "header sent: %r" % heads)
        bad = sorted(x["error_detail"] for x in recs if not x["ok"])
        check(all(x["error"] == "invalid_url" for x in recs if not x["ok"]),
              "invalid_url")
        check(any("url" in d for d in bad), "says url is missing: %r" % bad)
        check(any("etag" in d for d in bad), "names etag: %r" % bad)


main()
