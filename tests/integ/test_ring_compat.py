"""The io_uring fallbacks for older kernels (Debian 12's 6.1, Ubuntu
22.04's 5.15) run on this kernel too: RINGFETCH_RING_COMPAT=1 makes the
ring use no setup flags, cancel operation by operation instead of by fd,
and receive with single-shot recv into per-connection buffers (an idle
connection waiting in a poll) instead of multishot recv from a provided
buffer ring. Under it the whole engine suite (test_engine.py: timeouts,
resets, pooled connections torn down mid-flight) and the TLS suite
(test_tls.py: handshakes, resumption, tickets on idle connections) pass,
and the log names the path in use."""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

COMPAT = {"RINGFETCH_RING_COMPAT": "1"}


@test("the log names the fallback path when it is forced")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/ok")], env=COMPAT)
        check(r.records[0]["ok"], "ok")
        check_in("io_uring: no setup flags, cancel op by op "
                 "(RINGFETCH_RING_COMPAT)", r.stderr, "logged")
        check_in("io_uring: single-shot recv into per-connection buffers, "
                 "no provided buffer ring (RINGFETCH_RING_COMPAT)",
                 r.stderr, "receive path logged")
        check_eq(r.stderr.count("single-shot recv"), 1, "logged once")
        r = run_batch([srv.url("/ok")])
        check("cancel op by op" not in r.stderr, "not on the default path")
        check("single-shot recv" not in r.stderr,
              "buffer ring on the default path")


@test("test_engine.py passes whole on the fallback path", timeout=290)
def _():
    suite_passes_whole("test_engine.py", COMPAT, 20)


@test("test_tls.py passes whole on the fallback path", timeout=290)
def _():
    suite_passes_whole("test_tls.py", COMPAT, 10)


main()
