# Sourced by the benchmark scripts: a work directory removed at exit and
# private nginx instances on loopback, stopped by PID at exit.
#   bench_workdir PREFIX    sets W (mode 0755: the nginx worker is nobody),
#                           under $BENCH_TMPDIR (default /tmp)
#   free_port               prints a free TCP port on 127.0.0.1
#   nginx_start DIR BODY    $NGINX_WORKERS workers (default 1), serving with
#                           BODY inside http {}; its master's PID is appended
#                           to NGINX_PIDS
#   wait_url URL [CURL_ARGS...]   up to 5 s for URL to answer
PY=/usr/bin/python3
NGINX_PIDS=""

bench_cleanup() {
	for pid in $NGINX_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	# BENCH_KEEP=1 keeps the work directory for a post-mortem
	if [ -n "${W:-}" ] && [ -z "${BENCH_KEEP:-}" ]; then
		rm -rf "$W"
	elif [ -n "${W:-}" ]; then
		echo "kept $W" >&2
	fi
}

bench_workdir() {
	W=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/$1.XXXXXX")
	chmod 755 "$W"
	trap bench_cleanup EXIT
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

nginx_start() {
	mkdir -p "$1/logs"
	cat > "$1/nginx.conf" <<CONF
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
$2
}
CONF
	nginx -p "$1" -c "$1/nginx.conf" &
	NGINX_PIDS="$NGINX_PIDS $!"
}

wait_url() {
	local url=$1
	shift
	for _ in $(seq 50); do
		curl -sf -o /dev/null "$@" "$url" && return 0
		sleep 0.1
	done
	return 1
}
