#!/bin/sh
# feeds.sh -- the feed benchmark (issue 13).  A list of BENCH_FEED_LINES
# IPv4 addresses (default 1,000,000, one a line, distinct, a fixed seed)
# read by a `list` feed (a file source, so that the network does not
# count) and stored by `ctihub feed run NAME --store`: the same run, into
# the same pipeline, as the hub's scheduler makes.  Figures, each beside a
# reference measured in the same run:
#   1. the first run: list entries turned into stored indicators per
#      second (parse, snapshot diff, STIX, validation, dedup, storage and
#      the observable index), beside `ctihub import` of the very objects
#      that run produced (the pipeline's own rate for them);
#   2. a re-run of the unchanged file: by its conditional request (the
#      mtime, as If-Modified-Since) and, after `touch`, by the snapshot
#      diff of the whole list (nothing stored either way);
#   3. a list edit (1% of the entries replaced): the new and expired
#      indicators stored, and the run's time.
# Usage: tests/bench/feeds.sh build/release
set -eu
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/bench/bench.sh"
N=${BENCH_FEED_LINES:-1000000}
T=$(mktemp -d /tmp/ctihub-feeds.XXXXXX)
cleanup() {
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T"

python3 - "$N" <<'EOF'
import random, sys
n = int(sys.argv[1])
rng = random.Random(13)
seen = set()
with open("list.txt", "w") as f, open("edit.txt", "w") as g:
    f.write("# a benchmark list: one IPv4 address a line\n")
    g.write("# a benchmark list: one IPv4 address a line\n")
    while len(seen) < n:
        a = rng.randrange(0x01000000, 0xdf000000)
        if a in seen:
            continue
        seen.add(a)
        s = "%d.%d.%d.%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255)
        f.write(s)
        # the edit: every hundredth entry replaced by a new address
        if len(seen) % 100 == 0:
            b = a ^ 0x00008000
            s = "%d.%d.%d.%d\n" % (b >> 24, b >> 16 & 255, b >> 8 & 255, b & 255)
        g.write(s)
EOF

PW=$(echo bench-password | "$B/ctihub" member passwd --stdin)
bench_member pub1 BR "$PW"
mkdir -p policy
BENCH_CONF_EXTRA="feeds feeds.conf" bench_conf hub.conf state
BENCH_CONF_EXTRA="feeds feeds.conf" bench_conf ref.conf state-ref
cat >feeds.conf <<EOM
feed big {
	kind list
	file list.txt
	every 1h
	member pub1
	collection bench/bench
	tlp green
	labels benchmark
	type ipv4
	max_bytes 256M
}
EOM

run() { # run LABEL: one stored run; prints its summary line
	"$B/ctihub" feed run big --store -c hub.conf | tee -a runs.txt
}
secs() { sed -n 's/.* in \([0-9.]*\) s.*/\1/p' | tail -1; }

echo "feeds: $N-line IPv4 list, file source, ctihub feed run --store"
run >first.txt
F=$(secs <first.txt)
# the objects of that run, as the pipeline's reference input: a dry run
# against an empty state prints the same envelopes
"$B/ctihub" feed run big --json -c ref.conf >envs.txt 2>/dev/null
split -l 1 -d -a 4 envs.txt env.
rm -f envs.txt
t0=$(date +%s.%N)
"$B/ctihub" import env.* --as pub1 --collection bench -c ref.conf -q \
    >import.txt
t1=$(date +%s.%N)
I=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
rm -f env.*
run >unchanged.txt
U=$(secs <unchanged.txt)
touch list.txt
run >touched.txt
D=$(secs <touched.txt)
mv edit.txt list.txt
run >edit.txt
E=$(secs <edit.txt)
echo "$N $F $I" | awk '{printf "first run: %d entries stored in %.2f s = %.0f entries/s; reference, ctihub import of the same %d objects: %.2f s = %.0f objects/s; ratio %.2f\n", $1, $2, $1 / $2, $1, $3, $1 / $3, $3 / $2}'
printf 'unchanged re-run (conditional: mtime): %s s\n' "$U"
printf 'unchanged re-run after touch (snapshot diff of %s entries): %s s\n' "$N" "$D"
printf 'list edit (1%% replaced): %s s: %s\n' "$E" "$(cat edit.txt)"
