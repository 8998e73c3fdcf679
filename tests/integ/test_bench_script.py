"""scripts/bench.sh and scripts/benchrun.py, checked without benchmarking:
the script parses, --help describes --scale, bad arguments and missing
tools are refused before anything starts (naming every missing tool and
its package), and benchrun.py's --scale table and done-when checks read a
results file made up here. Nothing here starts a server or a client, and
nothing is timed."""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

ROOT = repo_root()
BENCH = os.path.join(ROOT, "scripts", "bench.sh")
BENCHRUN = os.path.join(ROOT, "scripts", "benchrun.py")


def bench(args, env=None):
    return subprocess.run(["bash", BENCH] + args, capture_output=True,
                          text=True, timeout=30, env=env,
                          stdin=subprocess.DEVNULL)


@test("bench.sh parses (bash -n) and --help describes --scale")
def _():
    r = subprocess.run(["bash", "-n", BENCH], capture_output=True, text=True,
                       timeout=30)
    check_eq(r.returncode, 0, "bash -n: " + r.stderr)
    r = bench(["--help"])
    check_eq(r.returncode, 0, "exit status")
    for s in ("--scale", "--budget", "--runs", "--timeout", "limits.workers",
              "output.hash=none"):
        check_in(s, r.stdout, "--help")


for args, msg in [(["--runs", "0"], "--runs wants a positive number"),
                  (["--scale", "--budget", "x"], "--budget wants"),
                  (["--scale", "--only", "S3"], "--scale runs S1, S2 and S5"),
                  (["--frobnicate"], "unknown argument --frobnicate")]:
    @test("bench.sh %s is refused before anything runs" % " ".join(args))
    def _(args=args, msg=msg):
        r = bench(args)
        check_eq(r.returncode, 2, "exit status")
        check_in(msg, r.stderr, "message")


@test("bench.sh --scale without wrk and curl names them and their packages")
def _():
    d = scratch_dir("benchpath")
    for t in ("bash", "dirname", "nproc"):
        os.symlink(subprocess.run(["sh", "-c", "command -v " + t],
                                  capture_output=True, text=True)
                   .stdout.strip(), os.path.join(d, t))
    env = dict(os.environ, PATH=d)
    r = bench(["--scale"], env=env)
    check_eq(r.returncode, 1, "exit status: " + r.stdout + r.stderr)
    check_in("cannot run: missing", r.stderr, "message")
    for s in ("curl", "wrk", "apt-get install", "scripts/install-deps.sh"):
        check_in(s, r.stderr, "message")
    check_eq(r.stdout, "", "nothing printed on stdout")


def rec(sc, client, rps, k=None, short=False, mbps=None, cpu=20.0):
    return {"scenario": sc, "client": client, "run": 1, "requests": 1,
            "server_ok": 1, "short": short, "wall_s": 1.0, "rps": rps,
            "mbps": rps * 4096 / 1e6 if mbps is None else mbps,
            "cpu_ms_per_k": cpu, "rss_mib": 12.0, "procs": 1,
            "srv_cpu_ms_per_k": None, "notes": [], "threads": (k or 1) + 1,
            "workers": k, "nginx_workers": k}


def benchrun(args, recs):
    d = scratch_dir("benchrun")
    path = os.path.join(d, "results.jsonl")
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    r = subprocess.run([sys.executable, BENCHRUN] + args +
                       ["--results", path], capture_output=True, text=True,
                       timeout=30)
    check_eq(r.returncode, 0, "exit status: " + r.stderr)
    return r.stdout


@test("benchrun.py scale: a row per limits.workers, ratio to wrk, speed-up")
def _():
    out = benchrun(["scale", "--scenario", "S1", "--title", "S1 scale"], [
        rec("S1", "ringfetchd limits.workers=1", 1000, 1),
        rec("S1", "wrk -t1 -c64", 2000, 1),
        rec("S1", "ringfetchd limits.workers=2", 1800, 2),
        rec("S1", "wrk -t2 -c64", 2400, 2, short=True)])
    check_in("#### S1 scale", out, "title")
    check_in("| limits.workers | nginx workers | requests/s | MB/s | "
             "CPU ms / 1k req | peak RSS MiB | threads | wrk requests/s | "
             "vs wrk | speed-up vs 1 worker | runs ok |", out, "header")
    check_in("| 1 | 1 | 1,000 | 4 | 20.0 | 12.0 | 2 | 2,000 | 0.50 | 1.00 "
             "| 1/1 |", out, "K = 1")
    check_in("| 2 | 2 | 1,800 | 7 | 20.0 | 12.0 | 3 | 2,400 | 0.75 | 1.80 "
             "| 1/1 (wrk: 1 SHORT) |", out, "K = 2")


@test("benchrun.py targets: issue 14's done-when from the run's medians")
def _():
    out = benchrun(["targets"], [
        rec("S2", "ringfetchd (limits.workers auto=2)", 900, mbps=940),
        rec("S2", "ringfetchd limits.workers=2, SHA-256", 1200, mbps=1250),
        rec("S2", "ringfetchd output.hash=none (limits.workers auto=2)",
            1500, mbps=1500),
        rec("S2", "wrk -t1 -c16", 1600, mbps=1600),
        rec("S1", "ringfetchd (limits.workers auto=2)", 900, cpu=14.0),
        rec("S1", "wrk -t1 -c64", 1000),
        rec("S5ka", "ringfetchd (limits.workers auto=2)", 700, cpu=15.0),
        rec("S5ka", "wrk -t1 -c64", 1000)])
    check_in("S2 limits.workers=2, SHA-256: 1250 MB/s = 1.46x", out, "S2")
    check_in("(target 1.4x): met", out, "S2 verdict")
    check_in("S2 output.hash=none: 1500 MB/s = 0.94 of wrk's 1600", out,
             "hash none")
    check_in("S1 ringfetchd: 0.90 of wrk (target 0.80), 14.0 ms", out, "S1")
    check_in("S5ka ringfetchd: 0.70 of wrk (target 0.75), 15.0 ms CPU / 1k "
             "req (target <= 16): **missed**", out, "S5ka")


main()
