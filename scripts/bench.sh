#!/bin/bash
# Side-by-side throughput on loopback: ringfetchd, curl --parallel and wrk
# (the ceiling) against one nginx worker serving a 4 KiB file. Each client
# runs RUNS times; medians are printed as requests/s and as ratios.
#   scripts/bench.sh [REQUESTS] [CONCURRENCY] [RUNS]
# Needs nginx-light, curl, wrk (scripts/install-deps.sh installs them) and a
# release build (make). Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
C=${2:-64}
RUNS=${3:-3}
BIN=${RINGFETCHD:-build/rel/ringfetchd}
PY=/usr/bin/python3
[ -x "$BIN" ] || make -s build/rel/ringfetchd
W=$(mktemp -d /tmp/rfbench.XXXXXX)
NGINX_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/www" "$W/logs"
chmod 755 "$W"	# the nginx worker runs as nobody
head -c 4096 /dev/urandom > "$W/www/4k.bin"
cat > "$W/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $W/nginx.pid;
error_log $W/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	sendfile on;
	tcp_nopush on;
	server {
		listen 127.0.0.1:$PORT;
		root $W/www;
	}
}
CONF
nginx -p "$W" -c "$W/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/4k.bin" && break
	sleep 0.1
done
URL="http://127.0.0.1:$PORT/4k.bin"
$PY -c "import sys; sys.stdout.write('$URL\n' * $N)" > "$W/urls.txt"
$PY -c "import sys; sys.stdout.write(('url = \"$URL\"\noutput = \"/dev/null\"\n') * $N)" > "$W/curl.cfg"

# Runs a command, prints "wall_s cpu_s" (cpu = user + system of the client).
timed() {
	$PY - "$@" <<'PYEOF'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if p.returncode not in (0, 1):
    sys.exit("%s exited %d" % (sys.argv[1], p.returncode))
w = time.monotonic() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f %.4f" % (w, r.ru_utime + r.ru_stime))
PYEOF
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS CPU
for run in $(seq "$RUNS"); do
	rm -rf "$W/out"
	read -r w c < <(timed "$BIN" --batch "$W/urls.txt" --out "$W/out" -q \
		--concurrency "$C" --per-host "$C")
	ok=$(grep -c '"ok":true' "$W/out/results.jsonl" || true)
	[ "$ok" -eq "$N" ] || { head -3 "$W/out/results.jsonl" >&2; echo "warning: ringfetchd: only $ok of $N ok" >&2; }
	echo "$N $w" | awk '{printf "%.0f\n", $1/$2}' >> "$W/rf.rps"
	echo "$c $N" | awk '{printf "%.1f\n", $1*1e6/$2}' >> "$W/rf.cpu"
	read -r w c < <(timed curl -s --parallel --parallel-max "$C" -K "$W/curl.cfg")
	echo "$N $w" | awk '{printf "%.0f\n", $1/$2}' >> "$W/curl.rps"
	echo "$c $N" | awk '{printf "%.1f\n", $1*1e6/$2}' >> "$W/curl.cpu"
	wrk -t1 -c"$C" -d5s "$URL" | awk '/Requests\/sec/ {printf "%.0f\n", $2}' >> "$W/wrk.rps"
done
rf=$(median < "$W/rf.rps"); cu=$(median < "$W/curl.rps"); wk=$(median < "$W/wrk.rps")
rfc=$(median < "$W/rf.cpu"); cuc=$(median < "$W/curl.cpu")
echo "loopback HTTP/1.1 keep-alive, 4 KiB body, $N requests, concurrency $C, median of $RUNS runs"
printf "%-22s %12s %14s %16s\n" client "requests/s" "vs ringfetchd" "CPU ms/1000 req"
printf "%-22s %12s %14s %16s\n" ringfetchd "$rf" "1.00" "$(echo "$rfc" | awk '{printf "%.1f", $1}')"
printf "%-22s %12s %14s %16s\n" "curl --parallel" "$cu" "$(echo "$cu $rf" | awk '{printf "%.2f", $1/$2}')" "$(echo "$cuc" | awk '{printf "%.1f", $1}')"
printf "%-22s %12s %14s %16s\n" "wrk -c$C (ceiling)" "$wk" "$(echo "$wk $rf" | awk '{printf "%.2f", $1/$2}')" "-"
echo "ringfetchd/curl = $(echo "$rf $cu" | awk '{printf "%.2f", $1/$2}'), ringfetchd/wrk = $(echo "$rf $wk" | awk '{printf "%.2f", $1/$2}')"
