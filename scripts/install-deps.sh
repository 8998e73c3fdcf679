#!/bin/sh
# Install the Debian 12 packages that ringfetch's build, tests and benchmark
# need. Does nothing when every one is already installed.
set -e
PKGS="build-essential pkg-config liburing-dev libwolfssl-dev libyaml-dev
node-llhttp libc-ares-dev openssl python3 nginx-light wrk curl dnsmasq-base
socat man-db groff-base libsystemd-dev systemd zlib1g-dev libzstd-dev
zstd libbrotli-dev brotli tinyproxy microsocks wget2 nghttp2-client time
redis-server python3-redis"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx-light and redis-server must not start system services: tests run
# their own.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends $missing >/dev/null
rm -f /usr/sbin/policy-rc.d
