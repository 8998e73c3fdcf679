#!/bin/bash
# Side-by-side throughput on loopback: ringfetchd, curl --parallel and wrk
# (the ceiling) against one nginx worker serving a 4 KiB file. Each client
# runs RUNS times; medians are printed as requests/s and as ratios.
#   scripts/bench.sh [REQUESTS] [CONCURRENCY] [RUNS]
# RF_BENCH_HTTP=0 or RF_BENCH_TLS=0 skips the plain or the HTTPS part;
# TLS_REQUESTS (5000) sizes the HTTPS runs, TLS_RUNS (max(RUNS, 5)) counts
# them.
# Needs nginx-light, curl, wrk (scripts/install-deps.sh installs them) and a
# release build (make). Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
C=${2:-64}
RUNS=${3:-3}
BIN=${RINGFETCHD:-build/rel/ringfetchd}
. scripts/nginx.sh
[ -x "$BIN" ] || make -s build/rel/ringfetchd
bench_workdir rfbench
PORT=$(free_port)
mkdir -p "$W/www"
head -c 4096 /dev/urandom > "$W/www/4k.bin"
nginx_start "$W" "	keepalive_timeout 60s;
	sendfile on;
	tcp_nopush on;
	server { listen 127.0.0.1:$PORT; root $W/www; }"
wait_url "http://127.0.0.1:$PORT/4k.bin"
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

if [ "${RF_BENCH_HTTP:-1}" = 1 ]; then
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
fi

# ---- HTTPS: the same 4 KiB file over TLS, keep-alive and Connection: close.
# A second nginx serves a certificate from a CA generated here; a failure
# in this part is reported without failing the HTTP figures above.
TLS_N=${TLS_REQUESTS:-5000}
# A 5,000-request run lasts ~0.15 s, so one scheduling hiccup moves it by
# 10%: the HTTPS part takes more runs, and wrk (the ceiling) shorter ones.
TLS_RUNS=${TLS_RUNS:-$((RUNS > 5 ? RUNS : 5))}

tls_setup() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$W/ca.key" -out "$W/ca.pem" -days 2 -subj /CN=rfbench-ca \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$W/srv.key" -out "$W/srv.csr" -subj /CN=localhost 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$W/srv.ext"
	openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
		-CAcreateserial -days 2 -extfile "$W/srv.ext" -out "$W/srv.pem" 2>/dev/null
	KPORT=$(free_port)
	CPORT=$(free_port)
	nginx_start "$W/tls" "	sendfile on;
	ssl_certificate $W/srv.pem;
	ssl_certificate_key $W/srv.key;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_session_cache shared:rfbench:10m;
	server {
		listen 127.0.0.1:$KPORT ssl;
		keepalive_timeout 60s;
		root $W/www;
	}
	server {
		listen 127.0.0.1:$CPORT ssl;
		keepalive_timeout 0;
		root $W/www;
	}"
	wait_url "https://127.0.0.1:$KPORT/4k.bin" --cacert "$W/ca.pem" &&
		return 0
	echo "warning: nginx over TLS did not start" >&2
	return 1
}

# tls_scenario NAME PORT: ringfetchd, curl --parallel and wrk, RUNS times.
tls_scenario() {
	local name=$1 port=$2 url="https://127.0.0.1:$2/4k.bin" run w c ok
	$PY -c "import sys; sys.stdout.write('$url\n' * $TLS_N)" > "$W/tls/urls.txt"
	$PY -c "import sys; sys.stdout.write(('url = \"$url\"\noutput = \"/dev/null\"\n') * $TLS_N)" > "$W/tls/curl.cfg"
	rm -f "$W"/tls/*.rps "$W"/tls/*.cpu
	for run in $(seq "$TLS_RUNS"); do
		rm -rf "$W/tls/out"
		read -r w c < <(timed "$BIN" --batch "$W/tls/urls.txt" --out "$W/tls/out" -q \
			--concurrency "$C" --per-host "$C" --set "tls.ca_file=$W/ca.pem")
		ok=$(grep -c '"ok":true' "$W/tls/out/results.jsonl" || true)
		[ "$ok" -eq "$TLS_N" ] || { grep -o '"error_detail":"[^"]*"' "$W/tls/out/results.jsonl" | sort | uniq -c | head -3 >&2; echo "warning: ringfetchd: only $ok of $TLS_N ok" >&2; }
		[ "$run" = 1 ] && RESUMED=$(grep -c '"resumed":true' "$W/tls/out/results.jsonl" || true)
		echo "$TLS_N $w" | awk '{printf "%.0f\n", $1/$2}' >> "$W/tls/rf.rps"
		echo "$c $TLS_N" | awk '{printf "%.1f\n", $1*1e6/$2}' >> "$W/tls/rf.cpu"
		read -r w c < <(timed curl -s --cacert "$W/ca.pem" --parallel --parallel-max "$C" -K "$W/tls/curl.cfg")
		echo "$TLS_N $w" | awk '{printf "%.0f\n", $1/$2}' >> "$W/tls/curl.rps"
		echo "$c $TLS_N" | awk '{printf "%.1f\n", $1*1e6/$2}' >> "$W/tls/curl.cpu"
		wrk -t1 -c"$C" -d3s "$url" | awk '/Requests\/sec/ {printf "%.0f\n", $2}' >> "$W/tls/wrk.rps"
	done
	local rf cu wk rfc cuc
	rf=$(median < "$W/tls/rf.rps"); cu=$(median < "$W/tls/curl.rps"); wk=$(median < "$W/tls/wrk.rps")
	rfc=$(median < "$W/tls/rf.cpu"); cuc=$(median < "$W/tls/curl.cpu")
	echo
	echo "loopback HTTPS ($name), 4 KiB body, $TLS_N requests, concurrency $C, median of $TLS_RUNS runs"
	echo "ringfetchd records with tls.resumed true (first run): $RESUMED of $TLS_N"
	printf "%-22s %12s %14s %16s\n" client "requests/s" "vs ringfetchd" "CPU ms/1000 req"
	printf "%-22s %12s %14s %16s\n" ringfetchd "$rf" "1.00" "$(echo "$rfc" | awk '{printf "%.1f", $1}')"
	printf "%-22s %12s %14s %16s\n" "curl --parallel" "$cu" "$(echo "$cu $rf" | awk '{printf "%.2f", $1/$2}')" "$(echo "$cuc" | awk '{printf "%.1f", $1}')"
	printf "%-22s %12s %14s %16s\n" "wrk -c$C" "$wk" "$(echo "$wk $rf" | awk '{printf "%.2f", $1/$2}')" "-"
	echo "ringfetchd/curl = $(echo "$rf $cu" | awk '{printf "%.2f", $1/$2}'), ringfetchd/wrk = $(echo "$rf $wk" | awk '{printf "%.2f", $1/$2}')"
	echo "each run, requests/s: ringfetchd $(paste -sd' ' "$W/tls/rf.rps"); curl $(paste -sd' ' "$W/tls/curl.rps"); wrk $(paste -sd' ' "$W/tls/wrk.rps")"
}

if [ "${RF_BENCH_TLS:-1}" = 1 ]; then
	if tls_setup; then
		tls_scenario "keep-alive" "$KPORT" || echo "warning: HTTPS keep-alive scenario failed" >&2
		tls_scenario "Connection: close, a handshake per request" "$CPORT" ||
			echo "warning: HTTPS close scenario failed" >&2
	fi
fi
