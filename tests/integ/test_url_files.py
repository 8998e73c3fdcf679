"""URL files that are not what they should be: over-long lines, files
without a newline, endless input (/dev/zero) and a FIFO nobody writes to.
Bad input gives one record, never one per buffer read, and never keeps the
crawl from ending."""
import sys, os
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: F401,F403
from harness import read_records

import errno
import time

FAST = ["--set", "retry.backoff_base=10ms", "--set", "retry.backoff_max=50ms"]
KIB = 1024


def crawl(paths, timeout=60):
    out = os.path.join(scratch_dir("out"), "out")
    p = run_rf(["--batch"] + paths + ["--out", out] + FAST, timeout=timeout)
    recs, problems = read_records(out)
    check(not problems, "whole lines: %r" % problems[:3])
    return p, recs


@test("a 900 KiB line is one invalid_url record; the next line is fetched")
def _():
    with Server() as srv:
        path = os.path.join(scratch_dir("long"), "urls.txt")
        with open(path, "wb") as f:
            f.write(b"http://127.0.0.1/" + b"x" * (900 * KIB) + b"\n")
            f.write(srv.url("/ok").encode() + b"\n")
        p, recs = crawl([path])
        check(not p.timed_out, "ends")
        bad = [r for r in recs if r["error"] == "invalid_url"]
        check_eq(len(bad), 1, "one record for the long line")
        check_eq(len(recs), 2, "two lines, two records")
        check_eq(p.rc, 1, "exit 1: a job failed")


@test("a 300 KiB file without any newline is one invalid_url record")
def _():
    path = os.path.join(scratch_dir("nonl"), "urls.txt")
    with open(path, "wb") as f:
        f.write(b"http://127.0.0.1/" + b"y" * (300 * KIB))
    p, recs = crawl([path])
    check_eq([r["error"] for r in recs], ["invalid_url"], "one record")
    check_eq(p.rc, 1, "exit 1")


@test("--batch /dev/zero ends: one record, the file is given up past "
      "1 MiB with an error naming it, other files are still read")
def _():
    with Server() as srv:
        path = os.path.join(scratch_dir("zero"), "urls.txt")
        with open(path, "w") as f:
            f.write(srv.url("/ok") + "\n")
        p, recs = crawl(["/dev/zero", path], timeout=30)
        check(not p.timed_out, "the crawl ends: %s" % p.stderr[-500:])
        check_eq(len(recs), 2, "one record for /dev/zero, one for the URL")
        check_eq(sorted(str(r["error"]) for r in recs),
                 ["None", "invalid_url"], "errors")
        check("/dev/zero" in p.stderr and "1 MiB" in p.stderr,
              "the log names the file and the bound: " + p.stderr[-500:])
        check_eq(p.rc, 3, "exit 3: a URL file was not read to its end")


@test("a 3 MiB line in a regular file: one record, then reading stops")
def _():
    with Server() as srv:
        path = os.path.join(scratch_dir("huge"), "urls.txt")
        with open(path, "wb") as f:
            f.write(b"z" * (3 * KIB * KIB) + b"\n")
            f.write(srv.url("/ok").encode() + b"\n")
        p, recs = crawl([path])
        check_eq([r["error"] for r in recs], ["invalid_url"], "one record")
        check("not a URL file" in p.stderr, "says why: " + p.stderr[-300:])
        check_eq(p.rc, 3, "exit 3")


@test("a FIFO without a writer: the start says what it waits for, and a "
      "writer that comes later is read")
def _():
    with Server() as srv:
        work = scratch_dir("fifo")
        fifo = os.path.join(work, "urls.fifo")
        os.mkfifo(fifo)
        out = os.path.join(work, "out")
        with start_rf(["--batch", fifo, "--out", out] + FAST) as r:
            r.wait_stderr("waiting for a writer", timeout=10)
            check(fifo in r.stderr_text(), "names the FIFO")
            fd = None
            for _ in range(100):    # its read end is open: this succeeds
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
                    time.sleep(0.05)
            check(fd is not None, "the daemon holds the FIFO open")
            os.write(fd, (srv.url("/ok") + "\n").encode())
            os.close(fd)
            p = r.finish(timeout=30)
        check(not p.timed_out, "ends once the writer closes")
        check_eq(p.rc, 0, "exit 0: " + p.stderr[-500:])
        recs, _ = read_records(out)
        check_eq([x["ok"] for x in recs], [True], "the written URL fetched")


@test("a FIFO whose writer is already there is read at once, no wait line")
def _():
    with Server() as srv:
        work = scratch_dir("fifo2")
        fifo = os.path.join(work, "urls.fifo")
        os.mkfifo(fifo)
        out = os.path.join(work, "out")
        # a writer that opens (blocking until a reader comes) and writes
        pid = os.fork()
        if pid == 0:
            try:
                fd = os.open(fifo, os.O_WRONLY)
                os.write(fd, (srv.url("/ok") + "\n").encode())
                time.sleep(2)       # hold the FIFO open past the start
                os.close(fd)
            finally:
                os._exit(0)
        try:
            p = run_rf(["--batch", fifo, "--out", out] + FAST, timeout=30)
        finally:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        check_eq(p.rc, 0, "exit 0: " + p.stderr[-500:])
        check("waiting for a writer" not in p.stderr, "no wait line")
        recs, _ = read_records(out)
        check_eq(len(recs), 1, "one record")


main()
