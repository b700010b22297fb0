#!/bin/sh
# run.sh -- the benchmarks, each printing its figures beside a reference
# measured in the same run on the same machine:
#   1. TAXII Add Objects over HTTPS: 4 publishers, envelopes of 1,000
#      objects, every 202 after a durable commit, into a fresh database that
#      grows to 1,000,000 objects; daemon peak memory (beside Jansson's
#      parse rate of the same files);
#   2. ctihub import of one 1,000,000-object bundle (beside Jansson's);
#   3. TAXII reads: GET objects?limit=100 at random positions with wrk, at
#      10,000, 100,000 and 1,000,000 objects, beside the same stack
#      serving one fixed page; a full walk in pages of 1,000; the daemon's
#      private memory; the same reads under a realistic sharing policy;
#   4. push (push.sh): 20 subscribers receiving while 100,000 objects are
#      ingested, beside ingest alone and the receiver's own ceiling;
#   5. observables (obs.sh): indexing cost, 10,000-value and single
#      lookups and exports at 10,000,000 indexed observables;
#   6. feeds (feeds.sh): a 1,000,000-line IP list stored, its unchanged
#      re-runs and an edit.
# Input comes from ../shared/tools/gen_bundles.py (generated once, kept in
# $BENCH_DATA).  BENCH_OBJECTS scales the runs down (default 1000000).
# BENCH_SKIP_INGEST, BENCH_SKIP_IMPORT, BENCH_SKIP_READ, BENCH_SKIP_PUSH,
# BENCH_SKIP_OBS, BENCH_SKIP_FEEDS
# (set: skip that part) and BENCH_READ_SIZES (default "10000 100000 1000000") narrow a run.
# Usage: tests/bench/run.sh build/release
set -eu
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
. "$SRC/tests/bench/bench.sh"
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
# the generator's 20 members (m000..m019) with their countries
CC="BR RU IN CN ZA ID SG MY TH VN PH US CA MX AR CL CO EG AE PE"
i=0
for m in pub1 pub2 pub3 pub4 reader $(seq -f 'm%03g' 0 19); do
	case $m in
	m*) c=$(echo $CC | cut -d' ' -f$((i + 1))); i=$((i + 1)) ;;
	*) c=BR ;;
	esac
	bench_member $m $c "$PW"
done
# a realistic sharing policy: 3 groups; each producer shares AMBER with
# its groups, AMBER+STRICT with two named members, RED with nobody
mkdir -p policy-real
cat >policy-real/hub.policy <<EOM
group brics = BR RU IN CN ZA ID EG AE
group asean = ID SG MY TH VN PH
group americas = BR US CA MX AR CL CO PE
EOM
i=0
for c in $CC; do
	m=$(printf 'm%03d' $i)
	# AMBER+STRICT to two members of its own group (the level order
	# requires them among the AMBER audience)
	case $c in
	BR) g="brics americas" s="m001 m002" ;;
	ID) g="brics asean" s="m006 m007" ;;
	RU | IN | CN | ZA | EG | AE) g=brics s="m000 m005" ;;
	SG | MY | TH | VN | PH) g=asean s="m005 m006" ;;
	*) g=americas s="m000 m011" ;;
	esac
	s=$(echo $s | tr ' ' '\n' | grep -v "^$m$" | tr '\n' ' ')
	printf 'default amber\nshare amber with groups %s\nshare amber+strict with members %s\n' \
	    "$g" "$s" >policy-real/$m.policy
	i=$((i + 1))
done
mkdir -p policy
bench_conf hub.conf state
bench_conf import.conf state-import

"$B/ctihubd" -c hub.conf 2>hub.log &
PID=$!
hub_wait hub.log $PID || { cat hub.log; exit 1; }
PORT=$(hub_port hub.log)
CA=$T/state/tls/cert.pem

echo
echo "== 1. TAXII Add Objects over HTTPS ($N objects)"
[ -n "${BENCH_SKIP_INGEST:-}" ] || "$B/tests/bench_ingest" -u "https://127.0.0.1:$PORT/bench/collections/bench/objects/" \
    -k "$CA" -a "pub1:bench-password,pub2:bench-password,pub3:bench-password,pub4:bench-password" \
    -d "$DATA/env-$N" -c 4 -p "$PID"
kill -TERM "$PID"
wait "$PID" || true
PID=

echo
if [ -z "${BENCH_SKIP_IMPORT:-}" ]; then
echo "== 2. ctihub import of one $N-object bundle"
"$B/tests/bench_import" "$B/ctihub" import.conf pub1 bench \
    "$(ls "$DATA/bundle-$N"/b*.json | head -1)"
fi
if [ -n "${BENCH_SKIP_READ:-}" ]; then
	[ -n "${BENCH_SKIP_PUSH:-}" ] || "$SRC/tests/bench/push.sh" "$B"
	[ -n "${BENCH_SKIP_OBS:-}" ] || "$SRC/tests/bench/obs.sh" "$B"
	[ -n "${BENCH_SKIP_FEEDS:-}" ] || "$SRC/tests/bench/feeds.sh" "$B"
	exit 0
fi

echo
echo "== 3. TAXII reads: GET .../objects/?limit=100 (wrk -t2 -c32 -d10s), a full walk"
AUTH="Authorization: Basic $(printf 'reader:bench-password' | base64)"
cat >pages.lua <<'EOM'
local dates = {}
for line in io.lines(os.getenv("DATES")) do dates[#dates + 1] = line end
math.randomseed(os.time())
request = function()
	return wrk.format("GET", os.getenv("PATHQ") .. dates[math.random(#dates)])
end
EOM
cpu_ticks() { # cpu_ticks PID: user + system clock ticks so far
	awk '{print $14 + $15}' /proc/$1/stat
}
# wrkrun PID URL [LUA]: prints "req/s p50 p99 us", us being the server's
# CPU time (user + system, all threads) per request: steadier than
# requests/s on a shared machine, where wrk and the server share 2 cores
wrkrun() {
	c0=$(cpu_ticks $1)
	if [ -n "${3:-}" ]; then
		wrk -t2 -c32 -d10s --latency -H "$AUTH" -s "$3" "$2" >wrk.out 2>&1
	else
		wrk -t2 -c32 -d10s --latency -H "$AUTH" "$2" >wrk.out 2>&1
	fi
	c1=$(cpu_ticks $1)
	awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
	    /requests in/ {n=$1} /Requests\/sec/ {r=$2}
	    $1=="50%" {p50=$2} $1=="99%" {p99=$2}
	    END {printf "%s %s %s %.0fus\n", r, p50, p99, t * 1e6 / hz / n}' wrk.out
}
# static_run: the fixed page served by the same stack; prints wrkrun's line
static_run() {
	"$B/tests/bench_static" 0 static-cert.pem static-key.pem page.json 2 2>static.log &
	SPID=$!
	i=0
	until grep -q ready static.log; do
		i=$((i + 1))
		[ $i -lt 100 ] || exit 1
		sleep 0.05
	done
	wrkrun $SPID "https://127.0.0.1:$(sed -n 's/ready //p' static.log)/page"
	kill $SPID
	wait $SPID 2>/dev/null || true
}
printf '%-10s %12s %10s %10s %12s\n' objects requests/s p50 p99 cpu/request >reads.txt
largest=
for n in ${BENCH_READ_SIZES:-10000 100000 1000000}; do
	[ "$n" -le "$N" ] || continue
	largest=$n
	bench_conf read-$n.conf state-read-$n
	# the first n/1000 envelopes, each imported as the member that
	# published it (b<batch>-m<member>-<CC>.json)
	ls "$DATA/env-$N"/b*.json | sort | head -$((n / 1000)) >files-$n.txt
	for m in $(seq -f '%03g' 0 19); do
		files=$(grep -- "-m$m-" files-$n.txt || true)
		[ -n "$files" ] && "$B/ctihub" import $files --as m$m \
		    --collection bench -c read-$n.conf --quiet >/dev/null
	done
	"$B/ctihubd" -c read-$n.conf 2>read-$n.log &
	PID=$!
	hub_wait read-$n.log $PID || { cat read-$n.log; exit 1; }
	PORT=$(hub_port read-$n.log)
	URL="https://127.0.0.1:$PORT/bench/collections/bench"
	CA=$T/state-read-$n/tls/cert.pem
	"$B/tests/bench_walk" -u "$URL/manifest/" -k "$CA" \
	    -a reader:bench-password -o dates-$n.txt >/dev/null
	# a full walk first: it also maps the database in, as a running hub
	# has it (the random pages below then measure the hub, not faults)
	"$B/tests/bench_walk" -u "$URL/objects/" -k "$CA" \
	    -a reader:bench-password -l 1000 >walk.txt
	printf '%-10s %12s %10s %10s %12s\n' $n $(DATES=dates-$n.txt \
	    PATHQ="/bench/collections/bench/objects/?limit=100&added_after=" \
	    wrkrun $PID "$URL/objects/" pages.lua) >>reads.txt
	if [ ! -f page.json ]; then
		# the fixed page: the first 100 objects, with this hub's
		# certificate; served once now and once after all sizes
		curl -s --cacert "$CA" -u reader:bench-password \
		    "$URL/objects/?limit=100" -o page.json
		cp "$CA" static-cert.pem
		cp "$T/state-read-$n/tls/key.pem" static-key.pem
		STATIC1=$(static_run)
	fi
	# the largest size run last: its walk and memory are kept
	echo "daemon after the reads: private (RssAnon) $(awk '/RssAnon/ {print $2/1024}' /proc/$PID/status) MB for $(sed -n 's/.*ready: \([0-9]*\) HTTP.*/\1/p' read-$n.log) workers, RSS $(awk '/VmRSS/ {print $2/1024}' /proc/$PID/status) MB" >mem.txt
	kill -TERM $PID
	wait $PID || true
	PID=
done
# the same reads of the largest collection under the realistic policy
# (the largest size that was run, not the last one listed)
n=${largest:?no read size fits BENCH_OBJECTS}
"$B/ctihub" policy check policy-real -c read-$n.conf || exit 1
bench_conf read-real.conf state-read-$n policy-real
"$B/ctihubd" -c read-real.conf 2>read-real.log &
PID=$!
hub_wait read-real.log $PID || { cat read-real.log; exit 1; }
PORT=$(hub_port read-real.log)
URL="https://127.0.0.1:$PORT/bench/collections/bench"
"$B/tests/bench_walk" -u "$URL/objects/" -k "$CA" -a reader:bench-password \
    -l 1000 >walk-real.txt
POLICY=$(DATES=dates-$n.txt \
    PATHQ="/bench/collections/bench/objects/?limit=100&added_after=" \
    wrkrun $PID "$URL/objects/" pages.lua)
kill -TERM $PID
wait $PID || true
PID=
STATIC2=$(static_run)
STATIC=$(echo "$STATIC1 $STATIC2" | awk '{printf "%.2f", ($1 + $5) / 2}')
printf 'fixed %d-byte page, same stack (evhttp + OpenSSL, 2 threads): %s requests/s (mean of a run before the reads: %s, p50 %s, p99 %s, %s cpu/request; and after: %s, p50 %s, p99 %s, %s cpu/request)\n' \
    "$(wc -c <page.json)" $STATIC $STATIC1 $STATIC2
cat reads.txt
awk -v s="$STATIC" -v c="$(echo "$STATIC1 $STATIC2" | awk '{print ($4 + $8) / 2}')" 'NR > 1 {printf "ratio to the fixed page at %s objects: %.2f in requests/s, %.2f in CPU per request\n", $1, $2 / s, c / $5}' reads.txt
cat walk.txt mem.txt
NOPOL=$(tail -1 reads.txt | awk '{print $2, $5}')
printf 'with a realistic policy (20 producers, 3 groups, TLP mix), %s objects: %s requests/s, p50 %s, p99 %s, %s cpu/request\n' \
    "$n" $POLICY
echo "$NOPOL $POLICY" | awk '{printf "policy cost: %.1f%% of the read rate without producer policies, %.1f%% more CPU per request\n", ($1 - $3) / $1 * 100, ($6 - $2) / $2 * 100}'
sed 's/^walk:/walk with the realistic policy:/' walk-real.txt

[ -n "${BENCH_SKIP_PUSH:-}" ] || "$SRC/tests/bench/push.sh" "$B"
[ -n "${BENCH_SKIP_OBS:-}" ] || "$SRC/tests/bench/obs.sh" "$B"
