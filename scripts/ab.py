#!/usr/bin/python3
"""Compare commands by running them in turn, N rounds, so that a noisy
machine slows all of them alike; prints each one's wall-clock median,
quartiles and minimum, and its CPU (user + system of the command).

    scripts/ab.py N 'LABEL:COMMAND' ['LABEL:COMMAND' ...]

e.g. two builds of ringfetchd and curl on the same 5,000 HTTPS URLs:

    scripts/ab.py 25 \\
      'old:/tmp/old/ringfetchd --batch urls.txt --out /tmp/o -q --set tls.ca_file=ca.pem' \\
      'new:build/rel/ringfetchd --batch urls.txt --out /tmp/o -q --set tls.ca_file=ca.pem' \\
      'curl:curl -s --cacert ca.pem --parallel --parallel-max 64 -K curl.cfg'

Each COMMAND runs through the shell with output discarded; an --out
directory named in it is the caller's to clear (ringfetchd appends).
"""
import os
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3 or ":" not in sys.argv[2]:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    variants = [v.split(":", 1) for v in sys.argv[2:]]
    wall = {label: [] for label, _ in variants}
    cpu = {label: [] for label, _ in variants}
    for _ in range(rounds):
        for label, cmd in variants:
            before = os.times()
            t0 = time.monotonic()
            subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            wall[label].append(time.monotonic() - t0)
            after = os.times()
            cpu[label].append(after.children_user - before.children_user +
                              after.children_system - before.children_system)
    for label, _ in variants:
        w = sorted(wall[label])
        q = len(w) // 4
        print("%-10s wall median %7.1f ms  p25 %7.1f  p75 %7.1f  min %7.1f"
              "  | cpu median %6.1f ms" % (
                  label, statistics.median(w) * 1e3, w[q] * 1e3,
                  w[-1 - q] * 1e3, w[0] * 1e3,
                  statistics.median(cpu[label]) * 1e3))


main()
