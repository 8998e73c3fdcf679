#!/usr/bin/python3
"""The fleet scenario of scripts/bench.sh (--fleet): three ringfetchd
daemons on loopback fed through one redis-server (SPEC "Fleet").

    fleetbench.py --bin BUILD/ringfetchd --port NGINX_PORT --work DIR
                  [--jobs N] [--runs R] [--daemons K]

Each run starts a fresh redis-server (no persistence) on a free loopback
port and K daemons (source.redis, claim_idle 5s, output.sync batch,
concurrency 64, per-host 8), waits until they share the 16 partitions,
then XADDs N jobs (http://127.0.0.2-21:PORT/4k.bin?n=I, in their hosts'
partitions, pipelined) and waits for the last record.  Jobs/s are end to
end: from the first XADD to the last record in the daemons' result files.
Redis CPU is the redis-server's user + system time over the same window
(/proc/PID/stat).  Everything is stopped by PID; only 127.0.0.0/8 is
contacted.  Prints a line per run and a Markdown table (median last)."""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import redis

PARTITIONS = 16
PREFIX = "ringfetch:jobs"
TICK = os.sysconf("SC_CLK_TCK")


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        f = f.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def stop(p, grace=10):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def ask(sock, req, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            c = s.recv(65536)
            if not c:
                break
            buf += c
        return json.loads(buf.split(b"\n", 1)[0])
    finally:
        s.close()


def wait(pred, timeout, what):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        try:
            if pred():
                return
        except (OSError, ValueError, redis.exceptions.RedisError):
            pass
        time.sleep(0.05)
    sys.exit("fleetbench: timed out waiting for %s" % what)


def lines(paths):
    n = 0
    for p in paths:
        try:
            with open(p, "rb") as f:
                n += f.read().count(b"\n")
        except OSError:
            pass
    return n


def one_run(o, run):
    w = os.path.join(o.work, "fleet%d" % run)
    os.makedirs(w)
    procs = []
    try:
        rport = free_port()
        rp = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(rport), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", w,
             "--daemonize", "no", "--logfile", os.path.join(w, "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        procs.append(rp)
        r = redis.Redis(host="127.0.0.1", port=rport, socket_timeout=30)
        wait(r.ping, 10, "redis-server")
        socks, outs, ds = [], [], []
        for i in range(o.daemons):
            d = os.path.join(w, "d%d" % i)
            os.makedirs(os.path.join(d, "state"))
            sock = os.path.join(d, "rf.sock")
            cfg = os.path.join(d, "ringfetch.yaml")
            with open(cfg, "w") as f:
                f.write("daemon:\n  socket: %s\n  state_dir: %s/state\n"
                        "  shutdown_grace: 2s\n"
                        "output:\n  dir: %s/out\n  sync: batch\n"
                        "limits:\n  concurrency: 64\n  per_host: 8\n"
                        "source:\n  redis:\n    url: redis://127.0.0.1:%d\n"
                        "    consumer: f%d\n    claim_idle: 5s\n"
                        % (sock, d, d, rport, i))
            err = open(os.path.join(d, "stderr"), "wb")
            p = subprocess.Popen([o.bin, "-c", cfg], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)
            err.close()
            procs.append(p)
            ds.append(p)
            socks.append(sock)
            outs.append(os.path.join(d, "out", "results.jsonl"))
        for p, s in zip(ds, socks):
            def up(p=p, s=s):
                if p.poll() is not None:
                    sys.exit("fleetbench: ringfetchd exited %s (see %s)" % (
                        p.returncode, os.path.dirname(s)))
                return ask(s, {"op": "status"}).get("ok")
            wait(up, 20, "the daemons' sockets")

        def spread():
            owned = [ask(s, {"op": "status"})["status"]["redis"]["partitions"]
                     for s in socks]
            return (sorted(x for y in owned for x in y) ==
                    list(range(PARTITIONS)) and all(owned))
        wait(spread, 60, "the daemons to share the partitions")
        hosts = ["127.0.0.%d" % i for i in range(2, 22)]
        cpu0 = cpu_s(rp.pid)
        dcpu0 = sum(cpu_s(p.pid) for p in ds)
        t0 = time.monotonic()
        pipe = r.pipeline(transaction=False)
        for i in range(o.jobs):
            h = hosts[i % len(hosts)]
            pipe.xadd("%s:%d" % (PREFIX, fnv1a32(h.encode()) % PARTITIONS),
                      {"url": "http://%s:%d/4k.bin?n=%d" % (h, o.port, i),
                       "id": "b%d" % i})
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        t_push = time.monotonic() - t0
        deadline = t0 + o.timeout
        while lines(outs) < o.jobs:
            if time.monotonic() > deadline:
                sys.exit("fleetbench: run %d: %d of %d records after %d s" % (
                    run, lines(outs), o.jobs, o.timeout))
            for p in ds:
                if p.poll() is not None:
                    sys.exit("fleetbench: a daemon exited %s" % p.returncode)
            time.sleep(0.02)
        el = time.monotonic() - t0
        rcpu = cpu_s(rp.pid) - cpu0
        dcpu = sum(cpu_s(p.pid) for p in ds) - dcpu0
        ok = ids = 0
        seen, per = set(), []
        for path in outs:
            n = 0
            with open(path) as f:
                for ln in f:
                    rec = json.loads(ln)
                    seen.add(rec.get("id"))
                    ok += bool(rec.get("ok"))
                    n += 1
            per.append(n)
        ids = len(seen)
        row = {"run": run, "jobs": o.jobs, "elapsed": el, "push": t_push,
               "jps": o.jobs / el, "redis_ms_per_k": rcpu * 1e6 / o.jobs,
               "redis_pct": 100 * rcpu / el,
               "daemons_ms_per_k": dcpu * 1e6 / o.jobs, "ok": ok,
               "distinct": ids, "per": per}
        print("  run %d: %d jobs in %.2f s (push %.2f s): %.0f jobs/s; Redis "
              "CPU %.0f ms/1,000 jobs (%.0f%% of a core); daemons %.0f "
              "ms/1,000; ok %d, distinct ids %d, per daemon %s" % (
                  run, o.jobs, el, t_push, row["jps"], row["redis_ms_per_k"],
                  row["redis_pct"], row["daemons_ms_per_k"], ok, ids, per),
              flush=True)
        return row
    finally:
        for p in reversed(procs):
            stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--daemons", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=600)
    o = ap.parse_args()
    rows = [one_run(o, k) for k in range(1, o.runs + 1)]
    print()
    print("### FLEET: %d daemons, one redis-server, %d jobs (4 KiB, 20 hosts "
          "127.0.0.2-21, nginx), concurrency 64 and per-host 8 per daemon"
          % (o.daemons, o.jobs))
    print()
    print("| run | jobs | elapsed s | jobs/s (first XADD to last record) "
          "| Redis CPU ms per 1,000 jobs | Redis CPU % of a core "
          "| daemons CPU ms per 1,000 jobs | ok | distinct ids |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for x in rows:
        print("| %d | %d | %.2f | %.0f | %.0f | %.0f | %.0f | %d | %d |" % (
            x["run"], x["jobs"], x["elapsed"], x["jps"], x["redis_ms_per_k"],
            x["redis_pct"], x["daemons_ms_per_k"], x["ok"], x["distinct"]))

    def med(k):
        return statistics.median(x[k] for x in rows)
    print("| **median** | %d | %.2f | **%.0f** | %.0f | %.0f | %.0f | | |" % (
        o.jobs, med("elapsed"), med("jps"), med("redis_ms_per_k"),
        med("redis_pct"), med("daemons_ms_per_k")))
    bad = [x for x in rows if x["distinct"] != o.jobs]
    if bad:
        print("\nSHORT: runs %s did not end with one record per job" %
              [x["run"] for x in bad])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
