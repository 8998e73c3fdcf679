"""limits.workers: event-loop threads, one io_uring ring each.

Every behaviour a user relies on must hold whatever the number of worker
rings: each test runs with limits.workers 1, 2 and (where cheap) 4, in
batch mode (a URL file) and in daemon mode (jobs submitted over the
control socket) unless its name says otherwise.  Limits are measured at
the server (rfserver's per-host and overall in-flight peaks), not taken
from the daemon's word.

The tests named "... workers count ..." check the surface that reports
how many rings fetch (status `workers`, metric `ringfetch_workers`, the
start-up log line); the others hold with limits.workers ignored as well.
"""
import base64
import glob
import hashlib
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import urllib.request
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from pki import pki  # noqa: E402

MODES = ("batch", "daemon")
FAST_RETRY = {"retry": {"backoff_base": "10ms", "backoff_max": "50ms"}}


def merge(*cfgs):
    """Deep-merge two-level config dicts (later ones win)."""
    out = {}
    for c in cfgs:
        for sec, keys in (c or {}).items():
            out.setdefault(sec, {}).update(keys)
    return out


def hosts_args(n, first=2):
    """rfserver arguments for n more loopback addresses 127.0.0.FIRST..,
    and those addresses: n distinct IP-literal hosts on one listener."""
    addrs = ["127.0.0.%d" % i for i in range(first, first + n)]
    args = []
    for a in addrs:
        args += ["--also-host", a]
    return args, addrs


class Crawl:
    """What a crawl left: records, metrics (from metrics.textfile), the
    daemon's or batch run's stderr, exit status, output directory."""

    def __init__(self, mode, records, metrics, log, rc, out, status=None):
        self.mode = mode
        self.records = records
        self.metrics = metrics
        self.log = log
        self.rc = rc
        self.out = out
        self.status = status

    def by_url(self):
        d = {}
        for r in self.records:
            if r["url"] in d:
                raise AssertionError("two records for %r:\n  %s\n  %s" % (
                    r["url"], json.dumps(d[r["url"]]), json.dumps(r)))
            d[r["url"]] = r
        return d

    def check_rc(self, some_failed=False):
        """A batch run exits 1 when some job failed, else 0; the daemon
        exits 0 after SIGTERM whatever its jobs did."""
        want = 1 if some_failed and self.mode == "batch" else 0
        check_eq(self.rc, want, "exit status\n" + self.describe())

    def describe(self):
        return "rc=%r records=%d\nlog (tail):\n%s" % (
            self.rc, len(self.records), self.log[-3000:])


def read_metrics(path):
    try:
        with open(path) as f:
            return prom_samples(f.read())
    except FileNotFoundError:
        return {}


def crawl(mode, workers, urls, cfg=None, clients=4, timeout=60):
    """Fetch urls (each distinct) with limits.workers = workers in mode
    "batch" or "daemon"; returns Crawl once every job has its record.
    workers None leaves the key unset; "auto" is passed as is."""
    tf = os.path.join(scratch_dir("prom"), "ringfetch.prom")
    cfg = merge({"metrics": {"textfile": tf}}, cfg)
    if workers is not None:
        cfg = merge(cfg, {"limits": {"workers": workers}})
    if mode == "batch":
        r = run_batch(urls, config=yaml_of(cfg), timeout=timeout)
        check(not r.timed_out, "batch run timed out\n" + r.describe())
        return Crawl(mode, r.records, read_metrics(tf), r.stderr, r.rc, r.out)
    d = RfDaemon(cfg)
    with d:
        d.submit_many([{"op": "submit", "url": u} for u in urls],
                      clients=clients, timeout=timeout)
        wait_until(lambda: d.status()["done"] >= len(urls), timeout,
                   interval=0.1, what="%d jobs done" % len(urls))
        st = d.status()
        rc = d.stop()
    return Crawl(mode, d.records(), read_metrics(tf), d.log(), rc, d.out, st)


def register(name, fn, workers=(1, 2, 4), modes=MODES, timeout=60):
    """One TAP test per (mode, workers): "NAME (MODE, workers W)"."""
    for m in modes:
        for w in workers:
            test("%s (%s, workers %s)" % (name, m, w), timeout=timeout)(
                (lambda m=m, w=w: fn(m, w)))


# ---------------------------------------------------------------- 1

def every_job_once(mode, w):
    n, nhosts = 2000, 20
    args, addrs = hosts_args(nhosts)
    with Server(args=args) as srv:
        urls = []
        for i in range(n):
            p = ("/size/%d?n=%d" % (i % 700, i) if i % 4 else
                 "/chunked/%d?chunks=3&n=%d" % (i % 900, i))
            urls.append(srv.url(p, host=addrs[i % nhosts]))
        c = crawl(mode, w, urls, merge(FAST_RETRY, {
            "limits": {"concurrency": 64, "per_host": 4}}))
        c.check_rc()
        check_eq(len(c.records), n, "records\n" + c.describe())
        by = c.by_url()         # raises on a second record for a URL
        check_eq(set(by), set(urls), "one record per job")
        jobs = [r["job"] for r in c.records]
        check_eq(len(set(jobs)), n, "distinct job numbers")
        for u, r in by.items():
            check(r["ok"], "ok: %r" % r)
            check_eq(r["attempts"], 1, "attempts: %r" % r)
        for i in range(0, n, 97):
            size = i % 700 if i % 4 else i % 900
            check_eq(by[urls[i]]["sha256"], sha256_of(size), urls[i])
        st = srv.stats()
        check_eq(st["requests_total"], n, "each job fetched once at the "
                 "server")
        per = st["per_host"]
        for a in addrs:
            key = "%s:%d" % (a, srv.port)
            check_eq(per.get(key, {}).get("requests"), n // nhosts,
                     "requests at " + key)
        res = sorted(f for f in os.listdir(c.out) if f.startswith("results"))
        check_eq(res, ["results.jsonl"], "one result log")
        # the counters of every ring add up in the metrics
        check_eq(c.metrics.get('ringfetch_requests_total{result="ok"}'), n,
                 "ringfetch_requests_total ok")
        check_eq(c.metrics.get("ringfetch_bytes_total"),
                 sum(r["bytes"] for r in c.records), "ringfetch_bytes_total")


register("every job ends in exactly one record: 2,000 jobs over 20 hosts",
         every_job_once)


# ---------------------------------------------------------------- 2

def limits_hold_at_server(mode, w):
    nhosts, per_job = 6, 12
    args, addrs = hosts_args(nhosts)
    with Server(args=args) as srv:
        urls = [srv.url("/delay/150?n=%d" % i, host=addrs[i % nhosts])
                for i in range(nhosts * per_job)]
        c = crawl(mode, w, urls, merge(FAST_RETRY, {
            "limits": {"per_host": 2, "concurrency": 8,
                       "adaptive": False}}))
        c.check_rc()
        check(all(r["ok"] for r in c.records), "all ok")
        check_eq(len(c.records), len(urls), "records")
        st = srv.stats()
        peaks = {a: st["per_host"]["%s:%d" % (a, srv.port)]
                 ["max_concurrent_requests"] for a in addrs}
        for a, p in peaks.items():
            check(p <= 2, "per_host 2 exceeded at %s: %d (%r)" % (a, p, peaks))
            check_eq(p, 2, "per_host 2 reached at %s (%r)" % (a, peaks))
        peak = st["max_concurrent_requests"]
        check(peak <= 8, "concurrency 8 exceeded: %d" % peak)
        check_eq(peak, 8, "concurrency 8 reached (6 hosts x 2 could run 12)")


register("limits.per_host 2 and limits.concurrency 8 hold exactly at the "
         "server", limits_hold_at_server, workers=(1, 2, 4))


# ---------------------------------------------------------------- 3

def keepalive_reuse(mode, w):
    nhosts, n, per_host = 2, 400, 2
    args, addrs = hosts_args(nhosts)
    with Server(args=args) as srv:
        urls = [srv.url("/size/%d?n=%d" % (100 + i % 50, i),
                        host=addrs[i % nhosts]) for i in range(n)]
        c = crawl(mode, w, urls, merge(FAST_RETRY, {
            "limits": {"per_host": per_host, "concurrency": 16}}))
        c.check_rc()
        check(all(r["ok"] for r in c.records), "all ok")
        st = srv.stats()
        check_eq(st["requests_total"], n, "requests")
        conns = st["connections_total"]
        # pooled connections are reused; at worst each ring keeps its own
        # per_host connections to a host
        bound = nhosts * per_host * w
        check(conns <= bound, "connections %d <= %d (hosts x per_host x "
              "workers) for %d requests" % (conns, bound, n))
        reused = c.metrics.get("ringfetch_connections_reused_total")
        check(reused is not None, "ringfetch_connections_reused_total "
              "in the textfile")
        opened = c.metrics.get("ringfetch_connections_opened_total")
        check_eq(opened, conns, "ringfetch_connections_opened_total: the "
                 "server's count")
        check_eq(reused + opened, n, "reused %r + opened %r: every request "
                 "once" % (reused, opened))


register("keep-alive: pooled connections are reused, connections << "
         "requests", keepalive_reuse)


# ---------------------------------------------------------------- 4

def https_resumes(mode, w):
    good = pki()["good"]
    with Server(ports=2, tls=good) as srv:
        # host 0: one new connection per job, one at a time (per_host 1),
        # so every later handshake can resume; host 1: keep-alive bodies
        seq = [srv.url("/ok?close=1&n=%d" % i, i=0) for i in range(8)]
        bulk = [srv.url("/size/%d?n=%d" % (1000 + i, i), i=1)
                for i in range(60)]
        c = crawl(mode, w, seq + bulk, merge(FAST_RETRY, {
            "limits": {"per_host": 1, "concurrency": 4},
            "tls": {"ca_file": pki()["ca"]}}))
        c.check_rc()
        by = c.by_url()
        for u in seq + bulk:
            r = by[u]
            check(r["ok"], "ok: %r" % r)
            t = r["tls"]
            check(isinstance(t, dict) and t["version"] in
                  ("TLSv1.2", "TLSv1.3") and t["cipher"], "tls: %r" % t)
        for i, u in enumerate(bulk):
            check_eq(by[u]["sha256"], sha256_of(1000 + i), u)
        recs = sorted((by[u] for u in seq), key=lambda r: r["job"])
        full = [r["job"] for r in recs if not r["tls"]["resumed"]]
        check_eq(recs[0]["tls"]["resumed"], False, "first handshake full")
        # a session is cached per host: at most one full handshake per ring
        # (one in all when the rings share the cache), every other resumed
        check(len(full) <= w, "full handshakes (jobs %r) of %d sequential "
              "connections: at most %d (workers)" % (full, len(seq), w))
        check_eq(srv.stats(0)["connections_total"], len(seq),
                 "one connection each (close=1)")
        conns = srv.stats(1)["connections_total"]
        check(conns <= w, "keep-alive over TLS: %d connections for %d "
              "requests" % (conns, len(bulk)))


register("https: all ok, later handshakes to the same host resumed",
         https_resumes, workers=(1, 2))


# ---------------------------------------------------------------- 5

def cancel_running(w):
    args, addrs = hosts_args(2)
    cfg = {"limits": {"workers": w, "per_host": 8, "concurrency": 16},
           "retry": {"attempts": 1}}
    with Server(args=args) as srv, RfDaemon(cfg) as d:
        watch = d.conn()
        check_eq(watch.ask({"op": "watch"}), {"ok": True}, "watch")
        c = d.conn()
        one = c.ask({"op": "submit", "id": "one",
                     "url": srv.url("/delay/8000?one", host=addrs[0])})
        for i in range(6):
            c.ask({"op": "submit", "id": "slow",
                   "url": srv.url("/delay/8000?s=%d" % i,
                                  host=addrs[i % 2])})
        wait_until(lambda: srv.stats()["in_flight"] == 7, 10,
                   what="7 requests at the server")
        t0 = time.monotonic()
        check_eq(c.ask({"op": "cancel", "job": one["job"]}),
                 {"ok": True, "cancelled": 1}, "cancel the running job")
        rec = watch.line()["result"]
        check_eq((rec["job"], rec["error"]), (one["job"], "cancelled"),
                 "its record: %r" % rec)
        check_eq(c.ask({"op": "cancel", "id": "slow"}),
                 {"ok": True, "cancelled": 6}, "cancel six by id")
        seen = [watch.line()["result"] for _ in range(6)]
        check(time.monotonic() - t0 < 4, "cancelled at once, not after "
              "the server's 8 s")
        check_eq(sorted((x["id"], x["error"]) for x in seen),
                 [("slow", "cancelled")] * 6, "six cancelled records")
        check_eq(c.ask({"op": "cancel", "job": one["job"]}).get("error"),
                 "unknown_job", "a cancelled job is gone")
        wait_until(lambda: d.status()["in_flight"] == 0, 5,
                   what="nothing in flight")
        # the daemon goes on fetching, on every host
        for i, a in enumerate(addrs):
            r = c.ask({"op": "submit", "id": "after%d" % i, "wait": True,
                       "url": srv.url("/size/%d" % (10 + i), host=a)})
            check(r.get("ok"), "submit after cancel: %r" % r)
            res = c.line()["result"]
            check(res["ok"], "fetched after the cancel: %r" % res)
            check_eq(res["sha256"], sha256_of(10 + i), "body")
        c.close()
        watch.close()
        check_eq(d.stop(), 0, "exit status")
        recs = d.records()
        check_eq(len(recs), 9, "one record per job")
        check_eq(len({r["job"] for r in recs}), 9, "never two")
        check_eq(sorted(r["id"] for r in recs if r["error"] == "cancelled"),
                 ["one"] + ["slow"] * 6, "cancelled records")


for _w in (1, 2, 4):
    test("cancel of running jobs: one cancelled record each, the daemon "
         "goes on (daemon, workers %d)" % _w, timeout=60)(
        (lambda w=_w: cancel_running(w)))


# ---------------------------------------------------------------- 6

def sigterm_restart(w, journal=True):
    args, addrs = hosts_args(2)
    cfg = {"daemon": {"shutdown_grace": "500ms"},
           "limits": {"workers": w, "per_host": 8, "concurrency": 8},
           "retry": {"attempts": 1}}
    if not journal:
        cfg["queue"] = {"journal": False}
    with Server(args=args) as srv:
        d = RfDaemon(cfg)
        d.start()
        reqs = []
        for i in range(4):      # finish inside the grace
            reqs.append({"op": "submit", "id": "fast%d" % i,
                         "url": srv.url("/delay/250?f=%d" % i,
                                        host=addrs[i % 2])})
        for i in range(4):      # cut off by the grace
            reqs.append({"op": "submit", "id": "slow%d" % i,
                         "url": srv.url("/delay/1500?s=%d" % i,
                                        host=addrs[i % 2])})
        for i in range(30):     # queued behind the cap
            reqs.append({"op": "submit", "id": "q%d" % i,
                         "url": srv.url("/size/%d?q=%d" % (i, i),
                                        host=addrs[i % 2])})
        try:
            acks = d.submit_many(reqs, clients=1)
            wait_until(lambda: srv.stats()["in_flight"] == 8, 10,
                       what="8 requests at the server")
            st = d.status()
            check(st["in_flight"] == 8 and st["queued"] > 0,
                  "running and queued: %r" % st)
            t0 = time.monotonic()
            check_eq(d.stop(timeout=15), 0, "exit 0 after SIGTERM")
            check(time.monotonic() - t0 < 5, "stopped within the grace")
        finally:
            if d.proc is not None:
                d.stop()
        job_of = {r["id"]: a["job"] for r, a in zip(reqs, acks)}
        first = d.records()
        ids1 = [r["id"] for r in first]
        check_eq(sorted(i for i in ids1 if i.startswith("fast")),
                 ["fast0", "fast1", "fast2", "fast3"],
                 "running jobs finished within the grace")
        check(not any(i.startswith("slow") for i in ids1),
              "jobs cut off at the grace get no record yet: %r" % ids1)
        check(not any(i.startswith("q") for i in ids1),
              "queued jobs do not start after SIGTERM: %r" % ids1)
        check(not [r for r in first if r["error"] == "cancelled"],
              "nothing cancelled in daemon mode: %r" % first)
        diag("first run: %d records (%s)" % (len(first), " ".join(
            sorted(set(re.sub(r"\d+$", "", i) for i in ids1)))))
        if not journal:
            spill = os.path.join(d.state, "spill.jsonl")
            check(os.path.exists(spill), "spill file written")
        d.start()
        try:
            wait_until(lambda: d.status()["done"] >= len(reqs) - len(first),
                       30, interval=0.1, what="the saved jobs done")
            check_eq(d.stop(), 0, "second exit")
        finally:
            if d.proc is not None:
                d.stop()
        every = d.records()
        byid = {}
        for r in every:
            byid.setdefault(r["id"], []).append(r)
        for x in reqs:
            got = byid.get(x["id"], [])
            check_eq(len(got), 1, "records of " + x["id"])
            check(got[0]["ok"], "ok: %r" % got[0])
            check_eq(got[0]["job"], job_of[x["id"]], "job number kept")
        check_eq(len(every), len(reqs), "no other record")


for _w in (1, 2, 4):
    test("SIGTERM with jobs running and queued, restart: every accepted "
         "job exactly one record (daemon, journal, workers %d)" % _w,
         timeout=60)((lambda w=_w: sigterm_restart(w)))
test("SIGTERM with jobs running and queued, restart: every accepted job "
     "exactly one record (daemon, queue.journal false: spill, workers 2)",
     timeout=60)(lambda: sigterm_restart(2, journal=False))


# ---------------------------------------------------------------- 7

def sighup_reload(w):
    nhosts, n = 3, 400
    args, addrs = hosts_args(nhosts)

    def cfg(per_host, ua):
        return {"limits": {"workers": w, "per_host": per_host,
                           "concurrency": 16, "adaptive": False},
                "http": {"user_agent": ua},
                "retry": {"attempts": 1}}
    with Server(args=args) as srv, RfDaemon(cfg(4, "rf-before/1")) as d:
        reqs = [{"op": "submit", "id": "a%d" % i,
                 "url": srv.url("/delay/30?a=%d" % i, host=addrs[i % nhosts])}
                for i in range(n)]
        feeder = threading.Thread(target=d.submit_many, args=(reqs,))
        feeder.start()
        wait_until(lambda: d.status()["done"] >= 100, 20, what="100 done")
        check(d.status()["in_flight"] > 0, "fetching at the reload")
        d.write_config(cfg(2, "rf-after/2"))
        d.send_signal(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] >= 1, 10, what="reload")
        check(d.status()["done"] < n, "the reload came while fetching")
        time.sleep(0.2)
        wait_until(lambda: all(v["in_flight"] <= 2 for v in
                               srv.stats()["per_host"].values()),
                   5, interval=0.01, what="hosts down to the new per_host")
        srv.reset()             # peaks from here on: after the reload
        feeder.join(60)
        wait_until(lambda: d.status()["done"] >= n, 60, interval=0.1,
                   what="all done")
        st = srv.stats()
        check(st["requests_total"] >= 50, "fetched after the reload: %d" %
              st["requests_total"])
        for k, v in st["per_host"].items():
            check(v["max_concurrent_requests"] <= 2,
                  "new per_host 2 at %s: %r" % (k, v))
        uas = set()
        for e in srv.log(n=10000):
            uas |= {v for k, v in e["headers"] if k.lower() == "user-agent"}
        check_eq(uas, {"rf-after/2"}, "User-Agent after the reload")
        check_eq(d.stop(), 0, "exit status")
        recs = d.records()
        ids = [r["id"] for r in recs]
        check_eq(sorted(ids), sorted(x["id"] for x in reqs),
                 "every job one record, nothing lost")
        check(all(r["ok"] for r in recs), "all ok")


for _w in (1, 2):
    test("SIGHUP reload while fetching: nothing lost, the new per_host and "
         "User-Agent seen at the server (daemon, workers %d)" % _w,
         timeout=90)((lambda w=_w: sighup_reload(w)))


def sighup_burst(w):
    """Reloads back to back while the rings fetch: each one pauses the
    rings between two completions, and a ring slow to wake from one
    pause must not sleep through the next."""
    nhosts, n = 2, 600
    args, addrs = hosts_args(nhosts)
    cfg = {"limits": {"workers": w, "per_host": 4, "concurrency": 8},
           "retry": {"attempts": 1}}
    with Server(args=args) as srv, RfDaemon(cfg) as d:
        reqs = [{"op": "submit", "id": "b%d" % i,
                 "url": srv.url("/delay/5?b=%d" % i, host=addrs[i % nhosts])}
                for i in range(n)]
        feeder = threading.Thread(target=d.submit_many, args=(reqs,))
        feeder.start()
        wait_until(lambda: d.status()["done"] >= 50, 20, what="50 done")
        # signals of one kind pending at once merge: count what came
        for _ in range(20):
            d.send_signal(signal.SIGHUP)
            time.sleep(0.002)
        time.sleep(0.3)
        before = d.status()["reloads"]
        check(before >= 2, "reloads back to back: %d" % before)
        d.send_signal(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] == before + 1, 10,
                   what="one more reload after the burst")
        feeder.join(60)
        wait_until(lambda: d.status()["done"] >= n, 60, interval=0.1,
                   what="all done")
        check_eq(d.stop(), 0, "exit status")
        ids = sorted(r["id"] for r in d.records())
        check_eq(ids, sorted(x["id"] for x in reqs),
                 "every job one record, nothing lost")


for _w in (2, 4):
    test("20 SIGHUPs 2 ms apart while fetching: the rings pause and go on "
         "each time, every job one record (daemon, workers %d)" % _w,
         timeout=90)((lambda w=_w: sighup_burst(w)))


def sighup_workers_fixed(w):
    other = 3 if w != 3 else 2
    cfg = {"limits": {"workers": w}, "retry": {"attempts": 1}}
    with Server() as srv, RfDaemon(cfg) as d:
        d.write_config({"limits": {"workers": other},
                        "retry": {"attempts": 1}})
        d.send_signal(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] >= 1, 10, what="reload")
        wait_until(lambda: "limits.workers cannot change" in d.log(), 5,
                   what="limits.workers named as fixed in the log")
        urls = [srv.url("/size/%d" % i) for i in range(50)]
        d.submit_many([{"op": "submit", "url": u} for u in urls])
        wait_until(lambda: d.status()["done"] >= 50, 20, what="50 done")
        st = d.status()
        check_eq(st["ok"], 50, "fetching goes on after the reload")
        if "workers" in st:     # once status reports it
            check_eq(st["workers"], w, "the running count is kept")
        check_eq(d.stop(), 0, "exit status")


for _w in (1, 2):
    test("SIGHUP changing limits.workers: named in the log as fixed until "
         "restart, fetching goes on (daemon, workers %d)" % _w,
         timeout=30)((lambda w=_w: sighup_workers_fixed(w)))


# ---------------------------------------------------------------- 8

def bodies_files(mode, w):
    with Server() as srv:
        sizes = [0, 1, 26, 5000, 70000, 300000, 1 << 20]
        urls = [srv.url("/size/%d?n=%d" % (s, i)) for i, s in
                enumerate(sizes)]
        urls += [srv.url("/chunked/%d?chunks=5&n=%d" % (3000 + i, i))
                 for i in range(20)]
        urls += [srv.url("/gzip/%d" % 40000)]
        c = crawl(mode, w, urls, merge(FAST_RETRY, {
            "output": {"bodies": "files"},
            "limits": {"per_host": 8}}))
        c.check_rc()
        by = c.by_url()
        check_eq(set(by), set(urls), "a record each")
        for u, r in by.items():
            check(r["ok"], "ok: %r" % r)
            bp = r["body_path"]
            check(bp, "body_path: %r" % r)
            with open(os.path.join(c.out, bp), "rb") as f:
                data = f.read()
            check_eq(sha256_of_bytes(data), r["sha256"], u + " stored body")
            check_eq(len(data), r["bytes"], u + " stored size")
        for i, s in enumerate(sizes):
            check_eq(by[urls[i]]["sha256"], sha256_of(s), urls[i])
        check_eq(by[urls[-1]]["sha256"], sha256_of(40000), "gzip decoded")


register("output.bodies files: every body stored, its sha256 the record's",
         bodies_files, workers=(1, 2))


def warc_responses(out):
    """{"warc/FILE#OFFSET": (fields, http block)} of every response record
    (one gzip member each) in out/warc/*.warc.gz."""
    resp = {}
    for path in sorted(glob.glob(os.path.join(out, "warc", "*.warc.gz"))):
        with open(path, "rb") as f:
            data = f.read()
        off = 0
        while off < len(data):
            z = zlib.decompressobj(wbits=31)
            m = z.decompress(data[off:])
            check(z.eof, "%s: member at %d complete" % (path, off))
            head, _, rest = m.partition(b"\r\n\r\n")
            fields = {}
            for ln in head.split(b"\r\n")[1:]:
                k, _, v = ln.partition(b":")
                fields[k.decode().lower()] = v.strip().decode()
            blen = int(fields["content-length"])
            block = rest[:blen]
            check_eq(fields["warc-block-digest"], "sha256:" +
                     base64.b32encode(hashlib.sha256(block).digest())
                     .decode(), "block digest")
            if fields.get("warc-type") == "response":
                resp["warc/%s#%d" % (os.path.basename(path), off)] = (
                    fields, block)
            off = len(data) - len(z.unused_data)
    return resp


def http_body(block):
    head, _, body = block.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out, pos = b"", 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            return out
        out += body[pos:pos + size]
        pos += size + 2


def bodies_warc(mode, w):
    with Server() as srv:
        sizes = [0, 100, 5000, 200000]
        urls = [srv.url("/size/%d?n=%d" % (s, i)) for i, s in
                enumerate(sizes)]
        urls += [srv.url("/chunked/%d?chunks=4&n=%d" % (2000 + i, i))
                 for i in range(20)]
        c = crawl(mode, w, urls, merge(FAST_RETRY, {
            "output": {"bodies": "warc"}, "limits": {"per_host": 8}}))
        c.check_rc()
        resp = warc_responses(c.out)
        check_eq(len(resp), len(urls), "one response record per job")
        for u, r in c.by_url().items():
            check(r["body_path"] in resp, "%s: body_path %r is a response "
                  "record" % (u, r["body_path"]))
            fields, block = resp[r["body_path"]]
            check_eq(fields["warc-target-uri"], u, "target URI")
            check_eq(sha256_of_bytes(http_body(block)), r["sha256"],
                     u + " archived body")
            check_eq(fields["warc-payload-digest"], "sha256:" +
                     base64.b32encode(bytes.fromhex(r["sha256"])).decode(),
                     "payload digest")
        for i, s in enumerate(sizes):
            check_eq(c.by_url()[urls[i]]["sha256"], sha256_of(s), urls[i])


register("output.bodies warc: every response archived, its sha256 the "
         "record's", bodies_warc, workers=(1, 2))


# ---------------------------------------------------------------- 9

def robots_obeyed(mode, w):
    args, addrs = hosts_args(3)
    with Server(args=args) as srv:
        srv.robots("User-agent: *\nDisallow: /private\n")
        ok, bad = [], []
        for a in addrs:
            ok += [srv.url("/size/%d?h=%s" % (i, a), host=a)
                   for i in range(1, 11)]
            bad += [srv.url("/private/%d" % i, host=a) for i in range(5)]
        c = crawl(mode, w, ok + bad, merge(FAST_RETRY, {
            "robots": {"obey": True}, "limits": {"per_host": 4}}))
        c.check_rc(some_failed=True)
        by = c.by_url()
        for u in ok:
            check(by[u]["ok"], "allowed and fetched: %r" % by[u])
        for u in bad:
            check_eq((by[u]["error"], by[u]["error_detail"]),
                     ("robots", "disallowed by robots.txt: Disallow: "
                      "/private"), u)
        check_eq(len(c.records), len(ok) + len(bad), "records")
        st = srv.stats()
        for a in addrs:
            check_eq(st["per_host"]["%s:%d" % (a, srv.port)]["requests"],
                     11, "robots.txt once and 10 pages at " + a)
        targets = [e["target"] for e in srv.log(n=10000)]
        check(not [t for t in targets if t.startswith("/private")],
              "no disallowed path requested")
        check_eq(targets.count("/robots.txt"), len(addrs),
                 "robots.txt once per host")


register("robots.obey: disallowed paths end robots unrequested, allowed "
         "ones fetched", robots_obeyed, workers=(1, 2))


# ---------------------------------------------------------------- 10

def cpus():
    return {os.cpu_count(), len(os.sched_getaffinity(0))}


def startup_lines(log, n):
    """Lines of the log that say how many worker rings fetch (n)."""
    return [ln for ln in log.splitlines() if re.search(r"worker", ln, re.I)
            and (re.search(r"\b%d\b" % n, ln) or
                 (n == 1 and "main thread" in ln))]


def workers_count_daemon(setting):
    port = free_port()
    cfg = {"metrics": {"listen": "127.0.0.1:%d" % port}}
    if setting is not None:
        cfg["limits"] = {"workers": setting}
    want = {setting} if isinstance(setting, int) else cpus()
    problems = []
    with Server() as srv, RfDaemon(cfg) as d:
        d.submit_many([{"op": "submit", "url": srv.url("/ok")}])
        wait_until(lambda: d.status()["done"] == 1, 10, what="done")
        st = d.status()
        if st.get("workers") not in want:
            problems.append("status workers: %r, want one of %r" % (
                st.get("workers", "(missing)"), want))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=5) as f:
            m = prom_samples(f.read().decode())
        if m.get("ringfetch_workers") not in want:
            problems.append("/metrics ringfetch_workers: %r, want one of "
                            "%r" % (m.get("ringfetch_workers", "(missing)"),
                                    want))
        n = st.get("workers") or min(want)
        lines = startup_lines(d.log(), n)
        if len(lines) != 1:
            problems.append("start-up log lines saying %d worker rings "
                            "fetch: %r" % (n, lines))
        check_eq(d.stop(), 0, "exit status")
    check(not problems, "; ".join(problems) + "\nlog:\n" + d.log()[-1500:])


def workers_count_batch(setting):
    want = {setting} if isinstance(setting, int) else cpus()
    with Server() as srv:
        # a batch crawl says it at debug level: at info its stderr is
        # the progress and summary only (-q leaves it empty)
        c = crawl("batch", setting, [srv.url("/ok")],
                  {"log": {"level": "debug"}})
        c.check_rc()
    problems = []
    got = c.metrics.get("ringfetch_workers")
    if got not in want:
        problems.append("textfile ringfetch_workers: %r, want one of %r" % (
            "(missing)" if got is None else got, want))
    n = int(got) if got else min(want)
    lines = startup_lines(c.log, n)
    if len(lines) != 1:
        problems.append("log lines saying %d worker rings fetch: %r" % (
            n, lines))
    check(not problems, "; ".join(problems) + "\nlog:\n" + c.log[-1500:])


for _s in (1, 2, 4, "auto", None):
    test("workers count: status workers and ringfetch_workers equal "
         "limits.workers %s (daemon)" % ("unset" if _s is None else _s),
         timeout=30)((lambda s=_s: workers_count_daemon(s)))
for _s in (1, 2, "auto"):
    test("workers count: the metrics textfile's ringfetch_workers equals "
         "limits.workers %s (batch)" % _s,
         timeout=30)((lambda s=_s: workers_count_batch(s)))


# ---------------------------------------------------------------- 11

class SilentTLS:
    """A TCP listener whose connections are read and never answered (a
    TLS server that never sends its ServerHello)."""

    def __init__(self):
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(64)
        self.port = self.lst.getsockname()[1]
        self.socks = []
        self.accepts = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while True:
            try:
                s, _ = self.lst.accept()
            except OSError:
                return
            self.accepts += 1
            self.socks.append(s)

    def close(self):
        self.lst.close()
        for s in self.socks:
            s.close()


class Unanswered:
    """A listener with a full accept queue: further SYNs are dropped, so a
    connect never completes (connect_timeout)."""

    def __init__(self):
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(0)
        self.port = self.lst.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(s)

        def full():
            _, wr, _ = select.select([], self.fillers, [], 0)
            return any(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                       for s in wr)
        wait_until(full, 5, interval=0.01, what="a full accept queue")

    def close(self):
        for s in self.fillers:
            s.close()
        self.lst.close()


def timeouts_per_phase(mode, w):
    silent, syn = SilentTLS(), Unanswered()
    try:
        with Server() as srv:
            fb = srv.url("/slow-first-byte/4000")
            idle = srv.url("/stall/10000/4000")
            drip = srv.url("/drip/200/100")
            tls = "https://127.0.0.1:%d/x" % silent.port
            conn = "http://127.0.0.1:%d/x" % syn.port
            t0 = time.monotonic()
            c = crawl(mode, w, [fb, idle, drip, tls, conn], merge(FAST_RETRY, {
                "retry": {"attempts": 2},
                "timeouts": {"connect": "300ms", "tls": "300ms",
                             "first_byte": "300ms", "idle": "300ms",
                             "total": "1500ms"},
                "tls": {"ca_file": pki()["ca"]}}), timeout=30)
            took = time.monotonic() - t0
            c.check_rc(some_failed=True)
            by = c.by_url()
            want = {fb: ("timeout", 2), idle: ("timeout", 2),
                    drip: ("deadline", None), tls: ("tls_handshake", 2),
                    conn: ("connect_timeout", 2)}
            for u, (cls, attempts) in want.items():
                r = by[u]
                check(not r["ok"], "failed: %r" % r)
                check_eq(r["error"], cls, "%s error class (%r)" % (
                    u, r["error_detail"]))
                if attempts:
                    check_eq(r["attempts"], attempts, u + " retried")
            check_in("idle", by[idle]["error_detail"], "idle named")
            check_in("timeouts.tls", by[tls]["error_detail"], "tls named")
            paths = srv.stats()["per_path_counts"]
            check_eq(paths.get("/slow-first-byte/4000"), 2,
                     "first-byte timeout: two attempts at the server")
            check_eq(paths.get("/stall/10000/4000"), 2,
                     "idle timeout: two attempts at the server")
            check_eq(silent.accepts, 2, "tls timeout: two connections")
            check(took < 4 + 3, "timeouts fired before the server "
                  "answered (%.1f s)" % took)
    finally:
        silent.close()
        syn.close()


register("timeouts per phase (connect, tls, first byte, idle, total) with "
         "retries", timeouts_per_phase, workers=(1, 2))


main()
