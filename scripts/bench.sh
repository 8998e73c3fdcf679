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
#   scripts/bench.sh [--only S1,S3] [--runs N] [--timeout SECONDS]
#   scripts/bench.sh --scale [--runs N] [--budget MINUTES] [--nginx-workers W]
#                    [--only S1,S2,S5]
#   scripts/bench.sh --fleet [--jobs N] [--runs N]
#
# Every client runs RUNS times (default 3), the order of the clients
# rotating from run to run so that a neighbour's load falls on all of them
# alike; each run's figures are printed as it ends, the tables give
# medians. Figures: requests/s, MB/s (bodies), CPU ms per 1,000 requests
# and peak RSS of the client (wait4 rusage: user + system, ru_maxrss), the
# server's CPU per 1,000 requests, ratios to curl and wrk. Success is
# counted at the server (nginx's access log, rfserver's counters) for every
# client; a run short of its count is marked SHORT, and so is a client
# killed after --timeout seconds (default 300: nothing can hang a run).
#
# ringfetchd's rows name the limits.workers they ran with ("auto=N" is
# the default, as many workers as CPUs; BENCH_RF_SET may set it). S2 has
# three more ringfetchd rows for issue 14's done-when: limits.workers=1
# and limits.workers=2 with SHA-256 (the second is the target row; the
# first, one thread, is this run's own baseline) and output.hash=none
# (compared with wrk's MB/s). The run ends with the done-when checks
# against its medians. Each ringfetchd run's peak thread count is printed
# with its figures ("threads N").
#
# --fleet runs only the fleet scenario (SPEC "Fleet", issue 15): three
# ringfetchd daemons fed through one redis-server on loopback, N jobs
# (default 20,000) of 4 KiB over 20 hosts (127.0.0.2-21, nginx), pushed
# with XADD into their partitions; jobs/s end to end (first XADD to last
# record) and the Redis CPU per 1,000 jobs (scripts/fleetbench.py; needs
# redis-server and python3-redis, not curl or wrk).
#
# --scale runs S1, S2 and S5 (keep-alive and Connection: close) for each
# K = 1, 2, 4, ... up to the number of CPUs (nproc, always included):
# nginx restarted with W = K worker processes (--nginx-workers W pins W),
# then ringfetchd with limits.workers K and wrk with K threads (at most
# the connections) against it; one Markdown table per scenario, a row per
# K: requests/s, MB/s, CPU ms per 1,000 requests, peak RSS, peak threads,
# wrk's requests/s at the same nginx worker count, the ratio to it and the
# speed-up over K = 1. Runs go round every K before the next run starts;
# a run is not started when the time taken so far says it would end after
# --budget minutes (default 10), so the tables may hold fewer runs than
# --runs (they say so). 178 s with 3 runs on 2 CPUs (a shared machine,
# load average 2 to 5).
#
# BENCH_SHA256_PORTABLE=1 adds a ringfetchd row that hashes with the portable
# C code (RINGFETCH_SHA256=portable), as on a CPU without SHA extensions.
#
# Needs nginx-light, curl, wrk, openssl, python3 and GNU time (peak RSS),
# plus wget2 and h2load (nghttp2-client) for their rows (left out when
# missing; --scale needs neither), and a release build (make; built here
# when missing). Every missing tool is named with its Debian package before
# anything runs; scripts/install-deps.sh (as root) installs them all. Work
# files go to /dev/shm (BENCH_TMPDIR overrides). Only 127.0.0.0/8 is
# contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
# nginx lives in /usr/sbin, which a non-root PATH may lack
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac

RUNS=""
ONLY=""
SCALE=0
FLEET=0
FLEET_JOBS=20000
NGX_W=""
BUDGET_MIN=10
TIMEOUT=300
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
	--nginx-workers=*) NGX_W=${1#*=}; shift ;;
	--budget) BUDGET_MIN=$2; shift 2 ;;
	--budget=*) BUDGET_MIN=${1#*=}; shift ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
done
posint() { case $2 in ''|*[!0-9]*|0) echo "bench.sh: $1 wants a positive number, not '$2'" >&2; exit 2 ;; esac; }
RUNS=${RUNS:-3}
posint --runs "$RUNS"
posint --jobs "$FLEET_JOBS"
posint --budget "$BUDGET_MIN"
posint --timeout "$TIMEOUT"
[ -z "$NGX_W" ] || posint --nginx-workers "$NGX_W"
[ "$SCALE" = 1 ] && [ "$FLEET" = 1 ] && { echo "bench.sh: --scale and --fleet are separate runs" >&2; exit 2; }

BIN=${RINGFETCHD:-build/rel/ringfetchd}
WRK_SECONDS=${WRK_SECONDS:-3}
NCPU=$(nproc)
if [ "$SCALE" = 1 ]; then
	[ -n "$ONLY" ] || ONLY=S1,S2,S5
	for s in ${ONLY//,/ }; do
		case $s in S1|S2|S5) ;; *) echo "bench.sh: --scale runs S1, S2 and S5, not $s" >&2; exit 2 ;; esac
	done
	# K = 1, 2, 4, ... and the number of CPUs itself
	SCALE_KS=""
	k=1
	while [ $k -lt "$NCPU" ]; do SCALE_KS="$SCALE_KS $k"; k=$((k * 2)); done
	SCALE_KS="$SCALE_KS $NCPU"
	NGINX_WORKERS=${NGX_W:-1}
else
	NGINX_WORKERS=${NGX_W:-1}
	[ -n "$ONLY" ] || ONLY=S1,S2,S3,S4,S5
fi
export NGINX_WORKERS
# threads for wrk and h2load: the CPUs the server leaves, at least one
LT=$((NCPU - NGINX_WORKERS > 1 ? NCPU - NGINX_WORKERS : 1))
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

# ---- what this run needs: every missing tool named, with its package --------
# tool:package pairs
if [ "$FLEET" = 1 ]; then
	NEED="nginx:nginx-light curl:curl /usr/bin/python3:python3 /usr/bin/redis-server:redis-server"
elif [ "$SCALE" = 1 ]; then
	NEED="nginx:nginx-light curl:curl wrk:wrk /usr/bin/python3:python3"
	want S5 && NEED="$NEED openssl:openssl"
else
	NEED="nginx:nginx-light curl:curl wrk:wrk openssl:openssl /usr/bin/python3:python3"
fi
missing="" pkgs=""
for tp in $NEED; do
	command -v "${tp%%:*}" >/dev/null 2>&1 ||
		{ missing="$missing ${tp%%:*}"; pkgs="$pkgs ${tp#*:}"; }
done
if [ "$FLEET" = 1 ] && [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import redis' 2>/dev/null; then
	missing="$missing python3-redis(module)"; pkgs="$pkgs python3-redis"
fi
if [ -n "$missing" ]; then
	echo "bench.sh: cannot run: missing$missing" >&2
	echo "bench.sh: install with: apt-get install$pkgs   (or, as root: scripts/install-deps.sh, every package the project uses)" >&2
	exit 1
fi
[ -x /usr/bin/time ] || echo "bench.sh: GNU time (package time) missing: peak RSS is wait4's figure, with Python's ~15 MiB as its floor" >&2
HAVE_WGET2=1; HAVE_H2LOAD=1
if [ "$FLEET" = 0 ] && [ "$SCALE" = 0 ]; then
	command -v wget2 >/dev/null || { HAVE_WGET2=0; echo "bench.sh: wget2 missing (package wget2): its rows are left out" >&2; }
	command -v h2load >/dev/null || { HAVE_H2LOAD=0; echo "bench.sh: h2load missing (package nghttp2-client): its rows are left out" >&2; }
fi
if [ ! -x "$BIN" ]; then
	if [ -n "${RINGFETCHD:-}" ]; then
		echo "bench.sh: RINGFETCHD=$BIN is not an executable" >&2
		exit 1
	fi
	echo "bench.sh: $BIN not built: running make" >&2
	make -s build/rel/ringfetchd || { echo "bench.sh: the build failed; run make (after scripts/install-deps.sh) and try again" >&2; exit 1; }
fi

[ -n "${BENCH_TMPDIR:-}" ] || { [ -d /dev/shm ] && [ -w /dev/shm ] && BENCH_TMPDIR=/dev/shm || BENCH_TMPDIR=/tmp; }
export BENCH_TMPDIR
. scripts/nginx.sh
bench_workdir rfbench
RES=$W/results.jsonl
: > "$RES"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
T_START=$(date +%s)

# ringfetchd variants: the defaults, and output.hash: none when this build
# knows the key.
HASH_NONE=0
"$BIN" --check-config --set output.hash=none >/dev/null 2>&1 && HASH_NONE=1
RF_COMMON=()
"$BIN" --check-config --set limits.per_host_rate=0 >/dev/null 2>&1 &&
	RF_COMMON+=(--set limits.per_host_rate=0)
# BENCH_RF_SET="k=v k2=v2": more --set for every ringfetchd row (A/B runs)
RF_WORKERS="auto=$NCPU" # what the rows without their own limits.workers run with
for kv in ${BENCH_RF_SET:-}; do
	RF_COMMON+=(--set "$kv")
	case $kv in limits.workers=auto) ;; limits.workers=0) ;; limits.workers=*) RF_WORKERS=${kv#*=} ;; esac
done
WORKERS_OK=1
"$BIN" --check-config --set limits.workers=2 >/dev/null 2>&1 || WORKERS_OK=0

echo "## ringfetch benchmark$( [ "$SCALE" = 1 ] && echo ' (--scale)'), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "machine: $NCPU CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ringfetchd: $BIN ($("$BIN" --version 2>&1 | head -1)); runs $RUNS, medians"
if [ "$SCALE" = 1 ]; then
	echo "peers: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3) with $( [ -n "$NGX_W" ] && echo "$NGX_W worker(s)" || echo 'K workers (as many as ringfetchd'"'"'s limits.workers)'); K =$SCALE_KS; budget $BUDGET_MIN min"
elif [ "$FLEET" = 0 ]; then
	echo "peers: $(curl --version | head -1 | cut -d' ' -f1-2), $( [ $HAVE_WGET2 = 1 ] && wget2 --version | head -1 | cut -d' ' -f1-3 || echo 'no wget2'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $( [ $HAVE_H2LOAD = 1 ] && h2load --version || echo 'no h2load'), $(nginx -v 2>&1 | cut -d' ' -f3) with $NGINX_WORKERS worker(s)"
	echo "ringfetchd rows: limits.workers $RF_WORKERS unless the row names its own"
	if [ $HASH_NONE = 1 ]; then
		echo "output.hash=none: accepted by this ringfetchd, so it gets a row of its own"
	else
		echo "output.hash=none: not accepted by this ringfetchd (ringfetchd --check-config --set output.hash=none fails), so every ringfetchd row hashes (SHA-256)"
	fi
fi
[ $WORKERS_OK = 1 ] || { echo "bench.sh: this ringfetchd does not take --set limits.workers=2" >&2; exit 1; }
if [ "$FLEET" = 0 ]; then
	echo "threads: each ringfetchd run prints its peak thread count; a build without worker rings runs one ring whatever limits.workers says"
fi
echo "work files: $W"

# ---- servers ---------------------------------------------------------------
mkdir -p "$W/www"
head -c 4096 /dev/urandom > "$W/www/4k.bin"
head -c 1048576 /dev/urandom > "$W/www/1m.bin"

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

# http_start: nginx on 127.0.0.1-21:PORT with $NGINX_WORKERS workers, its
# master's PID in NGX_HTTP. The access log ('$status $body_bytes_sent', one
# line a request) is how success is counted at the server, for every
# client alike.
http_start() {
	local listen="" i
	PORT=$(free_port)
	for i in $(seq 1 21); do listen="$listen		listen 127.0.0.$i:$PORT;
"; done
	rm -rf "$W/http"
	nginx_start "$W/http" "	log_format bench '\$status \$body_bytes_sent';
	keepalive_timeout 60s;
	sendfile on;
	tcp_nopush on;
	server {
$listen		root $W/www;
		access_log $W/http/access.log bench;
	}"
	NGX_HTTP=${NGINX_PIDS##* }
	wait_url "http://127.0.0.1:$PORT/4k.bin" && wait_url "http://127.0.0.21:$PORT/4k.bin" ||
		{ echo "bench.sh: nginx did not start" >&2; cat "$W/http/logs/error.log" >&2; exit 1; }
}

# tls_start: a CA and a server certificate (once), nginx over TLS with
# $NGINX_WORKERS workers on KPORT (keep-alive) and CPORT (keepalive_timeout
# 0), its master's PID in NGX_TLS. Returns 1 when it does not answer.
tls_start() {
	if [ ! -s "$W/srv.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$W/ca.key" -out "$W/ca.pem" -days 2 -subj /CN=rfbench-ca \
			-addext basicConstraints=critical,CA:TRUE 2>/dev/null
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$W/srv.key" -out "$W/srv.csr" -subj /CN=localhost 2>/dev/null
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$W/srv.ext"
		openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
			-CAcreateserial -days 2 -extfile "$W/srv.ext" -out "$W/srv.pem" 2>/dev/null
	fi
	KPORT=$(free_port)
	CPORT=$(free_port)
	rm -rf "$W/tls"
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
	wait_url "https://127.0.0.1:$KPORT/4k.bin" --cacert "$W/ca.pem"
}

# nginx_stop PID: stop one of our nginx masters (by PID) and wait for it
nginx_stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	NGINX_PIDS=" $(echo "$NGINX_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')"
}

# ---- the fleet scenario (--fleet): its own driver, then done ---------------
if [ "$FLEET" = 1 ]; then
	http_start
	echo "fleet: 3 daemons, one redis-server ($(/usr/bin/redis-server --version | cut -d' ' -f3)), $FLEET_JOBS jobs"
	$PY scripts/fleetbench.py --bin "$BIN" --port "$PORT" --work "$W" \
		--jobs "$FLEET_JOBS" --runs "$RUNS"
	exit $?
fi

# ---- clients ---------------------------------------------------------------
# A scenario sets: SC (name), N, C (concurrency), PH (per host), SIZE (body
# bytes), URLS (file; URLS.curl is curl's config), URL (for wrk/h2load),
# CHECK (nginx:LOG or rfserver:URL), SRV (server PID), TLS (0/1), CLIENTS.
# --scale sets SCALE_K (ringfetchd's limits.workers, wrk's threads) and
# records it with nginx's worker count.
SCALE_K=""
one() {
	local client=$1 run=$2 tag=()
	shift 2
	[ -n "$SCALE_K" ] && tag=(--workers "$SCALE_K" --nginx-workers "$NGINX_WORKERS")
	$PY scripts/benchrun.py run --results "$RES" --scenario "$SC" \
		--client "$client" --run "$run" --expect "$N" --size "$SIZE" \
		--check "$CHECK" --srv-pid "$SRV" --timeout "$TIMEOUT" "${tag[@]}" "$@"
}
RF_ENV=() # a command prefix for ringfetchd rows, e.g. (env K=V)
tls_args_rf() { [ "$TLS" = 1 ] && echo "--set tls.ca_file=$W/ca.pem" || true; }
c_rf() { # c_rf RUN [LABEL [--set k=v ...]]: LABEL names the row's variant
	local run=$1 label="ringfetchd (limits.workers $RF_WORKERS)"
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
c_rf_nohash() { c_rf "$1" "output.hash=none (limits.workers $RF_WORKERS)" --set output.hash=none; }
# S2's done-when rows: SHA-256 on one worker and on two
HASH_SHA=()
[ $HASH_NONE = 1 ] && HASH_SHA=(--set output.hash=sha256) # over any BENCH_RF_SET
c_rf_w1() { c_rf "$1" "limits.workers=1, SHA-256" --set limits.workers=1 "${HASH_SHA[@]}"; }
c_rf_w2() { c_rf "$1" "limits.workers=2, SHA-256" --set limits.workers=2 "${HASH_SHA[@]}"; }
# --scale: limits.workers K
c_rf_k() { c_rf "$1" "limits.workers=$SCALE_K" --set "limits.workers=$SCALE_K"; }
# BENCH_SHA256_PORTABLE=1: a row hashing with the portable C code, as a CPU
# without the SHA extensions would (sha256.c's RINGFETCH_SHA256 switch)
c_rf_portable() {
	RF_ENV=(env RINGFETCH_SHA256=portable)
	c_rf "$1" "RINGFETCH_SHA256=portable (limits.workers $RF_WORKERS)"
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

# run_clients RUN: every client of CLIENTS once, the order rotated by RUN
run_clients() {
	local run=$1 i k n=${#CLIENTS[@]}
	for ((i = 0; i < n; i++)); do
		k=$(((i + run - 1) % n))
		# shellcheck disable=SC2086
		${CLIENTS[$k]} "$run" || echo "  warning: ${CLIENTS[$k]} failed" >&2
		sleep 0.2
	done
}

# run_scenario TITLE: every client RUNS times, rotating the order.
run_scenario() {
	local title=$1 run
	echo
	echo "### $SC: $title"
	for run in $(seq "$RUNS"); do run_clients "$run"; done
	TITLES+=("$SC|$title")
}

# default_clients: ringfetchd (and output.hash=none), then the peers
default_clients() {
	CLIENTS=(c_rf)
	[ $HASH_NONE = 1 ] && CLIENTS+=(c_rf_nohash)
	[ "${BENCH_SHA256_PORTABLE:-0}" = 1 ] && CLIENTS+=(c_rf_portable)
	CLIENTS+=(c_curl)
	[ $HAVE_WGET2 = 1 ] && CLIENTS+=(c_wget2)
	CLIENTS+=(c_wrk)
	[ $HAVE_H2LOAD = 1 ] && CLIENTS+=(c_h2load)
	WRK_EXTRA=()
	WRK_T=$((LT < C ? LT : C)) # wrk and h2load want threads <= connections
	WRK_C=$C
	H2_MULTI=""
}

# The scenarios' parameters (and their URL files, for the servers' ports).
setup_S1() {
	SC=S1 N=${S1_N:-20000} C=64 PH=64 SIZE=4096 URL="http://127.0.0.1:$PORT/4k.bin"
	TLS=0 SRV=$NGX_HTTP CHECK="nginx:$W/http/access.log"
	URLS=$W/s1.txt
	gen_urls "$URLS" "$N" "$URL"
	TITLE="small files, $N x 4 KiB, concurrency $C, keep-alive, nginx $NGINX_WORKERS worker(s)"
}
setup_S2() {
	SC=S2 N=${S2_N:-2000} C=16 PH=16 SIZE=1048576 URL="http://127.0.0.1:$PORT/1m.bin"
	TLS=0 SRV=$NGX_HTTP CHECK="nginx:$W/http/access.log"
	URLS=$W/s2.txt
	gen_urls "$URLS" "$N" "$URL"
	TITLE="large files, $N x 1 MiB, concurrency $C, keep-alive, nginx $NGINX_WORKERS worker(s)"
}
setup_S5ka() {
	SC=S5ka N=${S5_N:-20000} C=64 PH=64 SIZE=4096 URL="https://127.0.0.1:$KPORT/4k.bin"
	TLS=1 SRV=$NGX_TLS CHECK="nginx:$W/tls/access.log"
	URLS=$W/s5ka.txt
	gen_urls "$URLS" "$N" "$URL"
	TITLE="HTTPS keep-alive, $N x 4 KiB, concurrency $C, nginx $NGINX_WORKERS worker(s), EC P-256 certificate"
}
setup_S5close() {
	SC=S5close N=${S5_CLOSE_N:-5000} C=64 PH=64 SIZE=4096 URL="https://127.0.0.1:$CPORT/4k.bin"
	TLS=1 SRV=$NGX_TLS CHECK="nginx:$W/tls/access.log"
	URLS=$W/s5close.txt
	gen_urls "$URLS" "$N" "$URL"
	TITLE="HTTPS Connection: close (keepalive_timeout 0: a handshake per request), $N x 4 KiB, concurrency $C, nginx $NGINX_WORKERS worker(s)"
}

TITLES=()
TLS=0

# ---- --scale: every K, nginx restarted with its worker count -------------------
if [ "$SCALE" = 1 ]; then
	SCS=()
	want S1 && SCS+=(S1)
	want S2 && SCS+=(S2)
	want S5 && SCS+=(S5ka S5close)
	done_runs=0
	for run in $(seq "$RUNS"); do
		if [ "$done_runs" -gt 0 ]; then
			el=$(($(date +%s) - T_START))
			if [ $((el + el / done_runs)) -gt $((BUDGET_MIN * 60)) ]; then
				echo
				echo "scale: run $run not started: $done_runs run(s) took ${el} s, another would pass --budget $BUDGET_MIN min"
				break
			fi
		fi
		for SCALE_K in $SCALE_KS; do
			NGINX_WORKERS=${NGX_W:-$SCALE_K}
			echo
			echo "### run $run/$RUNS, limits.workers $SCALE_K, nginx $NGINX_WORKERS worker(s)"
			http_start
			tls_up=0
			if want S5; then
				if tls_start; then tls_up=1; else echo "warning: nginx over TLS did not start: S5 left out of this run" >&2; fi
			fi
			for sc in "${SCS[@]}"; do
				case $sc in S5*) [ $tls_up = 1 ] || continue ;; esac
				"setup_$sc"
				eval "T_$sc=\$TITLE"
				CLIENTS=(c_rf_k c_wrk)
				WRK_EXTRA=()
				WRK_T=$((SCALE_K < C ? SCALE_K : C))
				WRK_C=$C
				run_clients "$run"
			done
			nginx_stop "$NGX_HTTP"
			[ $tls_up = 1 ] && nginx_stop "$NGX_TLS"
		done
		done_runs=$run
	done
	SCALE_K=""
	echo
	echo "## Scale tables (medians of $done_runs run(s); K = limits.workers, wrk -tK; $( [ -n "$NGX_W" ] && echo "nginx $NGX_W worker(s)" || echo "nginx K workers"); $(($(date +%s) - T_START)) s in all)"
	for sc in "${SCS[@]}"; do
		t=T_$sc
		[ -n "${!t:-}" ] || continue
		$PY scripts/benchrun.py scale --results "$RES" --scenario "$sc" \
			--title "$sc (--scale): $(echo "${!t}" | sed 's/, nginx [0-9]* worker(s)//')"
	done
	exit 0
fi

# ---- the normal run: S1-S5, every peer ----------------------------------------
http_start

if want S1; then
	setup_S1
	default_clients
	run_scenario "$TITLE"
fi

if want S2; then
	setup_S2
	default_clients
	# issue 14's done-when rows (after the default one, before the peers)
	CLIENTS=("${CLIENTS[0]}" c_rf_w1 c_rf_w2 "${CLIENTS[@]:1}")
	run_scenario "$TITLE"
fi

if want S3; then
	SC=S3 N=${S3_N:-20000} C=64 PH=4 SIZE=4096 URL="http://127.0.0.2:$PORT/4k.bin"
	TLS=0 SRV=$NGX_HTTP CHECK="nginx:$W/http/access.log"
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

if want S4; then
	mkdir -p "$W/rfs"
	$PY tests/server/rfserver.py --port 0 --port-file "$W/rfs/port" > "$W/rfs/log" 2>&1 &
	RFS_PID=$!
	NGINX_PIDS="$NGINX_PIDS $RFS_PID" # stopped by PID at exit with nginx
	for _ in $(seq 50); do [ -s "$W/rfs/port" ] && break; sleep 0.1; done
	RPORT=$(tr -d ' \n' < "$W/rfs/port")
	SC=S4 N=${S4_N:-2000} C=200 PH=200 SIZE=2 URL="http://127.0.0.1:$RPORT/delay/100"
	TLS=0
	URLS=$W/s4.txt
	gen_urls "$URLS" "$N" "$URL"
	default_clients
	CHECK="rfserver:http://127.0.0.1:$RPORT" SRV=$RFS_PID
	run_scenario "a 100 ms server (tests/server/rfserver.py /delay/100, one Python thread), $N URLs, concurrency $C, ideal $((N / C / 10)) s = $((C * 10)) requests/s"
fi

if want S5; then
	if tls_start; then
		setup_S5ka
		default_clients
		run_scenario "$TITLE"
		setup_S5close
		default_clients
		run_scenario "$TITLE"
		TLS=0
	else
		echo "warning: nginx over TLS did not start: S5 left out" >&2
	fi
fi

echo
echo "## Tables (medians of $RUNS runs; $(($(date +%s) - T_START)) s in all)"
for t in "${TITLES[@]}"; do
	$PY scripts/benchrun.py table --results "$RES" --scenario "${t%%|*}" \
		--title "${t%%|*}: ${t#*|}"
done
$PY scripts/benchrun.py targets --results "$RES"
