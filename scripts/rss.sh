#!/bin/bash
# Peak RSS of a batch crawl of a long URL file against a loopback nginx:
# the URL file is read lazily and the queue is bounded, so the peak must not
# depend on the file's length.
#   scripts/rss.sh [LINES] [CONCURRENCY]      (default 1000000 256)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
C=${2:-256}
BIN=${RINGFETCHD:-build/rel/ringfetchd}
PY=/usr/bin/python3
[ -x "$BIN" ] || make -s build/rel/ringfetchd
W=$(mktemp -d /tmp/rfrss.XXXXXX)
NGINX_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/www" "$W/logs"
chmod 755 "$W"	# the nginx worker runs as nobody
echo hello > "$W/www/ok"
cat > "$W/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $W/nginx.pid;
error_log $W/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	server { listen 127.0.0.1:$PORT; root $W/www; }
}
CONF
nginx -p "$W" -c "$W/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/ok" && break
	sleep 0.1
done
# distinct URLs, so nothing can be deduplicated or cached away
$PY -c "
import sys
w = sys.stdout.write
for i in range($N):
    w('http://127.0.0.1:$PORT/ok?n=%d\n' % i)
" > "$W/urls.txt"
/usr/bin/time -f "%M" -o "$W/maxrss" "$BIN" --batch "$W/urls.txt" \
	--out "$W/out" -q --concurrency "$C" --per-host "$C" \
	--summary-json "$W/summary.json" || true
lines=$(wc -l < "$W/out/results.jsonl")
echo "$N URLs ($(du -h "$W/urls.txt" | cut -f1) file), concurrency $C: $lines records," \
	"peak RSS $(( $(tail -n 1 "$W/maxrss") / 1024 )) MiB"
cat "$W/summary.json"
