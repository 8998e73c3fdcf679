#!/bin/sh
# The walls between layers: a file under daemon/LAYER/ (or client/) may
# include only the layers its row below names. Prints each include that
# crosses a wall, as FILE:LINE, and exits 1 when there is one.
#
#   base    buffers, JSON, units, errors, log, hashes, lists
#   event   the ring and its timers
#   config  YAML to struct config
#   http    parsers and builders that see buffers only (never the loop)
#   net     a connection, TLS, DNS, the CIDR guard
#   engine  jobs, the bounded queue, hosts, caps, retries
#   output  records, rotation, bodies, WARC, spill
#   front   URL files, control socket, metrics, progress, summary
#   app     main, the daemon and batch drivers, struct engine
#   client  the ringfetch binary: speaks only the protocol; may use http/
#           parsers (which see buffers only) so submit --redis finds a
#           URL's host, and the fleet's partition, exactly as the daemon
#           does
cd "$(dirname "$0")/.." || exit 1
allowed() {
	case $1 in
	base) echo "base" ;;
	event) echo "base event" ;;
	config) echo "base config" ;;
	http) echo "base config http" ;;
	net) echo "base event config http net" ;;
	engine) echo "base event config http net engine" ;;
	output) echo "base event config http engine output" ;;
	front) echo "base event config http net engine output front" ;;
	app) echo "base event config http net engine output front app" ;;
	client) echo "base config http client" ;;
	*) echo "" ;;
	esac
}
bad=0
for f in daemon/*/*.[ch] client/*.[ch]; do
	case $f in
	client/*) layer=client ;;
	*) layer=${f#daemon/}; layer=${layer%%/*} ;;
	esac
	ok=$(allowed "$layer")
	if [ -z "$ok" ]; then
		echo "$f: folder '$layer' is not a layer scripts/walls.sh knows"
		bad=1
		continue
	fi
	# "version.h" is generated into build/ and belongs to no layer.
	grep -n '^#include "' "$f" | grep -v '"version.h"' |
	while IFS= read -r line; do
		n=${line%%:*}
		inc=${line#*\"}
		inc=${inc%%\"*}
		to=${inc%%/*}
		[ "$to" = "$inc" ] && to=$layer	# same folder, by bare name
		case " $ok " in
		*" $to "*) ;;
		*) echo "$f:$n: $layer/ may not include $inc ($to/)" ;;
		esac
	done
done > build/walls.out 2>&1
if [ -s build/walls.out ]; then
	cat build/walls.out
	echo "walls: $(wc -l < build/walls.out) includes cross a layer wall" \
		"(see scripts/walls.sh)"
	exit 1
fi
echo "walls: every include stays within its layer's walls"
