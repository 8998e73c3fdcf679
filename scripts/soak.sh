#!/bin/sh
# Soak the daemon: SOAK_SECONDS (600) of clients submitting, watching and
# cancelling against the project's test server mixing normal, slow,
# failing and malformed answers, at high concurrency with the journal on;
# RSS, open fds, queue depth and journal size sampled every second into
# CSV and plotted to a PNG with gnuplot. Only 127.0.0.1 is contacted.
#   scripts/soak.sh [OUT_DIR]      (default: ./soak-out; needs make all)
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/soak.py "${1:-soak-out}"
