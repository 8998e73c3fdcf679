"""Daemon mode: the control socket protocol over a real Unix socket, the
ringfetch client, backpressure, watchers, SIGTERM/spill/restart, SIGHUP,
systemd notify and socket activation, unit files and make install."""
import sys, os
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: F401,F403
from harness import _pdeathsig, _stop_proc, read_records, sanitizer_errors

import errno
import json
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time


# Line (the control-socket client) and Daemon are harness.py's Control
# and Daemon, shared with the other daemon-mode tests.
Line = Control


def client(d_or_sock, *args, input=None, timeout=30):
    sock = d_or_sock if isinstance(d_or_sock, str) else d_or_sock.sock
    return run_rf(["--socket", sock] + list(args), timeout=timeout,
                  input=input, binary=rf_bin("ringfetch"))


def by_id(recs):
    d = {}
    for r in recs:
        d.setdefault(r["id"], []).append(r)
    return d


# ------------------------------------------------------------ protocol

@test("submit, bare URL line, status and wait results over the socket")
def _():
    with Server() as srv, Daemon() as d:
        c = d.conn()
        r = c.ask({"op": "submit", "url": srv.url("/ok"), "id": "a"})
        check_eq((r["ok"], r["id"]), (True, "a"), "submit ack")
        check(isinstance(r["job"], int) and r["job"] >= 1, "job number")
        c.send(srv.url("/size/100"))
        r2 = c.response()
        check_eq(r2["ok"], True, "bare URL ack")
        check_eq(r2["id"], None, "bare URL id")
        check(r2["job"] > r["job"], "job numbers grow")
        r3 = c.ask({"op": "submit", "url": srv.url("/size/7"), "id": "w",
                    "wait": True})
        res = c.line()
        check("result" in res, "a result follows: %r" % res)
        check_eq(res["result"]["job"], r3["job"], "result of the job")
        check_eq(res["result"]["sha256"], sha256_of(7), "sha256")
        wait_until(lambda: d.status()["done"] >= 3, 10, what="3 done")
        st = d.status()
        for k in ("queued", "in_flight", "done", "ok", "failed", "retried",
                  "bytes", "connections_open", "connections_idle",
                  "hosts_active", "uptime_s", "watch_dropped"):
            check_in(k, st, "status key")
        mem = st["memory"]
        for k in ("heap_in_use", "heap_free", "heap_mmap", "journal_buffers",
                  "results_buffer", "client_buffers", "buffers"):
            check(isinstance(mem.get(k), int), "memory key %s: %r" % (k, mem))
        # (ASan's allocator answers mallinfo2() with zeros)
        check(mem["client_buffers"] > 0, "memory figures: %r" % mem)
        check(mem["buffers"] >= mem["journal_buffers"] +
              mem["results_buffer"] + mem["client_buffers"], "their sum")
        check_eq(st["ok"], 3, "status ok")
        c.close()
        check_eq(d.stop(), 0, "exit status")
        recs = d.records()
        check_eq(len(recs), 3, "three records")
        check_eq(sorted(x["id"] or "" for x in recs), ["", "a", "w"], "ids")


@test("every error line, and the connection stays usable after each")
def _():
    with Server() as srv, Daemon("queue:\n  capacity: 1\nlimits:\n"
                                 "  concurrency: 1\n  per_host: 1\n") as d:
        c = d.conn()
        cases = [
            ('{"op":"submit",', "invalid_json"),
            ('{"op":"submit","url":"not a url"}', "invalid_url"),
            ("ftp://127.0.0.1/x", "unsupported_scheme"),
            ('{"op":"frobnicate"}', "unknown_op"),
            ('{"url":"http://x/"}', "unknown_op"),
            ('{"op":"cancel","job":999999}', "unknown_job"),
            ('{"op":"cancel","id":"nope"}', "unknown_job"),
            ('{"op":"submit","url":"http://127.0.0.1/","id":5}',
             "invalid_json"),
            ('{"op":"submit","url":"http://127.0.0.1/","headers":[1]}',
             "invalid_json"),
        ]
        for req, cls in cases:
            r = c.ask(req)
            check_eq((r.get("ok"), r.get("error")), (False, cls), req)
            check(isinstance(r.get("detail"), str) and r["detail"],
                  "detail for " + req)
            check_eq(c.ask({"op": "status"})["ok"], True, "usable after " + req)
        # 64 KiB is the limit: exactly that is a line, one more is not
        pad = '{"op":"status","pad":"%s"}'
        exact = pad % ("x" * (65536 - len(pad % "")))
        check_eq(len(exact), 65536, "exact length")
        check_eq(c.ask(exact)["ok"], True, "a 64 KiB line is answered")
        r = c.ask(exact[:-2] + 'x"}')
        check_eq(r.get("error"), "line_too_long", "64 KiB + 1")
        check_eq(c.ask({"op": "status"})["ok"], True, "usable after long")
        # queue_full (nowait) and, while stopping, shutting_down
        c.ask({"op": "submit", "url": srv.url("/delay/3000")})
        wait_until(lambda: d.status()["in_flight"] == 1, 10, what="running")
        c.ask({"op": "submit", "url": srv.url("/delay/3000")})
        r = c.ask({"op": "submit", "url": srv.url("/ok"), "nowait": True})
        check_eq(r.get("error"), "queue_full", "nowait on a full queue")
        d.kill_sig(signal.SIGTERM)
        wait_until(lambda: d.status()["state"] == "stopping", 5,
                   what="stopping")
        r = c.ask({"op": "submit", "url": srv.url("/ok")})
        check_eq(r.get("error"), "shutting_down", "submit while stopping")
        check_eq(d.stop(), 0, "exit status")


@test("pipelined requests are answered in order")
def _():
    with Server() as srv, Daemon() as d:
        c = d.conn()
        lines = []
        for i in range(300):
            if i % 3 == 0:
                lines.append(json.dumps({"op": "submit", "url":
                                         srv.url("/size/%d" % i),
                                         "id": "p%d" % i}))
            elif i % 3 == 1:
                lines.append(json.dumps({"op": "status"}))
            else:
                lines.append(json.dumps({"op": "bad%d" % i}))
        c.send("\n".join(lines))
        for i in range(300):
            r = c.response()
            if i % 3 == 0:
                check_eq(r.get("id"), "p%d" % i, "answer %d" % i)
            elif i % 3 == 1:
                check("status" in r, "answer %d is status" % i)
            else:
                check_eq(r.get("detail"), "unknown op bad%d" % i,
                         "answer %d" % i)
        wait_until(lambda: d.status()["done"] == 100, 30, what="all done")
        check_eq(d.stop(), 0, "exit status")
        check_eq(len(d.records()), 100, "records")


@test("watch sees every record, cancel by job and by id")
def _():
    with Server() as srv, Daemon("limits:\n  concurrency: 1\n"
                                           "  per_host: 1\n") as d:
        w = d.conn()
        check_eq(w.ask({"op": "watch"}), {"ok": True}, "watch ack")
        c = d.conn()
        run = c.ask({"op": "submit", "url": srv.url("/delay/5000"),
                     "id": "run"})
        wait_until(lambda: d.status()["in_flight"] == 1, 10, what="running")
        q1 = c.ask({"op": "submit", "url": srv.url("/ok"), "id": "q"})
        c.ask({"op": "submit", "url": srv.url("/ok"), "id": "q"})
        r = c.ask({"op": "cancel", "id": "q"})
        check_eq(r, {"ok": True, "cancelled": 2}, "cancel by id")
        r = c.ask({"op": "cancel", "job": run["job"]})
        check_eq(r, {"ok": True, "cancelled": 1}, "cancel running job")
        r = c.ask({"op": "cancel", "job": q1["job"]})
        check_eq(r.get("error"), "unknown_job", "already cancelled")
        seen = [w.line()["result"] for _ in range(3)]
        for rec in seen:
            check_eq(rec["error"], "cancelled", "cancelled record")
        check_eq(sorted(x["id"] for x in seen), ["q", "q", "run"], "ids")
        c.ask({"op": "submit", "url": srv.url("/ok"), "id": "after"})
        check_eq(w.line()["result"]["id"], "after", "watch goes on")
        check_eq(d.stop(), 0, "exit status")
        check_eq(len(d.records()), 4, "records")


# ------------------------------------------------------------ backpressure

@test("a full queue blocks the submitter's writes until room frees")
def _():
    with Server() as srv, Daemon("queue:\n  capacity: 2\nlimits:\n"
                                 "  concurrency: 1\n  per_host: 1\n") as d:
        c = d.conn()
        for i in range(3):
            c.ask({"op": "submit", "url": srv.url("/delay/1500"),
                   "id": "slow%d" % i})
        pad = "x" * 3000
        data = "".join(json.dumps({"op": "submit", "id": "f%d" % i,
                                   "url": srv.url("/ok?p=%s" % pad)}) + "\n"
                       for i in range(300)).encode()
        c.s.setblocking(False)
        sent, blocked = 0, False
        t0 = time.monotonic()
        while sent < len(data) and time.monotonic() - t0 < 0.5:
            try:
                sent += c.s.send(data[sent:])
            except BlockingIOError:
                blocked = True
                time.sleep(0.02)  # pacing: keep pushing for up to 0.5 s
        check(blocked and sent < len(data),
              "writes block while the queue is full (sent %d of %d)" %
              (sent, len(data)))
        st = d.status()       # the control plane still answers
        check_eq(st["queued"], 2, "queue full")
        check(st["clients_paused"] >= 1, "a paused client is counted")
        c.s.settimeout(30)
        c.s.setblocking(True)
        acks = 0
        reader_err = []

        def reader():
            nonlocal acks
            try:
                for _ in range(300):
                    r = c.response()
                    if r.get("ok"):
                        acks += 1
            except Exception as e:
                reader_err.append(e)
        t = threading.Thread(target=reader)
        t.start()
        c.s.sendall(data[sent:])
        t.join(60)
        check(not reader_err, "reader: %r" % reader_err)
        check_eq(acks, 300, "every blocked submit accepted")
        wait_until(lambda: d.status()["done"] == 303, 60, what="all done")
        check_eq(d.stop(), 0, "exit status")
        ids = by_id(d.records())
        check_eq(len(ids), 303, "one record per job")


@test("a watcher that does not read is dropped, others go on")
def _():
    with Server() as srv, Daemon("limits:\n  concurrency: 32\n"
                                 "  per_host: 32\n") as d:
        lazy = d.conn()
        check_eq(lazy.ask({"op": "watch"}), {"ok": True}, "watch")
        good = d.conn()
        good.ask({"op": "watch"})
        sub = d.conn()
        pad = "y" * 6000
        n = 600
        done = []

        def drain():
            try:
                while len(done) < n:
                    done.append(good.line()["result"]["id"])
            except Exception as e:
                done.append(e)
        t = threading.Thread(target=drain)
        t.start()
        sub.send("".join(json.dumps({"op": "submit", "id": "j%d" % i,
                                     "url": srv.url("/ok?p=" + pad)}) + "\n"
                         for i in range(n)))
        for _ in range(n):
            check(sub.response()["ok"], "ack")
        t.join(60)
        check_eq(len(done), n, "the reading watcher saw every record")
        st = d.status()
        check_eq(st["watch_dropped"], 1, "the lazy watcher was dropped")
        check_eq(st["watchers"], 1, "one watcher left")
        lazy.s.settimeout(5)
        got = b""
        try:
            while True:
                chunk = lazy.s.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            raise AssertionError("the dropped watcher was not closed")
        check(got.count(b"\n") < n, "the dropped watcher missed records")
        check_eq(d.stop(), 0, "exit status")
        check_eq(len(d.records()), n, "records")


@test("100 clients submitting at once")
def _():
    with Server() as srv, Daemon("limits:\n  concurrency: 64\n"
                                 "  per_host: 64\n") as d:
        errs, results = [], {}

        def one(k):
            try:
                c = Line(d.sock, timeout=60)
                c.send("".join(json.dumps({
                    "op": "submit", "url": srv.url("/size/%d" % (k + i)),
                    "id": "c%d-%d" % (k, i), "wait": True}) + "\n"
                    for i in range(20)))
                acks = res = 0
                while acks < 20 or res < 20:
                    o = c.line()
                    if "result" in o:
                        res += 1
                        check(o["result"]["ok"], "result ok")
                    else:
                        check(o["ok"], "ack ok")
                        acks += 1
                results[k] = res
                c.close()
            except Exception as e:
                errs.append(e)
        ts = [threading.Thread(target=one, args=(k,)) for k in range(100)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(90)
        check(not errs, "client errors: %r" % errs[:3])
        check_eq(len(results), 100, "every client finished")
        check_eq(d.stop(), 0, "exit status")
        ids = by_id(d.records())
        check_eq(len(ids), 2000, "2000 distinct ids")
        check(all(len(v) == 1 for v in ids.values()), "one record each")


def refused(path, timeout=10):
    """Connect, ask for status: True when the daemon closes the connection
    without a byte of answer (refused), False when it answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(b'{"op":"status"}\n')
        return s.recv(65536) == b""
    except (BrokenPipeError, ConnectionResetError):
        return True
    finally:
        s.close()


@test("daemon.max_clients: extra clients are closed unanswered and "
      "counted, the first ones still work, a reload raises the bound")
def _():
    d = Daemon()
    d.write_config(daemon="  max_clients: 4\n")
    with d:
        first = [d.conn() for _ in range(4)]
        for c in first:
            check_eq(c.ask({"op": "status"})["ok"], True, "admitted")
        for i in range(3):
            check(refused(d.sock), "client %d beyond the bound refused" % i)
        p = client(d, "status")
        check_eq(p.rc, 3, "ringfetch refused: exit 3")
        check("daemon.max_clients" in p.stderr, "hints why: " + p.stderr)
        for c in first:
            check_eq(c.ask({"op": "status"})["ok"], True, "still served")
        st = first[0].ask({"op": "status"})["status"]
        check_eq(st["clients_refused"], 4, "refusals counted")
        check_eq(st["clients"], 4, "clients")
        check_eq(d.log().count("daemon.max_clients"), 1, "logged once")
        first.pop().close()
        wait_until(lambda: first[0].ask({"op": "status"})["status"]
                   ["clients"] == 3, 10, what="a client leaves")
        check(not refused(d.sock), "room again after one left")
        d.write_config(daemon="  max_clients: 6\n")
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: first[0].ask({"op": "status"})["status"]
                   ["reloads"] == 1, 10, what="reload")
        more = [d.conn() for _ in range(3)]
        for c in more:
            check_eq(c.ask({"op": "status"})["ok"], True,
                     "admitted after the reload")
        check(refused(d.sock), "the new bound holds")
        check_eq(first[0].ask({"op": "status"})["status"]
                 ["clients_refused"], 5, "refusals counted")
        for c in first + more:
            c.close()
        check_eq(d.stop(), 0, "exit")


@test("600 clients holding 60 KiB partial lines: memory bounded by "
      "max_clients")
def _():
    n, bound = 600, 64
    d = Daemon()
    d.write_config(daemon="  max_clients: %d\n" % bound)
    socks = []
    with d:
        asker = d.conn()
        check_eq(asker.ask({"op": "status"})["ok"], True, "asker admitted")
        base = peak_rss_kib(d.proc.pid)
        part = b'{"op":"status","pad":"' + b"p" * (60 * 1024)
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(d.sock)
                socks.append(s)
                try:
                    s.sendall(part)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            time.sleep(1)       # let the daemon read what was sent
            peak = peak_rss_kib(d.proc.pid)
            st = asker.ask({"op": "status"})["status"]
            check_eq(st["clients"], bound, "clients admitted")
            check_eq(st["clients_refused"], n - (bound - 1), "refused")
        finally:
            for s in socks:
                s.close()
            asker.close()
        diag("VmHWM %d KiB at start, %d KiB with %d clients" % (
            base, peak, n))
        # 64 clients x 80 KiB of input is 5 MiB (about 13 MiB under ASan);
        # all 600 admitted took 120 MiB under ASan
        check(peak - base < 40 * 1024, "peak grew by %d KiB" % (peak - base))
        check_eq(d.stop(), 0, "exit")


# ------------------------------------------------------------ lifecycle

@test("queue.journal off: SIGTERM spills queued and cut-off jobs, restart "
      "takes them back: each once")
def _():
    with Server() as srv:
        d = Daemon("limits:\n  concurrency: 4\n  per_host: 4\n"
                   "queue:\n  journal: false\n")
        d.start()
        c = d.conn()
        ids = []
        for i in range(4):      # finish inside the grace
            ids.append("fast%d" % i)
            c.ask({"op": "submit", "url": srv.url("/delay/300"),
                   "id": ids[-1]})
        for i in range(30):     # queued, or cut off in flight
            ids.append("slow%d" % i)
            c.ask({"op": "submit", "url": srv.url("/delay/%d" %
                                                  (2500 + i)),
                   "id": ids[-1], "headers": {"X-T": "v%d" % i}})
        wait_until(lambda: d.status()["in_flight"] == 4, 10, what="4 run")
        wait_until(lambda: srv.stats()["in_flight"] == 4, 10,
                   what="the 4 fast requests at the server")
        t0 = time.monotonic()
        check_eq(d.stop(), 0, "clean exit after SIGTERM")
        check(time.monotonic() - t0 < 6, "stopped within the grace")
        first = by_id(d.records())
        check_eq(sorted(k for k in first if k.startswith("fast")),
                 ["fast0", "fast1", "fast2", "fast3"],
                 "in-flight jobs finished within the grace")
        spill = os.path.join(d.state, "spill.jsonl")
        with open(spill) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        check("next_job" in lines[0], "spill header")
        check_eq(len(lines) - 1 + len(first), len(ids), "spilled the rest")
        check(any(x.get("headers") for x in lines[1:]), "headers spilled")
        nums = {x["id"]: x["job"] for x in lines[1:]}
        d.write_config("limits:\n  concurrency: 40\n  per_host: 40\n"
                       "queue:\n  journal: false\n")
        d.start()
        wait_until(lambda: d.status()["done"] >= len(nums), 30,
                   what="spilled jobs done")
        check(not os.path.exists(spill) or
              open(spill).read().count("\n") <= 1, "spill consumed")
        r = d.ask({"op": "submit", "url": srv.url("/ok"), "id": "new"})
        check(r["job"] > max(nums.values()), "numbers go on after restart")
        check_eq(d.stop(), 0, "second exit")
        every = by_id(d.records())
        for i in ids + ["new"]:
            check_eq(len(every.get(i, [])), 1, "records for " + i)
        for rec in d.records():
            if rec["id"] in nums:
                check_eq(rec["job"], nums[rec["id"]], "job number kept")


@test("50 clients, queue of 1000, SIGTERM mid-way, restart: each once",
      timeout=240)
def _():
    n_clients, per = 50, 200
    with Server() as srv:
        # one host fills the whole queue: host_share 1 (fair intake would
        # hold it at a quarter; test_fair_daemon.py tests that)
        d = Daemon("queue:\n  capacity: 1000\n  host_share: 1\n"
                   "limits:\n  concurrency: 64\n"
                   "  per_host: 64\n")
        d.start()
        acked, refused, errs = set(), set(), []

        def one(k):
            try:
                c = Line(d.sock, timeout=60)
                ids = ["s%d-%d" % (k, i) for i in range(per)]
                t = threading.Thread(target=c.s.sendall, args=("".join(
                    json.dumps({"op": "submit", "id": x,
                                "url": srv.url("/delay/40?%s" % x)}) + "\n"
                    for x in ids).encode(),), daemon=True)
                t.start()
                for x in ids:
                    try:
                        r = c.response()
                    except (AssertionError, OSError):
                        break           # closed at exit: no answer
                    if r.get("ok"):
                        acked.add(x)
                    else:
                        check_eq(r.get("error"), "shutting_down", "refusal")
                        refused.add(x)
                c.close()
            except Exception as e:
                errs.append(e)
        ts = [threading.Thread(target=one, args=(k,))
              for k in range(n_clients)]
        for t in ts:
            t.start()
        wait_until(lambda: d.status()["done"] > 2000, 60, what="2000 done")
        st = d.status()
        check(st["queued"] >= 900, "the queue is full: %r" % st["queued"])
        check_eq(d.stop(), 0, "exit after SIGTERM")
        for t in ts:
            t.join(60)
        check(not errs, "clients: %r" % errs[:3])
        check(refused, "submits refused while stopping")
        d.start()
        c = d.conn()
        c.send("".join(json.dumps({"op": "submit", "id": x + "r",
                                   "url": srv.url("/ok")}) + "\n"
                       for x in sorted(refused)))
        for _ in refused:
            check(c.response()["ok"], "resubmitted")
        total = len(acked) + len(refused)
        wait_until(lambda: d.status()["queued"] + d.status()["in_flight"]
                   == 0, 90, what="everything done")
        check_eq(d.stop(), 0, "second exit")
        recs = by_id(d.records())
        for x in acked:
            check_eq(len(recs.get(x, [])), 1, "records of accepted " + x)
        for x in refused:
            check_eq(len(recs.get(x + "r", [])), 1, "resubmitted " + x)
            check_eq(len(recs.get(x, [])), 0, "no record of refused " + x)
        check(all(len(v) == 1 for v in recs.values()), "never two")
        diag("accepted %d, refused while stopping %d" % (len(acked), len(refused)))
        check(total >= n_clients * per - n_clients, "nearly all answered")


@test("SIGHUP: reopen during writing (no torn line), reload, bad config")
def _():
    with Server() as srv, Daemon("limits:\n  concurrency: 8\n"
                                           "  per_host: 8\n") as d:
        c = d.conn()
        n = 3000
        stop = []

        def feed():
            c.send("".join(json.dumps({"op": "submit", "id": "h%d" % i,
                                       "url": srv.url("/size/%d" % i)})
                           + "\n" for i in range(n)))
            for _ in range(n):
                c.response()
        t = threading.Thread(target=feed)
        t.start()
        res = os.path.join(d.out, "results.jsonl")
        wait_until(lambda: d.status()["done"] > 300, 30, what="writing")
        os.rename(res, os.path.join(d.out, "results-1.jsonl"))
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: os.path.exists(res), 10, what="reopened")
        d.write_config("limits:\n  concurrency: 3\n  per_host: 3\n",
                       daemon="  socket_mode: 0600\n")
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: "concurrency" in d.log() or
                   d.status()["reloads"] >= 2, 10, what="reload")
        wait_until(lambda: "socket_mode cannot change" in d.log(), 10,
                   what="fixed key named in the log")
        with open(d.cfg, "w") as f:
            f.write("limits:\n  concurrency: nope\n")
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: "reload refused" in d.log(), 10,
                   what="bad config refused")
        check(d.status()["in_flight"] <= 3, "new limit applied")
        t.join(60)
        wait_until(lambda: d.status()["done"] == n, 60, what="all done")
        check_eq(d.stop(), 0, "exit status")
        recs = d.records()      # checks every line of both files
        ids = by_id(recs)
        check_eq(len(ids), n, "every job")
        check(all(len(v) == 1 for v in ids.values()), "once each")
        check(os.path.getsize(os.path.join(d.out, "results-1.jsonl")) > 0,
              "the rotated file kept its records")


@test("SIGHUP keeps the command line's --per-host and --set over the file")
def _():
    with Server() as srv, Daemon("limits:\n  concurrency: 8\n"
                                 "  per_host: 8\n",
                                 args=["--per-host", "1", "--set",
                                       "limits.concurrency=2"]) as d:
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] >= 1, 10, what="reload")
        wait_until(lambda: "2 command-line settings" in d.log(), 10,
                   what="the reload names them")
        c = d.conn()
        for i in range(6):
            check(c.ask({"op": "submit", "url":
                         srv.url("/delay/150?n=%d" % i)}).get("ok"),
                  "submitted")
        c.close()
        wait_until(lambda: d.status()["done"] == 6, 20, what="all done")
        check_eq(srv.stats()["max_concurrent_requests"], 1,
                 "per_host 1 from the command line, not the file's 8")
        check_eq(d.stop(), 0, "exit status")


@test("SIGHUP reads tls.ca_file anew; one that does not load is refused")
def _():
    good = make_cert(scratch_dir("ca-good"))
    other = make_cert(scratch_dir("ca-other"))
    with Server(tls=good) as srv, Daemon("tls:\n  ca_file: %s\n" %
                                         other[0]) as d:
        def fetch(i):
            # ?close=1: each fetch shakes hands on a connection of its own
            c = d.conn()
            try:
                c.ask({"op": "submit", "url": srv.url("/ok?close=1&n=%d" %
                                                      i), "wait": True})
                return c.line()["result"]
            finally:
                c.close()

        def hup(n):
            d.kill_sig(signal.SIGHUP)
            wait_until(lambda: d.status()["reloads"] >= n, 10,
                       what="reload %d" % n)

        r = fetch(1)
        check_eq(r["error"], "tls_verify", "a CA that did not sign the "
                 "server: %r" % r)
        d.write_config("tls:\n  ca_file: %s\n" % good[0])
        hup(1)
        r = fetch(2)
        check_eq((r["ok"], r["tls"]["resumed"]), (True, False),
                 "the reloaded CA verifies: %r" % r)
        check_eq(fetch(3)["tls"]["resumed"], True, "then sessions resume")
        d.write_config("tls:\n  ca_file: %s\n" %
                       os.path.join(d.dir, "missing.pem"))
        hup(2)
        wait_until(lambda: "reload refused" in d.log(), 10,
                   what="a CA file that does not load is refused")
        check_in("tls.ca_file", d.log(), "the log names the key")
        r = fetch(4)
        check_eq((r["ok"], r["tls"]["resumed"]), (True, True),
                 "the running context and its sessions stay: %r" % r)
        d.write_config("tls:\n  ca_file: %s\n" % good[0])
        hup(3)
        check_eq(fetch(5)["tls"]["resumed"], False,
                 "a reload forgets the sessions of the old trust")
        check_eq(d.stop(), 0, "exit status")


@test("a stale socket is replaced, a live one refused")
def _():
    d = Daemon()
    d.start()
    d2 = Daemon(workdir=None)
    d2.sock = d.sock
    d2.write_config()
    d2.start(wait=False)
    rc = d2.proc.wait(20)
    check(rc != 0, "second daemon on a live socket exits non-zero")
    check("another daemon" in d2.log(), "says why: " + d2.log()[-300:])
    d.proc.kill()           # leaves its socket file behind
    d.proc.wait(10)
    d.proc = None
    check(os.path.exists(d.sock), "stale socket file left")
    d.start()
    try:
        check_eq(d.status()["done"], 0, "new daemon answers")
    except OSError:
        raise AssertionError("new daemon: %r\n%s" % (d.proc.poll(), d.log()))
    check_eq(d.stop(), 0, "exit")


# ------------------------------------------------------------ client

@test("ringfetch client: submit --wait, status, cancel, errors")
def _():
    with Server() as srv, Daemon() as d:
        p = client(d, "submit", "--wait", "--id", "cli", srv.url("/ok"),
                   srv.url("/size/3"))
        check_eq(p.rc, 0, "submit exit: " + p.stderr)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        check_eq(len(lines), 4, "2 acks + 2 records")
        check_eq(sum(1 for x in lines if "result" in x), 2, "records")
        p = run_rf(["submit", srv.url("/ok"), "--socket", d.sock],
                   binary=rf_bin("ringfetch"))
        check_eq(p.rc, 0, "--socket after the command")
        p = client(d, "submit", "--wait",
                   input="%s\n\n# comment\n%s\n" % (srv.url("/ok"),
                                                    srv.url("/status/500")))
        check_eq(p.rc, 1, "a failed job makes exit 1")
        check_eq(len(p.stdout.splitlines()), 4, "stdin URLs")
        p = client(d, "status")
        check_eq(p.rc, 0, "status exit")
        st = json.loads(p.stdout)["status"]
        check_eq(p.stdout.count("\n"), 1, "one line")
        check_eq(st["done"], 5, "status via client")
        p = client(d, "cancel", "12345")
        check_eq(p.rc, 1, "cancel unknown")
        check("unknown_job" in p.stderr, "says unknown_job")
        p = client(d, "--help")
        check_eq(p.rc, 0, "help")
        check("submit" in p.stdout and "watch" in p.stdout, "help text")
        check_eq(d.stop(), 0, "exit")
    p = client(d, "status")
    check_eq(p.rc, 3, "no daemon: exit 3")
    check("cannot reach the daemon" in p.stderr, "message: " + p.stderr)


@test("ringfetch watch streams records")
def _():
    with Server() as srv, Daemon() as d:
        w = subprocess.Popen([rf_bin("ringfetch"), "watch", "--socket",
                              d.sock], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=_pdeathsig)
        try:
            wait_until(lambda: d.status()["watchers"] == 1, 10,
                       what="watcher")
            client(d, "submit", "--id", "ww", srv.url("/ok"))
            got = read_lines(w.stdout, 2, 10)
            check_eq(json.loads(got[0]), {"ok": True}, "the watch's answer")
            rec = json.loads(got[1])["result"]
            check_eq(rec["id"], "ww", "watched record")
        finally:
            _stop_proc(w, 2)
        check_eq(d.stop(), 0, "exit")


def read_lines(f, n, timeout):
    """n lines from the pipe f (unbuffered reads, bounded wait)."""
    buf, end = b"", time.monotonic() + timeout
    while buf.count(b"\n") < n:
        r, _, _ = select.select([f], [], [], max(0, end - time.monotonic()))
        check(r, "%d lines within %ss; have %r" % (n, timeout, buf[:300]))
        chunk = os.read(f.fileno(), 65536)
        check(chunk, "output ended; have %r" % buf[:300])
        buf += chunk
    return buf.decode().splitlines()[:n]


def json_lines(text, what):
    """Every line of text parsed as one JSON object."""
    out = []
    for i, ln in enumerate(text.splitlines()):
        try:
            o = json.loads(ln)
        except ValueError:
            raise AssertionError("%s: line %d is not JSON: %r" % (
                what, i + 1, ln[:200]))
        check(isinstance(o, dict), "%s: line %d is an object" % (what, i + 1))
        out.append(o)
    return out


@test("ringfetch prints the daemon's answers one JSON object a line, and "
      "submit --wait ends with a summary on stderr")
def _():
    with Server() as srv, Daemon("limits:\n  concurrency: 1\n"
                                 "  per_host: 1\n") as d:
        p = client(d, "submit", srv.url("/ok"), srv.url("/size/2"))
        acks = json_lines(p.stdout, "submit")
        check_eq([a["ok"] for a in acks], [True, True], "two acks")
        check_eq(p.stderr, "", "nothing on stderr")
        p = client(d, "submit", "--wait", srv.url("/ok"),
                   srv.url("/status/500"), "ftp://x/")
        check_eq(p.rc, 1, "a failure: exit 1")
        lines = json_lines(p.stdout, "submit --wait")
        check_eq(len(lines), 5, "3 answers and 2 records")
        recs = [x["result"] for x in lines if "result" in x]
        check_eq(sorted(r["ok"] for r in recs), [False, True], "records")
        check_eq(p.stderr.strip().splitlines()[-1],
                 "ringfetch: 3 submitted, 1 refused, 2 done: 1 ok, "
                 "1 failed", "summary")
        p = client(d, "submit", "--wait", srv.url("/ok"))
        check_eq(p.rc, 0, "exit 0")
        check_eq(p.stderr, "ringfetch: 1 submitted, 1 done: 1 ok, 0 failed\n",
                 "summary alone on stderr")
        p = client(d, "status")
        check_eq(p.stdout.count("\n"), 1, "status is one line")
        st = json_lines(p.stdout, "status")[0]
        check_eq(st["ok"], True, "status answer")
        check_eq(st["status"]["done"], 5, "done")
        slow = client(d, "submit", "--id", "slow", srv.url("/delay/5000"),
                      srv.url("/delay/5000"))
        check_eq(slow.rc, 0, "slow submitted")
        p = client(d, "cancel", "--id", "slow")
        check_eq(json_lines(p.stdout, "cancel"), [{"ok": True,
                                                   "cancelled": 2}], "cancel")
        p = client(d, "cancel", "99999")
        check_eq(p.rc, 1, "unknown job: exit 1")
        ans = json_lines(p.stdout, "cancel unknown")
        check_eq([a.get("error") for a in ans], ["unknown_job"], "answer")
        check("unknown_job" in p.stderr, "and said on stderr")
        w = subprocess.Popen([rf_bin("ringfetch"), "watch", "--socket",
                              d.sock], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=_pdeathsig)
        try:
            wait_until(lambda: d.status()["watchers"] == 1, 10,
                       what="watcher")
            client(d, "submit", srv.url("/ok"), srv.url("/size/9"))
            got = json_lines("\n".join(read_lines(w.stdout, 3, 10)),
                             "watch")
            check_eq(got[0], {"ok": True}, "the watch's answer first")
            check(all("result" in x for x in got[1:]), "then records")
        finally:
            _stop_proc(w, 2)
        check_eq(d.stop(), 0, "exit")


def man_status_fields():
    """The fields of ringfetch.1's STATUS FIELDS section (.TP / .B name)."""
    with open(os.path.join(repo_root(), "man", "ringfetch.1")) as f:
        page = f.read().replace("\\-", "-")
    sec = page.split(".SH STATUS FIELDS", 1)
    check(len(sec) == 2, "ringfetch.1 has a STATUS FIELDS section")
    body = sec[1].split("\n.SH ", 1)[0]
    lines = body.splitlines()
    return {lines[i + 1].split()[1] for i, ln in enumerate(lines[:-1])
            if ln == ".TP" and lines[i + 1].startswith(".B ")}


def readme_status_fields():
    """The first column of README's status field table."""
    with open(os.path.join(repo_root(), "README.md")) as f:
        text = f.read()
    sec = text.split("| status field |", 1)
    check(len(sec) == 2, "README has the status field table")
    fields = set()
    for ln in sec[1].splitlines()[2:]:
        if not ln.startswith("| `"):
            break
        fields.update(ln.split("|")[1].split("`")[1::2])
    return fields


@test("ringfetch.1 and the README document every status field, no more")
def _():
    with Daemon() as d:
        printed = set(d.status())
        check_eq(d.stop(), 0, "exit")
    check(len(printed) >= 20, "status fields: %d" % len(printed))
    for name, doc in (("ringfetch.1", man_status_fields()),
                      ("README.md", readme_status_fields())):
        check_eq(sorted(printed - doc), [], "printed, not in " + name)
        check_eq(sorted(doc - printed), [], "in %s, not printed" % name)


# ------------------------------------------------------------ systemd

@test("sd_notify: READY=1 once listening, STATUS=, STOPPING=1")
def _():
    work = scratch_dir("notify")
    path = os.path.join(work, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(10)
    d = Daemon(env={"NOTIFY_SOCKET": path})
    d.start(wait=False)
    msgs = []
    try:
        while not any("READY=1" in m for m in msgs):
            msgs.append(ns.recv(4096).decode())
        check(d.listening(), "socket listens at READY=1")
        while not any(m.startswith("STATUS=") for m in msgs):
            msgs.append(ns.recv(4096).decode())
        d.kill_sig(signal.SIGTERM)
        while not any("STOPPING=1" in m for m in msgs):
            msgs.append(ns.recv(4096).decode())
        check_eq(d.stop(), 0, "exit")
    finally:
        d.kill()
        ns.close()
    check(any("queued" in m for m in msgs), "STATUS has counters: %r" % msgs)


@test("socket activation with systemd-socket-activate")
def _():
    if not shutil.which("systemd-socket-activate"):
        skip("systemd-socket-activate not installed")
    with Server() as srv:
        d = Daemon()
        d.sock = os.path.join(d.dir, "act.sock")   # not daemon.socket
        d.wrap = ["systemd-socket-activate", "-l", d.sock]
        d.start(wait=False)
        wait_until(lambda: os.path.exists(d.sock), 10, what="activation socket")
        c = Line(d.sock)
        r = c.ask({"op": "submit", "url": srv.url("/ok"), "wait": True})
        check(r["ok"], "submit via the inherited socket")
        check(c.line()["result"]["ok"], "result")
        check(not os.path.exists(os.path.join(d.dir, "run", "rf.sock")),
              "no socket of its own")
        check_eq(d.stop(), 0, "exit")
        check("passed by systemd" in d.log(), "log says so")


@test("systemd-analyze verify passes on the unit files")
def _():
    if not shutil.which("systemd-analyze"):
        skip("systemd-analyze not installed")
    work = scratch_dir("units")
    root = repo_root()
    with open(os.path.join(root, "systemd", "ringfetchd.service")) as f:
        unit = f.read().replace("@BINDIR@", os.path.dirname(rf_bin()))
    unit = unit.replace("@SYSCONFDIR@", "/etc")
    with open(os.path.join(work, "ringfetchd.service"), "w") as f:
        f.write(unit)
    shutil.copy(os.path.join(root, "systemd", "ringfetchd.socket"), work)
    p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        "ringfetchd.service", "ringfetchd.socket"],
                       cwd=work, capture_output=True, text=True, timeout=60)
    check_eq(p.returncode, 0, "verify: " + p.stdout + p.stderr)
    with open(os.path.join(root, "systemd", "ringfetchd.socket")) as f:
        sock = f.read()
    check_in("SocketMode=0660", sock, "the socket is for owner and group")
    check_in("SocketGroup=ringfetch", sock, "the group is ringfetch")
    # the group the socket names is one that ringfetch.sysusers creates
    if shutil.which("systemd-sysusers"):
        os.makedirs(os.path.join(work, "etc"))  # an empty root to fill
        p = subprocess.run(
            ["systemd-sysusers", "--root=" + work,
             os.path.join(root, "systemd", "ringfetch.sysusers")],
            capture_output=True, text=True, timeout=60)
        check_eq(p.returncode, 0, "systemd-sysusers: " + p.stderr)
        with open(os.path.join(work, "etc", "group")) as f:
            check(any(ln.startswith("ringfetch:") for ln in f),
                  "ringfetch.sysusers creates the ringfetch group")
    p = subprocess.run(["systemd-analyze", "syscall-filter", "@system-service"],
                       capture_output=True, text=True, timeout=60)
    check("io_uring_enter" in p.stdout or "@aio" in p.stdout,
          "the filter allows io_uring")


def make_install(*args):
    """make install into a fresh DESTDIR with args -> the DESTDIR."""
    dest = scratch_dir("destdir")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAKE") and k != "MFLAGS"}
    p = subprocess.run(["make", "-s", "-o", "all", "install",
                        "DESTDIR=" + dest,
                        "INSTALL_BUILD=" + os.path.dirname(rf_bin())] +
                       list(args), cwd=repo_root(), capture_output=True,
                       text=True, timeout=120, env=env)
    check_eq(p.returncode, 0, "make install: " + p.stderr[-2000:])
    return dest


@test("make install into a temporary DESTDIR")
def _():
    dest = make_install("PREFIX=/usr")
    for f in ("usr/bin/ringfetchd", "usr/bin/ringfetch",
              "etc/ringfetch/ringfetch.yaml",
              "usr/lib/systemd/system/ringfetchd.service",
              "usr/lib/systemd/system/ringfetchd.socket",
              "usr/lib/sysusers.d/ringfetch.conf",
              "usr/share/doc/ringfetch/examples/logrotate"):
        check(os.path.exists(os.path.join(dest, f)), "installed " + f)
    # built-in rotation is the default: the logrotate snippet is an
    # example, never enabled beside it
    check(not os.path.exists(os.path.join(dest, "etc/logrotate.d")),
          "nothing in /etc/logrotate.d")
    with open(os.path.join(dest, "usr/lib/sysusers.d/ringfetch.conf")) as f:
        check(re.search(r"^g ringfetch ", f.read(), re.M),
              "sysusers.d creates the ringfetch group")
    with open(os.path.join(dest, "usr/lib/systemd/system/"
                           "ringfetchd.socket")) as f:
        check_in("SocketGroup=ringfetch", f.read(), "socket group")
    check(os.access(os.path.join(dest, "usr/bin/ringfetch"), os.X_OK),
          "executable")
    with open(os.path.join(dest,
                           "usr/lib/systemd/system/ringfetchd.service")) as f:
        unit = f.read()
    check("ExecStart=/usr/bin/ringfetchd -c /etc/ringfetch/ringfetch.yaml"
          in unit, "ExecStart filled in")
    for m in os.listdir(os.path.join(repo_root(), "man")):
        sec = m.rsplit(".", 1)[-1]
        if sec in ("1", "5", "8"):
            check(os.path.exists(os.path.join(dest, "usr/share/man",
                                              "man" + sec, m)), "man " + m)
    with open(os.path.join(dest,
                           "usr/share/doc/ringfetch/examples/logrotate")) as f:
        text = f.read()
    check("HUP" in text, "logrotate sends SIGHUP")
    check("rotate_size: 0" in text,
          "the snippet says how to turn the built-in rotation off")


@test("make install PREFIX=/usr/local puts units where systemd reads them, "
      "unless UNITDIR is set")
def _():
    dest = make_install("PREFIX=/usr/local")
    for f in ("usr/local/bin/ringfetchd",
              "usr/local/lib/systemd/system/ringfetchd.service",
              "usr/local/lib/systemd/system/ringfetchd.socket",
              "usr/local/lib/sysusers.d/ringfetch.conf"):
        check(os.path.exists(os.path.join(dest, f)), "installed " + f)
    check(not os.path.exists(os.path.join(dest, "lib")), "nothing in /lib")
    with open(os.path.join(dest, "usr/local/lib/systemd/system/"
                           "ringfetchd.service")) as f:
        check_in("ExecStart=/usr/local/bin/ringfetchd ", f.read(),
                 "ExecStart under PREFIX")
    dest = make_install("PREFIX=/usr/local", "UNITDIR=/etc/systemd/system")
    check(os.path.exists(os.path.join(dest,
                                      "etc/systemd/system/ringfetchd.socket")),
          "UNITDIR wins")
    check(not os.path.exists(os.path.join(dest,
                                          "usr/local/lib/systemd")),
          "and only it")



@test("done when: socket activation, READY, 100,000 jobs from 50 clients, "
      "queue 1000, SIGTERM mid-way, restart: every job once", timeout=290)
def _():
    if not shutil.which("systemd-socket-activate"):
        skip("systemd-socket-activate not installed")
    n_clients, per = 50, 2000
    with Server() as srv:
        work = scratch_dir("donewhen")
        npath = os.path.join(work, "notify.sock")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(npath)
        ns.settimeout(30)
        # one host fills the whole queue: host_share 1 (fair intake would
        # hold it at a quarter; test_fair_daemon.py tests that)
        d = Daemon("queue:\n  capacity: 1000\n  host_share: 1\n"
                   "limits:\n  concurrency: 64\n"
                   "  per_host: 64\n", env={"NOTIFY_SOCKET": npath})
        d.sock = os.path.join(d.dir, "act.sock")
        d.wrap = ["systemd-socket-activate", "-E", "NOTIFY_SOCKET",
                  "-l", d.sock]

        def activate():
            if os.path.exists(d.sock):
                os.unlink(d.sock)       # the last activation's, now dead
            d.start(wait=False)
            wait_until(lambda: os.path.exists(d.sock), 10, what="socket")

        def ready():
            msgs = []
            while not any("READY=1" in m for m in msgs):
                msgs.append(ns.recv(4096).decode())

        activate()
        acked, refused, errs = set(), set(), []
        lock = threading.Lock()
        url = srv.url("/ok")

        def one(k):
            try:
                c = Line(d.sock, timeout=120)
                ids = ["c%d-%d" % (k, i) for i in range(per)]
                t = threading.Thread(target=c.s.sendall, args=("".join(
                    json.dumps({"op": "submit", "id": x, "url": url}) + "\n"
                    for x in ids).encode(),), daemon=True)
                t.start()
                for x in ids:
                    try:
                        r = c.response()
                    except (AssertionError, OSError):
                        break
                    with lock:
                        if r.get("ok"):
                            acked.add(x)
                        else:
                            check_eq(r.get("error"), "shutting_down", "refusal")
                            refused.add(x)
                c.close()
            except Exception as e:
                errs.append(e)

        ts = [threading.Thread(target=one, args=(k,)) for k in range(n_clients)]
        for t in ts:
            t.start()
        ready()
        wait_until(lambda: d.status()["done"] > 30000, 120, what="30000 done")
        st = d.status()
        diag("before SIGTERM: %r" % {k: st[k] for k in ("done", "queued", "clients")})
        check(st["queued"] >= 900, "queue full, clients blocked")
        check_eq(d.stop(), 0, "exit after SIGTERM")
        for t in ts:
            t.join(60)
        check(not errs, "clients: %r" % errs[:3])
        # Lines still in a socket buffer at exit were never read: no answer,
        # and (unless read just before the end) no job. Resubmit those too.
        every = {"c%d-%d" % (k, i) for k in range(n_clients) for i in range(per)}
        unanswered = every - acked - refused
        again = sorted(refused | unanswered)
        activate()
        c = Line(d.sock, timeout=120)
        ready()
        feed = threading.Thread(target=c.s.sendall, args=("".join(
            json.dumps({"op": "submit", "id": x + "r", "url": url}) + "\n"
            for x in again).encode(),), daemon=True)
        feed.start()
        for _ in again:
            check(c.response()["ok"], "resubmitted")
        wait_until(lambda: d.status()["queued"] + d.status()["in_flight"]
                   == 0, 120, what="everything done")
        check_eq(d.stop(), 0, "second exit")
        ns.close()
        recs = by_id(d.records())
        for x in acked:
            check_eq(len(recs.get(x, [])), 1, "records of accepted " + x)
        for x in refused:
            check_eq(len(recs.get(x, [])), 0, "no record of refused " + x)
        for x in unanswered:
            check(len(recs.get(x, [])) <= 1, "at most one of unanswered " + x)
        for x in again:
            check_eq(len(recs.get(x + "r", [])), 1, "resubmitted " + x)
        check(all(len(v) == 1 for v in recs.values()), "never two")
        check_eq(len(acked) + len(again), n_clients * per, "all 100,000 ids")
        diag("accepted %d before SIGTERM, %d refused, %d unanswered" %
             (len(acked), len(refused), len(unanswered)))

# ------------------------------------------------------------ metrics


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError("no sample %s in:\n%s" % (name, text[:2000]))


@test("daemon mode serves /metrics and writes metrics.textfile, agreeing "
      "with its records")
def _():
    import urllib.request
    port = free_port()
    with Server() as srv:
        d = Daemon()
        tf = os.path.join(d.dir, "rf.prom")
        d.write_config("metrics:\n  listen: 127.0.0.1:%d\n  textfile: %s\n"
                       % (port, tf))
        with d:
            for i in range(5):
                r = d.ask({"op": "submit", "url": srv.url("/size/%d" % (i + 1)),
                           "id": "m%d" % i})
                check(r.get("ok"), "submit: %r" % r)
            wait_until(lambda: d.status()["done"] == 5, 15, what="5 done")
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                        timeout=5) as f:
                text = f.read().decode()
            check_eq(metric(text, 'ringfetch_requests_total{result="ok"}'), 5,
                     "scraped ok count")
            check(os.path.exists(tf), "textfile written while running")
            check_eq(d.stop(), 0, "clean stop")
        text = open(tf).read()
        check_eq(metric(text, 'ringfetch_requests_total{result="ok"}'), 5,
                 "textfile's final ok count")
        check_eq(len(d.records()), 5, "five records")


@test("a supervisor that stops reading NOTIFY_SOCKET never stalls the "
      "daemon (messages dropped, not waited for)")
def _():
    d = scratch_dir("notify")
    npath = os.path.join(d, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)          # bound, never read: its queue fills at once
    # a 20 ms watchdog ticks every 10 ms: STATUS= and WATCHDOG=1 each time
    dm = Daemon(env={"NOTIFY_SOCKET": npath, "WATCHDOG_USEC": "20000"})
    try:
        with dm:
            time.sleep(0.5)     # dozens of ticks: far past the queue
            t0 = time.time()
            for _ in range(20):
                dm.status()
            check(time.time() - t0 < 10, "status answered at once")
            t0 = time.time()
            check_eq(dm.stop(timeout=15), 0, "stops")
            check(time.time() - t0 < 10, "stopped within the grace")
    finally:
        ns.close()


@test("submit with etag and last_modified sends validators: an unchanged "
      "page ends ok with status 304; a bad etag is invalid_json")
def _():
    with Server() as srv, Daemon() as d:
        u = srv.url("/validators?etag=%22v9%22")
        c = d.conn()
        r = c.ask({"op": "submit", "url": u, "id": "cond",
                   "etag": '"v9"', "wait": True})
        check(r.get("ok"), "accepted: %r" % r)
        while True:
            o = c.line()
            if "result" in o:
                rec = o["result"]
                break
        c.close()
        check(rec["ok"], "ok: %r" % rec)
        check_eq(rec["status"], 304, "status")
        check_eq(rec["bytes"], 0, "bytes")
        heads = dict((k.lower(), v) for k, v in srv.log()[-1]["headers"])
        check_eq(heads.get("if-none-match"), '"v9"', "If-None-Match sent")
        r = d.ask({"op": "submit", "url": u, "etag": 7})
        check_eq(r.get("error"), "invalid_json", "bad etag refused")
        check_in("etag", r.get("detail", ""), "names the field")


if __name__ == "__main__":   # test_durability.py imports Daemon
    main()
