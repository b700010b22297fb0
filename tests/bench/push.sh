#!/bin/sh
# push.sh -- the push benchmark (issue 11).  One publisher side (4
# connections of tests/bench_ingest) posts BENCH_PUSH_OBJECTS (default
# 100,000) TLP CLEAR/GREEN objects while 20 subscribers receive on
# loopback: 8 webhooks (payload full), 6 TAXII receivers and 6 SSE
# streams, all held by one push_rx process, plus one webhook subscriber
# pointed at a closed port.  Figures, each beside a reference measured in
# the same run on the same machine:
#   1. aggregate objects delivered per second (the sum over the 20
#      subscribers / wall time from the first post to the last delivery),
#      beside the ingest rate alone (the same input into a hub with no
#      subscriptions) and push_rx's own ceiling (a libcurl load loop
#      posting 500-object envelopes to it);
#   2. p50/p99 commit -> delivery of the healthy subscribers, from the
#      hub's ctihub_push_delivery_seconds histogram, while the dead one is
#      retried, and as push_rx saw it (now - the event's date_added, for
#      stream events and webhook batches);
#   3. the hub's memory per open idle stream (VmRSS delta / 1,000 streams)
#      beside per plain idle TLS connection (1,000 that send nothing).
# Every subscriber's count is checked against what polling the collection
# with the same filters returns (bench_walk): at least the latest version
# of every object, at most every version.  Input comes from
# ../shared/tools/gen_bundles.py, generated once into $BENCH_DATA.
# Usage: tests/bench/push.sh build/release
set -eu
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
. "$SRC/tests/bench/bench.sh"
DATA=${BENCH_DATA:-/tmp/ctihub-bench-data}
N=${BENCH_PUSH_OBJECTS:-100000}
NIDLE=${BENCH_PUSH_IDLE:-1000}
GEN=${GEN:-$SRC/../shared/tools/gen_bundles.py}
T=$(mktemp -d /tmp/ctihub-push.XXXXXX)
PID=
RX=
RX1=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	[ -n "$RX" ] && kill "$RX" 2>/dev/null
	[ -n "$RX1" ] && kill "$RX1" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
# 1,000 streams, 1,000 plain connections, and the hub's own files
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

IN=$DATA/push-env-$N
mkdir -p "$DATA"
if [ ! -d "$IN" ]; then
	echo "generating $N TLP CLEAR/GREEN objects in envelopes of 1,000 ($IN)"
	python3 "$GEN" --objects "$N" --batch-size 1000 --envelope \
	    --tlp clear=50,green=50 --out "$IN.tmp" --quiet
	mv "$IN.tmp" "$IN"
fi

cd "$T"
COLL=3a8f5c7e-1b2d-4e6f-8a9b-0c1d2e3f4a5b
PW=$(echo bench-password | "$B/ctihub" member passwd --stdin)
# publishers, a reader, the 20 subscribers and the dead one
WEBHOOKS="w01 w02 w03 w04 w05 w06 w07 w08"
TAXIIS="t01 t02 t03 t04 t05 t06"
STREAMS="s01 s02 s03 s04 s05 s06"
for m in pub1 pub2 pub3 pub4 reader $WEBHOOKS $TAXIIS $STREAMS wdead; do
	bench_member $m BR "$PW"
done
mkdir -p policy
echo bench-password >rx.pw
chmod 600 rx.pw

# push_rx's certificate: self-signed for 127.0.0.1, its own CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 \
    -keyout rx-key.pem -out rx-cert.pem 2>/dev/null

# write_conf FILE STATE [push [SUBSCRIPTIONS]]: the benchmark's hub, with
# room for 1,000 streams and 1,000 plain connections from 127.0.0.1 (and
# time to open them); with push, the stream limit and the subscriptions
write_conf() {
	bench_conf "$1" "$2"
	cat >>"$1" <<EOM
max_conns 4096
max_conns_per_addr 4096
header_timeout 120s
EOM
	[ -n "${3:-}" ] && echo "max_streams 4096" >>"$1"
	if [ -n "${4:-}" ]; then
		printf 'subscriptions %s\npush_allow 127.0.0.1/32\n' "$4" >>"$1"
	fi
	return 0
}
# the subscriptions: the last webhook and TAXII receiver and stream take
# indicators only; a filter costs the hub a scan, as it would a poller
write_subs() { # write_subs FILE RXPORT
	for w in $WEBHOOKS wdead; do
		port=$2
		[ $w = wdead ] && port=1
		types=
		[ $w = w08 ] && types="types indicator"
		cat >>"$1" <<EOM
subscription $w {
	member $w
	collection bench/bench
	mode webhook
	target https://127.0.0.1:$port/hook/$w
	ca_file rx-cert.pem
	secret whsec_$(head -c 32 /dev/urandom | base64)
	payload full
	$types
	${BENCH_PUSH_BATCH:+batch $BENCH_PUSH_BATCH}
}
EOM
	done
	for t in $TAXIIS; do
		types=
		[ $t = t06 ] && types="types indicator"
		cat >>"$1" <<EOM
subscription $t {
	member $t
	collection bench/bench
	mode taxii
	target https://127.0.0.1:$2/taxii/$t/api/collections/$COLL/
	user $t
	password_file rx.pw
	ca_file rx-cert.pem
	$types
	${BENCH_PUSH_BATCH:+batch $BENCH_PUSH_BATCH}
}
EOM
	done
	for s in $STREAMS; do
		cat >>"$1" <<EOM
subscription $s {
	member $s
	collection bench/bench
	mode stream
}
EOM
	done
}
# start_hub CONF LOG: sets PID, PORT, MPORT, CA
start_hub() {
	"$B/ctihubd" -c "$1" 2>"$2" &
	PID=$!
	hub_wait "$2" $PID || { cat "$2"; exit 1; }
	PORT=$(hub_port "$2")
	MPORT=$(hub_metrics_port "$2")
	CA=$T/$(sed -n 's/^state_dir //p' "$1")/tls/cert.pem
}
stop_hub() {
	hub_term $PID || kill -KILL $PID
	wait $PID 2>/dev/null || true
	PID=
}
# start_rx LOG ARGS...: push_rx in the background, sets RX and RXPORT
start_rx() {
	_log=$1
	shift
	"$B/tests/push_rx" "$@" 2>"$_log" >"$_log.out" &
	RX=$!
	_i=0
	until grep -q '^ready' "$_log" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] && kill -0 $RX 2>/dev/null || {
			cat "$_log"
			exit 1
		}
		sleep 0.05
	done
	RXPORT=$(sed -n 's/^ready //p' "$_log")
}
stop_rx() {
	kill -TERM $RX 2>/dev/null || true
	wait $RX 2>/dev/null || true
	RX=
}
rss() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }
now() { date +%s.%N; }
# mem_run LABEL ARGS...: a fresh hub, its RSS, then with NIDLE
# connections of push_rx ARGS; prints "LABEL KIB-PER-CONNECTION"
mem_run() {
	_label=$1
	shift
	start_hub mem.conf mem-$_label.log
	sleep 1
	r0=$(rss $PID)
	start_rx rx-$_label.log -K "$CA" -o idle-$_label.txt -n "$NIDLE" \
	    "$@" -u "$(echo "$URLM" | sed "s/@PORT@/$PORT/")"
	i=0
	until grep -q "open $NIDLE " idle-$_label.txt 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then
			echo "$_label: not all open in 60 s: $(cat idle-$_label.txt)"
			break
		fi
		sleep 0.1
	done
	sleep 2
	r1=$(rss $PID)
	tail -1 idle-$_label.txt >&2
	stop_rx
	stop_hub
	echo "$_label $r0 $r1" | awk -v n="$NIDLE" '{printf "%s: hub VmRSS %d -> %d KiB: %.1f KiB each\n", $1, $2, $3, ($3 - $2) / n}'
}
PUBS="pub1:bench-password,pub2:bench-password,pub3:bench-password,pub4:bench-password"

echo
echo "== push: $N objects, 20 subscribers (8 webhook, 6 TAXII, 6 stream) + 1 down"

# reference 1: push_rx's own ceiling, 500-object envelopes (a batch's
# default size), 4 connections, 5 s; its CPU per object beside it
python3 - "$(ls "$IN"/b*.json | head -1)" <<'EOM'
import json, sys
d = json.load(open(sys.argv[1]))
d["objects"] = d["objects"][:500]
open("b500.json", "w").write(json.dumps(d, separators=(",", ":")))
EOM
start_rx rx-ref.log -c rx-cert.pem -k rx-key.pem
c0=$(awk '{print $14 + $15}' /proc/$RX/stat)
"$B/tests/push_rx" -L "https://127.0.0.1:$RXPORT/hook/load" -b b500.json \
    -K rx-cert.pem -C 4 -d 5 | tee ceiling.txt
c1=$(awk '{print $14 + $15}' /proc/$RX/stat)
"$B/tests/push_rx" -L "https://127.0.0.1:$RXPORT/taxii/load/api/collections/x/objects/" \
    -b b500.json -K rx-cert.pem -C 4 -d 5 | sed 's/ceiling/ceiling, TAXII/'
stop_rx
awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '{
    for (i = 1; i < NF - 2; i++)
	if ($(i + 1) == "posts" && $(i + 2) == "of") n = $i * $(i + 3)}
    END {if (n) printf "push_rx CPU: %.2f us per object received " \
	"(webhook, its whole process)\n", t / hz * 1e6 / n}' ceiling.txt

# reference 2: ingest alone, the same input into a hub with no
# subscriptions
write_conf ref.conf state-ref
start_hub ref.conf ref.log
echo "-- reference: ingest alone"
"$B/tests/bench_ingest" -u "https://127.0.0.1:$PORT/bench/collections/bench/objects/" \
    -k "$CA" -a "$PUBS" -d "$IN" -c 4 -p "$PID" | tee ingest-ref.txt |
    grep -E '^(ingest|failed|daemon CPU)'
stop_hub

write_conf push.conf state-push push subs.conf
: >subs.conf
# the receiver first (its port goes into the subscriptions)
SA="added_after=2000-01-01T00:00:00.000000Z"
write_subs subs.conf 1
write_conf mem.conf state-ref
URLM="https://127.0.0.1:@PORT@/"
if ! "$B/ctihub" check -c push.conf >check.txt 2>&1; then
	echo "push: this build does not take the push configuration; skipped:"
	cat check.txt
	echo "-- hub memory: $NIDLE plain idle TLS connections"
	mem_run plain -i
	exit 0
fi
write_conf mem.conf state-ref push
: >subs.conf
start_rx rx.log -c rx-cert.pem -k rx-key.pem -o counts.txt
write_subs subs.conf "$RXPORT"
start_hub push.conf push.log
set --
for s in $STREAMS; do
	q=$SA
	[ $s = s06 ] && q="$q&match%5Btype%5D=indicator"
	set -- "$@" -t "$s=https://$s:bench-password@127.0.0.1:$PORT/bench/collections/bench/stream/?$q"
done
# the streams live in a second push_rx (its own counts file): the first
# already listens; both share the 2 cores the same way
RX1=$RX
start_rx rxs.log -K "$CA" -o counts-s.txt "$@"
RX2=$RX
i=0
until [ "$(grep -c ' open$' rxs.log)" -ge 6 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || { cat rxs.log; exit 1; }
	sleep 0.05
done

echo "-- ingest while pushing"
BENCH_T0_FILE=$T/t0 "$B/tests/bench_ingest" \
    -u "https://127.0.0.1:$PORT/bench/collections/bench/objects/" \
    -k "$CA" -a "$PUBS" -d "$IN" -c 4 -p "$PID" | tee ingest-push.txt |
    grep -E '^(ingest|failed|daemon CPU)'
# until nothing has moved for 5 s (600 s at most)
total() { cat counts.txt counts-s.txt 2>/dev/null |
    awk '$2 ~ /hook|taxii|stream/ && $1 != "wdead" {n += $3} END {print n + 0}'; }
last=-1
still=0
i=0
while [ $still -lt 10 ] && [ $i -lt 1200 ]; do
	cur=$(total)
	if [ "$cur" = "$last" ]; then still=$((still + 1)); else still=0; fi
	last=$cur
	i=$((i + 1))
	sleep 0.5
done
curl -s "http://127.0.0.1:$MPORT/metrics" >metrics.txt || true
# what polling gives, all and indicators only: at least the latest
# version of each object (a walk now), at most every version (a poller
# following added_after meets a version only while it is the latest: how
# many it meets depends on when it asks)
walk() { # walk QUERY: objects in a walk of objects/?QUERY
	"$B/tests/bench_walk" -k "$CA" -a reader:bench-password -l 1000 \
	    -u "https://127.0.0.1:$PORT/bench/collections/bench/objects/?$1" |
	    awk '{print $2}'
}
V="match%5Bversion%5D"
TI="match%5Btype%5D=indicator"
ALL="$(walk "$V=last") $(walk "$V=all")"
IND="$(walk "$V=last&$TI") $(walk "$V=all&$TI")"
kill -TERM $RX2 $RX1 2>/dev/null || true
wait $RX2 $RX1 2>/dev/null || true
RX=
RX1=
stop_hub

cat counts.txt counts-s.txt | sort >counts-all.txt
echo "-- per subscriber: objects received (what polling gives: latest versions..all versions)"
awk -v all="$ALL" -v ind="$IND" -v t0="$(cat t0)" '
    $1 == "idle" || $1 == "load" {next}
    $1 == "wdead" {print "wdead (closed port):", $3, "objects"; next}
    {
	r = all
	if ($1 == "w08" || $1 == "t06" || $1 == "s06") r = ind
	split(r, w, " ")
	tag = ""
	if ($3 < w[1]) tag = " SHORT"
	if ($3 > w[2]) tag = " OVER"
	printf "%s %-6s %7d (polling: %d..%d)%s, last at +%.2f s\n", $1, $2,
	    $3, w[1], w[2], tag, $8 - t0
	sum += $3; mode[$2] += $3
	if ($8 > end) end = $8
	if (tag != "") bad++
    }
    END {
	dt = end - t0
	printf "aggregate: %d objects delivered to 20 subscribers in %.2f s " \
	    "(first post to last delivery): %.0f objects/s " \
	    "(webhook %.0f, taxii %.0f, stream %.0f)\n", sum, dt, sum / dt,
	    mode["hook"] / dt, mode["taxii"] / dt, mode["stream"] / dt
	if (bad) printf "%d subscribers outside what polling gives\n", bad
    }' counts-all.txt
grep '^ingest' ingest-ref.txt | sed 's/^/reference, no subscriptions: /'
grep '^ingest' ingest-push.txt | sed 's/^/while pushing: /'
sed 's/^/reference: /' ceiling.txt

# commit -> delivery from the hub's histogram: per series (the labels
# before le), interpolated inside the bucket as histogram_quantile does;
# the series of the dead subscriber aside
echo "-- commit -> delivery (ctihub_push_delivery_seconds)"
awk '
function q(key, p,    i, r, lo, prev, w) {
	r = p * tot[key]; prev = 0; lo = 0
	for (i = 1; i <= nb[key]; i++) {
		if (cum[key, i] >= r) {
			if (le[key, i] == "+Inf") return ">" lo
			w = (r - prev) / (cum[key, i] - prev + 1e-9)
			return sprintf("%.3f", lo + (le[key, i] - lo) * w)
		}
		prev = cum[key, i]; lo = le[key, i]
	}
	return "-"
}
/^ctihub_push_delivery_seconds_bucket\{/ {
	s = $1; sub(/^[^{]*\{/, "", s); sub(/\}$/, "", s)
	l = s; sub(/.*le="/, "", l); sub(/".*/, "", l)
	key = s; sub(/,?le="[^"]*"/, "", key)
	if (key ~ /wdead/) { dead = dead " " $2; next }
	if (!(key in nb)) nseries++
	i = ++nb[key]; le[key, i] = l; cum[key, i] = $2; tot[key] = $2
	# all healthy series together (same bounds in every series)
	all[l] += $2; order[i] = l; nall = i
}
END {
	if (nseries == 0) { print "no ctihub_push_delivery_seconds in /metrics"; exit }
	for (key in nb) {
		name = key
		if (name ~ /subscription="/) {
			sub(/.*subscription="/, "", name); sub(/".*/, "", name)
		}
		printf "%s: n %d, p50 %s s, p99 %s s\n", name, tot[key],
		    q(key, 0.5), q(key, 0.99)
	}
	for (i = 1; i <= nall; i++) {
		le["ALL", i] = order[i]; cum["ALL", i] = all[order[i]]
	}
	nb["ALL"] = nall; tot["ALL"] = all[order[nall]]
	printf "healthy subscribers together: n %d, p50 %s s, p99 %s s\n",
	    tot["ALL"], q("ALL", 0.5), q("ALL", 0.99)
}' metrics.txt | sort
# the same seen by the receivers: stream events (each one) and webhook
# batches (each one's newest event), now - its date_added
grep -h '^latency' rx.log.out rxs.log.out || true
grep -E '^ctihub_push_(deliveries_total|suspended|lag_objects)\{[^}]*wdead' \
    metrics.txt | sed 's/,collection="[^"]*"//; s/^/the dead subscriber: /' ||
    true

echo "-- hub memory: $NIDLE idle streams beside $NIDLE plain idle TLS connections"
mem_run plain -i
URLM="https://reader:bench-password@127.0.0.1:@PORT@/bench/collections/bench/stream/"
mem_run streams
