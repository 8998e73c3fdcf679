#!/usr/bin/python3
"""Run one benchmark client once, or print a scenario's table (bench.sh).

    benchrun.py run --results FILE --scenario S --client NAME --run R
        --expect N --size BYTES [--check nginx:LOG | rfserver:URL]
        [--summary FILE] [--parse wrk|h2load] [--srv-pid PID]...
        [--timeout SECONDS] [--workers K] [--nginx-workers W]
        -- COMMAND [ARGS...] [:: COMMAND [ARGS...]]...

Starts every COMMAND at once (several make one client, e.g. one h2load per
host), reaps each with wait4() and records wall time, user + system CPU and
peak RSS of each process; CPU and RSS of several processes are summed.
The peak RSS is ru_maxrss as GNU time (/usr/bin/time, which runs each
COMMAND) reports it: a child that Python forks inherits Python's own RSS
high-water mark (~15 MiB) through exec, time's is ~1 MiB. Without
/usr/bin/time it is wait4's figure and the floor is Python's. Success is counted at the server, never taken from the client:
  nginx:LOG      lines added to LOG during the run that read exactly
                 "200 SIZE" (log_format '$status $body_bytes_sent')
  rfserver:URL   status_counts["200"] of URL/__stats?all=1, after
                 URL/__reset?all=1
A run whose server count is short of --expect (for wrk, of the requests
wrk says it completed, and wrk must report no error) is marked SHORT.
wrk runs for a duration: its requests and duration come from its output.
--summary reads a ringfetchd --summary-json file (its "ok" is shown too).
--srv-pid adds the server processes' (and their children's) CPU (from /proc/PID/stat) per 1,000
requests. --timeout (default 300 s) kills a client that runs longer (its
process group) and marks the run SHORT, so an unattended run cannot hang.
The peak thread count of the first COMMAND's process is sampled every
0.1 s (under GNU time: time's child) and recorded as "threads"; --workers
and --nginx-workers are recorded as given (bench.sh --scale). One JSON line
per run is appended to --results and one line is printed.

    benchrun.py table --results FILE --scenario S --title TEXT

prints the scenario as a Markdown table of medians (requests/s, MB/s, CPU
ms per 1,000 requests, peak RSS, ratios of the medians to curl's and wrk's,
the best run's requests/s, server CPU), then every run's figures.

    benchrun.py scale --results FILE --scenario S --title TEXT

prints a --scale scenario: one row per ringfetchd limits.workers K (runs
recorded with --workers K), medians of requests/s, MB/s, CPU ms per 1,000
requests and peak RSS, the peak thread count, wrk's requests/s at the same
nginx worker count (wrk runs recorded with the same --workers K), the
ratio of the two, the speed-up over K = 1 and ringfetchd's runs that
reached their count (wrk's SHORT runs are named after them).

    benchrun.py targets --results FILE

prints issue 14's done-when checks against this run's medians (the rows
bench.sh names: S2 limits.workers=2, S2 output.hash=none, S1, S3, S5ka).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import signal
import tempfile
import threading
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pids):
    t = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return t / CLK


def with_children(pids):
    """pids and their children (an nginx master's workers)."""
    out = list(pids)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid in pids:
            out.append(int(d))
    return out


def rfserver(url, what):
    with urllib.request.urlopen(url + what, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def count_nginx(log, offset, size):
    want = "200 %d" % size
    n = 0
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f:
            if line.decode("ascii", "replace").strip() == want:
                n += 1
    return n


def settle_nginx(log):
    """Wait until nginx stops appending (in-flight requests of the last
    client finish after it exits), then return the log's size."""
    last = -1
    for _ in range(40):
        size = os.path.getsize(log)
        if size == last:
            return size
        last = size
        time.sleep(0.05)
    return last


def parse_wrk(text):
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", text)
    if not m:
        return None
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    bad = 0
    m2 = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m2:
        bad += int(m2.group(1))
    m3 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                   r"timeout (\d+)", text)
    if m3:
        # a read error is a server closing the connection: expected when
        # the server closes after each response (keepalive_timeout 0)
        bad += int(m3.group(1)) + int(m3.group(3)) + int(m3.group(4))
    return int(m.group(1)), float(m.group(2)) * scale, bad


def parse_h2load(text):
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)) + int(m.group(3))


def proc_children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def proc_threads(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sampler(threading.Thread):
    """Peak thread count of a process (or of time's child), every 0.1 s."""

    def __init__(self, pid, under_time):
        super().__init__(daemon=True)
        self.pid, self.under_time = pid, under_time
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.1):
            pids = proc_children(self.pid) if self.under_time else [self.pid]
            for p in pids[:1]:
                self.peak = max(self.peak, proc_threads(p))


def cmd_run(a, cmds):
    srv_pids = with_children([int(p) for p in a.srv_pid])
    kind, _, where = (a.check or ":").partition(":")
    if kind == "nginx":
        offset = settle_nginx(where)
    elif kind == "rfserver":
        rfserver(where, "/__reset?all=1")
    tmp = tempfile.mkdtemp(prefix="benchrun.")
    srv0 = proc_cpu(srv_pids)
    t0 = time.monotonic()
    procs = []
    gnu_time = os.access("/usr/bin/time", os.X_OK)
    for i, cmd in enumerate(cmds):
        out = open(os.path.join(tmp, "out%d" % i), "wb+")
        err = open(os.path.join(tmp, "err%d" % i), "wb+")
        if gnu_time:
            cmd = ["/usr/bin/time", "-f", "%M", "-o",
                   os.path.join(tmp, "rss%d" % i)] + cmd
        p = subprocess.Popen(cmd, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        procs.append((p, out, err))
    sampler = Sampler(procs[0][0].pid, gnu_time)
    sampler.start()
    timed_out = []

    def kill_all():
        timed_out.append(True)
        for p, _, _ in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    timer = threading.Timer(a.timeout, kill_all)
    timer.daemon = True
    timer.start()
    cpu = rss = 0.0
    rcs = []
    for i, (p, _, _) in enumerate(procs):
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            # Ctrl-C or SIGTERM (bench.sh stopped): the clients run in
            # sessions of their own, so they are stopped here
            kill_all()
            raise
        p.returncode = os.waitstatus_to_exitcode(status)
        rcs.append(p.returncode)
        # time's own share (~1 ms) is included: it is the same for all
        cpu += ru.ru_utime + ru.ru_stime
        kb = ru.ru_maxrss
        if gnu_time:
            try:
                with open(os.path.join(tmp, "rss%d" % i)) as f:
                    kb = int(f.read().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
        rss += kb / 1024.0
    wall = time.monotonic() - t0
    timer.cancel()
    sampler.stop.set()
    sampler.join()
    texts = []
    for _, out, err in procs:
        out.seek(0)
        err.seek(0)
        texts.append((out.read().decode("utf-8", "replace"),
                      err.read().decode("utf-8", "replace")))
        out.close()
        err.close()
    srv_cpu = proc_cpu(srv_pids) - srv0
    notes = []
    requests = a.expect
    client_bad = 0
    if a.parse == "wrk":
        got = parse_wrk(texts[0][0])
        if got is None:
            notes.append("wrk output not understood")
            requests, client_bad = 0, 1
        else:
            requests, wall, client_bad = got
    elif a.parse == "h2load":
        ok = bad = 0
        for out, _ in texts:
            got = parse_h2load(out)
            if got is None:
                bad += 1
                notes.append("h2load output not understood")
            else:
                ok += got[0]
                bad += got[1]
        client_bad = bad
    if kind == "nginx":
        time.sleep(0.05)
        settle_nginx(where)
        server_ok = count_nginx(where, offset, a.size)
    elif kind == "rfserver":
        server_ok = int(rfserver(where, "/__stats?all=1")
                        .get("status_counts", {}).get("200", 0))
    else:
        server_ok = requests
    rf_ok = None
    if a.summary:
        try:
            with open(a.summary) as f:
                rf_ok = json.load(f).get("ok")
        except (OSError, ValueError):
            rf_ok = -1
        if rf_ok != a.expect:
            notes.append("ringfetchd summary ok %s" % rf_ok)
    # a duration-bound client (wrk) is judged against what it says it did
    need = requests if a.parse == "wrk" else a.expect
    short = server_ok < need or client_bad > 0 or requests <= 0
    if timed_out:
        short = True
        notes.append("killed after --timeout %g s" % a.timeout)
    if client_bad:
        notes.append("client reports %d errors" % client_bad)
    if any(rc not in (0,) for rc in rcs):
        notes.append("exit %s" % ",".join(str(r) for r in rcs))
    if short or any(rc not in (0,) for rc in rcs):
        for out, err in texts[:1]:
            tail = (err.strip() or out.strip()).splitlines()[-3:]
            if tail:
                notes.append("| " + " / ".join(tail)[:300])
    done = requests if a.parse == "wrk" else min(server_ok, a.expect)
    rec = {
        "scenario": a.scenario, "client": a.client, "run": a.run,
        "requests": requests, "server_ok": server_ok, "short": short,
        "wall_s": wall, "rps": done / wall if wall > 0 else 0,
        "mbps": done * a.size / wall / 1e6 if wall > 0 else 0,
        "cpu_ms_per_k": cpu * 1e6 / max(done, 1),
        "rss_mib": rss, "procs": len(cmds), "threads": sampler.peak,
        "workers": a.workers, "nginx_workers": a.nginx_workers,
        "srv_cpu_ms_per_k": (srv_cpu * 1e6 / max(done, 1)
                             if srv_pids else None),
        "notes": notes,
    }
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print("  %-3s run %d  %-36s %9.0f req/s %8.1f MB/s %7.1f CPU ms/1k "
          "%7.1f MiB  server %d/%d%s%s%s" % (
              a.scenario, a.run, a.client, rec["rps"], rec["mbps"],
              rec["cpu_ms_per_k"], rss, server_ok, need,
              "  threads %d" % sampler.peak if sampler.peak else "",
              "  SHORT" if short else "",
              ("  (" + "; ".join(notes) + ")") if notes else ""),
          flush=True)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)


def fmt_int(x):
    return "{:,.0f}".format(x)


def cmd_table(a):
    recs = []
    with open(a.results) as f:
        for line in f:
            r = json.loads(line)
            if r["scenario"] == a.scenario:
                recs.append(r)
    if not recs:
        return
    order = []
    for r in recs:
        if r["client"] not in order:
            order.append(r["client"])
    by = {c: [r for r in recs if r["client"] == c] for c in order}

    def med(c, key):
        v = [r[key] for r in by[c] if r[key] is not None]
        return statistics.median(v) if v else None

    def ref(prefix):
        for c in order:
            if c.startswith(prefix):
                return med(c, "rps")
        return None
    curl, wrk = ref("curl"), ref("wrk")
    srv = any(r["srv_cpu_ms_per_k"] is not None for r in recs)
    print()
    print("#### %s" % a.title)
    print()
    print("| client | requests/s | MB/s | CPU ms / 1k req | peak RSS MiB "
          "| vs curl | vs wrk | best requests/s |%s runs ok |" %
          (" server CPU ms / 1k req |" if srv else ""))
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |%s --- |" %
          (" ---: |" if srv else ""))
    for c in order:
        rps = med(c, "rps")
        nok = sum(1 for r in by[c] if not r["short"])
        s = med(c, "srv_cpu_ms_per_k")
        print("| %s | %s | %.0f | %.1f | %.1f | %s | %s | %s |%s %d/%d%s |" % (
            c, fmt_int(rps), med(c, "mbps"), med(c, "cpu_ms_per_k"),
            med(c, "rss_mib"),
            "%.2f" % (rps / curl) if curl else "-",
            "%.2f" % (rps / wrk) if wrk else "-",
            fmt_int(max(r["rps"] for r in by[c])),
            (" %.1f |" % s if s is not None else " - |") if srv else "",
            nok, len(by[c]), "" if nok == len(by[c]) else " SHORT"))
    print()
    print("Every run (requests/s, CPU ms / 1k req):")
    print()
    for c in order:
        print("    %-36s %s" % (c, "  ".join(
            "%s%s (%.1f)" % (fmt_int(r["rps"]), "!" if r["short"] else "",
                             r["cpu_ms_per_k"]) for r in by[c])))


def load(results, scenario=None):
    recs = []
    with open(results) as f:
        for line in f:
            r = json.loads(line)
            if scenario is None or r["scenario"] == scenario:
                recs.append(r)
    return recs


def median_of(recs, key):
    v = [r[key] for r in recs if r.get(key) is not None]
    return statistics.median(v) if v else None


def cmd_scale(a):
    recs = load(a.results, a.scenario)
    ks = sorted({r["workers"] for r in recs if r.get("workers")})
    if not ks:
        return

    def rows(k, prefix):
        return [r for r in recs if r.get("workers") == k and
                r["client"].startswith(prefix)]
    base = None
    print()
    print("#### %s" % a.title)
    print()
    print("| limits.workers | nginx workers | requests/s | MB/s "
          "| CPU ms / 1k req | peak RSS MiB | threads | wrk requests/s "
          "| vs wrk | speed-up vs 1 worker | runs ok |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: | --- |")
    for k in ks:
        rf, wrk = rows(k, "ringfetchd"), rows(k, "wrk")
        if not rf:
            continue
        rps = median_of(rf, "rps")
        wrps = median_of(wrk, "rps") if wrk else None
        if k == ks[0] and k == 1:
            base = rps
        nw = median_of(rf, "nginx_workers")
        thr = max(r.get("threads") or 0 for r in rf)
        nok = sum(1 for r in rf if not r["short"])
        wbad = sum(1 for r in wrk if r["short"])
        print("| %d | %s | %s | %.0f | %.1f | %.1f | %s | %s | %s | %s "
              "| %d/%d%s%s |" % (
                  k, "%d" % nw if nw is not None else "-", fmt_int(rps),
                  median_of(rf, "mbps"), median_of(rf, "cpu_ms_per_k"),
                  median_of(rf, "rss_mib"), thr or "-",
                  fmt_int(wrps) if wrps else "-",
                  "%.2f" % (rps / wrps) if wrps else "-",
                  "%.2f" % (rps / base) if base else "-",
                  nok, len(rf), "" if nok == len(rf) else " SHORT",
                  " (wrk: %d SHORT)" % wbad if wbad else ""))
    print()
    print("Every run (requests/s, CPU ms / 1k req; ! = SHORT):")
    print()
    for k in ks:
        for prefix in ("ringfetchd", "wrk"):
            rs = rows(k, prefix)
            if rs:
                print("    %-36s %s" % (rs[0]["client"], "  ".join(
                    "%s%s (%.1f)" % (fmt_int(r["rps"]),
                                     "!" if r["short"] else "",
                                     r["cpu_ms_per_k"]) for r in rs)))


# issue 14's done-when: (what, scenario, client prefix, check)
S2_TODAY_MBPS = 854.0


def cmd_targets(a):
    recs = load(a.results)

    def med(sc, prefix, key):
        rs = [r for r in recs if r["scenario"] == sc and
              r["client"].startswith(prefix)]
        return median_of(rs, key) if rs else None

    def verdict(ok):
        return "met" if ok else "**missed**"
    lines = []
    mb = med("S2", "ringfetchd limits.workers=2,", "mbps")
    if mb is not None:
        lines.append("S2 limits.workers=2, SHA-256: %.0f MB/s = %.2fx "
                     "issue 14's 854 MB/s (target 1.4x): %s" % (
                         mb, mb / S2_TODAY_MBPS,
                         verdict(mb >= 1.4 * S2_TODAY_MBPS)))
    mb, wmb = (med("S2", "ringfetchd output.hash=none", "mbps"),
               med("S2", "wrk", "mbps"))
    if mb is not None and wmb:
        lines.append("S2 output.hash=none: %.0f MB/s = %.2f of wrk's %.0f "
                     "(target 0.9): %s" % (mb, mb / wmb, wmb,
                                           verdict(mb >= 0.9 * wmb)))
    for sc, ratio, cpu in (("S1", 0.8, 15), ("S3", 0.8, 15),
                           ("S5ka", 0.75, 16)):
        rps, w, c = (med(sc, "ringfetchd (", "rps"), med(sc, "wrk", "rps"),
                     med(sc, "ringfetchd (", "cpu_ms_per_k"))
        if rps is None or not w:
            continue
        lines.append("%s ringfetchd: %.2f of wrk (target %.2f), %.1f ms CPU "
                     "/ 1k req (target <= %d): %s" % (
                         sc, rps / w, ratio, c, cpu,
                         verdict(rps >= ratio * w and c <= cpu)))
    if not lines:
        return
    print()
    print("## Issue 14's done-when, this run's medians")
    print()
    for line in lines:
        print("- " + line)


def main():
    argv = sys.argv[1:]
    cmds = []
    if "--" in argv:
        i = argv.index("--")
        rest = argv[i + 1:]
        argv = argv[:i]
        cur = []
        for x in rest:
            if x == "::":
                cmds.append(cur)
                cur = []
            else:
                cur.append(x)
        cmds.append(cur)
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "table", "scale", "targets"])
    ap.add_argument("--results", required=True)
    ap.add_argument("--scenario")
    ap.add_argument("--title", default="")
    ap.add_argument("--client")
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--check")
    ap.add_argument("--summary")
    ap.add_argument("--parse", choices=["wrk", "h2load"])
    ap.add_argument("--srv-pid", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--nginx-workers", type=int)
    a = ap.parse_args(argv)
    if a.mode == "run":
        if not cmds or not cmds[0]:
            sys.exit("benchrun: no command")
        cmd_run(a, cmds)
    elif a.mode == "table":
        cmd_table(a)
    elif a.mode == "scale":
        cmd_scale(a)
    else:
        cmd_targets(a)


main()
