#!/bin/sh
# misp_export.sh -- the MISP feed export tests, run by run.sh in its
# prepared directory (the throwaway CA and server certificate): a hub of
# its own; alice publishes GREEN, AMBER (shared with bob), RED (shared
# with nobody), expired, revoked and edited indicators, carol GREEN ones,
# dave AMBER ones (shared with bob); then bob and carol each download
# misp/manifest.json, every event and hashes.csv over HTTPS, and
# misp_feed_client parses them back with the MISP feed connector: exactly
# the visible indicators, latest versions, with their TLP.  Also: content
# types, gzip, HEAD, ETag and 304, a new post changes the ETag, misp_max,
# the audit record, 401, 403, 404 for an event the member sees nothing
# of, and for an unknown name.
# Prints TAP; every wait is bounded.
# Usage: tests/integ/misp_export.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
mkdir -p "$T/misp_export" && cd "$T/misp_export" || exit 1
cp ../ca.pem ../server.pem ../server.key .
XPID=
erc=0
cleanup_misp() {
	[ -n "$XPID" ] && kill -9 "$XPID" 2>/dev/null
}
trap cleanup_misp EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; erc=1; fi
}
note() { sed 's/^/# /'; }

PW=misp-pass-1
PWLINE=$(echo $PW | "$B/ctihub" member passwd --stdin) || exit 1
C1=55555555-5555-4555-8555-555555555555 # read any
C2=66666666-6666-4666-8666-666666666666 # carol may write, not read
C3=77777777-7777-4777-8777-777777777777 # alice only
mkdir -p policy
cat >members.conf <<EOM
member alice {
	name "Alice CERT"
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
	roles publisher subscriber
	$PWLINE
}
member dave {
	name "Dave CERT"
	country DE
	roles publisher subscriber
	$PWLINE
}
EOM
cat >policy/alice.policy <<EOM
default amber
share amber with members bob
EOM
cat >policy/dave.policy <<EOM
default amber
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
metrics_listen off
audit_log audit.jsonl
misp_max 6
api_root x1 {
	title "MISP hub"
	collection $C1 {
		title "Exchange"
		read any
		write role publisher
	}
	collection $C2 {
		title "Drop box"
		read member alice
		write any
	}
	collection $C3 {
		title "Alice's"
		read member alice
		write member alice
	}
}
EOM
"$B/ctihubd" -c ctihub.conf 2>>hub.log &
XPID=$!
if ! hub_wait hub.log $XPID; then
	tap fail "misp hub starts"
	note <hub.log
	exit 1
fi
PORT=$(hub_port hub.log)
U=https://127.0.0.1:$PORT/x1/collections
TAXII="application/taxii+json;version=2.1"
cx() { # cx USER [curl args...]: curl as USER ("-": nobody)
	_u=$1
	shift
	if [ "$_u" = - ]; then
		curl -s --cacert ca.pem --max-time 20 "$@"
	else
		curl -s --cacert ca.pem --max-time 20 -u "$_u:$PW" "$@"
	fi
}
code() { # code USER URL [curl args...]: the status only
	_u=$1
	_l=$2
	shift 2
	cx "$_u" -o /dev/null -w '%{http_code}' "$@" "$_l"
}

GREEN=marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da
AMBER=marking-definition--f88d31f6-486f-44da-b317-01333bde0b82
RED=marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed
ind() { # ind UUID PATTERN MARKING [extra JSON members] [modified]
	printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%s",' "$1"
	printf '"created":"2025-01-01T00:00:00.000Z",'
	printf '"modified":"%s",' "${5:-2025-01-01T00:00:00.000Z}"
	printf '"pattern":"%s","pattern_type":"stix",' "$2"
	printf '"valid_from":"2025-01-01T00:00:00Z",'
	printf '"object_marking_refs":["%s"]%s}' "$3" "${4:-}"
}
post() { # post USER COLL ENVELOPE: waits (10 s at most) for the commit
	_r=$(cx "$1" -X POST -H "Accept: $TAXII" \
	    -H "Content-Type: $TAXII" --data-binary "$3" "$U/$2/objects/")
	_st=$(echo "$_r" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
	[ -n "$_st" ] || return 1
	_i=0
	while [ $_i -lt 200 ]; do
		cx "$1" -H "Accept: $TAXII" \
		    "https://127.0.0.1:$PORT/x1/status/$_st/" |
		    grep -q '"status":"complete"' && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}
# fetch USER DIR: the whole feed of C1 as USER into DIR (as MISP does:
# the manifest, then each event, then hashes.csv)
fetch() {
	rm -rf "$2" && mkdir -p "$2" || return 1
	cx "$1" -D "$2/h.manifest" -o "$2/manifest.json" \
	    "$U/$C1/misp/manifest.json" || return 1
	"$B/tests/misp_feed_client" uuids "$2" >"$2/uuids" || return 1
	while read -r _uu; do
		[ "$(cx "$1" -o "$2/$_uu.json" -w '%{http_code}' \
		    "$U/$C1/misp/$_uu.json")" = 200 ] ||
		    return 1
	done <"$2/uuids"
	cx "$1" -D "$2/h.hashes" -o "$2/hashes.csv" "$U/$C1/misp/hashes.csv"
}

FAR=',"valid_until":"2099-01-01T00:00:00Z","confidence":80'
A1=$(ind 11111111-0000-4000-8000-000000000001 \
    "[ipv4-addr:value = '10.1.1.1'] OR [domain-name:value = 'green.example']" \
    $GREEN "$FAR,\"labels\":[\"botnet\"]")
A2=$(ind 11111111-0000-4000-8000-000000000002 \
    "[url:value = 'http://amber.example/x']" $AMBER "$FAR")
A3=$(ind 11111111-0000-4000-8000-000000000003 \
    "[ipv4-addr:value = '10.3.3.3']" $RED "$FAR")
A4=$(ind 11111111-0000-4000-8000-000000000004 \
    "[ipv4-addr:value = '192.0.2.1']" $GREEN \
    ',"valid_until":"2020-01-01T00:00:00Z"')
A5=$(ind 11111111-0000-4000-8000-000000000005 \
    "[ipv4-addr:value = '198.51.100.7']" $GREEN "$FAR")
A6=$(ind 11111111-0000-4000-8000-000000000006 \
    "[ipv4-addr:value = '10.6.6.1']" $GREEN "$FAR")
# later versions: A5 revoked, A6 edited (only 10.6.6.2 may appear)
A5R=$(ind 11111111-0000-4000-8000-000000000005 \
    "[ipv4-addr:value = '198.51.100.7']" $GREEN "$FAR,\"revoked\":true" \
    2025-02-01T00:00:00.000Z)
A6E=$(ind 11111111-0000-4000-8000-000000000006 \
    "[ipv4-addr:value = '10.6.6.2']" $GREEN "$FAR" 2025-02-01T00:00:00.000Z)
CG=$(ind 22222222-0000-4000-8000-000000000001 \
    "[file:hashes.'SHA-256' = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']" \
    $GREEN "$FAR")
DA=$(ind 33333333-0000-4000-8000-000000000001 \
    "[ipv4-addr:value = '10.4.4.4']" $AMBER "$FAR")
A7=$(ind 11111111-0000-4000-8000-000000000007 \
    "[ipv4-addr:value = '172.16.0.1']" $GREEN "$FAR")

if post alice $C1 "{\"objects\":[$A1,$A2,$A3,$A4,$A5,$A6]}" &&
    post alice $C1 "{\"objects\":[$A5R,$A6E]}" &&
    post carol $C1 "{\"objects\":[$CG]}" &&
    post dave $C1 "{\"objects\":[$DA]}" &&
    post alice $C3 "{\"objects\":[$A7]}"; then
	tap ok "misp: indicators posted"
else
	tap fail "misp: indicators posted"
	note <hub.log
fi

SHA=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
# --- bob: alice's GREEN and AMBER, carol's GREEN, dave's AMBER -------------
if fetch bob bob && "$B/tests/misp_feed_client" stix bob 2>bob.err |
    sort >bob.got; then
	cat >bob.want <<EOM
[domain-name:value = 'green.example'] GREEN
[file:hashes.'SHA-256' = '$SHA'] GREEN
[ipv4-addr:value = '10.1.1.1'] GREEN
[ipv4-addr:value = '10.4.4.4'] AMBER
[ipv4-addr:value = '10.6.6.2'] GREEN
[url:value = 'http://amber.example/x'] AMBER
EOM
	if [ -s bob/hashes.csv ] && ! [ -s bob.err ] &&
	    sort bob.want | cmp -s - bob.got; then
		tap ok "misp: bob's feed round-trips (values, types, TLP; no RED, expired, revoked, old version, other collection)"
	else
		tap fail "misp: bob's feed"
		note <bob.got
		note <bob.err
	fi
else
	tap fail "misp: bob's feed downloads and parses"
	note <bob.err
fi
[ "$(wc -l <bob/uuids)" -eq 3 ] &&
    tap ok "misp: one event per producer and day (3 for bob)" ||
    tap fail "misp: bob's events: $(wc -l <bob/uuids)"
grep -qi '^content-type: application/json' bob/h.manifest &&
    grep -qi '^etag: ' bob/h.manifest &&
    grep -qi '^content-type: text/csv' bob/h.hashes &&
    tap ok "misp: content types and an ETag" ||
    { tap fail "misp: headers"; note <bob/h.manifest; }
grep -q '"botnet"' bob/*.json &&
    tap ok "misp: labels become tags" || tap fail "misp: labels"

# --- carol: alice's GREEN and her own -------------------------------------
if fetch carol carol && "$B/tests/misp_feed_client" stix carol 2>carol.err |
    sort >carol.got; then
	cat >carol.want <<EOM
[domain-name:value = 'green.example'] GREEN
[file:hashes.'SHA-256' = '$SHA'] GREEN
[ipv4-addr:value = '10.1.1.1'] GREEN
[ipv4-addr:value = '10.6.6.2'] GREEN
EOM
	if ! [ -s carol.err ] && sort carol.want | cmp -s - carol.got; then
		tap ok "misp: carol's feed round-trips (no AMBER of alice or dave)"
	else
		tap fail "misp: carol's feed"
		note <carol.got
		note <carol.err
	fi
else
	tap fail "misp: carol's feed downloads and parses"
	note <carol.err
fi
if ! grep -q '10\.4\.4\.4\|amber\.example' carol/manifest.json carol/*.json &&
    [ "$(wc -l <carol/hashes.csv)" -eq 4 ]; then
	tap ok "misp: nothing of AMBER in carol's files (manifest, events, hashes.csv)"
else
	tap fail "misp: carol's files"
fi
# dave's event: in bob's manifest, not in carol's; carol asking: 404
DEV=$(grep -vxF -f carol/uuids bob/uuids | while read -r u; do
	grep -l '"Dave CERT"' "bob/$u.json" >/dev/null && echo "$u"
done)
c=$(code carol "$U/$C1/misp/$DEV.json")
[ -n "$DEV" ] && [ "$c" = 404 ] &&
    tap ok "misp: another member's event is not served (404)" ||
    tap fail "misp: dave's event $DEV for carol: $c"
AEV=$(grep -xF -f carol/uuids bob/uuids | while read -r u; do
	grep -l '"Alice CERT"' "bob/$u.json" >/dev/null && echo "$u"
done)
cx carol "$U/$C1/misp/$AEV.json" >carol.aev
[ -n "$AEV" ] && grep -q '10.1.1.1' carol.aev &&
    ! grep -q 'amber.example' carol.aev &&
    tap ok "misp: a shared event holds only what the member sees" ||
    tap fail "misp: alice's event for carol"

# --- ETag, 304 -------------------------------------------------------------
cx bob -H 'Accept-Encoding: gzip' -D h.gz "$U/$C1/misp/hashes.csv" >bob.hashes.gz
if grep -qi '^content-encoding: gzip' h.gz && grep -qi '^vary: accept-encoding' h.gz &&
    gzip -dc <bob.hashes.gz | cmp -s - bob/hashes.csv; then
	tap ok "misp: gzip decodes to the same body"
else
	tap fail "misp: gzip"
	note <h.gz
fi
c=$(code bob "$U/$C1/misp/manifest.json" -I)
[ "$c" = 200 ] && tap ok "misp: HEAD" || tap fail "misp: HEAD: $c"
# the ETag moves with the minute too (expiry): take a fresh one, and once
# more if a minute turned between the two requests
for _try in 1 2; do
	cx bob -D h.fresh -o /dev/null "$U/$C1/misp/manifest.json"
	TAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^\r]*\).*/\1/p' h.fresh)
	c=$(code bob "$U/$C1/misp/manifest.json" -H "If-None-Match: $TAG")
	[ "$c" = 304 ] && break
done
c2=$(code carol "$U/$C1/misp/manifest.json" -H "If-None-Match: $TAG")
[ "$c" = 304 ] && [ "$c2" = 200 ] &&
    tap ok "misp: If-None-Match gives 304 (for that member only)" ||
    tap fail "misp: If-None-Match gave $c / $c2"
for _try in 1 2; do # (a minute may turn between the two)
	ETAG=$(cx bob -D - -o /dev/null "$U/$C1/misp/$AEV.json" | sed -n 's/^[Ee][Tt]ag: *\([^[:space:]]*\).*/\1/p')
	c=$(code bob "$U/$C1/misp/$AEV.json" -H "If-None-Match: $ETAG")
	[ "$c" = 304 ] && break
done
[ -n "$ETAG" ] && [ "$c" = 304 ] && tap ok "misp: an event's 304" ||
    tap fail "misp: an event's 304: $c"
A8=$(ind 11111111-0000-4000-8000-000000000008 \
    "[ipv4-addr:value = '10.8.8.8']" $GREEN "$FAR")
post alice $C1 "{\"objects\":[$A8]}"
c=$(code bob "$U/$C1/misp/manifest.json" -H "If-None-Match: $TAG")
c2=$(code bob "$U/$C1/misp/$AEV.json" -H "If-None-Match: $ETAG")
cx bob "$U/$C1/misp/hashes.csv" >bob.hashes.2
[ "$c" = 200 ] && [ "$c2" = 200 ] &&
    [ "$(wc -l <bob.hashes.2)" -eq $(($(wc -l <bob/hashes.csv) + 1)) ] &&
    tap ok "misp: a new post changes the ETags and the feed" ||
    tap fail "misp: after a new post: $c $c2"

# bob now sees 6 indicators, misp_max: a 7th is left out, and said so
A9=$(ind 11111111-0000-4000-8000-000000000009 \
    "[ipv4-addr:value = '10.9.9.9']" $GREEN "$FAR")
post alice $C1 "{\"objects\":[$A9]}"
cx bob -D h.trunc "$U/$C1/misp/hashes.csv" >bob.hashes.3
if grep -qi '^x-ctihub-truncated: true' h.trunc &&
    [ "$(wc -l <bob.hashes.3)" -eq "$(wc -l <bob.hashes.2)" ] &&
    grep -q 'misp_max' hub.log; then
	tap ok "misp: misp_max bounds an answer (truncated, said in a header and the log)"
else
	tap fail "misp: misp_max"
	note <h.trunc
fi

audited() { # the record of carol's hashes.csv
	grep '"event":"misp"' audit.jsonl | grep '"member":"carol"' |
	    grep '"file":"hashes.csv"' | grep -q '"indicators":3,"complete":true'
}
i=0
while ! audited && [ $i -lt 50 ]; do # written off the request: 5 s at most
	sleep 0.1
	i=$((i + 1))
done
if audited; then
	tap ok "misp: audited (member, file, indicators)"
else
	tap fail "misp: audit"
	grep '"misp"' audit.jsonl | note
fi

# --- access ----------------------------------------------------------------
c=$(code - "$U/$C1/misp/manifest.json")
[ "$c" = 401 ] && tap ok "misp: no credentials: 401" ||
    tap fail "misp: no credentials: $c"
c=$(code carol "$U/$C2/misp/manifest.json")
[ "$c" = 403 ] && tap ok "misp: write-only member: 403" ||
    tap fail "misp: write-only member: $c"
c=$(code bob "$U/$C3/misp/manifest.json")
[ "$c" = 404 ] && tap ok "misp: a collection the member cannot see: 404" ||
    tap fail "misp: invisible collection: $c"
c=$(code bob "$U/$C1/misp/nothing.json")
c2=$(code bob "$U/$C1/misp/00000000-0000-4000-8000-000000000000.json")
[ "$c" = 404 ] && [ "$c2" = 404 ] &&
    tap ok "misp: an unknown name or event: 404" ||
    tap fail "misp: unknown name/event: $c $c2"
cx alice "$U/$C3/misp/manifest.json" >alice.m
[ "$(grep -o '"timestamp"' alice.m | wc -l)" -eq 1 ] &&
    tap ok "misp: alice's own collection" ||
    { tap fail "misp: alice's collection"; note <alice.m; }

if hub_term $XPID; then
	XPID=
else
	tap fail "misp: the hub stops"
fi
n=$(grep -c "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" hub.log)
[ "$n" -eq 0 ] && tap ok "misp: no sanitizer report from its hub" ||
    { tap fail "misp: $n sanitizer reports"; note <hub.log; }
exit $erc
