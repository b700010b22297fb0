#!/bin/sh
# run.sh -- the benchmarks, each printing its own figures beside Jansson's
# parse rate for the same input measured in the same run:
#   1. TAXII Add Objects over HTTPS: 4 publishers, envelopes of 1,000
#      objects, every 202 after a durable commit, into a fresh database that
#      grows to 1,000,000 objects; daemon peak memory;
#   2. ctihub import of one 1,000,000-object bundle.
# Input comes from ../shared/tools/gen_bundles.py (generated once, kept in
# $BENCH_DATA).  BENCH_OBJECTS scales the runs down (default 1000000).
# Usage: tests/bench/run.sh build/release
set -eu
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${BENCH_DATA:-/tmp/ctihub-bench-data}
N=${BENCH_OBJECTS:-1000000}
GEN=${GEN:-$SRC/../shared/tools/gen_bundles.py}
T=$(mktemp -d /tmp/ctihub-bench.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$DATA"
if [ ! -d "$DATA/env-$N" ]; then
	echo "generating $N objects in envelopes of 1,000 ($DATA/env-$N)"
	python3 "$GEN" --objects "$N" --batch-size 1000 --envelope \
	    --out "$DATA/env-$N.tmp" --quiet
	mv "$DATA/env-$N.tmp" "$DATA/env-$N"
fi
if [ ! -d "$DATA/bundle-$N" ]; then
	echo "generating one bundle of $N objects ($DATA/bundle-$N)"
	python3 "$GEN" --objects "$N" --batch-size "$N" --members 1 \
	    --out "$DATA/bundle-$N.tmp" --quiet
	mv "$DATA/bundle-$N.tmp" "$DATA/bundle-$N"
fi

cd "$T"
PW=$(echo bench-password | "$B/ctihub" member passwd --stdin)
for m in pub1 pub2 pub3 pub4 reader; do
	cat >>members.conf <<EOM
member $m {
	name "Bench $m"
	country BR
	roles publisher subscriber
	$PW
}
EOM
done
write_conf() { # write_conf FILE STATE
	cat >"$1" <<EOM
listen 127.0.0.1:0
state_dir $2
map_size 8G
members members.conf
policy_dir policy
access_log off
api_root bench {
	title "Benchmark"
	max_content_length 64M
	collection 3a8f5c7e-1b2d-4e6f-8a9b-0c1d2e3f4a5b {
		title "Bench"
		alias bench
		read any
		write any
	}
}
EOM
}
mkdir -p policy
write_conf hub.conf state
write_conf import.conf state-import

"$B/ctihubd" ${BENCH_HUB_FLAGS:-} -c hub.conf 2>hub.log &
PID=$!
i=0
until grep -q "ctihubd ready" hub.log; do
	i=$((i + 1))
	[ $i -lt 200 ] || { cat hub.log; exit 1; }
	sleep 0.05
done
PORT=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)/.*|\1|p' hub.log | head -1)
CA=$T/state/tls/cert.pem

echo
echo "== 1. TAXII Add Objects over HTTPS ($N objects)"
[ -n "${BENCH_SAMPLE:-}" ] && (while kill -0 $PID 2>/dev/null; do grep -E "^(RssAnon|RssFile)" /proc/$PID/status | tr -s " \t\n" " "; echo; sleep 0.1; done > "$BENCH_SAMPLE") &
[ -n "${BENCH_PERF:-}" ] && (sleep 24; perf record -F 999 -g -p $PID -o "$BENCH_PERF" -- sleep 6 >/dev/null 2>&1) &
[ -n "${BENCH_STRACE:-}" ] && (sleep 24; timeout 5 strace -f -c -p $PID -o "$BENCH_STRACE" >/dev/null 2>&1) &
"$B/tests/bench_ingest" -u "https://127.0.0.1:$PORT/bench/collections/bench/objects/" \
    -k "$CA" -a "pub1:bench-password,pub2:bench-password,pub3:bench-password,pub4:bench-password" \
    -d "$DATA/env-$N" -c 4 -p "$PID"
[ -n "${BENCH_KEEP_LOG:-}" ] && cp hub.log "$BENCH_KEEP_LOG"
[ -n "${BENCH_IO:-}" ] && grep -E "wchar|write_bytes" /proc/$PID/io && du -sm state/db
kill -TERM "$PID"
wait "$PID" || true
PID=

echo
[ -n "${BENCH_SKIP_IMPORT:-}" ] && exit 0
echo "== 2. ctihub import of one $N-object bundle"
"$B/tests/bench_import" "$B/ctihub" import.conf pub1 bench \
    "$(ls "$DATA/bundle-$N"/b*.json | head -1)"
