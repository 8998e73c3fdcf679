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
. scripts/nginx.sh
[ -x "$BIN" ] || make -s build/rel/ringfetchd
bench_workdir rfrss
PORT=$(free_port)
mkdir -p "$W/www"
echo hello > "$W/www/ok"
nginx_start "$W" "	server { listen 127.0.0.1:$PORT; root $W/www; }"
wait_url "http://127.0.0.1:$PORT/ok"
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
