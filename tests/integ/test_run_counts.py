"""tests/run.sh's counting, on a fake tree (no ringfetch binary involved):
an "ok ... # SKIP" line and a program that exits 77 count as skipped, never
as passed; "not ok" lines and other non-zero exits count as failed; each
program's line and the summary say "N passed, N failed, N skipped"."""
import os
import stat
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

RUN_SH = os.path.join(repo_root(), "tests", "run.sh")


def put(path, text, exe=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if exe:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def shell_prog(root, name, lines, rc):
    """An executable build/NAME printing lines and exiting rc."""
    body = "".join("echo '%s'\n" % ln for ln in lines)
    put(os.path.join(root, "build", name),
        "#!/bin/sh\n%sexit %d\n" % (body, rc), exe=True)


def harness_test(root, name, body):
    """tests/integ/NAME.py in the fake tree, using the real harness."""
    put(os.path.join(root, "tests", "integ", name + ".py"),
        "import sys\nsys.dont_write_bytecode = True\n"
        "sys.path.insert(0, %r)\n"
        "from harness import *\n%s\nmain()\n" % (
            os.path.dirname(os.path.abspath(__file__)), body))


def run_counts(root):
    """run.sh on the fake tree (cwd root, build dir "build") -> Proc."""
    p = run_rf([RUN_SH, "build"], binary="/bin/sh", cwd=root, timeout=60)
    check(not p.timed_out, "run.sh finished")
    return p


def line_of(out, prefix):
    got = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    check_eq(len(got), 1, "one line starting %r in:\n%s" % (prefix, out))
    return got[0]


@test("run.sh counts SKIP lines and exit 77 as skipped, not passed")
def _():
    root = scratch_dir("counts")
    shell_prog(root, "test_mixed", ["ok 1 - a", "ok 2 - b # SKIP no thing",
                                    "not ok 3 - c", "1..3"], 1)
    shell_prog(root, "test_lower", ["ok 1 - a", "ok 2 - b # skip lower case",
                                    "ok 3 - skipper is a name", "1..3"], 0)
    shell_prog(root, "test_skipall", ["1..0 # SKIP dnsmasq not installed"],
               77)
    shell_prog(root, "test_bare77", ["# loop_init: ENOSYS"], 77)
    shell_prog(root, "test_plan0", ["1..0 # SKIP nothing to do here"], 0)
    shell_prog(root, "test_crash", ["ok 1 - a"], 3)
    shell_prog(root, "fuzz_x", ["# no corpus"], 77)
    harness_test(root, "test_harness_skip",
                 "@test('passes')\ndef _():\n    pass\n"
                 "@test('skips')\ndef _():\n    skip('no nginx')\n")
    put(os.path.join(root, "tests", "integ", "test_exit77.py"),
        "import sys\nprint('1..0 # SKIP no tmpfs')\nsys.exit(77)\n")
    p = run_counts(root)
    out = p.stdout
    want = {
        "unit test_mixed:": "1 passed, 1 failed, 1 skipped",
        "unit test_lower:": "2 passed, 0 failed, 1 skipped",
        "unit test_skipall:": "0 passed, 0 failed, 1 skipped",
        "unit test_bare77:": "0 passed, 0 failed, 1 skipped",
        "unit test_plan0:": "0 passed, 0 failed, 1 skipped",
        "unit test_crash:": "1 passed, 1 failed, 0 skipped",
        "fuzz-replay fuzz_x:": "0 passed, 0 failed, 1 skipped",
        "integ test_harness_skip:": "1 passed, 0 failed, 1 skipped",
        "integ test_exit77:": "0 passed, 0 failed, 1 skipped",
    }
    for prefix, counts in want.items():
        check_eq(line_of(out, prefix), prefix + " " + counts, prefix)
    check_eq(out.splitlines()[-1], "5 passed, 2 failed, 8 skipped",
             "summary line\n" + out)
    check_eq(line_of(out, "failing:"), "failing: test_crash test_mixed",
             "failing line")
    check_eq(p.rc, 1, "exit status with failures")


@test("run.sh exits 0 when every program passed or skipped")
def _():
    root = scratch_dir("counts")
    shell_prog(root, "test_ok", ["ok 1 - a", "1..1"], 0)
    shell_prog(root, "test_skipall", ["1..0 # SKIP no dnsmasq"], 77)
    harness_test(root, "test_all_skip",
                 "@test('skips')\ndef _():\n    skip('no openssl')\n")
    p = run_counts(root)
    check_eq(p.stdout.splitlines()[-1], "1 passed, 0 failed, 2 skipped",
             "summary line\n" + p.stdout)
    check("failing:" not in p.stdout, "no failing line")
    check_eq(p.rc, 0, "exit status")


main()
