"""Nothing accepted is lost: kill -9 of the daemon and of a batch crawl at
random moments, full disks under the journal and the results, running out
of file descriptors, and DNS servers that time out or answer garbage.

Sizes are scaled for make check; RF_CHAOS=1 (make chaos) runs the full
ones: 20,000 jobs and 20 kills each for the daemon and for --resume."""
import sys, os
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: F401,F403
from harness import _pdeathsig, read_records, sanitizer_errors

import json
import random
import signal
import socket
import subprocess
import threading
import time

import harness
_n_tests = len(harness._TESTS)
from test_daemon import Daemon, Line, by_id  # noqa: E402
del harness._TESTS[_n_tests:]   # its helpers, not its tests

FULL = os.environ.get("RF_CHAOS") == "1"
SEED = int(os.environ.get("RF_SEED", str(int(time.time()))))


def kill9(d):
    """SIGKILL the daemon by PID and reap it."""
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.proc = None


class Submitter(threading.Thread):
    """Submits its ids in pipelined windows, reconnecting after the daemon
    dies; an id whose acknowledgement was not read is never sent again (it
    may or may not have been accepted)."""

    def __init__(self, d, ids, url_of, window=20, pause=0.005):
        super().__init__(daemon=True)
        self.d, self.ids, self.url_of = d, list(ids), url_of
        self.window, self.pause = window, pause
        self.acked = {}         # id -> job number
        self.unknown = set()    # sent, answer not read
        self.refused = {}       # id -> error class
        self.error = None

    def connect(self, until):
        while time.monotonic() < until:
            try:
                return Line(self.d.sock, timeout=30)
            except OSError:
                time.sleep(0.05)
        raise AssertionError("no daemon to connect to")

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the test
            self.error = e

    def _run(self):
        until = time.monotonic() + (600 if FULL else 150)
        i, c = 0, None
        while i < len(self.ids):
            if c is None:
                c = self.connect(until)
            batch = self.ids[i:i + self.window]
            try:
                c.send(b"".join(json.dumps(
                    {"op": "submit", "url": self.url_of(x), "id": x}
                ).encode() + b"\n" for x in batch))
                for x in batch:
                    r = c.response()
                    if r.get("ok"):
                        self.acked[x] = r["job"]
                    else:
                        self.refused[x] = r.get("error")
            except (OSError, AssertionError, ValueError):
                self.unknown.update(x for x in batch
                                    if x not in self.acked and
                                    x not in self.refused)
                c = None
                time.sleep(0.05)
            i += len(batch)
            time.sleep(self.pause)
        if c:
            c.close()


def settle(d, timeout):
    def idle():
        st = d.status()
        return (st["queued"] == 0 and st["in_flight"] == 0 and
                st["retry_waiting"] == 0)
    wait_until(idle, timeout, interval=0.2, what="every job finished")


def check_exactly_once(recs, subs, what):
    ids = by_id(recs)
    acked = {}
    for s in subs:
        acked.update(s.acked)
    lost = [x for x in acked if x not in ids]
    dup = [x for x, v in ids.items() if len(v) > 1]
    check(not lost, "%s: %d acknowledged ids without a record, e.g. %s" % (
        what, len(lost), lost[:5]))
    check(not dup, "%s: %d ids with two records, e.g. %s" % (
        what, len(dup), dup[:5]))
    for x, num in acked.items():
        check_eq(ids[x][0]["job"], num, "%s: job number of %s" % (what, x))
    nums = [r["job"] for r in recs]
    check_eq(len(nums), len(set(nums)), "%s: job numbers unique" % what)
    return len(acked)


@test("daemon: kill -9 at random moments, restart each time: every "
      "acknowledged id ends with exactly one record", timeout=900)
def _():
    jobs, kills = (20000, 20) if FULL else (800, 5)
    rng = random.Random(SEED)
    diag("seed %d (RF_SEED), %d jobs, %d kills" % (SEED, jobs, kills))
    with Server() as srv:
        d = Daemon("limits:\n  concurrency: 128\n  per_host: 128\n"
                   "queue:\n  capacity: 2000\n",
                   args=["--set", "output.rotate_size=256KiB",
                         "--set", "output.rotate_keep=0",
                         "--set", "output.sync_interval=50ms"])
        d.start()
        n_cli, window = 4, 20
        span = 25.0 if FULL else 4.0
        ids = ["c%d-%d" % (k, i) for k in range(n_cli)
               for i in range(jobs // n_cli)]
        # submits spread over the kills' span
        pause = span / (jobs / n_cli / window)
        subs = [Submitter(d, ids[k::n_cli],
                          lambda x: srv.url("/delay/%d" % (100 + hash(x) % 300)),
                          window, pause)
                for k in range(n_cli)]
        for s in subs:
            s.start()
        for k in range(kills):
            time.sleep(rng.uniform(0.05, span / kills * 2))
            kill9(d)
            d.start()
            taken = [ln for ln in d.log().splitlines() if "taken back" in ln]
            if taken:
                diag("restart %d: %s" % (k + 1, taken[0].split("journal: ")[-1]))
        for s in subs:
            s.join(600 if FULL else 150)
            check(not s.is_alive(), "submitter finished")
            check(s.error is None, "submitter: %r" % s.error)
        settle(d, 600 if FULL else 120)
        check_eq(d.stop(), 0, "clean stop at the end")
        recs = d.records()
        n = check_exactly_once(recs, subs, "daemon")
        unknown = sum(len(s.unknown) for s in subs)
        refused = sum(len(s.refused) for s in subs)
        diag("%d acknowledged, %d unanswered at a kill, %d refused, %d "
             "records" % (n, unknown, refused, len(recs)))
        check(n >= jobs // 2, "most submits acknowledged")


if __name__ == "__main__":
    main()
