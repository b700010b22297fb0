#!/bin/sh
# push.sh -- the push tests, run by run.sh in its prepared directory (the
# throwaway CA and server certificate): a sending hub A, a receiving hub B
# (a second ctihubd: TAXII push into it, and B pushing back into A), and
# an independent webhook receiver (push_rx.py: Python's own HMAC-SHA256
# over Standard Webhooks v1) whose answers the test switches (500, 429,
# 413, 410, hang, drop).  Checks that each receiver gets exactly what its
# member would get by polling, converges on deletions, recovers from every
# failure with nothing lost, resumes after kill -9, honours a policy
# change, and that no AMBER+STRICT or RED object and no loop crosses
# between the hubs.  Prints TAP; every wait and loop is bounded.
# Usage: tests/integ/push.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
mkdir -p "$T/push" && cd "$T/push" || exit 1
cp ../ca.pem ../server.pem ../server.key .
APID= BPID= RPID=
prc=0
cleanup_push() {
	for p in $APID $BPID $RPID; do kill -9 "$p" 2>/dev/null; done
}
trap cleanup_push EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; prc=1; fi
}
note() { sed 's/^/# /'; }

PW=push-pass-1
PWLINE=$(echo $PW | "$B/ctihub" member passwd --stdin) || exit 1
SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
C1=11111111-1111-4111-8111-111111111111 # A: exchange
C2=22222222-2222-4222-8222-222222222222 # B: inbox (from A)
C3=33333333-3333-4333-8333-333333333333 # A: inbox (from B)
C4=44444444-4444-4444-8444-444444444444 # B: its own publications

(umask 077 && echo "$PW" >pw &&
    openssl genpkey -algorithm ed25519 -out ed.pem 2>/dev/null) || exit 1
# the receiver's copy of the public key, made by openssl, not by the hub
WHPK=whpk_$(openssl pkey -in ed.pem -pubout -outform DER | tail -c 32 | base64)
freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- hub B: receives A's objects (member hub-a), publishes its own -------
mkdir -p b/policy
cat >b/members.conf <<EOM
member hub-a {
	name "Hub A"
	country BR
	roles publisher subscriber
	$PWLINE
}
member bert {
	name "Bert CERT"
	country ZA
	roles publisher subscriber
	$PWLINE
}
member reader {
	name "B reader"
	country ZA
	roles subscriber
	$PWLINE
}
EOM
cat >b/policy/hub-a.policy <<EOM
default amber
share amber with members reader
EOM
cat >b/policy/bert.policy <<EOM
default amber
share amber with members hub-a reader
share amber+strict with members hub-a
EOM
cat >b/ctihub.conf <<EOM
listen 127.0.0.1:0
tls_cert ../server.pem
tls_key ../server.key
state_dir state
map_size 256M
members members.conf
policy_dir policy
push_allow 127.0.0.1/32
push_backoff_min 1s
push_backoff_max 2s
metrics_listen off
api_root b1 {
	title "Hub B"
	collection $C2 {
		title "From hub A"
		alias inbox
		read any
		write member hub-a
	}
	collection $C4 {
		title "Own publications"
		alias own
		read any
		write role publisher
	}
}
subscriptions subscriptions.conf
EOM
: >b/subscriptions.conf

# --- hub A ---------------------------------------------------------------
mkdir -p a/policy
cat >a/members.conf <<EOM
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
	email bob@in.example
	$PWLINE
}
member mallory {
	name "Mallory CERT"
	country FR
	roles publisher subscriber
	$PWLINE
}
member hub-b {
	name "Hub B"
	country ZA
	roles publisher subscriber
	$PWLINE
}
EOM
cat >a/policy/alice.policy <<EOM
default amber
share amber with members bob hub-b
share amber+strict with members hub-b
share red with members hub-b
EOM
cat >a/policy/mallory.policy <<EOM
default amber
EOM
cat >a/policy/hub-b.policy <<EOM
default amber
share amber with members bob
EOM
RXPORT=$(freeport)
RX2PORT=$(freeport)
cat >a/ctihub.conf <<EOM
listen 127.0.0.1:0
tls_cert ../server.pem
tls_key ../server.key
state_dir state
map_size 256M
members members.conf
policy_dir policy
push_allow 127.0.0.1/32
push_backoff_min 1s
push_backoff_max 2s
push_timeout 3s
push_connect_timeout 2s
push_retry_for 1h
metrics_listen 127.0.0.1:0
api_root a1 {
	title "Hub A"
	collection $C1 {
		title "Exchange"
		alias exchange
		read any
		write role publisher
	}
	collection $C3 {
		title "From hub B"
		alias inbox
		read any
		write member hub-b
	}
}
subscriptions subscriptions.conf
EOM

startb() {
	"$B/ctihubd" -c b/ctihub.conf 2>>b.log &
	BPID=$!
	hub_wait b.log $BPID "$1" || return 1
	BPORT=$(hub_port b.log)
}
starta() {
	"$B/ctihubd" -c a/ctihub.conf 2>>a.log &
	APID=$!
	hub_wait a.log $APID "$1" || return 1
	APORT=$(hub_port a.log)
	AMPORT=$(hub_metrics_port a.log)
}
if ! startb 1; then
	tap fail "push: hub B starts"
	note <b.log
	exit 1
fi
cat >a/subscriptions.conf <<EOM
subscription wh-bob {
	member bob
	collection exchange
	mode webhook
	target https://127.0.0.1:$RXPORT/hook
	ca_file ../ca.pem
	secret $SECRET
	payload full
	batch 50
	max_delay 100ms
}
subscription wh-thin {
	member bob
	collection exchange
	mode webhook
	target https://127.0.0.1:$RXPORT/thin
	ca_file ../ca.pem
	sign ed25519
	sign_key ../ed.pem
	batch 50
	max_delay 100ms
}
subscription tx-bob {
	member bob
	collection exchange
	mode taxii
	target https://127.0.0.1:$RXPORT/taxii/api/collections/$C1/
	user bob
	password_file ../pw
	ca_file ../ca.pem
	types indicator
	max_delay 100ms
}
subscription wh-nochal {
	member bob
	collection exchange
	mode webhook
	target https://127.0.0.1:$RX2PORT/hook
	ca_file ../ca.pem
	secret $SECRET
}
subscription wh-ssrf {
	member bob
	collection exchange
	mode webhook
	target https://127.0.0.2:$RXPORT/hook
	ca_file ../ca.pem
	secret $SECRET
}
subscription s-bob {
	member bob
	collection exchange
	mode stream
	types indicator
}
subscription to-b {
	member hub-b
	collection exchange
	mode taxii
	target https://127.0.0.1:$BPORT/b1/collections/$C2/
	hub yes
	peer hub-b
	user hub-a
	password_file ../pw
	ca_file ../ca.pem
	batch 100
	max_delay 100ms
}
EOM
cat >b/subscriptions.conf <<EOM
subscription to-a {
	member hub-a
	collection own
	collection inbox
	mode taxii
	target https://127.0.0.1:APORT/a1/collections/$C3/
	hub yes
	peer hub-a
	user hub-b
	password_file ../pw
	ca_file ../ca.pem
	max_delay 100ms
}
EOM

# --- the webhook receiver -------------------------------------------------
echo ok >rx.ctl
echo pending >tx.ctl
python3 "$SRC/tests/integ/push_rx.py" --port "$RXPORT" --cert server.pem \
    --key server.key --secret "$SECRET" --public-key "$WHPK" \
    --out rx.jsonl --ctl rx.ctl --taxii-ctl tx.ctl --taxii-out tx.jsonl \
    --max-seconds 600 2>rx.log &
RPID=$!
# a second receiver that does not echo the challenge
python3 "$SRC/tests/integ/push_rx.py" --port "$RX2PORT" --cert server.pem \
    --key server.key --secret "$SECRET" --no-challenge --out rx2.jsonl \
    --challenges rx2ch.jsonl --max-seconds 600 2>rx2.log &
RPID="$RPID $!"

if ! starta 1; then
	tap fail "push: hub A starts"
	note <a.log
	exit 1
fi
# B's subscription to A needs A's port: B reloads with it
sed -i "s/APORT/$APORT/" b/subscriptions.conf
kill -HUP $BPID
tap ok "push: hubs A (:$APORT) and B (:$BPORT) and the webhook receiver run"

# --- helpers ----------------------------------------------------------------
# publish PORT ROOT COLL USER FILE: Add Objects; prints the HTTP status
publish() {
	curl -s -o pub.out -w '%{http_code}' --cacert ca.pem -u "$4:$PW" \
	    -H 'Content-Type: application/taxii+json;version=2.1' \
	    -H 'Accept: application/taxii+json;version=2.1' \
	    --data-binary @"$5" "https://127.0.0.1:$1/$2/collections/$3/objects/"
}
# poll PORT ROOT COLL USER: every object id the member sees (all pages)
poll() {
	python3 - "$@" <<'EOP'
import json, ssl, sys, urllib.request, base64
port, root, coll, user = sys.argv[1:5]
ctx = ssl.create_default_context(cafile="ca.pem")
auth = base64.b64encode(f"{user}:push-pass-1".encode()).decode()
ids, nxt = [], None
for _ in range(1000):
    url = f"https://127.0.0.1:{port}/{root}/collections/{coll}/objects/?limit=500"
    if nxt: url += "&next=" + nxt
    req = urllib.request.Request(url, headers={"Authorization": "Basic " + auth,
        "Accept": "application/taxii+json;version=2.1"})
    d = json.load(urllib.request.urlopen(req, context=ctx))
    ids += [o["id"] + "|" + o.get("modified", "") for o in d.get("objects", [])]
    if not d.get("more"): break
    nxt = d["next"]
print("\n".join(sorted(set(ids))))
EOP
}
# rx_ids: the objects the webhook receiver accepted (id|modified), and
# rx_deleted: the deletions
# (deletions applied in order, as a receiver converges)
rx_ids() {
	python3 - <<'EOP'
import json
ids = set()
for l in open("rx.jsonl"):
    b = json.loads(l)["body"]
    if b.get("type") == "ctihub.objects":
        for o in b["data"]["envelope"].get("objects", []):
            ids.add(o["id"] + "|" + o.get("modified", ""))
    elif b.get("type") == "ctihub.deletions":
        gone = {d["id"] for d in b["data"]["deleted"]}
        ids = {i for i in ids if i.split("|")[0] not in gone}
print("\n".join(sorted(ids)))
EOP
}
rx_deleted() {
	python3 -c '
import json
for l in open("rx.jsonl"):
    b = json.loads(l)["body"]
    if b.get("type") == "ctihub.deletions":
        for d in b["data"]["deleted"]: print(d["id"])' | sort -u
}
# until SECONDS CMD...: runs CMD every 0.5 s until it succeeds
until_ok() {
	_n=$(($1 * 2))
	shift
	while [ $_n -gt 0 ]; do
		"$@" && return 0
		sleep 0.5
		_n=$((_n - 1))
	done
	return 1
}
# bundle FILE N PREFIX TLP...: N indicators, TLPs in turn (clear green
# amber amber+strict red none)
bundle() {
	python3 - "$@" <<'EOP'
import json, sys, uuid
f, n, prefix, tlps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
ids = {"clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
       "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
       "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
       "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
       "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
objs = []
for i in range(n):
    t = tlps[i % len(tlps)]
    o = {"type": "indicator", "spec_version": "2.1",
         "id": "indicator--" + str(uuid.uuid5(uuid.NAMESPACE_URL, prefix + str(i))),
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "name": prefix + " " + str(i), "pattern_type": "stix",
         "pattern": "[ipv4-addr:value = '10.%d.%d.%d']" % (i >> 16 & 255, i >> 8 & 255, i & 255),
         "valid_from": "2026-01-01T00:00:00Z"}
    if t != "none": o["object_marking_refs"] = [ids[t]]
    objs.append(o)
json.dump({"objects": objs}, open(f, "w"))
EOP
}
same() { # same FILE1 FILE2: identical sorted lists
	cmp -s "$1" "$2"
}
rx_matches_bob() {
	poll "$APORT" a1 "$C1" bob >bob.ids && rx_ids >rx.ids && same bob.ids rx.ids
}
b_matches() { # B's inbox holds what hub-b sees on A, without AMBER+STRICT/RED
	poll "$BPORT" b1 "$C2" hub-a >b.ids && same want_b.ids b.ids
}

# --- 1: delivery equals polling ------------------------------------------------
bundle one.json 60 first clear green amber amber+strict red none
bundle mal.json 10 mallory amber green
r1=$(publish "$APORT" a1 "$C1" alice one.json)
r2=$(publish "$APORT" a1 "$C1" mallory mal.json)
[ "$r1" = 202 ] && [ "$r2" = 202 ] || tap fail "push: publishing works ($r1 $r2)"
# what hub B may receive: what hub-b sees, minus AMBER+STRICT and RED
python3 - <<'EOP' >want_b.ids
import json
o = json.load(open("one.json"))["objects"] + json.load(open("mal.json"))["objects"]
strict = {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
          "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
for x in o:
    m = set(x.get("object_marking_refs", []))
    if x["name"].startswith("mallory") and "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" not in m:
        continue  # mallory's AMBER: hub-b may not see it
    if m & strict: continue
    print(x["id"] + "|" + x["modified"])
EOP
sort -o want_b.ids want_b.ids
if until_ok 20 rx_matches_bob; then
	tap ok "push: the webhook receiver got exactly what bob polls ($(wc -l <rx.ids) objects)"
else
	tap fail "push: webhook receiver vs bob's poll: $(wc -l <rx.ids 2>/dev/null) vs $(wc -l <bob.ids)"
	note <rx.log | tail -5
	note <a.log | tail -10
fi
python3 -c '
import json
for o in json.load(open("mal.json"))["objects"]:
    if "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" in o.get("object_marking_refs", []):
        print(o["id"])' >mal_amber.ids
if grep -qf mal_amber.ids rx.ids; then
	tap fail "push: mallory's AMBER objects (invisible to bob) were pushed to bob"
else
	tap ok "push: nothing bob may not see was pushed"
fi
if until_ok 20 b_matches; then
	tap ok "push: hub B received what hub-b sees, without AMBER+STRICT or RED ($(wc -l <b.ids) objects)"
else
	tap fail "push: hub B's inbox: $(wc -l <b.ids 2>/dev/null) objects, want $(wc -l <want_b.ids)"
	note <a.log | tail -10
	note <b.log | tail -10
fi
if python3 - <<'EOP'
import json
for l in open("rx.jsonl"):
    r = json.loads(l)
    assert r["id"].startswith("msg_"), r["id"]
EOP
then tap ok "push: every webhook carried a verified Standard Webhooks signature and id"
else tap fail "push: webhook ids"; fi

# the Ed25519 subscription with the default payload: thin notices for
# batches holding AMBER (fetched through the read API), the envelope only
# for CLEAR/GREEN batches
thin() {
	python3 - <<'EOP'
import json, sys
amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
notices = 0
for l in open("rx.jsonl"):
    b = json.loads(l)["body"]
    if b.get("data", {}).get("subscription") != "wh-thin":
        continue
    if b["type"] == "ctihub.notice":
        notices += b["data"]["count"]
    elif b["type"] == "ctihub.objects":
        for o in b["data"]["envelope"]["objects"]:
            if amber in o.get("object_marking_refs", []) or "object_marking_refs" not in o:
                sys.exit(2)  # AMBER (or unmarked: alice's default) in full
sys.exit(0 if notices > 0 else 1)
EOP
}
if until_ok 15 thin; then
	tap ok "push: an Ed25519-signed subscription (verified by the receiver with openssl's public key) sends thin notices for AMBER"
else
	tap fail "push: the Ed25519 / thin-notice subscription (rc $?)"
fi

# a TAXII receiver that answers "pending": the hub follows the status
# resource (Get Status) before it moves the cursor
tx_ids() {
	python3 - <<'EOP'
import json
ids = set()
for l in open("tx.jsonl"):
    r = json.loads(l)
    if "taxii" in r:
        ids |= {o["id"] + "|" + o.get("modified", "") for o in r["body"]["objects"]}
print("\n".join(sorted(ids)))
EOP
}
tx_pending() {
	tx_ids >tx.ids && same bob.ids tx.ids &&
	    grep -q '"status_poll"' tx.jsonl
}
if until_ok 20 tx_pending; then
	tap ok "push: TAXII: a pending status is followed (Get Status) and everything arrives ($(wc -l <tx.ids) objects)"
else
	tap fail "push: TAXII pending: $(wc -l <tx.ids) objects, want $(wc -l <bob.ids); polls $(grep -c status_poll tx.jsonl)"
fi
# failures in a complete status: sent again (three rounds), then
# reported (status, log, audit) and passed, never dropped silently
echo fail >tx.ctl
bundle tf.json 4 taxiifail green
publish "$APORT" a1 "$C1" alice tf.json >/dev/null
reported() {
	"$B/ctihub" push status -c a/ctihub.conf |
	    grep -q "^tx-bob .*refused by the receiver after 3 rounds"
}
until_ok 30 reported
r1=$?
grep -q "push tx-bob/.*the receiver refused indicator--0: told to" a.log
r2=$?
until_ok 5 grep -q 'push-failures.*tx-bob' a/state/audit.jsonl
r3=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ $r3 -eq 0 ]; then
	n=$(python3 -c '
import json
print(sum(1 for l in open("tx.jsonl") if json.loads(l).get("taxii") == "fail"))')
	if [ "$n" -ge 3 ]; then
		tap ok "push: TAXII failures in the status: sent $n times, then reported (push status, log, audit) and passed"
	else
		tap fail "push: TAXII failures: only $n rounds before reporting"
	fi
else
	tap fail "push: TAXII failures not reported (status $r1, log $r2, audit $r3)"
fi
echo ok >tx.ctl

# an endpoint that does not echo the challenge gets nothing; a target
# outside push_allow (127.0.0.2: loopback, not allowed) is never connected
nochal() {
	"$B/ctihub" push status -c a/ctihub.conf >ps.txt &&
	    grep -q "^wh-nochal .*did not echo" ps.txt &&
	    grep -q "^wh-ssrf .*refused" ps.txt
}
if until_ok 10 nochal && [ -s rx2ch.jsonl ] && [ ! -s rx2.jsonl ]; then
	tap ok "push: no delivery to an endpoint that does not echo the challenge, none to an address outside push_allow"
else
	tap fail "push: challenge / push_allow: $(grep '^wh-nochal\|^wh-ssrf' ps.txt)"
fi

# --- 2: a deletion converges ------------------------------------------------------
DEL=$(python3 -c 'import json; print(json.load(open("one.json"))["objects"][1]["id"])')
d=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem -u "alice:$PW" -X DELETE \
    -H 'Accept: application/taxii+json;version=2.1' \
    "https://127.0.0.1:$APORT/a1/collections/$C1/objects/$DEL/")
gone_in_b() {
	c=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem -u "hub-a:$PW" \
	    -H 'Accept: application/taxii+json;version=2.1' \
	    "https://127.0.0.1:$BPORT/b1/collections/$C2/objects/$DEL/")
	[ "$c" = 404 ]
}
if [ "$d" = 200 ] && until_ok 15 gone_in_b &&
    until_ok 15 sh -c "python3 -c '
import json,sys
for l in open(\"rx.jsonl\"):
    b = json.loads(l)[\"body\"]
    if b.get(\"type\") == \"ctihub.deletions\" and any(x[\"id\"] == \"$DEL\" for x in b[\"data\"][\"deleted\"]): sys.exit(0)
sys.exit(1)'"; then
	tap ok "push: a deletion reached the webhook (ctihub.deletions) and hub B (DELETE)"
else
	tap fail "push: a deletion (DELETE $d) did not converge"
	note <a.log | tail -10
fi

# --- 6: two hubs both ways, without loops --------------------------------------------
bundle bown.json 10 bert green amber+strict
publish "$BPORT" b1 "$C4" bert bown.json >/dev/null
loops() { # A's inbox: bert's objects (from B), none of A's own back
	poll "$APORT" a1 "$C3" bob >a_in.ids || return 1
	n=$(grep -c "indicator" a_in.ids)
	[ "$n" -eq 5 ]
}
if until_ok 20 loops; then
	if grep -q "$(python3 -c 'import json; print(json.load(open("one.json"))["objects"][0]["id"])')" a_in.ids; then
		tap fail "push: A's own objects came back from B (a loop)"
	else
		tap ok "push: B's objects reached A (5 GREEN, no AMBER+STRICT), none of A's came back"
	fi
else
	tap fail "push: A's inbox from B: $(grep -c indicator a_in.ids 2>/dev/null) objects, want 5"
	note <b.log | tail -10
fi

# --- 3: receivers that fail, then recover --------------------------------------------
k=0
for mode in 500 429 413:5 hang drop; do
	k=$((k + 1))
	echo "$mode" >rx.ctl
	bundle f$k.json 20 "fail$k" green clear
	publish "$APORT" a1 "$C1" alice f$k.json >/dev/null
	sleep 4
	st=$("$B/ctihub" push status -c a/ctihub.conf 2>&1 | grep '^wh-bob ')
	echo ok >rx.ctl
	if until_ok 30 rx_matches_bob; then
		tap ok "push: after $mode the receiver has everything ($(wc -l <rx.ids) objects)"
	else
		tap fail "push: after $mode: $(wc -l <rx.ids) vs $(wc -l <bob.ids); status: $st"
		note <a.log | tail -8
	fi
	case $mode in
	500|429|hang|drop)
		if echo "$st" | grep -q "retrying"; then
			tap ok "push status showed wh-bob retrying during $mode"
		else
			tap fail "push status during $mode: $st"
		fi
	esac
done

# --- 4: kill -9 of hub A mid-delivery: resumes without a gap -----------------------
echo "slow:0.3" >rx.ctl
bundle k.json 400 kill9 green
publish "$APORT" a1 "$C1" alice k.json >/dev/null
sleep 1
kill -9 $APID
wait $APID 2>/dev/null
echo ok >rx.ctl
if starta 2 && until_ok 40 rx_matches_bob; then
	tap ok "push: after kill -9 mid-delivery, delivery resumed without a gap ($(wc -l <rx.ids) objects)"
else
	tap fail "push: after kill -9: $(wc -l <rx.ids) vs $(wc -l <bob.ids)"
	note <a.log | tail -10
fi

# --- 5: a policy change between batches is honoured ----------------------------------
cat >a/policy/alice.policy <<EOM
default amber
share amber with members hub-b
share amber+strict with members hub-b
share red with members hub-b
never members bob
EOM
kill -HUP $APID
sleep 1
bundle p.json 20 afterpolicy clear green
publish "$APORT" a1 "$C1" alice p.json >/dev/null
sleep 3
rx_ids >rx.ids
if grep -q "indicator--" rx.ids && ! python3 - <<'EOP'
import json, sys
names = set()
for l in open("rx.jsonl"):
    b = json.loads(l)["body"]
    if b.get("type") == "ctihub.objects":
        names |= {o.get("name", "") for o in b["data"]["envelope"]["objects"]}
sys.exit(0 if any(n.startswith("afterpolicy") for n in names) else 1)
EOP
then
	tap ok "push: after 'never members bob', nothing of alice's new objects went to bob"
else
	tap fail "push: objects went to bob after the policy excluded him"
fi

# --- 8: a stream subscription keeps its cursor ----------------------------------------
# without Last-Event-ID it starts from the stored cursor (the beginning at
# first); a Last-Event-ID acknowledges up to it and is the next start
sse() { # sse [Last-Event-ID]: the event ids of 3 s of bob's stream
	curl -s -N --max-time 3 --cacert ca.pem -u "bob:$PW" \
	    -H 'Accept: text/event-stream' ${1:+-H "Last-Event-ID: $1"} \
	    "https://127.0.0.1:$APORT/a1/collections/$C1/stream/" |
	    sed -n 's/^id: //p'
}
sse >sse1.ids
third=$(sed -n 3p sse1.ids)
sse "$third" >/dev/null
sse >sse2.ids
if [ "$(wc -l <sse1.ids)" -ge 5 ] && [ "$(head -1 sse2.ids)" = "$(sed -n 4p sse1.ids)" ] &&
    "$B/ctihub" push status -c a/ctihub.conf | grep -q "^s-bob .*stream .*$third"; then
	tap ok "push: a stream subscription starts at its stored cursor, moved by Last-Event-ID ($third)"
else
	tap fail "push: stream subscription cursor: third '$third', next start '$(head -1 sse2.ids)'"
	head -5 sse1.ids | note
	head -3 sse2.ids | note
	"$B/ctihub" push status -c a/ctihub.conf | note
fi

# --- 7: 410 Gone suspends at once; operators see it -------------------------------------
echo 410 >rx.ctl
bundle g.json 3 gone410 green
cat >a/policy/alice.policy <<EOM
default amber
share amber with members bob hub-b
EOM
kill -HUP $APID
sleep 1
publish "$APORT" a1 "$C1" alice g.json >/dev/null
gone() { "$B/ctihub" push status -c a/ctihub.conf | grep -q '^wh-bob .*gone (410)'; }
if until_ok 15 gone; then
	tap ok "push: 410 suspends the subscription (ctihub push status: gone)"
else
	tap fail "push: 410: $("$B/ctihub" push status -c a/ctihub.conf | grep wh-bob)"
fi
if [ -n "$AMPORT" ] && curl -s "http://127.0.0.1:$AMPORT/metrics" >pm.txt &&
    grep -q '^ctihub_push_suspended{subscription="wh-bob".*} 2' pm.txt &&
    grep -q '^ctihub_push_delivery_seconds_count{subscription="to-b"' pm.txt &&
    "$SRC/tests/promcheck.sh" pm.txt; then
	tap ok "push: /metrics shows the subscriptions (suspended, delivery latency) and passes promtool"
else
	tap fail "push: /metrics push families"
	grep ctihub_push pm.txt | head -5 | note
fi
if grep -q '"event":"receive".*"how":"webhook"' a/state/audit.jsonl 2>/dev/null ||
    grep -q '"how":"webhook"' a/state/audit.jsonl 2>/dev/null; then
	tap ok "push: the audit log records deliveries (how: webhook, taxii)"
else
	tap fail "push: no delivery in the audit log"
fi

# --- 9: ctihub push resume lifts the suspension (at the next reload) -------------------
echo ok >rx.ctl
"$B/ctihub" push resume wh-bob -c a/ctihub.conf >resume.out 2>&1
kill -HUP $APID
if until_ok 20 rx_matches_bob && "$B/ctihub" push status -c a/ctihub.conf | grep -q '^wh-bob .* ok'; then
	tap ok "push: ctihub push resume and a reload: wh-bob delivers again and catches up ($(wc -l <rx.ids) objects)"
else
	tap fail "push: resume: $(cat resume.out); $("$B/ctihub" push status -c a/ctihub.conf | grep '^wh-bob')"
fi

# --- sanitizers, shutdown ------------------------------------------------------------------
n=$(cat a.log b.log | grep -c "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer")
if [ "$n" -eq 0 ]; then
	tap ok "push: no sanitizer report from either hub"
else
	tap fail "push: $n sanitizer reports"
	grep -A12 "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:" a.log b.log | note | head -60
fi
for p in $APID $BPID; do
	if hub_term $p; then wait $p; else tap fail "push: a hub did not stop on SIGTERM"; fi
done
APID= BPID=
kill $RPID 2>/dev/null
exit $prc
