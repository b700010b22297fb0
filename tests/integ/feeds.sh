#!/bin/sh
# feeds.sh -- the feed engine's tests, run by run.sh in its prepared
# directory (the throwaway CA and server certificate): a hub of its own
# with feeds of every snapshot kind and MISP, a loopback HTTPS file server
# (feed_srv.py) as their upstream, and:
#   - the scheduler runs every enabled feed at start; a feed whose upstream
#     is down fails, is counted and shown, and the hub keeps serving;
#   - the real lists of ../shared/data are stored (file and HTTPS sources
#     give the same indicators), re-runs store nothing (a 304 on the
#     server's log: If-None-Match / If-Modified-Since were sent);
#   - a list edit stores exactly the new entries and expires exactly the
#     vanished ones (and revoke does revoke); a truncated download
#     (empty body) expires nothing;
#   - broken lines are reported with their line numbers;
#   - a MISP feed tree: the to_ids attributes stored; after an update only
#     the new and changed events are fetched;
#   - feeds status and /metrics show runs, failures and errors.
# Prints TAP; every wait is bounded.
# Usage: tests/integ/feeds.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DATA=$SRC/../shared/data
. "$SRC/tests/hub.sh"
mkdir -p "$T/feeds" && cd "$T/feeds" || exit 1
cp ../ca.pem ../server.pem ../server.key .
FPID=
SPID=
frc=0
cleanup_feeds() {
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
}
trap cleanup_feeds EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; frc=1; fi
}
note() { sed 's/^/# /'; }
check() { # check NAME COMMAND...: ok when the command succeeds
	_n=$1
	shift
	if "$@" >/dev/null 2>&1; then tap ok "$_n"; else tap fail "$_n"; fi
}

# --- the upstream: a loopback HTTPS file server ---------------------------
mkdir -p srv/misp lists
IPS=$DATA/ioc/ip/ipsum-level3.txt
DOMS=$DATA/ioc/domain/maltrail-interlock-2.txt
cp "$IPS" srv/ips.txt
cp "$IPS" lists/ips.txt
cp "$DOMS" lists/domains.txt
cp "$SRC"/tests/fixtures/misp-feed/* srv/misp/
python3 "$SRC/tests/integ/feed_srv.py" --root srv --cert server.pem \
    --key server.key --port-file srv.port --log srv.log --max-seconds 600 \
    2>srv.err &
SPID=$!
i=0
while [ ! -s srv.port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
SP=$(cat srv.port 2>/dev/null)
if [ -z "$SP" ]; then
	tap fail "the feed server starts"
	note <srv.err
	exit 1
fi

# --- the hub ---------------------------------------------------------------
PW=feeds-pass-1
PWLINE=$(echo $PW | "$B/ctihub" member passwd --stdin) || exit 1
C1=88888888-8888-4888-8888-888888888888
mkdir -p policy
cat >members.conf <<EOM
member feeder {
	name "Feeder CERT"
	country BR
	roles publisher subscriber
	$PWLINE
}
member bob {
	name "Bob CERT"
	country IN
	roles subscriber
	$PWLINE
}
member carol {
	name "Carol CERT"
	country FR
	roles subscriber
	$PWLINE
}
EOM
echo "$PW" >pw.txt
chmod 600 pw.txt
cat >policy/feeder.policy <<EOM
default green
share amber with members bob
EOM
cat >ctihub.conf <<EOM
listen 127.0.0.1:0
tls_cert server.pem
tls_key server.key
state_dir state
map_size 256M
members members.conf
policy_dir policy
metrics_listen 127.0.0.1:0
feeds feeds.conf
feed_allow 127.0.0.1/32
api_root f1 {
	title "Feeds hub"
	collection $C1 {
		title "Feeds"
		alias feeds
		read any
		write member feeder
	}
	collection 99999999-9999-4999-8999-999999999991 {
		title "Mixed levels"
		alias mix
		read any
		write member feeder
	}
	collection 99999999-9999-4999-8999-999999999992 {
		title "Back from the MISP feed"
		alias back
		read member feeder
		write member feeder
	}
}
EOM
printf '203.0.113.1\n203.0.113.2\n203.0.113.3\n' >lists/mixg.txt
printf '203.0.113.101\n203.0.113.102\n' >lists/mixa.txt
printf '10.0.0.1\nnot an address at all\n\n# a comment\n10.0.0.2\n300.1.1.1\n10.0.0.3 # trailing\n' >lists/bad.txt
cat >feeds.conf <<EOM
feed local {
	kind list
	file lists/ips.txt
	every 1h
	member feeder
	collection f1/feeds
	tlp green
	labels ipsum
	type ipv4
}
feed web {
	kind list
	url https://127.0.0.1:$SP/ips.txt
	ca_file ca.pem
	every 1h
	member feeder
	collection f1/feeds
	tlp green
	labels ipsum-web
}
feed doms {
	kind list
	file lists/domains.txt
	every 1h
	member feeder
	collection f1/feeds
	tlp amber
	on_vanish revoke
}
feed bad {
	kind list
	file lists/bad.txt
	every 1h
	member feeder
	collection f1/feeds
}
feed misp {
	kind misp
	url https://127.0.0.1:$SP/misp/
	ca_file ca.pem
	every 1h
	member feeder
	collection f1/feeds
	tlp green
}
feed down {
	kind list
	url https://127.0.0.1:1/nothing.txt
	ca_file ca.pem
	every 1h
	timeout 5s
	member feeder
	collection f1/feeds
}
EOM
# hostile upstreams, run by hand below (enabled no: the scheduler leaves them)
for f in endless:endless/x.json:'max_bytes 1M' hang:hang/x.txt:'timeout 2s' \
    trunc:trunc/ips.txt:'' e500:500/ips.txt:'' html:page.html:''; do
	n=${f%%:*} rest=${f#*:}
	cat >>feeds.conf <<EOM
feed $n {
	kind list
	url https://127.0.0.1:$SP/${rest%%:*}
	ca_file ca.pem
	enabled no
	every 1h
	member feeder
	collection f1/feeds
	${rest#*:}
}
EOM
done
# the hub's own MISP feed of "mix", read back by the MISP connector as
# carol (may read GREEN only) and as bob (also AMBER, shared with him)
for f in mixg:green mixa:amber; do
	cat >>feeds.conf <<EOM
feed ${f%%:*} {
	kind list
	file lists/${f%%:*}.txt
	every 1h
	member feeder
	collection f1/mix
	tlp ${f#*:}
	type ipv4
}
EOM
done
for u in carol bob; do
	cat >>feeds.conf <<EOM
feed back-$u {
	kind misp
	url https://127.0.0.1:1/f1/collections/99999999-9999-4999-8999-999999999991/misp/
	ca_file ca.pem
	user $u password_file pw.txt
	enabled no
	every 1h
	member feeder
	collection f1/back
}
EOM
done
printf '<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n' >srv/page.html
if ! "$B/ctihub" check -c ctihub.conf >check.txt 2>&1; then
	tap fail "the feeds configuration checks"
	note <check.txt
	exit 1
fi
"$B/ctihubd" -c ctihub.conf 2>>hub.log &
FPID=$!
if ! hub_wait hub.log $FPID; then
	tap fail "feeds hub starts"
	note <hub.log
	exit 1
fi
PORT=$(hub_port hub.log)
MPORT=$(hub_metrics_port hub.log)
sed -i "s#127.0.0.1:1/f1/#127.0.0.1:$PORT/f1/#" feeds.conf # read at each run

status() { # status FEED FIELD: a field of `feeds status --json`
	"$B/ctihub" feeds status --json -c ctihub.conf | python3 -c "
import json, sys
for f in json.load(sys.stdin):
    if f['feed'] == '$1':
        v = f
        for k in '$2'.split('.'):
            v = v[k]
        print(v)"
}

# every enabled feed runs at start (jitter 0): wait for six runs
i=0
while [ $i -lt 300 ]; do
	n=0
	for f in local web doms bad misp down; do
		[ "$(status $f runs 2>/dev/null)" = 1 ] && n=$((n + 1))
	done
	[ $n -eq 6 ] && break
	sleep 0.1
	i=$((i + 1))
done
tap $([ $n -eq 6 ] && echo ok || echo fail) "the scheduler ran every feed at start ($n of 6)"
"$B/ctihub" feeds status -c ctihub.conf | note

NIPS=$(grep -cE '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' "$IPS")
NDOMS=$(grep -vcE '^[[:space:]]*(#|$)' "$DOMS")
check "local: every address of the ipsum list stored ($NIPS)" \
    test "$(status local last.stored)" = "$NIPS"
check "web: the same list over HTTPS stored too ($NIPS)" \
    test "$(status web last.stored)" = "$NIPS"
check "doms: the maltrail domains stored ($NDOMS)" \
    test "$(status doms last.stored)" = "$NDOMS"
check "down: the run failed and says why" \
    sh -c "test \"\$('$B/ctihub' feeds status --json -c ctihub.conf | grep -o '\"feed\":\"down\"[^}]*' | grep -c '\"outcome\":\"failed\"')\" = 1"
check "down: the failure is in the log with the feed's name" \
    grep -q "feed down: " hub.log
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem \
    -u bob:$PW "https://127.0.0.1:$PORT/taxii2/")
check "the hub serves while a feed fails ($code)" test "$code" = 200

# bad lines: numbers and reasons, in the log and from feed run
check "bad: 3 addresses stored" test "$(status bad last.stored)" = 3
check "bad: 2 lines skipped" test "$(status bad last.line_errors)" = 2
check "bad: line 2 is reported in the hub's log" \
    grep -q "feed bad: .*line 2: " hub.log
check "bad: line 6 is reported in the hub's log" \
    grep -q "feed bad: .*line 6: " hub.log
touch lists/bad.txt
"$B/ctihub" feed run bad -c ctihub.conf >bad.out 2>bad.err
check "feed run: the skipped lines with their numbers" \
    sh -c "grep -q 'line 2: ' bad.err && grep -q 'line 6: ' bad.err"

# re-runs store nothing: conditional requests
"$B/ctihub" feed run web --store -c ctihub.conf >web2.txt 2>&1
check "web re-run: nothing stored" grep -q " 0 stored," web2.txt
check "web re-run: answered 304 (If-None-Match or If-Modified-Since sent)" \
    grep -q "(1 not modified)" web2.txt
grep -q '"status": *304' srv.log || tap fail "the server's log shows the 304"
"$B/ctihub" feed run local --store -c ctihub.conf >local2.txt 2>&1
check "local re-run: nothing stored, not modified" \
    sh -c "grep -q ' 0 stored,' local2.txt && grep -q '(1 not modified)' local2.txt"
touch lists/ips.txt
"$B/ctihub" feed run local --store -c ctihub.conf >local3.txt 2>&1
check "local re-run after touch (snapshot diff): nothing stored" \
    sh -c "grep -q ': 0 objects, 0 stored' local3.txt"

# a list edit: 3 entries gone, 2 new
sed -n '4,$p' "$IPS" | grep -vE '^#' >lists/ips.new
printf '198.51.100.7\n198.51.100.8\n' >>lists/ips.new
GONE=$(grep -E '^[0-9]' "$IPS" | head -3)
mv lists/ips.new lists/ips.txt
"$B/ctihub" feed run local -c ctihub.conf >edit.dry 2>&1
check "edit (dry run): exactly 2 to store" \
    test "$(grep -c '^store ' edit.dry)" = 2
check "edit (dry run): exactly 3 to expire" \
    test "$(grep -c '^expire ' edit.dry)" = 3
ok=1
for a in $GONE; do grep -q "^expire .*'$a'" edit.dry || ok=0; done
tap $([ $ok = 1 ] && echo ok || echo fail) "edit: the expired ones are the vanished ones"
"$B/ctihub" feed run local --store -c ctihub.conf >edit.txt 2>&1
check "edit: 5 versions stored" grep -q ": 5 objects, 5 stored" edit.txt
# (the web feed lists the same addresses: its indicators are its own, ids
# in its own namespace, and stay valid)
G1=$(echo $GONE | cut -d' ' -f1)
r=$(curl -s --cacert ca.pem -u bob:$PW \
    "https://127.0.0.1:$PORT/f1/lookup/?value=$G1&valid=true")
r2=$(curl -s --cacert ca.pem -u bob:$PW \
    "https://127.0.0.1:$PORT/f1/lookup/?value=$G1")
check "edit: a vanished address counts as valid only by the other feed listing it" \
    sh -c "echo '$r' | grep -q '\"count\":1' && echo '$r2' | grep -q '\"count\":2'"
r=$(curl -s --cacert ca.pem -u bob:$PW \
    "https://127.0.0.1:$PORT/f1/lookup/?value=198.51.100.8")
check "edit: a new address is found by lookups" \
    sh -c "echo '$r' | grep -q '\"count\":1'"

# an address that vanished comes back: the same indicator, a new version
# valid again, with the created of its first version (STIX: created never
# changes between versions)
GID=$(sed -n "s/^expire  *\(indicator--[0-9a-f-]*\) .*'$G1'.*/\1/p" edit.dry)
echo "$G1" >>lists/ips.txt
"$B/ctihub" feed run local -c ctihub.conf >back.dry 2>&1
check "back (dry run): the same id, to store" \
    grep -q "^store   $GID " back.dry
"$B/ctihub" feed run local --store -c ctihub.conf >back.txt 2>&1
curl -s --cacert ca.pem -u bob:$PW -H "Accept: application/taxii+json;version=2.1" \
    "https://127.0.0.1:$PORT/f1/collections/$C1/objects/$GID/?match%5Bversion%5D=all" >back.json
check "back: three versions, one created, the last valid again" \
    python3 -c "
import json, sys
o = json.load(open('back.json'))['objects']
assert len(o) == 3, len(o)
assert len({x['created'] for x in o}) == 1
last = max(o, key=lambda x: x['modified'])
assert 'valid_until' not in last and not last.get('revoked')"

# revoke: a domain gone is revoked
sed -i '$d' lists/domains.txt
"$B/ctihub" feed run doms --store -c ctihub.conf >doms2.txt 2>&1
check "revoke: the vanished domain's new version stored" \
    grep -q ": 1 objects, 1 stored" doms2.txt

# a truncated download (an empty body) expires nothing
: >srv/ips.txt
"$B/ctihub" feed run web --store -c ctihub.conf >trunc.txt 2>&1
check "an empty download fails the run" grep -q ": failed" trunc.txt
check "an empty download stores (expires) nothing" \
    grep -q " 0 stored," trunc.txt
cp "$IPS" srv/ips.txt
"$B/ctihub" feed run web --store -c ctihub.conf >web3.txt 2>&1
check "after it, the full list again: nothing new (the snapshot was kept)" \
    grep -q ": 0 objects, 0 stored" web3.txt

# the MISP feed round trip: exactly the visible, valid indicators
printf '203.0.113.1\n203.0.113.2\n' >lists/mixg.txt # .3 expires
"$B/ctihub" feed run mixg --store -c ctihub.conf >mixg2.txt 2>&1
sleep 1 # the export's ETag moves with date_added: a new second
for u in carol bob; do
	"$B/ctihub" feed run back-$u -c ctihub.conf >back-$u.txt 2>&1
	sed -n "s/^store .*\[ipv4-addr:value = '\([0-9.]*\)'\].*/\1/p" back-$u.txt |
	    sort >back-$u.got
done
printf '203.0.113.1\n203.0.113.2\n' >want-carol
printf '203.0.113.1\n203.0.113.101\n203.0.113.102\n203.0.113.2\n' | sort >want-bob
for u in carol bob; do
	if cmp -s back-$u.got want-$u; then
		tap ok "MISP feed round trip as $u: the connector reads back exactly the visible valid indicators ($(wc -l <want-$u))"
	else
		tap fail "MISP feed round trip as $u: got $(tr '\n' ' ' <back-$u.got), want $(tr '\n' ' ' <want-$u)"
		tail -n 3 back-$u.txt | note
	fi
done

# a reload: a feed added to the file runs, a removed one is forgotten,
# and a broken feeds file is refused with file:line (the hub goes on)
printf '192.0.2.10\n' >lists/late.txt
cat >>feeds.conf <<EOM
feed late {
	kind list
	file lists/late.txt
	every 1h
	member feeder
	collection f1/feeds
}
EOM
sed -i '/^feed mixa {/,/^}/d' feeds.conf
kill -HUP $FPID
i=0
while [ "$(status late runs 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "reload: a feed added to the file runs" test "$(status late last.stored)" = 1
printf 'feed broken {\n\tkind list\n}\n' >>feeds.conf
n0=$(grep -c "configuration reloaded" hub.log)
kill -HUP $FPID
sleep 1
check "reload: a broken feeds file is refused with file:line" \
    grep -q "feeds.conf:[0-9]*: feed broken has no" hub.log
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem \
    -u bob:$PW "https://127.0.0.1:$PORT/taxii2/")
check "reload: the hub goes on with the last good configuration ($code)" \
    test "$code" = 200
sed -i '/^feed broken {/,/^}/d' feeds.conf
: "$n0"

# hostile upstreams: each run fails with its reason, stores nothing
for f in "endless:larger than" "hang:imeout" "trunc:" "e500:500" "html:HTML"; do
	n=${f%%:*} why=${f#*:}
	"$B/ctihub" feed run $n --store -c ctihub.conf >h-$n.txt 2>&1
	if grep -q ": failed: .*$why" h-$n.txt && grep -q " 0 stored," h-$n.txt; then
		tap ok "hostile upstream $n: the run fails ($(tail -1 h-$n.txt | sed 's/.*: failed: //' | cut -c1-60)), nothing stored"
	else
		tap fail "hostile upstream $n: $(cat h-$n.txt)"
	fi
done

# MISP: only new and changed events are fetched
NM=$(grep -c 'json' srv.log)
check "misp: the fixtures' 15 to_ids indicators, their 15 SCOs and 3 event reports stored" \
    test "$(status misp last.stored)" = 33
if [ -d "$SRC/tests/fixtures/misp-feed-v2" ]; then
	rm -f srv/misp/*
	cp "$SRC"/tests/fixtures/misp-feed-v2/* srv/misp/
	: >srv.log.mark
	n0=$(wc -l <srv.log)
	"$B/ctihub" feed run misp --store -c ctihub.conf >misp2.txt 2>&1
	EV=$(tail -n +$((n0 + 1)) srv.log | grep -c '/misp/[0-9a-f-]*\.json')
	check "misp update: only the new and the changed event fetched ($EV)" \
	    test "$EV" = 2
	check "misp update: stored something" \
	    sh -c "! grep -q ' 0 stored,' misp2.txt"
fi
: "$NM"

# metrics
curl -s "http://127.0.0.1:$MPORT/metrics" >metrics.txt
check "metrics: runs by outcome" \
    grep -q 'ctihub_feed_runs_total{feed="down",outcome="failed"} [1-9]' metrics.txt
check "metrics: stored objects" \
    grep -q "ctihub_feed_stored_objects_total{feed=\"local\"} $NIPS" metrics.txt
check "metrics: line errors" \
    grep -q 'ctihub_feed_errors_total{feed="bad",kind="line"} 2' metrics.txt
check "metrics: the feed families pass promtool" \
    "$SRC/tests/promcheck.sh" metrics.txt

# kill -9 in the middle of a run: the database stays sound, the snapshot
# is not saved (nothing expired), and the next run stores the rest
python3 -c "
for i in range(200000):
    print('10.%d.%d.%d' % (i >> 16, (i >> 8) & 255, i & 255))" >lists/big.txt
cat >>feeds.conf <<EOM
feed big {
	kind list
	file lists/big.txt
	enabled no
	every 1h
	member feeder
	collection f1/feeds
	type ipv4
}
EOM
"$B/ctihub" feed run big --store -c ctihub.conf >big1.txt 2>&1 &
BPID=$!
sleep 1.5
kill -9 $BPID 2>/dev/null
wait $BPID 2>/dev/null
"$B/ctihub" verify -c ctihub.conf >verify-big.txt 2>&1
check "kill -9 in the middle of a run: the database verifies" \
    grep -q "database OK" verify-big.txt
"$B/ctihub" feed run big --store -c ctihub.conf >big2.txt 2>&1
# (a machine fast enough may have finished the first run before the kill)
check "the next run completes what the killed one had not saved" \
    sh -c "grep -q ': ok: 200000 objects' big2.txt ||
        { grep -q ': ok: 200000 objects' big1.txt && grep -q ': ok: 0 objects' big2.txt; }"
"$B/ctihub" feed run big --store -c ctihub.conf >big3.txt 2>&1
check "and its snapshot holds: a third run stores nothing" \
    grep -q ": ok: 0 objects, 0 stored" big3.txt
r=$(curl -s --cacert ca.pem -u bob:$PW \
    "https://127.0.0.1:$PORT/f1/lookup/?value=10.3.13.63&valid=true")
check "the list's last address is found" \
    sh -c "echo '$r' | grep -q '\"count\":1'"

# kill -9 and restart: the saved state survives; nothing re-stored
kill -9 $FPID
wait $FPID 2>/dev/null
FPID=
"$B/ctihub" verify -c ctihub.conf >verify.txt 2>&1
check "verify after kill -9: no problems" grep -q "database OK" verify.txt
"$B/ctihub" feed run web --store -c ctihub.conf >web4.txt 2>&1
check "after kill -9: the web feed's state holds (nothing stored)" \
    grep -q " 0 stored," web4.txt

# SIGTERM while the hub's own scheduled run is under way: the hub stops
# cleanly (documents in the pipeline finish, the run saves nothing more),
# the database verifies, and the next run completes
python3 -c "
for i in range(200000):
    print('10.%d.%d.%d' % (64 + (i >> 16), (i >> 8) & 255, i & 255))" >lists/big2.txt
cat >>feeds.conf <<EOM
feed big2 {
	kind list
	file lists/big2.txt
	every 1h
	member feeder
	collection f1/feeds
	type ipv4
}
EOM
"$B/ctihubd" -c ctihub.conf 2>>hub.log &
FPID=$!
hub_wait hub.log $FPID 2 || tap fail "the hub starts again"
sleep 1 # the run of 200,000 entries takes seconds: stop it in the middle
if hub_term $FPID; then
	wait $FPID
	rc=$?
	FPID=
	check "SIGTERM during a scheduled run: the hub exits cleanly (status $rc)" \
	    test "$rc" = 0
else
	tap fail "SIGTERM during a scheduled run: the hub did not stop in 10 s"
	kill -9 $FPID 2>/dev/null
	FPID=
fi
"$B/ctihub" verify -c ctihub.conf >verify2.txt 2>&1
check "after it, the database verifies" grep -q "database OK" verify2.txt
"$B/ctihub" feed run big2 --store -c ctihub.conf >big2.txt 2>&1
check "and the next run completes (stored what was not saved)" \
    grep -q ": ok: " big2.txt
"$B/ctihub" feed run big2 --store -c ctihub.conf >big2b.txt 2>&1
check "then its snapshot holds: nothing more" \
    grep -q ": ok: 0 objects, 0 stored" big2b.txt
n=$(cat hub.log ./*.txt ./*.err 2>/dev/null |
    grep -c "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer\|WARNING: ThreadSanitizer")
check "no sanitizer report ($n)" test "$n" = 0
kill $SPID 2>/dev/null
SPID=
exit $frc
