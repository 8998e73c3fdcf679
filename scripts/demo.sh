#!/bin/sh
# make demo: start the project's test server on loopback, crawl a small
# sample list with ringfetchd, print the summary and where the records are,
# stop the server. Only 127.0.0.1 is contacted.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/rel/ringfetchd}
PY=/usr/bin/python3
OUT=${DEMO_OUT:-./ringfetch-demo}
W=$(mktemp -d /tmp/rfdemo.XXXXXX)
$PY tests/server/rfserver.py --port 0 --ports 2 --port-file "$W/ports" \
	>/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$W"' EXIT INT TERM
for _ in $(seq 100); do
	[ -s "$W/ports" ] && break
	sleep 0.1
done
set -- $(cat "$W/ports")
A="http://127.0.0.1:$1"
B="http://127.0.0.1:$2"
cat > "$W/urls.txt" <<URLS
# a sample crawl: plain, chunked, redirected, retried and failing URLs
$A/ok
$A/size/65536
$A/chunked/100000?chunks=10
$A/redirect-chain/3
$B/flaky/demo/2
$B/retry-after/503/1
$B/status/404
$B/slow-first-byte/100
not a url
URLS
for i in $(seq 1 200); do echo "$A/size/$i"; echo "$B/ok?n=$i"; done >> "$W/urls.txt"
echo "demo: crawling $(grep -vc '^#' "$W/urls.txt") URLs from a local test server"
rc=0
"$BIN" --batch "$W/urls.txt" --out "$OUT" --set retry.backoff_base=100ms || rc=$?
echo "demo: exit status $rc (1 = some jobs failed, as some of these URLs must)"
echo "demo: one JSON record per URL in $OUT/results.jsonl, e.g.:"
head -n 1 "$OUT/results.jsonl"
