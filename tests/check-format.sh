#!/bin/sh
# check-format.sh -- fails (and lists the files) when a C source or header
# differs from what clang-format makes of it.  Prints "ok" or "not ok" TAP
# lines so tests/run.sh can count it.
cd "$(dirname "$0")/.." || exit 1
bad=0
for f in common/*.c common/*.h hub/*.c feeds/*.c feeds/*.h include/ctihub/*.h; do
	[ -f "$f" ] || continue
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "# format: $f differs from clang-format (run: make format)"
		bad=1
	fi
done
if [ $bad = 0 ]; then echo "ok 1 - check-format"; else echo "not ok 1 - check-format"; fi
exit $bad
