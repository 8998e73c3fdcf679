#!/bin/sh
# Run every test against the binaries in $1 (build/asan): unit test programs
# (TAP) and integration tests (tests/integ/test_*.py, each under a time bound).
# Ends with the summary line "N passed, N failed".
BUILD=${1:-build/asan}
export RF_BUILD="$BUILD"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PY=/usr/bin/python3
pass=0
fail=0
failed_names=""
for t in "$BUILD"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(timeout 120 "$t" 2>&1)
	rc=$?
	p=$(echo "$out" | grep -c '^ok ')
	f=$(echo "$out" | grep -c '^not ok ')
	[ "$f" -gt 0 ] && echo "$out" | grep -E '^(not ok|#)' | head -200 |
		sed "s/^/  $name: /"
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  $name: exited $rc"
		echo "$out" | tail -20 | sed "s/^/    /"
		f=1
	fi
	echo "unit $name: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed_names="$failed_names $name"
done
# Replay each fuzz target's seed corpus (fuzz/corpus/NAME) under ASan.
for t in "$BUILD"/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(timeout 120 "$t" fuzz/corpus/"${name#fuzz_}"/* 2>&1)
	rc=$?
	p=$(echo "$out" | grep -c '^ok ')
	f=0
	if [ $rc -ne 0 ]; then
		echo "$out" | tail -20 | sed "s/^/    /"
		f=1
	fi
	echo "fuzz-replay $name: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed_names="$failed_names $name"
done
for t in tests/integ/test_*.py; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .py)
	out=$(timeout 300 $PY "$t" 2>&1)
	rc=$?
	p=$(echo "$out" | grep -c '^ok ')
	f=$(echo "$out" | grep -c '^not ok ')
	[ "$f" -gt 0 ] && echo "$out" | grep -E '^(not ok|#)' | head -200 |
		sed "s/^/  $name: /"
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  $name: exited $rc"
		echo "$out" | tail -30 | sed "s/^/    /"
		f=1
	fi
	echo "integ $name: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed_names="$failed_names $name"
done
[ -n "$failed_names" ] && echo "failing:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
