"""limits.workers: 1 runs every connection on the main thread's ring, as a
one-CPU machine does by default; everywhere else the default (one worker
ring per CPU) is what the rest of the suite runs. RINGFETCH_WORKERS=1
forces the one ring whatever the machine, so the whole engine suite
(timeouts, resets, pooled connections torn down mid-flight) and the TLS
suite pass on both paths here; test_workers.py covers 1, 2 and 4 rings
row by row."""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

ONE = {"RINGFETCH_WORKERS": "1"}


@test("RINGFETCH_WORKERS=1: one ring, said at debug level")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/ok")], ["--set", "log.level=debug"],
                      env=ONE)
        check(r.records[0]["ok"], "ok")
        check_in("fetching on 1 worker ring (limits.workers)", r.stderr,
                 "logged")
        r = run_batch([srv.url("/ok")], ["--set", "log.level=debug",
                                         "--set", "limits.workers=1"],
                      env={"RINGFETCH_WORKERS": "3"})
        check_in("fetching on 3 worker rings (limits.workers)", r.stderr,
                 "the environment wins")


@test("test_engine.py passes whole on one ring", timeout=290)
def _():
    suite_passes_whole("test_engine.py", ONE, 20)


@test("test_tls.py passes whole on one ring", timeout=290)
def _():
    suite_passes_whole("test_tls.py", ONE, 10)


main()
