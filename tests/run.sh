#!/bin/sh
# Run every test against the binaries in $1 (build/asan): unit test programs
# (TAP), fuzz targets replaying their seed corpus, and integration tests
# (tests/integ/test_*.py, each under a time bound).
#
# Counting: an "ok" TAP line is a pass, a "not ok" line a failure, and an
# "ok ... # SKIP reason" line a skip (never a pass).  A program that exits 77
# (the TAP/automake "skip this whole program" status) without a "not ok"
# line, or that plans "1..0 # SKIP" and runs nothing, is one skip.  Any other
# non-zero exit without a "not ok" line is one failure.
#
# Each program gets a line "KIND NAME: N passed, N failed, N skipped"; the
# run ends with "failing: NAME..." when something failed and then the
# summary line "N passed, N failed, N skipped" (what CI greps).
BUILD=${1:-build/asan}
export RF_BUILD="$BUILD"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PY=/usr/bin/python3
pass=0
fail=0
skipped=0
failed_names=""

# tally KIND NAME RC TAILN: count the TAP in $out (a program's output) and
# its exit status RC; print the program's line and add to the totals.
# TAILN: how many lines of output to show when it exited badly.
SKIP_RE='^ok .*#[[:space:]]*skip([^[:alnum:]]|$)'
tally() {
	kind=$1 name=$2 rc=$3 tailn=$4
	s=$(printf '%s\n' "$out" | grep -Eic "$SKIP_RE")
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	p=$((p - s))
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	[ "$f" -gt 0 ] && printf '%s\n' "$out" | grep -E '^(not ok|#)' |
		head -200 | sed "s/^/  $name: /"
	if [ "$f" -eq 0 ] && [ "$rc" -eq 77 ]; then
		echo "  $name: exited 77: skipped as a whole"
		printf '%s\n' "$out" | grep -E '^(1\.\.|#)' | head -3 |
			sed "s/^/    /"
		s=$((s + 1))
	elif [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
		echo "  $name: exited $rc"
		printf '%s\n' "$out" | tail -"$tailn" | sed "s/^/    /"
		f=1
	elif [ "$f" -eq 0 ] && [ "$p" -eq 0 ] && [ "$s" -eq 0 ] &&
	     printf '%s\n' "$out" | grep -Eqi '^1\.\.0[[:space:]]*#[[:space:]]*skip'; then
		printf '%s\n' "$out" | grep -Ei '^1\.\.0' | head -1 |
			sed "s/^/  $name: /"
		s=1
	fi
	[ "$s" -gt 0 ] && printf '%s\n' "$out" | grep -Ei "$SKIP_RE" |
		head -20 | sed "s/^/  $name: /"
	echo "$kind $name: $p passed, $f failed, $s skipped"
	pass=$((pass + p))
	fail=$((fail + f))
	skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failed_names="$failed_names $name"
	return 0
}

for t in "$BUILD"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(timeout 120 "$t" 2>&1)
	tally unit "$name" $? 20
done
# The threads' tests again under ThreadSanitizer (make tsan-bins builds
# them; make check does): a data race between worker rings fails here.
for t in build/tsan/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66} \
	      timeout 300 "$t" 2>&1)
	tally tsan "$name" $? 40
done
# Replay each fuzz target's seed corpus (fuzz/corpus/NAME) under ASan.
for t in "$BUILD"/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(timeout 120 "$t" fuzz/corpus/"${name#fuzz_}"/* 2>&1)
	tally fuzz-replay "$name" $? 20
done
for t in tests/integ/test_*.py; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .py)
	out=$(timeout 300 $PY "$t" 2>&1)
	tally integ "$name" $? 30
done
[ -n "$failed_names" ] && echo "failing:$failed_names"
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
