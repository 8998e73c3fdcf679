#!/bin/bash
# S2's CPU cost, builds side by side: 2,000 x 1 MiB (N) from a loopback
# nginx at concurrency 16, each ringfetchd build with SHA-256 and with
# output.hash: none, in turn, three rounds, so a neighbour's load falls on
# all alike. Prints MB/s and CPU (user + system, GNU time) per 1,000
# requests, i.e. per 1,000 MiB; on a shared machine compare the CPU.
#   scripts/s2-ab.sh LABEL=BINARY...
# e.g. scripts/s2-ab.sh base=build/rel/ringfetchd big=/tmp/rfbig/build/rel/ringfetchd
# Needs nginx and /usr/bin/time; only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ -n "${BENCH_TMPDIR:-}" ] || { [ -w /dev/shm ] && BENCH_TMPDIR=/dev/shm || BENCH_TMPDIR=/tmp; }
export BENCH_TMPDIR
. scripts/nginx.sh
bench_workdir rfab
mkdir -p "$W/www"
head -c 1048576 /dev/urandom > "$W/www/1m.bin"
PORT=$(free_port)
nginx_start "$W/ngx" "	keepalive_timeout 60s;
	sendfile on;
	tcp_nopush on;
	access_log off;
	server { listen 127.0.0.1:$PORT; root $W/www; }"
wait_url "http://127.0.0.1:$PORT/1m.bin"
N=${N:-2000}
$PY -c "
for i in range($N): print('http://127.0.0.1:$PORT/1m.bin?n=%d' % i)" > "$W/urls.txt"
for run in 1 2 3; do
	for spec in "$@"; do
		name=${spec%%=*} bin=${spec#*=}
		for h in sha256 none; do
			rm -rf "$W/out"
			/usr/bin/time -f "%e %U %S" -o "$W/t" "$bin" --batch "$W/urls.txt" \
				--out "$W/out" -q --concurrency 16 --per-host 16 \
				--set limits.per_host_rate=0 --set output.hash=$h >/dev/null 2>&1 || true
			read -r e u s < "$W/t"
			$PY -c "print('run $run %-8s %-7s %7.0f MB/s %7.1f CPU ms/1k' % ('$name', '$h', $N * 1.048576 / $e, ($u + $s) * 1e6 / $N))"
		done
	done
done
