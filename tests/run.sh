#!/bin/sh
# run.sh -- runs every test layer against one build directory and ends with
# the line "N passed, N failed" (what CI reads).  Layers, in order: cmocka
# unit tests, data-driven suites (inside the unit tests that own them),
# fuzz-corpus replay, integration over real TLS sockets, bounded load
# tests (figures printed), format check.
# Usage: tests/run.sh build/release
set -u
B=${1:-build/release}
cd "$(dirname "$0")/.." || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
export CMOCKA_MESSAGE_OUTPUT=TAP
pass=0
fail=0

# run NAME CMD...: runs CMD, shows and keeps its TAP lines; a command that
# fails without reporting a failing test (a crash, a sanitizer abort) counts
# as one failed test of its own.
run() {
	name=$1
	shift
	one=$(mktemp)
	"$@" >"$one" 2>&1
	rc=$?
	cat "$one"
	cat "$one" >>"$out"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$one"; then
		echo "not ok - $name exited with status $rc" | tee -a "$out"
	fi
	rm -f "$one"
}

layer() {
	echo "== $1"
}

layer "unit"
for t in "$B"/tests/t_*; do
	[ -x "$t" ] || continue
	run "${t##*/}" "$t"
done

layer "fuzz corpus replay"
for f in "$B"/tests/fuzz_*; do
	[ -x "$f" ] || continue
	name=${f##*/fuzz_}
	if [ -d "tests/fuzz/corpus/$name" ]; then
		run "fuzz_$name" "$f" "tests/fuzz/corpus/$name"
	else
		echo "not ok - fuzz_$name has no corpus in tests/fuzz/corpus/$name" | tee -a "$out"
	fi
done

layer "integration"
if [ -x tests/integ/run.sh ]; then
	run integration tests/integ/run.sh "$B"
fi
# the push tests' webhook receiver, on its own
if [ -x tests/integ/push_rx_test.sh ]; then
	run push_rx_test tests/integ/push_rx_test.sh "$B"
fi
# the feed tests' static file server, on its own
if [ -x tests/integ/feed_srv_test.sh ]; then
	run feed_srv_test tests/integ/feed_srv_test.sh "$B"
fi

layer "load"
if [ -x tests/load/run.sh ]; then
	run load tests/load/run.sh "$B"
fi
for t in tests/load/t_*.sh; do
	[ -x "$t" ] || continue
	run "${t##*/}" "$t" "$B"
done

layer "format"
run check-format tests/check-format.sh

# "# SKIP" marks a test that could not run here (cmocka writes "not ok"
# for those); skips are neither passes nor failures.
skip=$(grep -c '^\(not \)\{0,1\}ok .*# SKIP' "$out")
pass=$(grep '^ok ' "$out" | grep -vc '# SKIP')
fail=$(grep '^not ok ' "$out" | grep -vc '# SKIP')
echo
grep '^not ok ' "$out" | grep -v '# SKIP' | sed 's/^/FAILED: /'
[ "$skip" -gt 0 ] && echo "($skip skipped: see the '# SKIP' lines above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
