# Sourced by the benchmark scripts: a work directory removed at exit and
# private nginx instances on loopback, stopped by PID at exit.
#   bench_workdir PREFIX    sets W (mode 0755: the nginx worker is nobody)
#   free_port               prints a free TCP port on 127.0.0.1
#   nginx_start DIR BODY    one worker, serving with BODY inside http {}
#   wait_url URL [CURL_ARGS...]   up to 5 s for URL to answer
PY=/usr/bin/python3
NGINX_PIDS=""

bench_cleanup() {
	for pid in $NGINX_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	[ -n "${W:-}" ] && rm -rf "$W"
}

bench_workdir() {
	W=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$W"
	trap bench_cleanup EXIT
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

nginx_start() {
	mkdir -p "$1/logs"
	cat > "$1/nginx.conf" <<CONF
worker_processes 1;
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
