#!/bin/sh
# obs.sh -- the observable benchmark (issue 12).  BENCH_OBS_OBJECTS
# indicators (default 1,000,000) of ten observables each (10,000,000
# indexed observables; tests/bench/gen_obs.py) are imported into a hub.
# Figures, each beside a reference measured in the same run:
#   1. indexing: the hub's CPU per object ingesting BENCH_OBS_INGEST
#      (default 100,000) more objects (gen_bundles.py, 4 publishers over
#      HTTPS) into that database, beside the same ingest into a copy of it
#      with index_observables no;
#   2. a 10,000-value POST .../lookup/ (40% stored values, 10% addresses
#      inside stored ranges, 50% never seen): the hub's own time for it
#      (its Server-Timing header) and the client's wall time over HTTPS,
#      p50 and p99 of BENCH_OBS_BATCHES (default 50) requests;
#   3. single-value GET .../lookup/?value= (wrk -t2 -c32 -d10s), beside the
#      same TLS stack serving a fixed response of the same size
#      (bench_static) to the same requests;
#   4. a full export (.../export/sha256.txt and all.csv) streamed over
#      HTTPS, in MB/s, beside the same stack serving the same bytes from
#      memory.
# Usage: tests/bench/obs.sh build/release
set -eu
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
. "$SRC/tests/bench/bench.sh"
DATA=${BENCH_DATA:-/tmp/ctihub-bench-data}
N=${BENCH_OBS_OBJECTS:-1000000}
NB=${BENCH_OBS_BATCHES:-50}
NE=${BENCH_OBS_INGEST:-100000}
GEN=${GEN:-$SRC/../shared/tools/gen_bundles.py}
T=$(mktemp -d /tmp/ctihub-obs.XXXXXX)
PID=
SPID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$DATA"
if [ ! -d "$DATA/obs-$N" ]; then
	echo "generating $N indicators of 10 observables ($DATA/obs-$N)"
	python3 "$SRC/tests/bench/gen_obs.py" "$N" "$DATA/obs-$N.tmp"
	mv "$DATA/obs-$N.tmp" "$DATA/obs-$N"
fi
if [ ! -d "$DATA/env-$NE" ]; then
	echo "generating $NE objects in envelopes of 1,000 ($DATA/env-$NE)"
	python3 "$GEN" --objects "$NE" --batch-size 1000 --envelope \
	    --members 1 --out "$DATA/env-$NE.tmp" --quiet
	mv "$DATA/env-$NE.tmp" "$DATA/env-$NE"
fi
D=$DATA/obs-$N
cd "$T"
PW=$(echo bench-password | "$B/ctihub" member passwd --stdin)
bench_member pub1 BR "$PW"
bench_member reader BR "$PW"
mkdir -p policy
bench_conf hub.conf state
bench_conf noidx.conf state-noidx
echo "index_observables no" >>noidx.conf
# the extra map the index needs
sed -i 's/^map_size 8G/map_size 32G/' hub.conf noidx.conf

cpu_of() { # cpu_of CMD...: runs it, prints its user + system seconds
	/usr/bin/time -f '%U %S' -o cpu.out "$@" >/dev/null
	awk '{print $1 + $2}' cpu.out
}
# ingest_cpu CONF STATE: a hub on CONF takes NE objects over HTTPS (4
# publishers); prints the daemon's CPU per object
ingest_cpu() {
	"$B/ctihubd" -c "$1" 2>ingest.log &
	PID=$!
	hub_wait ingest.log $PID || { cat ingest.log; exit 1; }
	"$B/tests/bench_ingest" -u "https://127.0.0.1:$(hub_port ingest.log)/bench/collections/bench/objects/" \
	    -k "$T/$2/tls/cert.pem" -a "pub1:bench-password" -c 4 -p $PID \
	    -d "$DATA/env-$NE" >ingest.out
	kill -TERM $PID
	wait $PID || true
	PID=
	grep 'failed requests: 0' ingest.out >/dev/null || { cat ingest.out; exit 1; }
	sed -n 's/^daemon CPU: \([0-9.]*\) us per object.*/\1/p' ingest.out
}
echo
echo "== 1. indexing: $N indicators ($((N * 10)) observables) imported, then $NE more objects ingested over HTTPS"
C1=$(cpu_of "$B/ctihub" import "$D"/b*.json --as pub1 --collection bench \
    -c hub.conf --quiet)
echo "$C1 $N" | awk '{printf "import with the index: %.1f us CPU per object (%.2f us per observable)\n", $1 * 1e6 / $2, $1 * 1e6 / $2 / 10}'
# the reference: the same database, the same objects, no indexing
cp -a state state-noidx
I0=$(ingest_cpu noidx.conf state-noidx)
rm -rf state-noidx
I1=$(ingest_cpu hub.conf state)
echo "$I0 $I1" | awk '{printf "ingest CPU per object at %s: %.1f us with the index, %.1f us without (same database, index_observables no): +%.1f%%\n", "'"$((N * 10))"' observables", $2, $1, ($2 - $1) / $1 * 100}'

"$B/ctihubd" -c hub.conf 2>hub.log &
PID=$!
hub_wait hub.log $PID || { cat hub.log; exit 1; }
PORT=$(hub_port hub.log)
CA=$T/state/tls/cert.pem
URL="https://127.0.0.1:$PORT/bench"
AUTH="Authorization: Basic $(printf 'reader:bench-password' | base64)"

echo
echo "== 2. POST .../lookup/ of 10,000 values, $NB times"
python3 -c 'import json,sys; print(json.dumps({"values": open(sys.argv[1]).read().split()}))' \
    "$D/batch.txt" >batch.json
# one untimed first: the index and rows mapped in, as a running hub has
# them (the timed requests then measure the lookup, not page faults)
curl -s --cacert "$CA" -H "$AUTH" -H 'Content-Type: application/json' \
    -H 'Accept: application/json' --data-binary @batch.json -o /dev/null \
    "$URL/lookup/"
: >batch.times
i=0
while [ $i -lt "$NB" ]; do
	curl -s --cacert "$CA" -H "$AUTH" -H 'Content-Type: application/json' \
	    -H 'Accept: application/json' --data-binary @batch.json \
	    -D hdr.txt -o batch.out -w '%{time_total} ' "$URL/lookup/" >>batch.times
	sed -n 's/^[Ss]erver-[Tt]iming:.*dur=\([0-9.]*\).*/\1/p' hdr.txt >>batch.times
	i=$((i + 1))
done
python3 - batch.out <<'EOM'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
hit = sum(1 for x in r if x.get("matches"))
bad = sum(1 for x in r if x.get("error"))
print("answers: %d values, %d with matches, %d refused" % (len(r), hit, bad))
EOM
sort -n -k2 batch.times | awk '{w[NR] = $1 * 1000; s[NR] = $2} END {
    n = NR; p50 = int(n * 0.5 + 0.5); p99 = int(n * 0.99 + 0.5); if (p99 < 1) p99 = 1
    printf "server time (Server-Timing): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", s[p50], s[p99], s[n] }'
sort -n batch.times | awk '{w[NR] = $1 * 1000} END {
    n = NR; p50 = int(n * 0.5 + 0.5); p99 = int(n * 0.99 + 0.5); if (p99 < 1) p99 = 1
    printf "client wall time over HTTPS: p50 %.1f ms, p99 %.1f ms (%d requests)\n", w[p50], w[p99], n }'

echo
echo "== 3. single-value GET .../lookup/?value= (wrk -t2 -c32 -d10s)"
cat >singles.lua <<'EOM'
local v = {}
for line in io.lines(os.getenv("VALUES")) do v[#v + 1] = line end
math.randomseed(os.time())
request = function()
	return wrk.format("GET", "/bench/lookup/?value=" .. v[math.random(#v)])
end
EOM
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
wrkrun() { # wrkrun PID URL [LUA]: "req/s p50 p99 cpu-us/request"
	c0=$(cpu_ticks $1)
	if [ -n "${3:-}" ]; then
		VALUES=$D/singles.txt wrk -t2 -c32 -d10s --latency -H "$AUTH" \
		    -H 'Accept: application/json' -s "$3" "$2" >wrk.out 2>&1
	else
		wrk -t2 -c32 -d10s --latency -H "$AUTH" "$2" >wrk.out 2>&1
	fi
	c1=$(cpu_ticks $1)
	awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
	    /requests in/ {n=$1} /Requests\/sec/ {r=$2}
	    $1=="50%" {p50=$2} $1=="99%" {p99=$2}
	    END {printf "%s %s %s %.0fus\n", r, p50, p99, t * 1e6 / hz / n}' wrk.out
}
static_start() { # static_start FILE: bench_static serving FILE at /page
	"$B/tests/bench_static" 0 "$CA" "$T/state/tls/key.pem" "$1" 2 2>static.log &
	SPID=$!
	i=0
	until grep -q ready static.log 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || exit 1
		sleep 0.05
	done
	SURL="https://127.0.0.1:$(sed -n 's/ready //p' static.log)/page"
}
static_stop() { kill $SPID; wait $SPID 2>/dev/null || true; SPID=; }
# the fixed response: a typical single answer (a stored value's), served
# for the same requests (the same wrk script: the same client work)
curl -s --cacert "$CA" -H "$AUTH" -H 'Accept: application/json' \
    "$URL/lookup/?value=$(head -1 "$D/batch.txt")" -o single.json
S=$(wrkrun $PID "$URL/lookup/" singles.lua)
static_start single.json
R=$(wrkrun $SPID "$SURL" singles.lua)
static_stop
echo "$S" | awk '{printf "single lookups: %s requests/s, p50 %s, p99 %s, %s CPU/request\n", $1, $2, $3, $4}'
echo "$R" | awk -v n="$(wc -c <single.json)" '{printf "fixed %d-byte response, same stack and requests: %s requests/s, p50 %s, p99 %s, %s CPU/request\n", n, $1, $2, $3, $4}'
echo "$S $R" | awk '{printf "ratio: %.2f in requests/s, %.2f in CPU per request\n", $1 / $5, $8 / $4}'

echo
echo "== 4. export: GET .../export/sha256.txt and all.csv, beside the same bytes from memory"
for f in sha256.txt all.csv; do
	curl -s --cacert "$CA" -H "$AUTH" -o "exp-$f" \
	    -w '%{size_download} %{time_total}\n' \
	    "$URL/collections/bench/export/$f" >exp.txt
	static_start "exp-$f"
	curl -s --cacert "$CA" -o /dev/null -w '%{size_download} %{time_total}\n' \
	    "$SURL" >>exp.txt
	static_stop
	awk -v f="$f" -v l="$(wc -l <"exp-$f")" 'NR == 1 {b = $1; e = $1 / $2 / 1e6} NR == 2 {s = $1 / $2 / 1e6}
	    END {printf "export %s: %d lines, %.1f MB at %.1f MB/s; the same bytes from memory: %.1f MB/s (ratio %.2f)\n", f, l, b / 1e6, e, s, e / s}' exp.txt
	rm -f "exp-$f"
done
kill -TERM $PID
wait $PID || true
PID=
