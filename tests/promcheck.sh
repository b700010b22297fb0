#!/bin/sh
# promcheck.sh -- checks a Prometheus text exposition (what GET /metrics
# answers) with the real parser and linter, promtool check metrics (Debian's
# prometheus package; make deps unpacks it into build/deps).  Exits non-zero, with the
# complaint on stderr, on a parse error, on any lint problem (promtool exits
# 3 for those; any output at all counts too), when the file is missing or
# empty, or when promtool is not installed: a check that cannot run fails.
# Usage: tests/promcheck.sh FILE
set -u
if [ $# -ne 1 ]; then
	echo "usage: $0 FILE" >&2
	exit 2
fi
if [ ! -s "$1" ]; then
	echo "promcheck: $1: missing or empty" >&2
	exit 1
fi
# on the PATH, or unpacked by make deps
PROMTOOL=$(command -v promtool ||
    echo "$(dirname "$0")/../build/deps/prometheus/root/usr/bin/promtool")
if [ ! -x "$PROMTOOL" ]; then
	echo "promcheck: promtool not found (make deps fetches it)" >&2
	exit 1
fi
msg=$("$PROMTOOL" check metrics <"$1" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$msg" ]; then
	echo "promcheck: $1: promtool check metrics (exit $rc):" >&2
	printf '%s\n' "$msg" >&2
	[ $rc -ne 0 ] || rc=1
	exit $rc
fi
exit 0
