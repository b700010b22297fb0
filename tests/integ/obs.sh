#!/bin/sh
# obs.sh -- the observable index beside a running hub, run by run.sh in
# its prepared directory: indicators are posted while `ctihub reindex`
# rebuilds the index in small slices (its write transactions take turns
# with the hub's writer), then `ctihub verify` finds the index exact:
# every entry in its row's list and every list's item in the index.
# Prints TAP; every wait and loop is bounded.
# Usage: tests/integ/obs.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
. "$(dirname "$0")/../hub.sh"
cd "$T" || exit 1
OPID=
orc=0
cleanup_obs() {
	[ -n "$OPID" ] && kill -9 "$OPID" 2>/dev/null
}
trap cleanup_obs EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; orc=1; fi
}

# envelope FIRST COUNT: indicators FIRST.. with an IPv4, a domain, a
# file's two hashes, a /24 and an IPv6 address, so that entries of
# several types move together
envelope() {
	python3 - "$1" "$2" <<'EOP'
import json, sys, uuid
first, n = int(sys.argv[1]), int(sys.argv[2])
objs = []
for i in range(first, first + n):
    pat = ("[ipv4-addr:value = '10.1.%d.%d'] OR [domain-name:value = "
           "'h%d.Example.org'] OR [file:hashes.MD5 = '%032x' AND "
           "file:hashes.'SHA-256' = '%064x'] OR [ipv4-addr:value = "
           "'192.0.%d.7/24'] OR [ipv6-addr:value = '2001:DB8::%x']"
           % (i >> 8 & 255, i & 255, i, i, i, i & 255, i))
    objs.append({"type": "indicator", "spec_version": "2.1",
                 "id": "indicator--" + str(uuid.UUID(int=0x5000 + i,
                                                     version=4)),
                 "created": "2024-01-01T00:00:00.000Z",
                 "modified": "2024-01-01T00:00:00.000Z",
                 "pattern": pat, "pattern_type": "stix",
                 "valid_from": "2024-01-01T00:00:00Z"})
print(json.dumps({"objects": objs}))
EOP
}

sed "s|^state_dir state$|state_dir obs-state|" ctihub.conf >obs.conf
"$B/ctihubd" -c obs.conf 2>obs-hub.log &
OPID=$!
if ! hub_wait obs-hub.log $OPID; then
	tap fail "obs: ctihubd starts"
	sed 's/^/# hub: /' obs-hub.log | tail -20
	exit 1
fi
URL="https://127.0.0.1:$(hub_port obs-hub.log)/api1/collections/any/objects/"

post() { # post FIRST COUNT: the HTTP status
	envelope "$1" "$2" >"obs-env-$1.json"
	curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem \
	    -u alice:integ-pass-1 \
	    -H 'Content-Type: application/taxii+json;version=2.1' \
	    -H 'Accept: application/taxii+json;version=2.1' \
	    --data-binary @"obs-env-$1.json" "$URL"
}

codes=$(post 0 1500)
# more arrive while the reindex runs in slices of 5 rows
(
	i=1
	while [ $i -le 8 ]; do
		printf ' %s' "$(post $((i * 100 + 2000)) 100)"
		i=$((i + 1))
	done
) >obs-codes &
PPID_=$!
"$B/ctihub" reindex -c obs.conf --slice 5 >obs-reindex.out 2>&1
rrc=$?
wait $PPID_
codes="$codes $(cat obs-codes)"
if [ $rrc -eq 0 ] && grep -q "reindex done" obs-reindex.out; then
	tap ok "obs: ctihub reindex runs beside the hub ($(head -1 obs-reindex.out))"
else
	tap fail "obs: ctihub reindex beside the hub (status $rrc)"
	sed 's/^/# /' obs-reindex.out
fi
n=0
for c in $codes; do
	[ "$c" = 202 ] && n=$((n + 1))
done
if [ $n -eq 9 ]; then
	tap ok "obs: posts during the reindex accepted"
else
	tap fail "obs: posts during the reindex accepted ($codes)"
fi
# a status is answered after the commit: every post is in the index
"$B/ctihub" verify -c obs.conf >obs-verify.out 2>&1
vrc=$?
# 2300 indicators, 6 entries each
if [ $vrc -eq 0 ] && grep -q "13800 observable index entries, 2300 rows" obs-verify.out; then
	tap ok "obs: ctihub verify finds the index exact after the reindex"
else
	tap fail "obs: ctihub verify after the reindex (status $vrc)"
	sed 's/^/# /' obs-verify.out | tail -5
fi
"$B/ctihub" reindex -c obs.conf >obs-reindex.out 2>&1
if grep -q "13800 index entries checked, 0 stale removed" obs-reindex.out; then
	tap ok "obs: a second reindex finds nothing stale"
else
	tap fail "obs: a second reindex: $(tail -2 obs-reindex.out)"
fi
# a reindex killed at any moment leaves the index exact (each slice is
# one transaction), and the next one runs
"$B/ctihub" reindex -c obs.conf --slice 1 >/dev/null 2>&1 &
KPID=$!
sleep 0.3
kill -9 $KPID 2>/dev/null
wait $KPID 2>/dev/null
if "$B/ctihub" verify -c obs.conf >obs-verify.out 2>&1 &&
    "$B/ctihub" reindex -c obs.conf >obs-reindex.out 2>&1 &&
    grep -q "13800 index entries checked, 0 stale removed" obs-reindex.out; then
	tap ok "obs: a reindex killed with SIGKILL leaves the index exact"
else
	tap fail "obs: after a reindex killed with SIGKILL"
	tail -3 obs-verify.out obs-reindex.out | sed 's/^/# /'
fi
if grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" obs-hub.log; then
	tap fail "obs: no sanitizer report from the daemon"
fi
hub_term $OPID 60 || kill -9 $OPID 2>/dev/null
wait $OPID 2>/dev/null
OPID=
exit $orc
