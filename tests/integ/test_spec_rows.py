"""SPEC rows that no other file covers on their own: the defaults of a
fresh machine (no -c, results under ./ringfetch-out/), a URL file on stdin,
batch.urls, http.keepalive_idle closing a pooled connection, and log.level
silencing events."""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from harness import read_records  # noqa: E402


def run_in(cwd, args, input=None, timeout=60):
    p = subprocess.run([rf_bin()] + args, cwd=cwd, input=input,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stderr.decode(errors="replace")


@test("no -c: built-in defaults, results under ./ringfetch-out/")
def _():
    with Server() as srv:
        work = scratch_dir("fresh")
        with open(os.path.join(work, "urls.txt"), "w") as f:
            f.write("%s\n# a comment\n\n   \n%s\n" % (
                srv.url("/ok?a"), srv.url("/ok?b")))
        rc, err = run_in(work, ["--batch", "urls.txt"])
        check_eq(rc, 0, "exit status\n" + err)
        recs, problems = read_records(os.path.join(work, "ringfetch-out"))
        check_eq(problems, [], "results")
        check_eq(sorted(r["url"] for r in recs),
                 [srv.url("/ok?a"), srv.url("/ok?b")], "one record a URL")


@test("--batch - reads the URLs from stdin")
def _():
    with Server() as srv:
        work = scratch_dir("stdin")
        urls = [srv.url("/size/%d" % n) for n in (1, 2, 3)]
        rc, err = run_in(work, ["--batch", "-", "--out", "out"],
                         input=("\n".join(urls) + "\n").encode())
        check_eq(rc, 0, "exit status\n" + err)
        recs, _ = read_records(os.path.join(work, "out"))
        check_eq(sorted(r["url"] for r in recs), sorted(urls), "records")


@test("batch.urls names the URL files when the command line names none")
def _():
    with Server() as srv:
        work = scratch_dir("cfgurls")
        for name, path in (("a.txt", "/ok?1"), ("b.txt", "/ok?2")):
            with open(os.path.join(work, name), "w") as f:
                f.write(srv.url(path) + "\n")
        with open(os.path.join(work, "c.yaml"), "w") as f:
            f.write("batch:\n  urls: [a.txt, b.txt]\noutput:\n  dir: out\n")
        rc, err = run_in(work, ["-c", "c.yaml", "--batch"])
        check_eq(rc, 0, "exit status\n" + err)
        recs, _ = read_records(os.path.join(work, "out"))
        check_eq(len(recs), 2, "a record for each file's URL")


@test("http.keepalive_idle closes a pooled connection left idle")
def _():
    with Server() as srv:
        work = scratch_dir("idle")
        p = subprocess.Popen([rf_bin(), "--batch", "-", "--out", "out",
                              "--set", "http.keepalive_idle=200ms"],
                             cwd=work, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        try:
            p.stdin.write((srv.url("/ok?1") + "\n").encode())
            p.stdin.flush()
            wait_until(lambda: srv.stats()["status_counts"].get("200"), 10,
                       interval=0.01, what="the first response")
            answered = time.monotonic()
            check_eq(srv.stats()["connections_open"], 1, "pooled")
            wait_until(lambda: srv.stats()["connections_open"] == 0, 5,
                       what="the idle pooled connection to close")
            idle = time.monotonic() - answered
            diag("closed %.2f s after the response" % idle)
            # keepalive_idle is 200 ms; polling blurs either end a little
            check(idle >= 0.1, "kept until keepalive_idle, not closed at "
                  "once (%.2f s)" % idle)
            p.stdin.write((srv.url("/ok?2") + "\n").encode())
            p.stdin.close()
            rc = p.wait(20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check_eq(rc, 0, "exit status\n" + p.stderr.read().decode())
        check_eq(srv.stats()["connections_total"], 2,
                 "the second URL needed a new connection")


@test("log.level=error keeps info and warn events off stderr")
def _():
    with Server() as srv:
        urls = [srv.url("/status/503?n=%d" % i) for i in range(3)]
        args = ["--set", "retry.attempts=1"]
        loud = run_batch(urls, args)
        check_in("limits.adaptive", loud.stderr, "an info event by default")
        quiet = run_batch(urls, args + ["--set", "log.level=error"])
        check("limits.adaptive" not in quiet.stderr,
              "no info event at log.level error:\n" + quiet.stderr)
        check_eq(quiet.rc, 1, "exit status")


main()
