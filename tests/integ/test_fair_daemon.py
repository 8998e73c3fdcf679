"""Fair intake in daemon mode (SPEC "Fair intake"): a control connection
whose next submit is for a host at its queue.host_share is not read until
that host has room, while connections submitting for other hosts go on
being served; "nowait" gets queue_full at once. Jobs of the last run (the
journal, the spill file) were accepted already: the share never holds them
back. Scaled to seconds: two listeners of the test server are two hosts."""
import sys, os
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: F401,F403

import json
import signal
import threading
import time

import harness
_n_tests = len(harness._TESTS)
from test_daemon import Daemon, by_id  # noqa: E402
del harness._TESTS[_n_tests:]   # its helpers, not its tests

# share = max(0.25 x 64, 4 x per_host 4) = 16 jobs of one host in the queue
FAIR = ("queue:\n  capacity: 64\n  host_share: 0.25\n"
        "limits:\n  concurrency: 32\n  per_host: 4\n")
SHARE = 16


def submits(urls, prefix, **extra):
    return "".join(json.dumps(dict({"op": "submit", "url": u,
                                     "id": "%s%d" % (prefix, i)}, **extra))
                   + "\n" for i, u in enumerate(urls))


class Acks(threading.Thread):
    """Reads n responses of a connection; ok acks are counted."""

    def __init__(self, conn, n):
        super().__init__(daemon=True)
        self.conn, self.n = conn, n
        self.acks, self.errors, self.failed = 0, [], None

    def run(self):
        try:
            for _ in range(self.n):
                r = self.conn.response()
                if r.get("ok"):
                    self.acks += 1
                else:
                    self.errors.append(r)
        except Exception as e:
            self.failed = e


@test("300 jobs for a slow host on one connection do not hold up 5 for a "
      "fast host on another; nowait over the share is queue_full",
      timeout=200)
def _():
    with Server(ports=2) as srv, Daemon(FAIR) as d:
        slow = [srv.url("/delay/100?s=%d" % i, i=0) for i in range(300)]
        fast = [srv.url("/ok?f=%d" % i, i=1) for i in range(5)]
        a = d.conn()
        a.s.settimeout(120)
        acks_a = Acks(a, 300)
        acks_a.start()
        a.send(submits(slow, "s"))
        # a is held once its host holds its share; the rest stays unread
        wait_until(lambda: d.status()["clients_at_share"] == 1, 20,
                   what="the slow connection held at its host's share")
        st = d.status()
        check_eq(st["hosts_at_share"], 1, "one host at its share")
        check(st["queued"] <= SHARE, "the slow host holds at most its "
              "share of the queue (%d queued)" % st["queued"])
        check(st["queued"] < st["queue_capacity"], "the queue has room")
        # nowait for the held host: refused at once, and nothing accepted
        c = d.conn()
        r = c.ask({"op": "submit", "url": slow[0] + "&nowait=1",
                   "id": "nowait-slow", "nowait": True})
        check_eq(r.get("error"), "queue_full", "nowait over the share: %r"
                 % r)
        check("host_share" in r.get("detail", ""), "the detail names "
              "queue.host_share: %r" % r.get("detail"))
        c.close()
        # another connection, another host: served while a stays held
        b = d.conn()
        t0 = time.monotonic()
        b.send(submits(fast, "f", wait=True))
        got, results = 0, []
        while len(results) < 5 or got < 5:
            o = b.line()
            if "result" in o:
                results.append(o["result"])
            else:
                check(o.get("ok"), "fast ack: %r" % o)
                got += 1
        fast_s = time.monotonic() - t0
        slow_done = d.status()["done"] - 5
        diag("fast host: 5 records in %.2f s, %d of 300 slow jobs done by "
             "then" % (fast_s, slow_done))
        check(all(x["ok"] for x in results), "fast records ok")
        check(slow_done < 150, "the fast host's records came before half "
              "the slow backlog (%d slow done)" % slow_done)
        check(max(x["timings_ms"]["queued"] for x in results) < 1000,
              "fast jobs queued under a second")
        acks_a.join(120)
        check(acks_a.failed is None, "slow acks: %r" % acks_a.failed)
        check_eq(acks_a.errors, [], "no slow submit refused")
        check_eq(acks_a.acks, 300, "every slow submit accepted in the end")
        wait_until(lambda: d.status()["done"] == 305, 90, what="all done")
        t_slow_end = time.monotonic() - t0
        check(fast_s * 5 < t_slow_end, "fast records long before the slow "
              "backlog ended (%.2f s vs %.2f s)" % (fast_s, t_slow_end))
        st = d.status()
        check_eq(st["clients_at_share"], 0, "no client held at the end")
        check_eq(st["hosts_at_share"], 0, "no host at its share at the end")
        check(st["share_waits"] >= 1, "share waits counted")
        check_eq(d.stop(), 0, "exit status")
        ids = by_id(d.records())
        check_eq(len(ids), 305, "305 jobs with records")
        dup = [k for k, v in ids.items() if len(v) != 1]
        check_eq(dup, [], "exactly one record each")
        check("nowait-slow" not in ids, "the refused submit has no record")
        recs = sorted(d.records(), key=lambda x: x["job"])
        nums = [x["job"] for x in recs if x["id"].startswith("s")]
        check_eq([x["id"] for x in recs if x["id"].startswith("s")],
                 ["s%d" % i for i in range(300)],
                 "one connection's jobs are taken in its order")
        check_eq(nums, sorted(nums), "job numbers in submit order")
        # the fast jobs finished before most slow ones (log order)
        order = [x["id"] for x in d.records()]
        last_fast = max(order.index("f%d" % i) for i in range(5))
        check(last_fast < 150, "fast records among the first half of the "
              "log (last at %d)" % last_fast)


@test("a connection mixing hosts waits behind its first held submit; "
      "nowait for a host with room is accepted", timeout=120)
def _():
    with Server(ports=2) as srv, Daemon(FAIR) as d:
        slow = [srv.url("/delay/150?m=%d" % i, i=0) for i in range(40)]
        a = d.conn()
        a.s.settimeout(60)
        acks = Acks(a, 41)
        acks.start()
        # 40 slow, then one fast: the fast one waits behind the slow ones
        a.send(submits(slow, "m") + submits([srv.url("/ok?late", i=1)],
                                            "late"))
        wait_until(lambda: d.status()["clients_at_share"] == 1, 20,
                   what="held at the share")
        c = d.conn()
        r = c.ask({"op": "submit", "url": srv.url("/ok?nw", i=1),
                   "id": "nw", "nowait": True})
        check(r.get("ok"), "nowait for a host with room: %r" % r)
        c.close()
        acks.join(60)
        check_eq(acks.acks, 41, "all accepted in the end")
        wait_until(lambda: d.status()["done"] == 42, 60, what="all done")
        check_eq(d.stop(), 0, "exit status")
        recs = d.records()
        ids = by_id(recs)
        check_eq(len(ids), 42, "one record a job")
        num = {x["id"]: x["job"] for x in recs}
        check(num["late0"] > max(num["m%d" % i] for i in range(40)),
              "the connection's fast job was taken after its slow ones")


def kill9(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.proc = None


@test("jobs taken back at start (journal after kill -9, spill file after "
      "SIGTERM) are not held by the share", timeout=200)
def _():
    for mode in ("journal", "spill"):
        journal = "true" if mode == "journal" else "false"
        with Server(ports=2) as srv:
            big = ("queue:\n  capacity: 1000\n  journal: %s\n"
                   "limits:\n  per_host: 1\n" % journal)
            d = Daemon(big)
            d.start()
            try:
                urls = [srv.url("/delay/300?%s=%d" % (mode, i), i=0)
                        for i in range(60)]
                a = d.conn()
                a.send(submits(urls, "r"))
                for _ in range(60):
                    check(a.response().get("ok"), "accepted")
                a.close()
                if mode == "journal":
                    kill9(d)
                else:
                    check_eq(d.stop(), 0, "SIGTERM: exit status")
                # now share = max(0.05 x 100, 4 x 2) = 8, far below 60;
                # the queue itself has room
                d.write_config("queue:\n  capacity: 100\n  host_share: 0.05"
                               "\n  journal: %s\nlimits:\n  per_host: 2\n"
                               % journal)
                d.start()
                st = d.status()
                diag("%s: %d jobs taken back, %d queued" % (
                    mode, st["accepted"], st["queued"]))
                check(st["accepted"] > 8, "more than the share taken back")
                check_eq(st["hosts_at_share"], 1, "the host is at its share")
                c = d.conn()
                r = c.ask({"op": "submit", "url": urls[0] + "&x",
                           "nowait": True})
                check_eq(r.get("error"), "queue_full", "nowait for it")
                check("host_share" in r.get("detail", ""), "refused for "
                      "the share: %r" % r.get("detail"))
                r = c.ask({"op": "submit", "url": srv.url("/ok?other", i=1),
                           "id": "other", "nowait": True})
                check(r.get("ok"), "another host has room: %r" % r)
                c.close()
                wait_until(lambda: d.status()["done"] == st["accepted"] + 1,
                           60, what="every job taken back done")
                check_eq(d.status()["hosts_at_share"], 0, "none at share")
                check_eq(d.stop(), 0, "exit status")
                ids = by_id(d.records())
                missing = ["r%d" % i for i in range(60)
                           if "r%d" % i not in ids]
                check_eq(missing, [], "%s: every accepted job has a record"
                         % mode)
                dup = [k for k, v in ids.items() if len(v) != 1]
                check_eq(dup, [], "%s: exactly one record each" % mode)
            finally:
                d.kill()


@test("a reload that changes the share recounts hosts_at_share and lets "
      "a held connection go on", timeout=120)
def _():
    with Server() as srv, Daemon(FAIR) as d:
        urls = [srv.url("/delay/500?h=%d" % i) for i in range(60)]
        a = d.conn()
        a.s.settimeout(60)
        acks = Acks(a, 60)
        acks.start()
        a.send(submits(urls, "h"))
        wait_until(lambda: d.status()["clients_at_share"] == 1, 20,
                   what="held at the share")
        check_eq(d.status()["hosts_at_share"], 1, "at its share")
        # share 0.9 x 64 = 57: the 56 that wait behind 4 running fit
        d.write_config(FAIR.replace("0.25", "0.9"))
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] == 1, 10, what="reload")
        wait_until(lambda: acks.acks == 60, 20, what="the rest accepted")
        st = d.status()
        check_eq(st["clients_at_share"], 0, "no client held")
        check_eq(st["hosts_at_share"], 0, "below the raised share")
        # back to 16, with more than that queued: counted again at once
        d.write_config(FAIR)
        d.kill_sig(signal.SIGHUP)
        wait_until(lambda: d.status()["reloads"] == 2, 10, what="reload")
        st = d.status()
        check(st["queued"] > SHARE, "still above the share (%d queued)"
              % st["queued"])
        check_eq(st["hosts_at_share"], 1, "at the lowered share")
        wait_until(lambda: d.status()["done"] == 60, 60, what="all done")
        check_eq(d.status()["hosts_at_share"], 0, "none at the end (the "
                 "count did not go below zero)")
        check_eq(d.stop(), 0, "exit status")
        check_eq(len(by_id(d.records())), 60, "one record a job")


main()
