#!/bin/sh
# push_rx_test.sh -- tests the push tests' webhook receiver (push_rx.py)
# on its own: requests signed with openssl (HMAC-SHA256 and Ed25519,
# independent of ctihub) and with common/webhook.c (integ_client
# --webhook-sign), posted with curl over TLS; the receiver must accept the
# good ones, refuse altered ones, answer the challenge and obey its
# control file.  Prints TAP.  Every wait is bounded; the receiver is
# stopped on exit (and stops by itself after --max-seconds).
# Usage: tests/integ/push_rx_test.sh build/release
set -u
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RX="$SRC/tests/integ/push_rx.py"
T=$(mktemp -d /tmp/ctihub-pushrx.XXXXXX)
PID=
PID2=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	[ -n "$PID2" ] && kill "$PID2" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
TAP_NAME=push_rx
. "$SRC/tests/integ/tls_test.sh"

if ! python3 -c 'import cryptography' 2>/dev/null; then
	echo "ok - push_rx: python3-cryptography missing (make deps) # SKIP"
	exit 0
fi

# --- a throwaway CA and a server certificate for 127.0.0.1 ---------------
tls_make_certs || exit 1

# --- keys: an HMAC secret, an Ed25519 key pair, a key nobody trusts ------
openssl rand 32 >secret.bin || exit 1
SECRET_RAW=$(od -An -tx1 secret.bin | tr -d ' \n')
SECRET="whsec_$(base64 <secret.bin | tr -d '\n')"
openssl genpkey -algorithm ed25519 -out ed.pem 2>/dev/null || exit 1
openssl genpkey -algorithm ed25519 -out other.pem 2>/dev/null || exit 1
PUB="whpk_$(openssl pkey -in ed.pem -pubout -outform DER | tail -c 32 |
    base64 | tr -d '\n')"

start_rx() { # start_rx PORTFILE EXTRA...: starts a receiver, sets RXPID
	pf=$1
	shift
	python3 "$RX" --cert server.pem --key server.key --port-file "$pf" \
	    --secret "$SECRET" --public-key "$PUB" --quiet "$@" \
	    >>rx.log 2>&1 &
	RXPID=$!
	i=0
	while [ ! -s "$pf" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$pf" ]
}

# sign_hmac|sign_ed KEY ID TS FILE: the signature, made with openssl
sign_hmac() {
	{ printf '%s.%s.' "$2" "$3"; cat "$4"; } |
	    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -binary |
	    base64 | tr -d '\n'
}
sign_ed() {
	{ printf '%s.%s.' "$2" "$3"; cat "$4"; } >msg.bin
	openssl pkeyutl -sign -rawin -inkey "$1" -in msg.bin | base64 |
	    tr -d '\n'
}

# post ID TS SIGHEADER FILE [CURLOPTS...]: prints the HTTP status (000: no
# answer); the response body is left in resp.json, headers in resp.hdr
post() {
	id=$1 ts=$2 sig=$3 file=$4
	shift 4
	curl -s --cacert ca.pem --max-time 10 -o resp.json -D resp.hdr \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    ${id:+-H "webhook-id: $id"} ${ts:+-H "webhook-timestamp: $ts"} \
	    ${sig:+-H "webhook-signature: $sig"} --data-binary "@$file" \
	    "$@" "https://127.0.0.1:$PORT/hook"
}
lines() { # lines FILE: how many lines (0 when missing)
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

if ! start_rx port --out out.jsonl --challenges chal.jsonl --ctl ctl \
    --max-seconds 120; then
	tap fail "the receiver starts"
	sed 's/^/# /' rx.log
	exit 1
fi
PID=$RXPID
PORT=$(cat port)
tap ok "the receiver starts"

NOW=$(date +%s)
printf '%s' '{"type":"ctihub.objects","objects":[{"id":"indicator--1"},{"id":"indicator--2"}]}' >body.json

# --- signatures made with openssl ------------------------------------------
S=$(sign_hmac "$SECRET_RAW" msg_1 "$NOW" body.json)
check "HMAC v1 (openssl) accepted" "$(post msg_1 "$NOW" "v1,$S" body.json)" 200
E=$(sign_ed ed.pem msg_2 "$NOW" body.json)
check "Ed25519 v1a (openssl) accepted" "$(post msg_2 "$NOW" "v1a,$E" body.json)" 200
O=$(sign_ed other.pem msg_3 "$NOW" body.json)
check "Ed25519 from an unknown key refused" "$(post msg_3 "$NOW" "v1a,$O" body.json)" 401
check "one good entry in a list is enough" \
    "$(post msg_3 "$NOW" "v1a,$O v2,abc= v1,$(sign_hmac "$SECRET_RAW" msg_3 "$NOW" body.json)" body.json)" 200
check "HMAC value under v1a refused" "$(post msg_1 "$NOW" "v1a,$S" body.json)" 401
check "another webhook-id refused" "$(post msg_9 "$NOW" "v1,$S" body.json)" 401
check "another timestamp refused" "$(post msg_1 "$((NOW + 1))" "v1,$S" body.json)" 401
printf '%s' '{"type":"ctihub.objects","objects":[{"id":"indicator--X"},{"id":"indicator--2"}]}' >altered.json
check "an altered body refused" "$(post msg_1 "$NOW" "v1,$S" altered.json)" 401
OLD=$((NOW - 600))
S=$(sign_hmac "$SECRET_RAW" msg_4 "$OLD" body.json)
check "a well-signed 10-minute-old timestamp refused" "$(post msg_4 "$OLD" "v1,$S" body.json)" 401
NEW=$((NOW + 600))
S=$(sign_hmac "$SECRET_RAW" msg_4 "$NEW" body.json)
check "a well-signed timestamp 10 minutes ahead refused" "$(post msg_4 "$NEW" "v1,$S" body.json)" 401
check "no webhook-signature: 400" "$(post msg_4 "$NOW" "" body.json)" 400
check "no webhook-id: 400" "$(post "" "$NOW" "v1,$S" body.json)" 400
check "only the accepted deliveries recorded" "$(lines out.jsonl)" 3
if python3 -c '
import json, sys
recs = [json.loads(l) for l in open("out.jsonl")]
assert [r["id"] for r in recs] == ["msg_1", "msg_2", "msg_3"], recs
assert all(r["ts"] == int(sys.argv[1]) for r in recs)
assert recs[0]["body"]["objects"][1]["id"] == "indicator--2"
' "$NOW"; then
	tap ok "records are {id, ts, body} lines"
else
	tap fail "records are {id, ts, body} lines"
fi

# --- signatures made by common/webhook.c -----------------------------------
if [ -x "$B/tests/integ_client" ]; then
	C=$("$B/tests/integ_client" --webhook-sign "$SECRET" msg_c1 "$NOW" body.json)
	check "HMAC from webhook.c accepted" "$(post msg_c1 "$NOW" "$C" body.json)" 200
	C=$("$B/tests/integ_client" --webhook-sign ed.pem msg_c2 "$NOW" body.json)
	check "Ed25519 from webhook.c accepted" "$(post msg_c2 "$NOW" "$C" body.json)" 200
	check "webhook.c's v1a equals openssl's" "$C" "v1a,$(sign_ed ed.pem msg_c2 "$NOW" body.json)"
	check "webhook.c's whpk_ equals openssl's" \
	    "$("$B/tests/integ_client" --webhook-public ed.pem)" "$PUB"
	check "webhook.c signature for another id refused" "$(post msg_c3 "$NOW" "$C" body.json)" 401
else
	echo "ok - push_rx: webhook.c cross-check (no integ_client) # SKIP"
fi

# --- the challenge -----------------------------------------------------------
printf '%s' '{"type":"webhook.challenge","challenge":"q7Zr-challenge_1"}' >chal.json
S=$(sign_hmac "$SECRET_RAW" msg_ch "$NOW" chal.json)
check "challenge answered" "$(post msg_ch "$NOW" "v1,$S" chal.json)" 200
check "challenge echoed" \
    "$(python3 -c 'import json; print(json.load(open("resp.json")).get("challenge"))')" \
    q7Zr-challenge_1
check "unsigned challenge refused" "$(post msg_ch "$NOW" "" chal.json)" 400
check "challenge kept apart from deliveries" "$(lines chal.jsonl)" 1

# --- the control file ------------------------------------------------------
n0=$(lines out.jsonl)
S=$(sign_hmac "$SECRET_RAW" msg_5 "$NOW" body.json)
echo 500 >ctl
check "ctl 500" "$(post msg_5 "$NOW" "v1,$S" body.json)" 500
echo 410 >ctl
check "ctl 410" "$(post msg_5 "$NOW" "v1,$S" body.json)" 410
echo 429 >ctl
check "ctl 429" "$(post msg_5 "$NOW" "v1,$S" body.json)" 429
check "ctl 429 says Retry-After: 1" \
    "$(grep -i '^retry-after:' resp.hdr | tr -d '\r' | sed 's/.*: *//')" 1
echo 413:1 >ctl
check "ctl 413:1, 2 objects: 413" "$(post msg_5 "$NOW" "v1,$S" body.json)" 413
echo 413:2 >ctl
check "ctl 413:2, 2 objects: 200" "$(post msg_5 "$NOW" "v1,$S" body.json)" 200
echo drop >ctl
check "ctl drop: no answer" "$(post msg_5 "$NOW" "v1,$S" body.json)" 000
echo hang >ctl
check "ctl hang: no answer in 2 s" "$(post msg_5 "$NOW" "v1,$S" body.json --max-time 2)" 000
echo slow:2 >ctl
t0=$(date +%s)
code=$(post msg_5 "$NOW" "v1,$S" body.json)
t1=$(date +%s)
if [ "$code" = 200 ] && [ $((t1 - t0)) -ge 2 ]; then
	tap ok "ctl slow:2: answered after 2 s"
else
	tap fail "ctl slow:2: answered after 2 s (got $code after $((t1 - t0)) s)"
fi
echo ok >ctl
check "ctl ok" "$(post msg_5 "$NOW" "v1,$S" body.json)" 200
check "only 200s recorded" "$(lines out.jsonl)" $((n0 + 3))
check "a bad signature stays 401 whatever ctl says" \
    "$(echo 500 >ctl; post msg_5 "$NOW" "v1,AAAA" body.json)" 401

# --- --no-challenge, and the receiver stops by itself -------------------
if start_rx port2 --no-challenge --max-seconds 3; then
	PID2=$RXPID
	PORT=$(cat port2)
	S=$(sign_hmac "$SECRET_RAW" msg_ch "$NOW" chal.json)
	check "--no-challenge: answered" "$(post msg_ch "$NOW" "v1,$S" chal.json)" 200
	check "--no-challenge: not echoed" "$(tr -d ' \n' <resp.json)" "{}"
	i=0
	while kill -0 "$PID2" 2>/dev/null && [ $i -lt 60 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$PID2" 2>/dev/null; then
		tap fail "--max-seconds 3: stops by itself"
	else
		wait "$PID2"
		check "--max-seconds 3: stops by itself, status 0" $? 0
		PID2=
	fi
else
	tap fail "a second receiver starts"
fi

if [ $fails -ne 0 ]; then
	sed 's/^/# rx: /' rx.log | tail -20
fi
[ $fails -eq 0 ]
