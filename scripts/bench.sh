#!/bin/bash
# Side-by-side throughput on loopback (issue 14, item 5): ringfetchd against
# the peers curl --parallel and wget2 and the ceilings wrk and h2load, in
# five scenarios, one Markdown table each:
#   S1  small files: 20,000 x 4 KiB, one nginx worker, concurrency 64
#   S2  large files: 2,000 x 1 MiB, concurrency 16
#   S3  20 hosts: 127.0.0.2-127.0.0.21 x 1,000 URLs, per-host 4, concurrency 64
#   S4  a 100 ms server: 2,000 URLs, concurrency 200 (ideal: 1 s), served by
#       tests/server/rfserver.py's /delay/100 (nginx-light cannot delay)
#   S5  HTTPS, 4 KiB, concurrency 64: keep-alive (20,000 requests) and
#       Connection: close (5,000; a handshake per request)
#
#   scripts/bench.sh [--only S1,S3] [--runs N]
#   scripts/bench.sh --scale [--runs N] [--nginx-workers W] [--only ...]
#   scripts/bench.sh --fleet [--jobs N] [--runs N]
#
# Every client runs RUNS times (default 3), the order of the clients
# rotating from run to run so that a neighbour's load falls on all of them
# alike; each run's figures are printed as it ends, the tables give
# medians. Figures: requests/s, MB/s (bodies), CPU ms per 1,000 requests
# and peak RSS of the client (wait4 rusage: user + system, ru_maxrss), the
# server's CPU per 1,000 requests, ratios to curl and wrk. Success is
# counted at the server (nginx's access log, rfserver's counters) for every
# client; a run short of its count is marked SHORT.
#
# --fleet runs only the fleet scenario (SPEC "Fleet", issue 15): three
# ringfetchd daemons fed through one redis-server on loopback, N jobs
# (default 20,000) of 4 KiB over 20 hosts (127.0.0.2-21, nginx), pushed
# with XADD into their partitions; jobs/s end to end (first XADD to last
# record) and the Redis CPU per 1,000 jobs (scripts/fleetbench.py; needs
# redis-server and python3-redis, not curl or wrk).
#
# --scale runs S1, S2 and S5 with nginx given W workers (default half the
# CPUs, at least 1) and ringfetchd with limits.workers K = 1, 2, 4, ... up
# to the number of CPUs; wrk and h2load get the CPUs nginx leaves.
#
# BENCH_SHA256_PORTABLE=1 adds a ringfetchd row that hashes with the portable
# C code (RINGFETCH_SHA256=portable), as on a CPU without SHA extensions.
#
# Needs nginx-light, curl, wrk, openssl, wget2 and h2load (nghttp2-client)
# (scripts/install-deps.sh installs them; wget2 or h2load missing: their rows
# are left out) and a release build (make). Work files go to /dev/shm
# (BENCH_TMPDIR overrides). Only 127.0.0.0/8 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3
ONLY=""
SCALE=0
FLEET=0
FLEET_JOBS=20000
NGX_W=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--only) ONLY=$2; shift 2 ;;
	--only=*) ONLY=${1#*=}; shift ;;
	--runs) RUNS=$2; shift 2 ;;
	--runs=*) RUNS=${1#*=}; shift ;;
	--scale) SCALE=1; shift ;;
	--fleet) FLEET=1; shift ;;
	--jobs) FLEET_JOBS=$2; shift 2 ;;
	--jobs=*) FLEET_JOBS=${1#*=}; shift ;;
	--nginx-workers) NGX_W=$2; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
done
case $RUNS in ''|*[!0-9]*|0) echo "bench.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $FLEET_JOBS in ''|*[!0-9]*|0) echo "bench.sh: --jobs wants a positive number" >&2; exit 2 ;; esac

BIN=${RINGFETCHD:-build/rel/ringfetchd}
WRK_SECONDS=${WRK_SECONDS:-3}
NCPU=$(nproc)
if [ "$SCALE" = 1 ]; then
	NGINX_WORKERS=${NGX_W:-$((NCPU / 2 > 1 ? NCPU / 2 : 1))}
	[ -n "$ONLY" ] || ONLY=S1,S2,S5
else
	NGINX_WORKERS=${NGX_W:-1}
	[ -n "$ONLY" ] || ONLY=S1,S2,S3,S4,S5
fi
export NGINX_WORKERS
# threads for wrk and h2load: the CPUs the server leaves, at least one
LT=$((NCPU - NGINX_WORKERS > 1 ? NCPU - NGINX_WORKERS : 1))
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

if [ "$FLEET" = 1 ]; then
	NEED="nginx curl"
	[ -x /usr/bin/redis-server ] || { echo "bench.sh: --fleet needs redis-server (apt-get install redis-server)" >&2; exit 1; }
	/usr/bin/python3 -c 'import redis' 2>/dev/null || { echo "bench.sh: --fleet needs python3-redis" >&2; exit 1; }
else
	NEED="nginx curl wrk openssl"
fi
for t in $NEED; do
	command -v "$t" >/dev/null || { echo "bench.sh: $t is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
HAVE_WGET2=1; HAVE_H2LOAD=1
if [ "$FLEET" = 0 ]; then
	command -v wget2 >/dev/null || { HAVE_WGET2=0; echo "bench.sh: wget2 missing: its rows are left out" >&2; }
	command -v h2load >/dev/null || { HAVE_H2LOAD=0; echo "bench.sh: h2load missing: its rows are left out" >&2; }
fi
[ -x "$BIN" ] || make -s build/rel/ringfetchd

[ -n "${BENCH_TMPDIR:-}" ] || { [ -d /dev/shm ] && [ -w /dev/shm ] && BENCH_TMPDIR=/dev/shm || BENCH_TMPDIR=/tmp; }
export BENCH_TMPDIR
. scripts/nginx.sh
bench_workdir rfbench
RES=$W/results.jsonl
: > "$RES"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ringfetchd variants: the defaults, and output.hash: none when this build
# knows the key (another change adds it).
HASH_NONE=0
"$BIN" --check-config --set output.hash=none >/dev/null 2>&1 && HASH_NONE=1
RF_COMMON=()
"$BIN" --check-config --set limits.per_host_rate=0 >/dev/null 2>&1 &&
	RF_COMMON+=(--set limits.per_host_rate=0)
# BENCH_RF_SET="k=v k2=v2": more --set for every ringfetchd row (A/B runs)
for kv in ${BENCH_RF_SET:-}; do RF_COMMON+=(--set "$kv"); done

echo "## ringfetch benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "machine: $NCPU CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
echo "ringfetchd: $BIN ($("$BIN" --version 2>&1 | head -1)); runs $RUNS, medians"
[ "$FLEET" = 1 ] || echo "peers: $(curl --version | head -1 | cut -d' ' -f1-2), $( [ $HAVE_WGET2 = 1 ] && wget2 --version | head -1 | cut -d' ' -f1-3 || echo 'no wget2'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $( [ $HAVE_H2LOAD = 1 ] && h2load --version || echo 'no h2load'), $(nginx -v 2>&1 | cut -d' ' -f3) with $NGINX_WORKERS worker(s)"
if [ $HASH_NONE = 1 ]; then
	echo "output.hash=none: accepted by this ringfetchd, so it gets a row of its own"
else
	echo "output.hash=none: not accepted by this ringfetchd (ringfetchd --check-config --set output.hash=none fails), so every ringfetchd row hashes (SHA-256)"
fi
if [ "$SCALE" = 1 ]; then
	echo "scale: limits.workers may not change anything yet: worker rings are another change (issue 14 item 1)"
fi
echo "work files: $W"

# ---- servers ---------------------------------------------------------------
mkdir -p "$W/www"
head -c 4096 /dev/urandom > "$W/www/4k.bin"
head -c 1048576 /dev/urandom > "$W/www/1m.bin"
PORT=$(free_port)
LISTEN=""
for i in $(seq 1 21); do LISTEN="$LISTEN		listen 127.0.0.$i:$PORT;
"; done
# The access log ('$status $body_bytes_sent', one line a request) is how
# success is counted at the server, for every client alike.
nginx_start "$W/http" "	log_format bench '\$status \$body_bytes_sent';
	keepalive_timeout 60s;
	sendfile on;
	tcp_nopush on;
	server {
$LISTEN		root $W/www;
		access_log $W/http/access.log bench;
	}"
NGX_HTTP=${NGINX_PIDS##* }
wait_url "http://127.0.0.1:$PORT/4k.bin" && wait_url "http://127.0.0.21:$PORT/4k.bin" ||
	{ echo "bench.sh: nginx did not start" >&2; cat "$W/http/logs/error.log" >&2; exit 1; }

# ---- the fleet scenario (--fleet): its own driver, then done ---------------
if [ "$FLEET" = 1 ]; then
	echo "fleet: 3 daemons, one redis-server ($(/usr/bin/redis-server --version | cut -d' ' -f3)), $FLEET_JOBS jobs"
	$PY scripts/fleetbench.py --bin "$BIN" --port "$PORT" --work "$W" \
		--jobs "$FLEET_JOBS" --runs "$RUNS"
	exit $?
fi

# gen_urls FILE N BASE...: N distinct URLs (a query string each: no client
# may deduplicate them away; wget2 would) over the BASEs in turn.
gen_urls() {
	$PY - "$@" <<'PYEOF'
import sys
path, n, bases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with open(path, "w") as f:
    for i in range(n):
        f.write("%s?n=%d\n" % (bases[i % len(bases)], i))
with open(path + ".curl", "w") as f:
    for i in range(n):
        f.write('url = "%s?n=%d"\noutput = "/dev/null"\n' % (bases[i % len(bases)], i))
PYEOF
}

# ---- clients ---------------------------------------------------------------
# A scenario sets: SC (name), N, C (concurrency), PH (per host), SIZE (body
# bytes), URLS (file; URLS.curl is curl's config), URL (for wrk/h2load),
# CHECK (nginx:LOG or rfserver:URL), SRV (server PID), TLS (0/1), CLIENTS.
one() {
	local client=$1 run=$2
	shift 2
	$PY scripts/benchrun.py run --results "$RES" --scenario "$SC" \
		--client "$client" --run "$run" --expect "$N" --size "$SIZE" \
		--check "$CHECK" --srv-pid "$SRV" "$@"
}
RF_ENV=() # a command prefix for ringfetchd rows, e.g. (env K=V)
tls_args_rf() { [ "$TLS" = 1 ] && echo "--set tls.ca_file=$W/ca.pem" || true; }
c_rf() { # c_rf RUN [LABEL_SUFFIX [--set k=v ...]]
	local run=$1 label=ringfetchd
	shift
	if [ $# -gt 0 ]; then label="ringfetchd $1"; shift; fi
	rm -rf "$W/out" "$W/summary.json"
	# shellcheck disable=SC2046
	one "$label" "$run" --summary "$W/summary.json" -- "${RF_ENV[@]}" "$BIN" --batch "$URLS" \
		--out "$W/out" -q --concurrency "$C" --per-host "$PH" \
		--summary-json "$W/summary.json" "${RF_COMMON[@]}" $(tls_args_rf) "$@"
	if [ "$TLS" = 1 ]; then
		echo "        (tls.resumed true in $(grep -c '"resumed":true' "$W/out/results.jsonl" || true) of $N records)"
	fi
}
c_rf_nohash() { c_rf "$1" "output.hash=none" --set output.hash=none; }
# BENCH_SHA256_PORTABLE=1: a row hashing with the portable C code, as a CPU
# without the SHA extensions would (sha256.c's RINGFETCH_SHA256 switch)
c_rf_portable() {
	RF_ENV=(env RINGFETCH_SHA256=portable)
	c_rf "$1" "RINGFETCH_SHA256=portable"
	RF_ENV=()
}
c_curl() {
	local tls=()
	[ "$TLS" = 1 ] && tls=(--cacert "$W/ca.pem")
	one "curl --parallel" "$1" -- curl -s "${tls[@]}" --parallel \
		--parallel-max "$C" -K "$URLS.curl"
}
c_wget2() {
	local tls=()
	[ "$TLS" = 1 ] && tls=(--ca-certificate="$W/ca.pem" --no-http2 --no-ocsp)
	one "wget2" "$1" -- wget2 --no-config -q --max-threads="$C" --tries=1 \
		--no-robots --no-hsts --no-hpkp --no-tcp-fastopen "${tls[@]}" \
		-i "$URLS" -O /dev/null
}
c_wrk() {
	one "wrk -t$WRK_T -c$WRK_C" "$1" --parse wrk -- wrk -t"$WRK_T" -c"$WRK_C" \
		-d"${WRK_SECONDS}s" "${WRK_EXTRA[@]}" "$URL"
}
c_h2load() {
	if [ -n "${H2_MULTI:-}" ]; then
		# shellcheck disable=SC2086
		one "h2load --h1 (20 processes, -c4 each)" "$1" --parse h2load -- $H2_MULTI
	else
		local t=$((LT < C ? LT : C))
		one "h2load --h1 -t$t -c$C" "$1" --parse h2load -- h2load --h1 \
			-n "$N" -c "$C" -t "$t" "$URL"
	fi
}

# run_scenario TITLE: every client RUNS times, rotating the order.
run_scenario() {
	local title=$1 run i k n=${#CLIENTS[@]}
	echo
	echo "### $SC: $title"
	for run in $(seq "$RUNS"); do
		for ((i = 0; i < n; i++)); do
			k=$(((i + run - 1) % n))
			# shellcheck disable=SC2086
			${CLIENTS[$k]} "$run" || echo "  warning: ${CLIENTS[$k]} failed" >&2
			sleep 0.2
		done
	done
	TITLES+=("$SC|$title")
}

# default_clients: ringfetchd (and output.hash=none), then the peers
default_clients() {
	CLIENTS=(c_rf)
	[ $HASH_NONE = 1 ] && CLIENTS+=(c_rf_nohash)
	[ "${BENCH_SHA256_PORTABLE:-0}" = 1 ] && CLIENTS+=(c_rf_portable)
	if [ "$SCALE" = 1 ]; then
		local k=1
		CLIENTS=()
		while [ $k -lt "$NCPU" ]; do
			eval "c_rf_w$k() { c_rf \"\$1\" limits.workers=$k --set limits.workers=$k; }"
			CLIENTS+=("c_rf_w$k")
			k=$((k * 2))
		done
		eval "c_rf_w$NCPU() { c_rf \"\$1\" limits.workers=$NCPU --set limits.workers=$NCPU; }"
		CLIENTS+=("c_rf_w$NCPU")
	fi
	CLIENTS+=(c_curl)
	[ $HAVE_WGET2 = 1 ] && CLIENTS+=(c_wget2)
	CLIENTS+=(c_wrk)
	[ $HAVE_H2LOAD = 1 ] && CLIENTS+=(c_h2load)
	WRK_EXTRA=()
	WRK_T=$((LT < C ? LT : C)) # wrk and h2load want threads <= connections
	WRK_C=$C
	H2_MULTI=""
}

TITLES=()
TLS=0
SRV=$NGX_HTTP
CHECK="nginx:$W/http/access.log"

if want S1; then
	SC=S1 N=${S1_N:-20000} C=64 PH=64 SIZE=4096 URL="http://127.0.0.1:$PORT/4k.bin"
	URLS=$W/s1.txt
	gen_urls "$URLS" "$N" "$URL"
	default_clients
	run_scenario "small files, $N x 4 KiB, concurrency $C, keep-alive, nginx $NGINX_WORKERS worker(s)"
fi

if want S2; then
	SC=S2 N=${S2_N:-2000} C=16 PH=16 SIZE=1048576 URL="http://127.0.0.1:$PORT/1m.bin"
	URLS=$W/s2.txt
	gen_urls "$URLS" "$N" "$URL"
	default_clients
	run_scenario "large files, $N x 1 MiB, concurrency $C, keep-alive, nginx $NGINX_WORKERS worker(s)"
fi

if want S3 && [ "$SCALE" = 0 ]; then
	SC=S3 N=${S3_N:-20000} C=64 PH=4 SIZE=4096 URL="http://127.0.0.2:$PORT/4k.bin"
	URLS=$W/s3.txt
	bases=()
	for i in $(seq 2 21); do bases+=("http://127.0.0.$i:$PORT/4k.bin"); done
	gen_urls "$URLS" "$N" "${bases[@]}"
	default_clients
	# wrk: one thread per host (thread.addr), 4 connections each
	cat > "$W/s3.lua" <<LUA
local n = 0
function setup(thread)
	n = n + 1
	thread.addr = wrk.lookup("127.0.0." .. (n + 1), "$PORT")[1]
end
LUA
	WRK_T=20 WRK_C=80 WRK_EXTRA=(-s "$W/s3.lua")
	# h2load takes one host: one process per host, 4 connections each
	H2_MULTI=""
	for i in $(seq 2 21); do
		[ -n "$H2_MULTI" ] && H2_MULTI="$H2_MULTI ::"
		H2_MULTI="$H2_MULTI h2load --h1 -n $((N / 20)) -c 4 -t 1 http://127.0.0.$i:$PORT/4k.bin"
	done
	run_scenario "20 hosts (127.0.0.2-21), $((N / 20)) URLs each (interleaved), per-host $PH, concurrency $C; curl and wget2 have no per-host cap; wrk and h2load: 4 connections per host (80)"
fi

if want S4 && [ "$SCALE" = 0 ]; then
	mkdir -p "$W/rfs"
	$PY tests/server/rfserver.py --port 0 --port-file "$W/rfs/port" > "$W/rfs/log" 2>&1 &
	RFS_PID=$!
	NGINX_PIDS="$NGINX_PIDS $RFS_PID" # stopped by PID at exit with nginx
	for _ in $(seq 50); do [ -s "$W/rfs/port" ] && break; sleep 0.1; done
	RPORT=$(tr -d ' \n' < "$W/rfs/port")
	SC=S4 N=${S4_N:-2000} C=200 PH=200 SIZE=2 URL="http://127.0.0.1:$RPORT/delay/100"
	URLS=$W/s4.txt
	gen_urls "$URLS" "$N" "$URL"
	default_clients
	CHECK="rfserver:http://127.0.0.1:$RPORT" SRV=$RFS_PID
	run_scenario "a 100 ms server (tests/server/rfserver.py /delay/100, one Python thread), $N URLs, concurrency $C, ideal $((N / C / 10)) s = $((C * 10)) requests/s"
	CHECK="nginx:$W/http/access.log" SRV=$NGX_HTTP
fi

if want S5; then
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
	nginx_start "$W/tls" "	log_format bench '\$status \$body_bytes_sent';
	sendfile on;
	ssl_certificate $W/srv.pem;
	ssl_certificate_key $W/srv.key;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_session_cache shared:rfbench:10m;
	server {
		listen 127.0.0.1:$KPORT ssl;
		keepalive_timeout 60s;
		root $W/www;
		access_log $W/tls/access.log bench;
	}
	server {
		listen 127.0.0.1:$CPORT ssl;
		keepalive_timeout 0;
		root $W/www;
		access_log $W/tls/access.log bench;
	}"
	NGX_TLS=${NGINX_PIDS##* }
	if wait_url "https://127.0.0.1:$KPORT/4k.bin" --cacert "$W/ca.pem"; then
		TLS=1 SRV=$NGX_TLS CHECK="nginx:$W/tls/access.log"
		SC=S5ka N=${S5_N:-20000} C=64 PH=64 SIZE=4096 URL="https://127.0.0.1:$KPORT/4k.bin"
		URLS=$W/s5ka.txt
		gen_urls "$URLS" "$N" "$URL"
		default_clients
		run_scenario "HTTPS keep-alive, $N x 4 KiB, concurrency $C, nginx $NGINX_WORKERS worker(s), EC P-256 certificate"
		SC=S5close N=${S5_CLOSE_N:-5000} URL="https://127.0.0.1:$CPORT/4k.bin"
		URLS=$W/s5close.txt
		gen_urls "$URLS" "$N" "$URL"
		default_clients
		run_scenario "HTTPS Connection: close (keepalive_timeout 0: a handshake per request), $N x 4 KiB, concurrency $C"
		TLS=0
	else
		echo "warning: nginx over TLS did not start: S5 left out" >&2
	fi
fi

echo
echo "## Tables (medians of $RUNS runs)"
for t in "${TITLES[@]}"; do
	$PY scripts/benchrun.py table --results "$RES" --scenario "${t%%|*}" \
		--title "${t%%|*}: ${t#*|}"
done
