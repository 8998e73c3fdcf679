"""Job numbers never repeat within one output directory (SPEC): a run into a
directory that already holds records goes on numbering after the highest
there, whether the run before ended cleanly (the .jobnum mark) or was
killed (its records are read)."""
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from harness import read_records, sanitizer_errors  # noqa: E402


def write_urls(path, urls):
    with open(path, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    return path


def jobs(out):
    recs, problems = read_records(out)
    check_eq(problems, [], "results file")
    return [r["job"] for r in recs]


def crawl(work, out, urls, name):
    p = run_rf(["--batch", write_urls(os.path.join(work, name), urls),
                "--out", out, "-q"], cwd=work)
    check_eq(p.rc, 0, "exit status of %s (%s)" % (name, p.stderr))
    check(not sanitizer_errors(p.stderr), "sanitizers:\n" + p.stderr)
    return p


@test("two runs into one --out give distinct job numbers, the second after "
      "the first")
def _():
    with Server() as srv:
        work = scratch_dir("jn")
        out = os.path.join(work, "out")
        crawl(work, out, [srv.url("/ok?a=%d" % i) for i in range(5)], "a")
        first = jobs(out)
        check_eq(sorted(first), [1, 2, 3, 4, 5], "first run")
        crawl(work, out, [srv.url("/ok?b=%d" % i) for i in range(5)], "b")
        both = jobs(out)
        check_eq(len(both), 10, "ten records")
        check_eq(len(set(both)), 10, "no job number twice: %r" % both)
        check_eq(sorted(both[5:]), [6, 7, 8, 9, 10], "the second goes on")


@test("a run killed with SIGKILL, then another: distinct job numbers")
def _():
    with Server() as srv:
        work = scratch_dir("jnk")
        out = os.path.join(work, "out")
        # a clean run first, so the directory has a mark that the killed
        # run then leaves behind: the next one must read the records
        crawl(work, out, [srv.url("/ok?c=%d" % i) for i in range(3)], "c")
        fast = [srv.url("/ok?k=%d" % i) for i in range(400)]
        slow = [srv.url("/delay/20000?k=%d" % i) for i in range(2)]
        ufile = write_urls(os.path.join(work, "k"), fast + slow)
        with start_rf(["--batch", ufile, "--out", out, "-q"],
                      cwd=work) as p:
            # records reach the disk 64 KiB at a time: some of the fast
            # ones do, while the slow ones keep the crawl alive
            wait_until(lambda: len(jobs(out)) >= 3 + 100, 20,
                       what="fast records on disk")
            p.send_signal(signal.SIGKILL)
            p.finish(10)
        before = jobs(out)
        check_eq(len(set(before)), len(before), "distinct so far")
        crawl(work, out, [srv.url("/ok?d=%d" % i) for i in range(5)], "d")
        after = jobs(out)
        new = after[len(before):]
        check_eq(len(new), 5, "five new records")
        check_eq(len(set(after)), len(after),
                 "no job number twice: %r" % sorted(after))
        check(min(new) > max(before),
              "the run after the kill numbers after it: %r > %r" %
              (new, max(before)))


main()
