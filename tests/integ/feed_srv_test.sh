#!/bin/sh
# feed_srv_test.sh -- tests the feed tests' static file server
# (feed_srv.py) on its own, with curl over TLS: validators and 304 on
# If-None-Match and If-Modified-Since, a changed file served again, gzip
# when asked (and not with --no-gzip), Basic and Bearer authentication,
# the fault paths, the request log, the root not left, and SIGTERM.
# Prints TAP.  Every wait is bounded; the servers are stopped on exit (and
# stop by themselves after --max-seconds).
# Usage: tests/integ/feed_srv_test.sh [build/release] (the build is unused)
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SRV="$SRC/tests/integ/feed_srv.py"
T=$(mktemp -d /tmp/ctihub-feedsrv.XXXXXX)
PIDS=
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
TAP_NAME=feed_srv
. "$SRC/tests/integ/tls_test.sh"

# --- a throwaway CA and a server certificate for 127.0.0.1 ---------------
tls_make_certs || exit 1

mkdir -p root/sub
i=0
while [ $i -lt 200 ]; do
	printf '{"n":%d,"type":"indicator","pattern":"[ipv4-addr:value = '"'"'192.0.2.%d'"'"']"}\n' \
	    $i $((i % 250))
	i=$((i + 1))
done >root/feed.json
echo "secret outside the root" >outside.txt
echo '{"sub":1}' >root/sub/x.json

start_srv() { # start_srv NAME EXTRA...: sets PORT and SPID
	name=$1
	shift
	python3 "$SRV" --cert server.pem --key server.key --root root \
	    --port-file "$name.port" --log "$name.log" --quiet \
	    --max-seconds 60 "$@" >>srv.out 2>&1 &
	SPID=$!
	PIDS="$PIDS $SPID"
	i=0
	while [ ! -s "$name.port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	PORT=$(cat "$name.port" 2>/dev/null)
	[ -n "$PORT" ]
}
get() { # get PATH CURL-ARGS...: prints the status; body in body, headers in hdr
	p=$1
	shift
	rm -f body hdr
	curl -s --cacert ca.pem --max-time 10 -o body -D hdr \
	    -w '%{http_code}' "$@" "https://127.0.0.1:$PORT$p"
}
gone() { # gone PID: waits (5 s at most) for it to exit; true when it has
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}
hdr() { # hdr NAME: that header of the last response
	tr -d '\r' <hdr | sed -n "s/^$1: //Ip" | tail -1
}

if ! start_srv a; then
	tap fail "starts and writes its port file"
	exit 1
fi
tap ok "starts and writes its port file"

# --- validators and 304 --------------------------------------------------
check "GET 200" "$(get /feed.json)" 200
cmp -s body root/feed.json && tap ok "the file as it is" ||
	tap fail "the file as it is"
ETAG=$(hdr ETag)
LASTMOD=$(hdr Last-Modified)
WANT="\"$(sha256sum root/feed.json | cut -c1-32)\""
check "ETag is the content's" "$ETAG" "$WANT"
[ -n "$LASTMOD" ] && tap ok "Last-Modified" || tap fail "Last-Modified"
check "Content-Type" "$(hdr Content-Type)" "application/json"
check "If-None-Match matching: 304" \
    "$(get /feed.json -H "If-None-Match: $ETAG")" 304
[ ! -s body ] && tap ok "304 has no body" || tap fail "304 has no body"
check "If-None-Match a list, weak: 304" \
    "$(get /feed.json -H "If-None-Match: \"x\", W/$ETAG")" 304
check "If-None-Match other: 200" \
    "$(get /feed.json -H 'If-None-Match: "other"')" 200
check "If-Modified-Since the mtime: 304" \
    "$(get /feed.json -H "If-Modified-Since: $LASTMOD")" 304
check "If-Modified-Since before: 200" \
    "$(get /feed.json -H 'If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT')" 200
check "If-Modified-Since malformed: 200" \
    "$(get /feed.json -H 'If-Modified-Since: yesterday')" 200
check "HEAD 200 with the ETag" "$(get /feed.json -I)" 200
check "HEAD ETag" "$(hdr ETag)" "$ETAG"

# the file changes: the old validator no longer matches
echo '{"n":"changed"}' >>root/feed.json
touch -d '+1 minute' root/feed.json 2>/dev/null
check "changed file, old ETag: 200" \
    "$(get /feed.json -H "If-None-Match: $ETAG")" 200
cmp -s body root/feed.json && tap ok "the changed file" ||
	tap fail "the changed file"
[ "$(hdr ETag)" != "$ETAG" ] && tap ok "a new ETag" || tap fail "a new ETag"
check "changed file, old If-Modified-Since: 200" \
    "$(get /feed.json -H "If-Modified-Since: $LASTMOD")" 200

# --- gzip ----------------------------------------------------------------
check "gzip asked: 200" "$(get /feed.json --compressed)" 200
check "gzip asked: Content-Encoding" "$(hdr Content-Encoding)" gzip
cmp -s body root/feed.json && tap ok "gzip body decodes to the file" ||
	tap fail "gzip body decodes to the file"
check "gzip asked q=0: identity" \
    "$(get /feed.json -H 'Accept-Encoding: gzip;q=0')" 200
check "gzip q=0: no Content-Encoding" "$(hdr Content-Encoding)" ""
GZETAG=$(get /feed.json --compressed >/dev/null; hdr ETag)
check "gzip 304 on its (weak) ETag" \
    "$(get /feed.json --compressed -H "If-None-Match: $GZETAG")" 304

# --- paths ---------------------------------------------------------------
check "a file in a subdirectory" "$(get /sub/x.json)" 200
check "missing: 404" "$(get /nope.json)" 404
check "a directory: 404" "$(get /sub)" 404
check "out of the root: 404" "$(get /../outside.txt --path-as-is)" 404
check "out of the root, encoded: 404" \
    "$(get /sub/%2e%2e/../outside.txt --path-as-is)" 404
echo '{"space":1}' >"root/with space.json"
check "a percent-encoded name" "$(get /with%20space.json)" 200
check "out of the root, %2e%2e: 404" \
    "$(get /%2e%2e/outside.txt --path-as-is)" 404
check "POST: 405" "$(get /feed.json -d x)" 405

# --- faults --------------------------------------------------------------
check "/500/" "$(get /500/feed.json)" 500
check "/429/" "$(get /429/feed.json)" 429
check "/429/ Retry-After" "$(hdr Retry-After)" 1
get /trunc/feed.json >/dev/null
check "/trunc/: curl sees a partial file" "$?" 18
s=$(date +%s)
get /hang/feed.json --max-time 0.5 >/dev/null
check "/hang/: curl times out" "$?" 28
get /endless/ --max-time 0.5 >/dev/null
check "/endless/: never ends" "$?" 28
[ "$(wc -c <body)" -gt 10000 ] && tap ok "/endless/ streams" ||
	tap fail "/endless/ streams"
n=$(curl -s --cacert ca.pem --max-time 10 "https://127.0.0.1:$PORT/endless/" |
    head -c 100000 | wc -c)
check "/endless/ cut by the client" "$n" 100000
check "/slow/ drips the whole file" "$(get /sub/x.json)" 200
check "/slow/" "$(get /slow/sub/x.json)" 200
cmp -s body root/sub/x.json && tap ok "/slow/ body" || tap fail "/slow/ body"
[ $(($(date +%s) - s)) -lt 10 ] && tap ok "faults are quick" ||
	tap fail "faults are quick"

# --- the log -------------------------------------------------------------
n=$(grep -c '"status":304' a.log)
check "log: the 304s" "$n" 4
n=$(grep '"status":304' a.log | grep -c '"if_none_match":"')
check "log: If-None-Match recorded" "$n" 3
n=$(grep '"status":304' a.log | grep -c '"if_modified_since":"')
check "log: If-Modified-Since recorded" "$n" 1
n=$(grep -c '"encoding":"gzip"' a.log)
check "log: gzip answers" "$n" 3
n=$(grep '"encoding":"gzip"' a.log | grep -c '"accept_encoding":"[^"]*gzip')
check "log: Accept-Encoding recorded" "$n" 3
python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert set(r) == {"method", "path", "status", "if_none_match",
        "if_modified_since", "accept_encoding", "auth", "encoding", "bytes"}
    if r["method"] == "GET" and r["status"] == 200 and r["path"] == "/feed.json" \
            and r["encoding"] is None:
        assert r["bytes"] > 0
' a.log && tap ok "log: every line JSON, bytes counted" ||
	tap fail "log: every line JSON, bytes counted"

# --- SIGTERM -------------------------------------------------------------
kill "$SPID"
gone "$SPID" && tap ok "stops on SIGTERM" || tap fail "stops on SIGTERM"

# --- no gzip, Basic, Bearer ----------------------------------------------
start_srv b --no-gzip --basic user:pass --bearer tok3n ||
	tap fail "second server"
check "no credentials: 401" "$(get /sub/x.json)" 401
grep -qi '^WWW-Authenticate: Basic' hdr && tap ok "401 offers Basic" ||
	tap fail "401 offers Basic"
check "wrong password: 401" "$(get /sub/x.json -u user:wrong)" 401
check "Basic: 200" "$(get /sub/x.json -u user:pass)" 200
check "Bearer: 200" "$(get /sub/x.json -H 'Authorization: Bearer tok3n')" 200
check "wrong Bearer: 401" \
    "$(get /sub/x.json -H 'Authorization: Bearer tok3')" 401
check "faults behind auth too" "$(get /500/x.json)" 401
check "--no-gzip: 200" "$(get /feed.json -u user:pass --compressed)" 200
check "--no-gzip: identity" "$(hdr Content-Encoding)" ""
cmp -s body root/feed.json && tap ok "--no-gzip body" ||
	tap fail "--no-gzip body"
n=$(grep -c '"auth":"basic"' b.log)
check "log: Basic recorded" "$n" 3
n=$(grep -c '"auth":"bearer"' b.log)
check "log: Bearer recorded" "$n" 2

# --- it stops by itself ---------------------------------------------------
python3 "$SRV" --cert server.pem --key server.key --root root \
    --port-file c.port --quiet --max-seconds 0.5 >>srv.out 2>&1 &
CPID=$!
PIDS="$PIDS $CPID"
gone "$CPID" && tap ok "stops after --max-seconds" ||
	tap fail "stops after --max-seconds"

[ $fails -eq 0 ]
