#!/bin/bash
# Where ringfetchd's CPU goes in bench.sh's S1 (small files) and S2 (large
# files): perf record (-e cpu-clock, the event a VM offers) of ringfetchd
# against a loopback nginx, then the top symbols as CPU per request (S1) and
# per MB of body (S2), with SHA-256 and, when this build knows
# output.hash: none, without it.
#   scripts/profile.sh [S1|S2]...            (default both)
# RINGFETCHD picks the binary; for call stacks build a frame-pointer copy
# elsewhere, e.g.
#   git archive HEAD | tar -x -C /tmp/rfprof && make -C /tmp/rfprof -j2 all \
#       CFLAGS='-O2 -g -fno-omit-frame-pointer'
#   RINGFETCHD=/tmp/rfprof/build/rel/ringfetchd scripts/profile.sh
# PROF_S1_N (100000) and PROF_S2_N (4000) size the runs; TOP (15) the list.
# Needs perf (linux-perf) and nginx; only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RINGFETCHD:-build/rel/ringfetchd}
TOP=${TOP:-15}
[ $# -gt 0 ] || set -- S1 S2
command -v perf >/dev/null || { echo "profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
[ -x "$BIN" ] || make -s build/rel/ringfetchd
[ -n "${BENCH_TMPDIR:-}" ] || { [ -w /dev/shm ] && BENCH_TMPDIR=/dev/shm || BENCH_TMPDIR=/tmp; }
export BENCH_TMPDIR
. scripts/nginx.sh
bench_workdir rfprof
mkdir -p "$W/www"
head -c 4096 /dev/urandom > "$W/www/4k.bin"
head -c 1048576 /dev/urandom > "$W/www/1m.bin"
PORT=$(free_port)
nginx_start "$W/ngx" "	keepalive_timeout 60s;
	sendfile on;
	tcp_nopush on;
	server { listen 127.0.0.1:$PORT; root $W/www; }"
wait_url "http://127.0.0.1:$PORT/4k.bin"

VARIANTS=("sha256|")
"$BIN" --check-config --set output.hash=none >/dev/null 2>&1 &&
	VARIANTS+=("none|--set output.hash=none")

# profile NAME N C FILE UNIT_BYTES UNIT_NAME
profile() {
	local name=$1 n=$2 c=$3 file=$4 unit=$5 uname=$6 v label extra
	$PY -c "
import sys
for i in range($n):
    sys.stdout.write('http://127.0.0.1:$PORT/$file?n=%d\n' % i)" > "$W/urls.txt"
	for v in "${VARIANTS[@]}"; do
		label=${v%%|*} extra=${v#*|}
		rm -rf "$W/out"
		# shellcheck disable=SC2086
		perf record -q -e cpu-clock -F 4999 -g -o "$W/perf.data" -- \
			"$BIN" --batch "$W/urls.txt" --out "$W/out" -q \
			--concurrency "$c" --per-host "$c" \
			--summary-json "$W/summary.json" $extra >/dev/null 2>"$W/perf.err" || true
		local ok
		ok=$($PY -c "import json; print(json.load(open('$W/summary.json'))['ok'])")
		echo
		echo "### $name, output.hash $label: $ok of $n ok, $c in flight"
		perf report -i "$W/perf.data" --no-children --sort sym \
			--stdio -g none -F overhead,sample,sym 2>/dev/null |
			$PY scripts/perfsum.py "$ok" "$unit" "$uname" "$TOP"
	done
}

for s in "$@"; do
	case $s in
	S1) profile "S1 small files (4 KiB)" "${PROF_S1_N:-100000}" 64 4k.bin 0 request ;;
	S2) profile "S2 large files (1 MiB)" "${PROF_S2_N:-4000}" 16 1m.bin 1000000 MB ;;
	*) echo "profile.sh: unknown scenario $s" >&2; exit 2 ;;
	esac
done
