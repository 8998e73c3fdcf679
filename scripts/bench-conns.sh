#!/bin/bash
# 10,000 connections (issue 14, item 3): ringfetchd holds N slow requests
# open at once against a loopback rfserver that answers each after HOLD
# milliseconds, and the daemon's RSS is sampled while they are in flight.
# Reports the peak RSS with all N in flight, the RSS of the same daemon
# fetching one URL, and the difference per connection.
#   scripts/bench-conns.sh [--conns N] [--hold MS] [--warm BYTES]
#                                           (default 10000 20000 16384)
# With --warm, each connection first carries a BYTES response (so its
# receive path has been used, as a pooled connection's has) and the slow
# requests then ride the pooled connections; --warm 0 holds fresh ones.
# Raises RLIMIT_NOFILE itself (soft up to the hard limit; the daemon and
# the server each need N descriptors and a few more) and says so and stops
# when the hard limit is too low. Needs a release build (make) and
# /usr/bin/python3. Only 127.0.0.1 is contacted. Target: under 150 MiB of
# RSS for 10,000 connections.
set -euo pipefail
cd "$(dirname "$0")/.."

N=10000
HOLD=20000
WARM=16384
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--conns) N=$2; shift 2 ;;
	--hold) HOLD=$2; shift 2 ;;
	--warm) WARM=$2; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "bench-conns.sh: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
done
case $N$HOLD$WARM in ''|*[!0-9]*) echo "bench-conns.sh: numbers wanted" >&2; exit 2 ;; esac

BIN=${RINGFETCHD:-build/rel/ringfetchd}
[ -x "$BIN" ] || make -s build/rel/ringfetchd

# descriptors: N sockets, plus the ring, logs, results and the URL file
need=$((N + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	echo "bench-conns.sh: the hard RLIMIT_NOFILE is $hard, $N connections need $need;" \
		"raise it (as root: ulimit -Hn $need, or LimitNOFILE=) or use --conns" >&2
	exit 1
fi
ulimit -n "$need"

[ -n "${BENCH_TMPDIR:-}" ] || { [ -d /dev/shm ] && [ -w /dev/shm ] && BENCH_TMPDIR=/dev/shm || BENCH_TMPDIR=/tmp; }
export BENCH_TMPDIR
. scripts/nginx.sh
bench_workdir rfconns

# Four listeners split the burst of connects over four accept queues
# (somaxconn is often 4096); each is a host of its own to the daemon.
$PY tests/server/rfserver.py --port 0 --ports 4 --port-file "$W/ports" \
	> "$W/server.out" 2>&1 &
SRV=$!
bench_cleanup_srv() { kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; bench_cleanup; }
trap bench_cleanup_srv EXIT
for _ in $(seq 100); do [ -s "$W/ports" ] && break; sleep 0.1; done
[ -s "$W/ports" ] || { echo "bench-conns.sh: rfserver did not start" >&2; cat "$W/server.out" >&2; exit 1; }
read -r -a PORTS < "$W/ports"
$PY - "$W/urls.txt" "$N" "$HOLD" "$WARM" "${PORTS[@]}" <<'PYEOF'
import sys
path, n, hold, warm = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ports = sys.argv[5:]
with open(path, "w") as f:
    for i in range(n if warm else 0):
        f.write("http://127.0.0.1:%s/size/%d?w=%d\n" % (ports[i % len(ports)], warm, i))
    for i in range(n):
        f.write("http://127.0.0.1:%s/delay/%s?n=%d\n" % (ports[i % len(ports)], hold, i))
PYEOF
TOTAL=$((WARM > 0 ? 2 * N : N))
echo "http://127.0.0.1:${PORTS[0]}/ok" > "$W/one.txt"

stats() { # KEY: a counter of the server's, all listeners
	curl -s "http://127.0.0.1:${PORTS[0]}/__stats?all=1" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

RF_ARGS=(--out "$W/out" -q --concurrency "$N" --per-host "$N"
	--set limits.per_host_rate=0 --set limits.adaptive=false
	--set "timeouts.first_byte=$((HOLD + 60000))ms"
	--set "timeouts.total=$((HOLD + 120000))ms" --set http.keepalive_idle=1s)

# the same daemon, one URL: what it costs before any connection
/usr/bin/time -f "%M" -o "$W/one.rss" "$BIN" --batch "$W/one.txt" "${RF_ARGS[@]}" ||
	{ echo "bench-conns.sh: one-URL run failed" >&2; exit 1; }
rm -rf "$W/out"
base=$(tail -n 1 "$W/one.rss")

t0=$(date +%s.%N)
"$BIN" --batch "$W/urls.txt" "${RF_ARGS[@]}" --summary-json "$W/summary.json" &
RF=$!
peak=0; peak_fl=0; max_fl=0; t_all=""
while kill -0 "$RF" 2>/dev/null; do
	fl=$(stats in_flight 2>/dev/null || echo 0)
	r=$(rss_kib "$RF")
	[ "$fl" -gt "$max_fl" ] && max_fl=$fl
	if [ "$fl" -ge "$N" ]; then
		[ -n "$t_all" ] || t_all=$(date +%s.%N)
		[ "$r" -gt "$peak" ] && peak=$r && peak_fl=$fl
	fi
	sleep 0.25
done
wait "$RF" && rc=0 || rc=$?
ok=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$W/summary.json" 2>/dev/null || echo "?")

echo "## Connections held: $N requests held ${HOLD} ms by rfserver, limits.concurrency $N"
echo
echo "machine: $(nproc) CPUs, kernel $(uname -r); ringfetchd: $BIN ($("$BIN" --version 2>&1 | head -1))"
echo "RLIMIT_NOFILE: soft $(ulimit -n), hard $hard"
echo "server: most requests in flight at once $max_fl of $N, connections accepted $(stats accepts_total);" \
	"ringfetchd exit $rc, ok records $ok of $TOTAL"
[ "$WARM" = 0 ] || echo "each connection first carried a $WARM-byte response"
if [ "$peak" = 0 ]; then
	echo "bench-conns.sh: the server never had all $N requests in flight: no figure" >&2
	exit 1
fi
echo "all $N in flight $($PY -c "print('%.1f' % ($t_all - $t0))") s after start"
echo
echo "| | RSS |"
echo "| --- | --- |"
echo "| one URL (peak) | $((base / 1024)) MiB |"
echo "| $peak_fl in flight (peak) | $((peak / 1024)) MiB |"
echo "| per connection, above one URL | $(( (peak - base) * 1024 / N )) bytes |"
[ "$ok" = "$TOTAL" ] || { echo "bench-conns.sh: $ok of $TOTAL records ok" >&2; exit 1; }
