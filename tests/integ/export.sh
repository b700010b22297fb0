#!/bin/sh
# export.sh -- the blocklist export tests, run by run.sh in its prepared
# directory (the throwaway CA and server certificate): a hub of its own,
# indicators posted by alice (GREEN, AMBER, expired, revoked, a CIDR, an
# IDN domain, a URL with a comma), then the .txt and .csv exports as bob
# (may see alice's AMBER) and carol (may not), exact contents, ETag and
# 304, a new post changes the ETag, gzip decodes to the same body, 401,
# 403 and 404.  Prints TAP; every wait is bounded.
# Usage: tests/integ/export.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
mkdir -p "$T/export" && cd "$T/export" || exit 1
cp ../ca.pem ../server.pem ../server.key .
XPID=
erc=0
cleanup_export() {
	[ -n "$XPID" ] && kill -9 "$XPID" 2>/dev/null
}
trap cleanup_export EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; erc=1; fi
}
note() { sed 's/^/# /'; }

PW=export-pass-1
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
EOM
cat >policy/alice.policy <<EOM
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
export_buffer 4k
api_root x1 {
	title "Export hub"
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
	tap fail "export hub starts"
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
ind() { # ind UUID PATTERN MARKING [extra JSON members]
	printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%s",' "$1"
	printf '"created":"2025-01-01T00:00:00.000Z",'
	printf '"modified":"2025-01-01T00:00:00.000Z",'
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

FAR=',"valid_until":"2099-01-01T00:00:00Z","confidence":80'
E1=$(ind 11111111-0000-4000-8000-000000000001 \
    "[ipv4-addr:value = '10.1.2.3/24'] OR [domain-name:value = 'B\\u00fccher.Example.']" \
    $GREEN "$FAR")
E2=$(ind 11111111-0000-4000-8000-000000000002 \
    "[url:value = 'HTTP://Evil.Example:80/a,b?q=1'] AND [ipv4-addr:value = '10.9.9.9']" \
    $AMBER)
E3=$(ind 11111111-0000-4000-8000-000000000003 \
    "[ipv4-addr:value = '192.0.2.1']" $GREEN \
    ',"valid_until":"2020-01-01T00:00:00Z"')
E4=$(ind 11111111-0000-4000-8000-000000000004 \
    "[ipv4-addr:value = '198.51.100.7']" $GREEN ',"revoked":true')
E5=$(ind 11111111-0000-4000-8000-000000000005 \
    "[ipv4-addr:value = '203.0.113.5'] AND [file:hashes.'SHA-256' = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']" \
    $GREEN "$FAR")
# not valid yet: valid_from in the future
EF=$(ind 11111111-0000-4000-8000-000000000010 \
    "[ipv4-addr:value = '192.0.2.77']" $GREEN "$FAR" |
    sed 's/"valid_from":"2025-01-01T00:00:00Z"/"valid_from":"2098-01-01T00:00:00Z"/')
# carol reports 10.9.9.9 too, GREEN: a second producer of one value
E6=$(ind 22222222-0000-4000-8000-000000000006 \
    "[ipv4-addr:value = '10.9.9.9']" $GREEN "$FAR")
# alice's own collection: never in C1's export
E7=$(ind 11111111-0000-4000-8000-000000000007 \
    "[ipv4-addr:value = '172.16.0.1']" $GREEN "$FAR")

if post alice $C1 "{\"objects\":[$E1,$E2,$E3,$E4,$E5,$EF]}" &&
    post carol $C1 "{\"objects\":[$E6]}" &&
    post alice $C3 "{\"objects\":[$E7]}"; then
	tap ok "export: indicators posted"
else
	tap fail "export: indicators posted"
	note <hub.log
fi

# --- contents --------------------------------------------------------------
cx bob -D h.bob "$U/$C1/export/ipv4.txt" >bob.ipv4
printf '%s\n' 10.1.2.0/24 10.9.9.9 203.0.113.5 >want
if sort bob.ipv4 | cmp -s - want && [ "$(wc -l <bob.ipv4)" -eq 3 ]; then
	tap ok "export: ipv4.txt for bob (CIDR, AMBER, distinct; no expired, not yet valid, revoked, other collection)"
else
	tap fail "export: ipv4.txt for bob"
	note <bob.ipv4
fi
grep -qi '^content-type: text/plain' h.bob &&
    grep -qi '^etag: ' h.bob && grep -qi '^transfer-encoding: chunked' h.bob &&
    tap ok "export: text/plain, chunked, with an ETag" ||
    { tap fail "export: headers"; note <h.bob; }
cx carol "$U/$C1/export/ipv4.txt" >carol.ipv4
printf '%s\n' 10.1.2.0/24 10.9.9.9 203.0.113.5 >want
if sort carol.ipv4 | cmp -s - want; then
	# 10.9.9.9 is carol's own (GREEN) report
	tap ok "export: ipv4.txt for carol"
else
	tap fail "export: ipv4.txt for carol"
	note <carol.ipv4
fi
cx carol "$U/$C1/export/url.txt" >carol.url
cx bob "$U/$C1/export/url.txt" >bob.url
if [ ! -s carol.url ] &&
    [ "$(cat bob.url)" = "http://evil.example/a,b?q=1" ]; then
	tap ok "export: an AMBER URL for bob only"
else
	tap fail "export: AMBER URL"
	note <bob.url
	note <carol.url
fi
cx bob "$U/$C1/export/domain.txt" >bob.dom
[ "$(cat bob.dom)" = "xn--bcher-kva.example" ] &&
    tap ok "export: IDN domain as an A-label" ||
    { tap fail "export: domain.txt"; note <bob.dom; }

# all.csv: the timestamps replaced by T, rows sorted
cx bob "$U/$C1/export/all.csv" >bob.csv
head -1 bob.csv >csv.head
printf 'value,type,tlp,confidence,first_seen,producer\r\n' >want.head
tail -n +2 bob.csv |
    sed 's/,[0-9-]*T[0-9:.]*Z,/,T,/' | sort >bob.rows
cat >want.rows <<EOM
"http://evil.example/a,b?q=1",url,AMBER,,T,alice
10.1.2.0/24,ipv4,GREEN,80,T,alice
10.9.9.9,ipv4,AMBER,,T,alice
10.9.9.9,ipv4,GREEN,80,T,carol
203.0.113.5,ipv4,GREEN,80,T,alice
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,sha256,GREEN,80,T,alice
xn--bcher-kva.example,domain,GREEN,80,T,alice
EOM
sed 's/$/\r/' want.rows | sort >want.rows.crlf
if cmp -s csv.head want.head && cmp -s bob.rows want.rows.crlf; then
	tap ok "export: all.csv for bob (one row per value and producer, quoted URL)"
else
	tap fail "export: all.csv for bob"
	note <bob.csv
fi
cx carol "$U/$C1/export/all.csv" | grep -c AMBER >carol.amber
[ "$(cat carol.amber)" = 0 ] && tap ok "export: no AMBER row for carol" ||
    tap fail "export: AMBER rows for carol"

# --- ETag, 304, gzip ---------------------------------------------------------
TAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^\r]*\).*/\1/p' h.bob)
c=$(code bob "$U/$C1/export/ipv4.txt" -H "If-None-Match: $TAG")
[ "$c" = 304 ] && tap ok "export: If-None-Match gives 304" ||
    tap fail "export: If-None-Match gave $c"
cx bob -H 'Accept-Encoding: gzip' -D h.gz "$U/$C1/export/all.csv" >bob.csv.gz
if grep -qi '^content-encoding: gzip' h.gz && grep -qi '^vary: accept-encoding' h.gz &&
    gzip -dc <bob.csv.gz | cmp -s - bob.csv; then
	tap ok "export: gzip decodes to the same body"
else
	tap fail "export: gzip"
	note <h.gz
fi
E8=$(ind 11111111-0000-4000-8000-000000000008 \
    "[ipv4-addr:value = '10.8.8.8']" $GREEN "$FAR")
post alice $C1 "{\"objects\":[$E8]}"
c=$(code bob "$U/$C1/export/ipv4.txt" -H "If-None-Match: $TAG")
cx bob "$U/$C1/export/ipv4.txt" >bob.ipv4.2
[ "$c" = 200 ] && grep -qx 10.8.8.8 bob.ipv4.2 &&
    tap ok "export: a new post changes the ETag" ||
    tap fail "export: after a new post: $c"
# a write elsewhere leaves it; a deletion here changes it
TAG2=$(cx bob -D - -o /dev/null "$U/$C1/export/ipv4.txt" | sed -n 's/^[Ee][Tt]ag: *\([^[:space:]]*\).*/\1/p')
E10=$(ind 11111111-0000-4000-8000-000000000011 \
    "[ipv4-addr:value = '172.16.0.2']" $GREEN "$FAR")
post alice $C3 "{\"objects\":[$E10]}"
c=$(code bob "$U/$C1/export/ipv4.txt" -H "If-None-Match: $TAG2")
d=$(code alice "$U/$C1/objects/indicator--11111111-0000-4000-8000-000000000008/" -X DELETE -H "Accept: $TAXII")
c2=$(code bob "$U/$C1/export/ipv4.txt" -H "If-None-Match: $TAG2")
cx bob "$U/$C1/export/ipv4.txt" >bob.ipv4.del
[ -n "$TAG2" ] && [ "$c" = 304 ] && [ "$d" = 200 ] && [ "$c2" = 200 ] &&
    ! grep -qx 10.8.8.8 bob.ipv4.del &&
    tap ok "export: a post to another collection keeps the ETag (304), a deletion changes it and its value goes" ||
    tap fail "export: ETag across collections and deletions: $TAG2 $c $d $c2"

# one indicator of 600 addresses: its values span pieces (export_buffer
# 4k), so the walk resumes inside a row
P=$(awk 'BEGIN { for (i = 0; i < 600; i++) printf "%s[ipv4-addr:value = '"'"'10.200.%d.%d'"'"']", i ? " OR " : "", i / 256, i % 256 }')
E9=$(ind 11111111-0000-4000-8000-000000000009 "$P" $GREEN "$FAR")
post alice $C1 "{\"objects\":[$E9]}"
cx bob "$U/$C1/export/ipv4.txt" | sort >bob.ipv4.3
awk 'BEGIN { for (i = 0; i < 600; i++) printf "10.200.%d.%d\n", i / 256, i % 256 }' >want.3
printf '%s\n' 10.1.2.0/24 10.9.9.9 203.0.113.5 >>want.3
if sort want.3 | cmp -s - bob.ipv4.3; then
	tap ok "export: 600 values of one row across pieces, each once"
else
	tap fail "export: values across pieces"
	wc -l bob.ipv4.3 | note
fi

# a client that leaves mid-export: the hub frees the export and goes on
LEFT=
for i in 1 2 3 4 5 6; do
	cx bob --limit-rate 1k --max-time 1 "$U/$C1/export/ipv4.txt" \
	    >/dev/null &
	LEFT="$LEFT $!"
done
for p in $LEFT; do wait $p; done
c=$(code bob "$U/$C1/export/ipv4.txt")
[ "$c" = 200 ] && tap ok "export: clients that leave mid-export free their slots" ||
    tap fail "export: after clients left: $c"

# --- access ----------------------------------------------------------------
c=$(code - "$U/$C1/export/ipv4.txt")
[ "$c" = 401 ] && tap ok "export: no credentials: 401" ||
    tap fail "export: no credentials: $c"
c=$(code carol "$U/$C2/export/ipv4.txt")
[ "$c" = 403 ] && tap ok "export: write-only member: 403" ||
    tap fail "export: write-only member: $c"
c=$(code bob "$U/$C3/export/ipv4.txt")
[ "$c" = 404 ] && tap ok "export: a collection the member cannot see: 404" ||
    tap fail "export: invisible collection: $c"
c=$(code bob "$U/$C1/export/ipv4.txt" --http1.0)
[ "$c" = 505 ] && tap ok "export: HTTP/1.0 (no chunks): 505" ||
    tap fail "export: HTTP/1.0: $c"
c=$(code bob "$U/$C1/export/ipv4.txt" -I)
[ "$c" = 200 ] && tap ok "export: HEAD: the headers" ||
    tap fail "export: HEAD: $c"
c=$(code bob "$U/$C1/export/nothing.txt")
[ "$c" = 404 ] && tap ok "export: an unknown type: 404" ||
    tap fail "export: unknown type: $c"
cx alice "$U/$C3/export/ipv4.txt" >alice.c3
[ "$(sort alice.c3 | tr '\n' ' ')" = "172.16.0.1 172.16.0.2 " ] && tap ok "export: alice's own collection" ||
    tap fail "export: alice's collection"

if hub_term $XPID; then
	XPID=
else
	tap fail "export: the hub stops"
fi
exit $erc
