#!/bin/sh
# feed_taxii.sh -- the upstream TAXII feed connector (feeds/feed_taxii.c)
# against a real ctihubd as the upstream, over TLS, run by run.sh in its
# prepared directory (the throwaway CA and server certificate).  While
# objects are being published, feed_taxii_client pages the collection with
# limit=7 and match[type]=indicator until caught up, run after run from
# its saved cursor; then more are published and it pulls again from the
# saved cursor.  Every indicator must arrive exactly once, no malware
# (the filter is kept on every page), unmarked ones with the feed's TLP.
# Prints TAP; every wait is bounded.
# Usage: tests/integ/feed_taxii.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
mkdir -p "$T/feed_taxii/policy" && cd "$T/feed_taxii" || exit 1
cp ../ca.pem ../server.pem ../server.key .
FPID=
POSTER=
frc=0
cleanup_feed() {
	[ -n "$POSTER" ] && kill "$POSTER" 2>/dev/null
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
}
trap cleanup_feed EXIT
tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; frc=1; fi
}

PW=feed-pass-1
PWLINE=$(echo $PW | "$B/ctihub" member passwd --stdin) || exit 1
COLL=6b6b6b6b-2222-4222-8222-222222222222
for m in alice:BR:"publisher subscriber" bob:IN:subscriber; do
	id=${m%%:*} rest=${m#*:}
	printf 'member %s {\n\tname "%s"\n\tcountry %s\n\troles %s\n\t%s\n}\n' \
	    "$id" "$id" "${rest%%:*}" "${rest#*:}" "$PWLINE"
done >members.conf
cat >policy/alice.policy <<EOM
default amber
share amber with countries IN
EOM
cat >ctihub.conf <<EOM
listen 127.0.0.1:0
tls_cert server.pem
tls_key server.key
state_dir state
map_size 256M
members members.conf
policy_dir policy
api_root api1 {
	title "Upstream"
	collection $COLL {
		title "Upstream feed"
		read any
		write role publisher
	}
}
EOM
"$B/ctihubd" -c ctihub.conf 2>hub.log &
FPID=$!
if ! hub_wait hub.log $FPID; then
	tap fail "feed_taxii: the upstream hub starts"
	sed 's/^/# /' hub.log | tail -20
	exit 1
fi
export FEED_URL="https://127.0.0.1:$(hub_port hub.log)/api1/collections/$COLL/objects/" \
    FEED_CA="$T/feed_taxii/ca.pem"
C="$B/tests/feed_taxii_client"
: >ids

# 1. pull while alice publishes 150 indicators (and 50 malware)
FEED_USER=alice:$PW "$C" post 1 150 2>post.err &
POSTER=$!
runs=0 ok=1
while :; do # one run after another until the poster is done and a run
	done_before=0 # after that caught up
	kill -0 $POSTER 2>/dev/null || done_before=1
	FEED_USER=bob:$PW "$C" pull cursor.bin ids >>pull.log 2>&1 || ok=0
	runs=$((runs + 1))
	[ $ok = 1 ] || break
	[ $done_before = 1 ] && break
	[ $runs -lt 400 ] || { ok=0; break; }
	sleep 0.02
done
wait $POSTER
prc=$?
POSTER=
n=$(sort ids | uniq | wc -l)
d=$(sort ids | uniq -d | wc -l)
if [ $ok = 1 ] && [ $prc = 0 ] && [ "$n" = 150 ] && [ "$d" = 0 ] &&
    [ "$(wc -l <ids)" = 150 ]; then
	tap ok "feed_taxii: paged with limit=7 while written to ($runs runs): 150 indicators, each once"
	grep -v "0 objects" pull.log | head -4
else
	tap fail "feed_taxii: while written to: ok=$ok post=$prc $n distinct, $d duplicated, $(wc -l <ids) lines, $runs runs"
	sed 's/^/# /' post.err pull.log | tail -20
fi

# 2. nothing new: a run from the saved cursor reads nothing
before=$(wc -l <ids)
FEED_USER=bob:$PW "$C" pull cursor.bin ids >>pull.log 2>&1
rc=$?
if [ $rc = 0 ] && [ "$(wc -l <ids)" = "$before" ]; then
	tap ok "feed_taxii: a run from the saved cursor, nothing new: no object"
else
	tap fail "feed_taxii: nothing new: rc=$rc, $(($(wc -l <ids) - before)) objects"
fi

# 3. more published, pulled from the saved cursor (state blob on disk)
FEED_USER=alice:$PW "$C" post 151 40 2>>post.err || tap fail "feed_taxii: post more"
i=0 # the writer commits asynchronously: pull until all 190 are there
while [ "$(sort -u ids | wc -l)" -lt 190 ] && [ $i -lt 100 ]; do
	FEED_USER=bob:$PW "$C" pull cursor.bin ids >>pull.log 2>&1 || break
	i=$((i + 1))
	sleep 0.05
done
n=$(sort ids | uniq | wc -l)
d=$(sort ids | uniq -d | wc -l)
if [ "$n" = 190 ] && [ "$d" = 0 ] && [ "$(wc -l <ids)" = 190 ] &&
    [ "$(head -c1 cursor.bin | od -An -tu1 | tr -d ' ')" = 1 ]; then
	tap ok "feed_taxii: 40 more pulled from the saved cursor: 190 overall, each exactly once"
else
	tap fail "feed_taxii: from the saved cursor: $n distinct, $d duplicated, $(wc -l <ids) lines"
	tail -5 pull.log | sed 's/^/# /'
fi
if grep -q "malware--" ids; then
	tap fail "feed_taxii: match[type]=indicator kept on every page"
else
	tap ok "feed_taxii: match[type]=indicator kept on every page (no malware)"
fi
# 4. the feed engine itself (ctihub feed run --store, the hub's own run)
# into a second database, run after run while alice publishes 60 more:
# every indicator exactly once (objects and stored add up, no duplicate)
mkdir -p down/policy
echo "$PW" >down/bob.pw
chmod 600 down/bob.pw
# (and squatter, a member of the downstream hub who publishes one of the
# upstream's indicators first, under its own name: ids belong to their
# first producer, so the feed's copy is refused, counted and logged)
printf 'member mirror {\n\tname "Mirror"\n\tcountry IN\n\troles publisher subscriber\n\t%s\n}\nmember squatter {\n\tname "Squatter"\n\tcountry IN\n\troles publisher\n\t%s\n}\n' \
    "$PWLINE" "$PWLINE" >down/members.conf
cat >down/ctihub.conf <<EOM
listen 127.0.0.1:0
tls_cert ../server.pem
tls_key ../server.key
state_dir state
map_size 256M
members members.conf
policy_dir policy
feeds feeds.conf
feed_allow 127.0.0.1/32
api_root d1 {
	title "Downstream"
	collection 6c6c6c6c-3333-4333-8333-333333333333 {
		title "Mirror"
		alias mirror
		read any
		write member mirror
	}
	collection 6c6c6c6c-4444-4444-8444-444444444444 {
		title "Squatted"
		alias squat
		read any
		write member squatter
	}
}
EOM
cat >down/feeds.conf <<EOM
feed up {
	kind taxii
	url https://127.0.0.1:$(hub_port hub.log)/api1/collections/$COLL/
	ca_file ../ca.pem
	user bob password_file bob.pw
	every 1h
	member mirror
	collection d1/mirror
	tlp amber
	match type indicator
	limit 7
}
EOM
"$B/ctihub" feed run up --json -c down/ctihub.conf 2>/dev/null | head -1 |
    python3 -c "
import json, sys
o = json.loads(sys.stdin.readline())['objects'][0]
print(o['id'])
json.dump({'type': 'bundle', 'id': 'bundle--6c6c6c6c-5555-4555-8555-555555555555',
           'objects': [o]}, open('down/squat.json', 'w'))" >down/squat.id
"$B/ctihub" import down/squat.json --as squatter --collection squat \
    -c down/ctihub.conf -q >down/squat.txt 2>&1 ||
    tap fail "feed_taxii: squatter imports $(cat down/squat.id)"
FEED_USER=alice:$PW "$C" post 191 60 2>>post.err &
POSTER=$!
runs=0 ok=1
: >down/runs.txt
while :; do
	done_before=0
	kill -0 $POSTER 2>/dev/null || done_before=1
	"$B/ctihub" feed run up --store -c down/ctihub.conf >>down/runs.txt \
	    2>>down/runs.err || ok=0
	runs=$((runs + 1))
	[ $ok = 1 ] || break
	[ $done_before = 1 ] && break
	[ $runs -lt 200 ] || { ok=0; break; }
done
wait $POSTER
POSTER=
i=0 # the last posts commit asynchronously: run until nothing more comes
while [ $i -lt 20 ]; do
	"$B/ctihub" feed run up --store -c down/ctihub.conf >>down/runs.txt \
	    2>>down/runs.err || ok=0
	grep -q ": ok: 0 objects" down/runs.txt && [ "$(sed -n 's/.*: ok: \([0-9]*\) objects, \([0-9]*\) stored.*/\1 \2/p' down/runs.txt | awk '{o+=$1} END {print o}')" -ge 250 ] && break
	i=$((i + 1))
	sleep 0.1
done
sums=$(sed -n 's/.*: ok: \([0-9]*\) objects, \([0-9]*\) stored, \([0-9]*\) already stored, \([0-9]*\) rejected.*/\1 \2 \3 \4/p' down/runs.txt |
    awk '{o+=$1; s+=$2; d+=$3; r+=$4} END {print o, s, d, r}')
if [ $ok = 1 ] && [ "$sums" = "250 249 0 1" ]; then
	tap ok "feed_taxii: the engine (feed run --store, limit 7) while written to: 250 indicators, each once, 249 stored and the squatted one refused ($runs runs)"
else
	tap fail "feed_taxii: the engine: ok=$ok objects/stored/duplicates/rejected $sums (want 250 249 0 1)"
	tail -n 5 down/runs.txt down/runs.err | sed 's/^/# /'
fi
if grep -q "rejected, the first: $(cat down/squat.id)" down/runs.err; then
	tap ok "feed_taxii: the refused object is logged with its id"
else
	tap fail "feed_taxii: the refused object's log line"
	grep rejected down/runs.err | head -3 | sed 's/^/# /'
fi
"$B/ctihub" feed run up -c down/ctihub.conf >down/dry.txt 2>&1
if grep -q "would store 0 objects" down/dry.txt; then
	tap ok "feed_taxii: the engine's cursor was saved: a dry run finds nothing new"
else
	tap fail "feed_taxii: the engine's cursor: $(tail -1 down/dry.txt)"
fi

n=$(grep -c "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" hub.log pull.log post.err | awk -F: '{s+=$2} END {print s}')
if [ "$n" = 0 ]; then
	tap ok "feed_taxii: no sanitizer report"
else
	tap fail "feed_taxii: $n sanitizer reports"
fi
hub_term $FPID 100 || kill -9 $FPID 2>/dev/null
FPID=
exit $frc
