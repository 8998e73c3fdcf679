#!/bin/bash
# Build every fuzz target with clang's libFuzzer (plus ASan and UBSan) and
# run each for SECONDS on a copy of its seed corpus. make check only replays
# the seeds under gcc; this is the search itself. Crashes are left in
# build/fuzz/NAME/ as crash-* files, and the script exits 1.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   (default $FUZZ_SECONDS or 60,
#                                           every target)
# Needs clang (apt-get install clang) besides the build dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${FUZZ_SECONDS:-60}}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
	for f in fuzz/fuzz_*.c; do
		t=${f#fuzz/fuzz_}
		TARGETS+=("${t%.c}")
	done
fi
OUT=build/fuzz
PKGS="liburing wolfssl yaml-0.1 libcares libsystemd zlib libzstd libbrotlidec"
make -s -q all >/dev/null 2>&1 || true	# writes build/version.h
CF="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -iquote daemon"
CF="$CF -iquote build -I/usr/share/include/llhttp -D_GNU_SOURCE -w"
CF="$CF $(pkg-config --cflags $PKGS)"
mkdir -p "$OUT/obj"
# The core library once, both cores busy.
for f in daemon/*/*.c /usr/share/llhttp/{llhttp,api,http}.c; do
	b=$(basename "$f" .c)
	case $b in main | client) continue ;; esac
	case $f in /usr/share/*) b=llhttp_$b ;; esac
	clang $CF -c "$f" -o "$OUT/obj/$b.o" &
	while [ "$(jobs -r | wc -l)" -ge 2 ]; do sleep 0.05; done
done
wait
bad=0
for t in "${TARGETS[@]}"; do
	clang $CF -fsanitize=fuzzer fuzz/fuzz_"$t".c "$OUT"/obj/*.o \
		$(pkg-config --libs $PKGS) -lm -o "$OUT/fuzz_$t"
	mkdir -p "$OUT/$t/corpus"
	cp -n fuzz/corpus/"$t"/* "$OUT/$t/corpus/" 2>/dev/null || true
	(cd "$OUT/$t" && ../fuzz_"$t" corpus -max_total_time="$SECS" \
		-rss_limit_mb=2048 > log 2>&1) || true
	runs=$(grep -o 'Done [0-9]* runs' "$OUT/$t/log" | tail -1 || true)
	if ls "$OUT/$t"/crash-* "$OUT/$t"/leak-* "$OUT/$t"/timeout-* \
		>/dev/null 2>&1; then
		echo "fuzz $t: FOUND a problem, see $OUT/$t/ ($runs)"
		bad=1
	else
		echo "fuzz $t: nothing found (${runs:-no runs?})"
	fi
done
exit $bad
