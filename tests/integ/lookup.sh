#!/bin/sh
# lookup.sh -- the lookup API over real TLS, run by run.sh in its prepared
# directory (the throwaway CA and server certificate): a hub of its own
# with indicators published over TAXII (ingest indexes their
# observables), then GET
# and POST lookups: hits and misses, containment, a bad value in a batch,
# 10,000 values in one POST, 401 without credentials, the limits (413,
# 415), the sharing policy (a member sees its hit, another does not), the
# audit record, and ctihub lookup.  Prints TAP; every wait is bounded.
# Usage: tests/integ/lookup.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
mkdir -p "$T/lookup/policy" && cd "$T/lookup" || exit 1
cp ../ca.pem ../server.pem ../server.key .
LPID=
lrc=0
cleanup_lookup() { [ -n "$LPID" ] && kill -9 "$LPID" 2>/dev/null; }
trap cleanup_lookup EXIT
tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; lrc=1; fi
}

PW=lookup-pass-1
PWLINE=$(echo $PW | "$B/ctihub" member passwd --stdin) || exit 1
COLL=5a5a5a5a-1111-4111-8111-111111111111
for m in alice:BR:"publisher subscriber" bob:IN:subscriber erin:MX:subscriber; do
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
audit_log audit.jsonl
api_root api1 {
	title "Lookups"
	collection $COLL {
		title "Shared"
		read any
		write role publisher
	}
}
EOM
"$B/ctihubd" -c ctihub.conf 2>hub.log &
LPID=$!
if ! hub_wait hub.log $LPID; then
	tap fail "lookup: the hub starts"
	sed 's/^/# /' hub.log | tail -20
	exit 1
fi
URL="https://127.0.0.1:$(hub_port hub.log)/api1"
TX='application/taxii+json;version=2.1'
cx() { # cx USER ARGS...: curl as USER, prints the status code last
	u=$1
	shift
	curl -s --cacert ca.pem -u "$u:$PW" -H "Accept: $TX" \
	    -w '\n%{http_code}' "$@"
}

GREEN=marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da
AMBER=marking-definition--f88d31f6-486f-44da-b317-01333bde0b82
ind() { # ind N MARKING PATTERN
	printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"%s","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","confidence":80,"object_marking_refs":["%s"]}' \
	    "$1" "$3" "$2"
}
printf '{"objects":[%s,%s,%s,%s]}' \
    "$(ind 1 $GREEN "[ipv4-addr:value = '198.51.100.7']")" \
    "$(ind 2 $AMBER "[domain-name:value = 'amber.example']")" \
    "$(ind 4 $GREEN "[autonomous-system:number = 64512]")" \
    "$(ind 3 $GREEN "[ipv4-addr:value = '10.0.0.0/8']")" >env.json
out=$(cx alice -X POST -H "Content-Type: $TX" --data-binary @env.json \
    "$URL/collections/$COLL/objects/")
code=$(echo "$out" | tail -1)
n=0
while [ $n -lt 100 ]; do # the writer commits: the objects are there
	got=$(cx alice "$URL/collections/$COLL/objects/" | grep -o '"indicator--' | wc -l)
	[ "$got" -ge 4 ] && break
	sleep 0.05
	n=$((n + 1))
done
if [ "$code" = 202 ] && [ "$got" -ge 4 ]; then
	tap ok "lookup: four indicators published (and indexed by ingest)"
else
	tap fail "lookup: publishing ($code, $got objects)"
fi

# GET: a hit, exactly; an address inside an indexed range; a miss
out=$(cx erin "$URL/lookup/?value=198.51.100.7")
if [ "$(echo "$out" | tail -1)" = 200 ] &&
    echo "$out" | grep -q '"id":"indicator--00000001-0000-4000-8000-000000000000"' &&
    echo "$out" | grep -q '"how":"exact"' &&
    echo "$out" | grep -q '"producer":"alice"'; then
	tap ok "lookup: GET finds the indicator that holds the address"
else
	tap fail "lookup: GET exact: $out"
fi
# an AS number given as STIX types it (an integer), asked as AS64512
out=$(cx erin "$URL/lookup/?value=AS64512")
if echo "$out" | grep -q '"id":"indicator--00000004-0000-4000-8000-000000000000"' &&
    echo "$out" | grep -q '"type":"asn","canonical":"64512"'; then
	tap ok "lookup: an integer autonomous-system:number is found as AS64512"
else
	tap fail "lookup: AS number: $out"
fi
out=$(cx erin "$URL/lookup/?value=10.1.2.3&type=ipv4")
if echo "$out" | grep -q '"how":"in-range","matched":"10.0.0.0/8"\|"matched":"10.0.0.0/8","how":"in-range"'; then
	tap ok "lookup: an address finds the range that holds it"
else
	tap fail "lookup: containment: $out"
fi
# policy: bob (IN) may see alice's AMBER indicator, erin (MX) may not
ob=$(cx bob "$URL/lookup/?value=amber.example")
oe=$(cx erin "$URL/lookup/?value=amber.example")
if echo "$ob" | grep -q 'indicator--00000002' &&
    ! echo "$oe" | grep -q 'indicator--00000002' &&
    echo "$oe" | grep -q '"matches":\[\],"summary":{"count":0,"members":\[\]'; then
	tap ok "lookup: the AMBER hit is bob's, erin gets a miss (not counted)"
else
	tap fail "lookup: policy: bob $ob / erin $oe"
fi
# 401 without credentials, 406 for another media type
u=$(curl -s --cacert ca.pem -o /dev/null -w '%{http_code}' "$URL/lookup/?value=1.2.3.4")
a=$(curl -s --cacert ca.pem -u "erin:$PW" -H 'Accept: text/html' -o /dev/null \
    -w '%{http_code}' "$URL/lookup/?value=1.2.3.4")
if [ "$u" = 401 ] && [ "$a" = 406 ]; then
	tap ok "lookup: 401 without credentials, 406 for text/html"
else
	tap fail "lookup: unauthenticated $u, text/html $a"
fi

# POST: 10,000 values, misses and a bad value among them
python3 - <<'EOP'
import json
v = ["192.0.2.%d" % (i % 250) if i % 2 else "h%d.example.org" % i
     for i in range(9998)]
v.append("198.51.100.7")
v.append({"value": "not an address", "type": "ipv4"})
json.dump({"values": v}, open("big.json", "w"))
v.append("one too many")
json.dump({"values": v}, open("toobig.json", "w"))
EOP
start=$(date +%s%N)
out=$(curl -s --cacert ca.pem -u "erin:$PW" -H 'Accept: application/json' \
    -H 'Content-Type: application/json' --data-binary @big.json \
    -o big.out -w '%{http_code}' "$URL/lookup/")
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$out" = 200 ] && python3 - <<'EOP'
import json, sys
r = json.load(open("big.out"))["results"]
ok = (len(r) == 10000 and r[0]["ok"] and r[0]["matches"] == []
      and r[9998]["matches"][0]["id"].startswith("indicator--00000001")
      and r[9999]["ok"] is False and r[9999]["error"].startswith("ipv4"))
sys.exit(0 if ok else 1)
EOP
then
	tap ok "lookup: a POST of 10,000 values answers each, misses and a bad value included (${ms} ms over TLS)"
else
	tap fail "lookup: POST of 10,000 values: $out $(head -c 300 big.out)"
fi
t=$(curl -s --cacert ca.pem -u "erin:$PW" -H "Content-Type: $TX" \
    --data-binary @toobig.json -o /dev/null -w '%{http_code}' "$URL/lookup/")
c=$(curl -s --cacert ca.pem -u "erin:$PW" -H 'Content-Type: text/plain' \
    --data-binary @big.json -o /dev/null -w '%{http_code}' "$URL/lookup/")
j=$(curl -s --cacert ca.pem -u "erin:$PW" -H "Content-Type: $TX" \
    --data-binary '{"values":' -o /dev/null -w '%{http_code}' "$URL/lookup/")
if [ "$t" = 413 ] && [ "$c" = 415 ] && [ "$j" = 400 ]; then
	tap ok "lookup: 10,001 values 413, text/plain 415, broken JSON 400"
else
	tap fail "lookup: limits: 10,001 values $t, text/plain $c, broken JSON $j"
fi

# the command line, as erin: her hit, and a miss where bob would hit
out=$("$B/ctihub" lookup -c ctihub.conf --member erin 198.51.100.7 amber.example 2>&1)
if echo "$out" | grep -q '^198.51.100.7	ipv4 198.51.100.7	1 match' &&
    echo "$out" | grep -q '^amber.example	domain amber.example	no match'; then
	tap ok "lookup: ctihub lookup answers as the member asked for"
else
	tap fail "lookup: ctihub lookup: $out"
fi

# the audit: one record per lookup, with the member and the ids returned
if hub_term $LPID 200; then LPID=; fi
if grep '"event":"lookup"' audit.jsonl | grep '"member":"erin"' |
    grep -q '"ids":\["indicator--00000001'; then
	tap ok "lookup: audited like a read (member, values, ids returned)"
else
	tap fail "lookup: audit: $(grep lookup audit.jsonl | head -3)"
fi
n=$(grep -c "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" hub.log)
if [ "$n" -eq 0 ]; then tap ok "lookup: no sanitizer report from the hub"
else tap fail "lookup: sanitizer reports: $(grep -A8 'ERROR\|runtime error' hub.log | head -20)"; fi
exit $lrc
