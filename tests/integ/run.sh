#!/bin/sh
# run.sh -- integration tests: starts the real ctihubd on an ephemeral
# loopback port, with a temporary state directory and a throwaway CA
# (server and client certificates made here with openssl), then drives it
# over real TLS with build/.../integ_client.  Prints TAP.  Every wait is
# bounded; the daemon is stopped on exit whatever happens.
# Usage: tests/integ/run.sh build/release
set -u
B=$(cd "${1:-build/release}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/ctihub-integ.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -n "${INTEG_KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$SRC/tests/hub.sh"
cd "$T" || exit 1

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}

# --- a throwaway CA, a server certificate, client certificates ---------
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=ctihub integration CA" 2>/dev/null || exit 1
mkcert() { # mkcert NAME CN EXT
	openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" \
	    2>/dev/null &&
	printf '%s\n' "$3" >"$1.ext" &&
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext" \
	    2>/dev/null
}
mkcert server localhost \
    "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" || exit 1
mkcert dave dave "extendedKeyUsage=clientAuth" || exit 1
mkcert stray stray "extendedKeyUsage=clientAuth" || exit 1
openssl req -x509 $ec -keyout rogue.key -out rogue.pem -days 2 \
    -subj "/CN=rogue" 2>/dev/null || exit 1
# self-signed, out of their validity dates (pinned by fingerprint)
mkdir -p cadb && : >cadb/index.txt && echo 01 >cadb/serial
printf '%s\n' '[ca]' 'default_ca = d' '[d]' 'database = cadb/index.txt' \
    'serial = cadb/serial' 'new_certs_dir = cadb' 'default_md = sha256' \
    'policy = p' 'unique_subject = no' '[p]' 'commonName = supplied' >ca.cnf
mkdated() { # mkdated NAME START END
	openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" \
	    2>/dev/null &&
	openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" \
	    -in "$1.csr" -out "$1.pem" -startdate "$2" -enddate "$3" \
	    -notext 2>/dev/null
}
mkdated expired 20240101000000Z 20240102000000Z || exit 1
mkdated future 20990101000000Z 20990102000000Z || exit 1

PWLINE=$(echo integ-pass-1 | "$B/ctihub" member passwd --stdin) || exit 1
TOKOUT=$("$B/ctihub" member token 2>/dev/null) || exit 1
TOKEN_CAROL=$(echo "$TOKOUT" | sed -n 1p)
TOKLINE=$(echo "$TOKOUT" | sed -n 2p)
CERT_DAVE=$("$B/ctihub" member cert dave.pem) || exit 1
CERT_ROGUE=$("$B/ctihub" member cert rogue.pem) || exit 1
CERT_EXPIRED=$("$B/ctihub" member cert expired.pem) || exit 1
CERT_FUTURE=$("$B/ctihub" member cert future.pem) || exit 1

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
	country SG
	roles publisher
	$TOKLINE
}
member dave {
	name "Dave CERT"
	country US
	roles subscriber
	$CERT_DAVE
	$CERT_ROGUE
	$CERT_EXPIRED
	$CERT_FUTURE
}
member admin {
	name "Hub admin"
	country BR
	roles admin subscriber
	$PWLINE
}
member zane {
	name "Zane CERT"
	country ZA
	roles subscriber
	$PWLINE
}
member erin {
	name "Erin CERT"
	country MX
	roles subscriber
	sectors government
	email erin@mx.example
	$PWLINE
}
member mallory {
	name "Mallory CERT"
	country FR
	roles publisher subscriber
	$PWLINE
}
member trent {
	name "Trent CERT"
	country IN
	roles publisher subscriber
	$PWLINE
}
member victor {
	name "Victor CERT"
	country BR
	roles publisher subscriber
	$PWLINE
}
EOM

cat >ctihub.conf <<EOM
# integration test configuration
listen 127.0.0.1:0
tls_cert server.pem
tls_key server.key
tls_client_ca ca.pem
state_dir state
map_size 1G
title "Integration hub"
request_timeout 2s
header_timeout 3s
body_timeout 3s
send_buffer 16k
stream_heartbeat 1s
max_streams 4
max_objects 5000
json_max_depth 32
members members.conf
policy_dir policy
api_root api1 {
	title "API one"
	max_content_length 1M
	collection 6f9d8f5e-4e6c-4a8b-9a10-1f2e3d4c5b6a {
		title "Everyone"
		alias any
		read any
		write role publisher
	}
	collection 7a0e9f6d-5d7b-4b9c-8b21-2a3b4c5d6e7f {
		title "BRICS"
		alias brics
		read country BR RU IN CN ZA
		write country BR RU IN CN ZA
	}
	collection 8b1fa07e-6e8c-4cad-9c32-3b4c5d6e7f80 {
		title "Bob only"
		read member bob
		write member bob
	}
	collection 0d2c3b4a-5f6e-4a7b-8c9d-0e1f2a3b4c5d {
		title "Reads"
		alias reads
		read any
		write role publisher admin
	}
	collection 1e3d4c5b-6a7f-4b8c-9dae-1f2a3b4c5d6e {
		title "Paging"
		alias paging
		read any
		write role publisher
	}
	collection 2f4e5d6c-7b8a-4c9d-8ebf-2a3b4c5d6e7f {
		title "Shared"
		alias shared
		read any
		write role publisher
	}
	collection 74d9bacb-c0fe-4be3-9f40-7f8091a2b3c4 {
		title "Sparse"
		alias sparse
		read any
		write role publisher
	}
	collection 30f5e6d7-8c9b-4dae-9fc0-3b4c5d6e7f80 {
		title "Points of contact"
		alias directory
		directory
		read any
	}
	collection 41a6f7e8-9dac-4ebf-8ad1-4c5d6e7f8091 {
		title "Integrity"
		alias integrity
		read any
		write role publisher
	}
	collection 63c8a9fa-bfed-4ad2-8e3f-6e7f8091a2b3 {
		title "Quiet"
		alias quiet
		read any
		write role publisher
	}
	collection 52b708f9-aebd-4fc0-9be2-5d6e7f8091a2 {
		title "Tail"
		alias tail
		read any
		write role publisher
	}
	collection 85d90a1b-c2d3-4e4f-8a5b-6c7d8e9fa0b1 {
		title "Streams"
		alias stream
		read any
		write role publisher
	}
	collection 96ea1b2c-d3e4-4f5a-9b6c-7d8e9fa0b1c2 {
		title "Drop box"
		alias dropbox
		read member admin
		write role publisher
	}
}
api_root api2 {
	title "API two"
	collection 9c20b18f-7f9d-4dbe-8d43-4c5d6e7f8091 {
		title "Admins"
		read member admin
	}
}
metrics_listen 127.0.0.1:0
EOM
mkdir -p policy
cat >policy/hub.policy <<EOM
# community-wide rules
group southern = ZA AR
group brics = BR RU IN CN ZA
never countries KP
share directory with community
EOM
cat >policy/alice.policy <<EOM
# what alice (BR) shares
default amber
share amber with countries IN
share amber with members carol
share amber with groups southern
share amber+strict with members carol
share red with members carol
never members dave
EOM
# the members of the integrity tests (t_integrity.c): victor, a victim
# producer sharing AMBER with BRICS only; trent, a producer that keeps
# erin out (and leaves for a while: no other policy names trent);
# mallory, the attacker, sharing everything with zane
cat >policy/victor.policy <<EOM
default amber
share amber with groups brics
EOM
cat >policy/trent.policy <<EOM
default amber
never members erin
EOM
cat >policy/mallory.policy <<EOM
default amber
share amber with members zane
share amber+strict with members zane
share red with members zane
EOM

# --- configuration checks without a daemon -----------------------------
if "$B/ctihub" check -c ctihub.conf >/dev/null 2>&1; then
	tap ok "ctihub check accepts the test configuration"
else
	tap fail "ctihub check accepts the test configuration"
fi
sed 's/^map_size 1G$/map_size 1Q/' ctihub.conf >broken.conf
out=$("$B/ctihub" check -c broken.conf 2>&1)
rc=$?
if [ $rc -eq 2 ] && echo "$out" | grep -q "^.*broken.conf:7: map_size: '1Q' is not a size"; then
	tap ok "ctihub check: file:line: message and exit status 2"
else
	tap fail "ctihub check: file:line: message and exit status 2 (rc=$rc: $out)"
fi
"$B/ctihubd" -c broken.conf >/dev/null 2>&1
rc=$?
if [ $rc -eq 2 ]; then tap ok "ctihubd refuses a broken configuration with status 2"
else tap fail "ctihubd refuses a broken configuration with status 2 (rc=$rc)"; fi

# --- start the daemon ----------------------------------------------------
"$B/ctihubd" -c ctihub.conf 2>hub.log &
PID=$!
if ! hub_wait hub.log $PID; then
	tap fail "ctihubd starts"
	sed 's/^/# /' hub.log
	exit 1
fi
PORT=$(hub_port hub.log)
tap ok "ctihubd starts on 127.0.0.1:$PORT"

export HUB_URL="https://127.0.0.1:$PORT" HUB_CA="$T/ca.pem" HUB_DIR="$T" \
    HUB_PID=$PID HUB_LOG="$T/hub.log" HUB_TOKEN_CAROL="$TOKEN_CAROL" \
    HUB_CERT_DAVE="$T/dave.pem" HUB_KEY_DAVE="$T/dave.key" \
    HUB_CERT_STRAY="$T/stray.pem" HUB_KEY_STRAY="$T/stray.key" \
    HUB_CERT_ROGUE="$T/rogue.pem" HUB_KEY_ROGUE="$T/rogue.key" \
    HUB_CERT_EXPIRED="$T/expired.pem" HUB_KEY_EXPIRED="$T/expired.key" \
    HUB_CERT_FUTURE="$T/future.pem" HUB_KEY_FUTURE="$T/future.key" \
    HUB_BIN="$B" SHARED_DATA="${SHARED_DATA:-$SRC/../shared/data}"
timeout 600 "$B/tests/integ_client" ${INTEG_ONLY:-}
crc=$?
[ $crc -eq 0 ] || sed 's/^/# hub: /' hub.log | tail -40

# --- the operations listener: /metrics, /healthz, /readyz ---------------
# plain HTTP on metrics_listen, no credentials; the exposition read by the
# real Prometheus parser, after the client above has used the hub
MPORT=$(hub_metrics_port hub.log)
MURL="http://127.0.0.1:$MPORT"
if [ -n "$MPORT" ] && curl -sf -o metrics.txt "$MURL/metrics" &&
    "$SRC/tests/promcheck.sh" metrics.txt; then
	tap ok "metrics: /metrics passes promtool check metrics"
else
	tap fail "metrics: /metrics passes promtool check metrics (port '$MPORT')"
fi
# counted: requests by route and status, TLS handshakes, refused logins,
# writer commits, the database's size
mfail=
for want in \
    'ctihub_http_requests_total{route="objects",method="GET",code="200"} [1-9]' \
    'ctihub_http_requests_total{route="add_objects",method="POST",code="202"} [1-9]' \
    'ctihub_http_requests_total{route="other",method="GET",code="401"} [1-9]' \
    'ctihub_tls_handshakes_total{result="ok"} [1-9]' \
    'ctihub_auth_failures_total{kind="bad"} [1-9]' \
    'ctihub_writer_commits_total [1-9]' \
    'ctihub_writer_objects_total [1-9]' \
    'ctihub_db_size_bytes [1-9]' \
    'ctihub_db_map_size_bytes [1-9]' \
    'ctihub_config_generation [1-9]' \
    'ctihub_http_request_duration_seconds_count{route="objects"} [1-9]'; do
	grep -q "^$want" metrics.txt || mfail="$mfail [$want]"
done
if [ -n "${INTEG_ONLY:-}" ]; then
	: # a part of the client ran: the counts are not all there
elif [ -z "$mfail" ]; then
	tap ok "metrics: requests, handshakes, logins, commits and the database are counted"
else
	tap fail "metrics: missing or zero:$mfail"
fi
h=$(curl -s -o healthz.txt -w '%{http_code}' "$MURL/healthz")
r=$(curl -s -o readyz.txt -w '%{http_code}' "$MURL/readyz")
if [ "$h" = 200 ] && [ "$r" = 200 ] && grep -q "database: ok" readyz.txt &&
    grep -q "writer: ok" readyz.txt && grep -q "policy: ok" readyz.txt; then
	tap ok "metrics: /healthz and /readyz answer 200 with their checks"
else
	tap fail "metrics: /healthz $h, /readyz $r: $(cat readyz.txt 2>/dev/null)"
fi
# the operations port serves its three routes only: no TAXII there, no
# writes, and a TAXII credential is neither needed nor looked at
t=$(curl -s -o /dev/null -w '%{http_code}' "$MURL/taxii2/")
p=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$MURL/metrics")
# a client that connects and says nothing is let go (after 10 s of
# silence), not held open for as long as it likes
idle=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(40)
try:
    print("closed" if s.recv(1) == b"" else "answered")
except socket.timeout:
    print("held")
' "$MPORT" 2>&1)
if [ "$idle" = closed ]; then
	tap ok "metrics: a silent connection to the operations port is closed"
else
	tap fail "metrics: a silent connection to the operations port: $idle"
fi
if [ "$t" = 404 ] && [ "$p" = 405 ]; then
	tap ok "metrics: TAXII is not served on the operations port (404), /metrics is GET only (405)"
else
	tap fail "metrics: /taxii2/ on the operations port $t, POST /metrics $p"
fi

# --- kill -9 during heavy ingest loses nothing acknowledged ---------------
start_hub() {
	"$B/ctihubd" -c ctihub.conf 2>>hub.log &
	PID=$!
	hub_wait hub.log $PID "$1" || return 1
	PORT=$(hub_port hub.log)
	export HUB_URL="https://127.0.0.1:$PORT" HUB_PID=$PID
}
if [ -z "${INTEG_ONLY:-}" ]; then
	: >"$T/acked"
	"$B/tests/integ_client" --durability post "$T/acked" &
	POSTER=$!
	i=0
	while [ "$(wc -l <"$T/acked")" -lt 5 ] && [ $i -lt 1200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.3
	kill -9 $PID
	wait $PID 2>/dev/null
	kill $POSTER 2>/dev/null
	wait $POSTER 2>/dev/null
	if start_hub 2; then
		tap ok "the database opens and serves after kill -9"
		"$B/tests/integ_client" --durability verify "$T/acked" || crc=1
		# every acknowledged publish has its audit record
		if "$B/tests/integ_client" --fault audit "$T/acked" "$T/state/audit.jsonl"; then
			tap ok "audit: every publish acknowledged before kill -9 has its record"
		else
			tap fail "audit: every publish acknowledged before kill -9 has its record"
			crc=1
		fi
	else
		tap fail "the database opens and serves after kill -9"
		sed 's/^/# hub: /' hub.log | tail -20
		crc=1
	fi
fi

# --- a sanitizer report anywhere in the daemon's life is a failure ---------
# (ThreadSanitizer reports and goes on; its exit status comes only at the
# end, so say here which report it was)
n=$(grep -c "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" hub.log)
if [ "$n" -eq 0 ]; then
	tap ok "no sanitizer report from the daemon"
else
	tap fail "no sanitizer report from the daemon ($n reports)"
	grep -A12 "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:" hub.log | sed 's/^/# hub: /' | head -80
	crc=1
fi

# --- clean shutdown --------------------------------------------------------
# with an event stream open: the stop ends it (it would wait for
# shutdown_timeout, 10 s, if it did not)
curl -sN --cacert ca.pem -u bob:integ-pass-1 -H 'Accept: text/event-stream' \
    -o stream.out "$HUB_URL/api1/collections/stream/stream/" 2>/dev/null &
SPID=$!
i=0
while [ ! -s stream.out ] && [ $i -lt 60 ]; do sleep 0.05; i=$((i + 1)); done
sleep 1.2 # a keep-alive comes: the stream is open
if ! hub_term $PID 60; then
	tap fail "SIGTERM stops the daemon within 3 s, an event stream open"
	hub_term $PID
elif ! grep -q "keep-alive" stream.out; then
	tap fail "SIGTERM with an event stream open (none was open)"
else
	tap ok "SIGTERM stops the daemon within 3 s, an event stream open"
fi
kill $SPID 2>/dev/null
wait $SPID 2>/dev/null
if kill -0 $PID 2>/dev/null; then
	tap fail "SIGTERM stops the daemon within 10 s"
else
	wait $PID
	rc=$?
	if [ $rc -eq 0 ] && grep -q "stopped" hub.log; then
		tap ok "SIGTERM: clean shutdown, exit status 0"
	else
		tap fail "SIGTERM: clean shutdown (exit status $rc)"
	fi
fi
PID=

# --- fault tests: signals, full disk, corruption, stale readers -----------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = faults ]; then
	"$SRC/tests/integ/faults.sh" "$B" "$T" || crc=1
fi

# --- the observable index: reindex beside a running hub -------------------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = obs ]; then
	"$SRC/tests/integ/obs.sh" "$B" "$T" || crc=1
fi

# --- lookups: a hub of their own, GET and POST, policy, audit -------------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = lookup ]; then
	"$SRC/tests/integ/lookup.sh" "$B" "$T" || crc=1
fi

# --- upstream TAXII feed: a hub of its own paged by the connector ---------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = feed_taxii ]; then
	"$SRC/tests/integ/feed_taxii.sh" "$B" "$T" || crc=1
fi

# --- feeds: the engine, lists, MISP, an HTTPS upstream, failures ----------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = feeds ]; then
	"$SRC/tests/integ/feeds.sh" "$B" "$T" || crc=1
fi

# --- push: a second hub, a webhook receiver, failures, kill -9 -------------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = push ]; then
	"$SRC/tests/integ/push.sh" "$B" "$T" || crc=1
fi

# --- blocklist exports: contents, policy, ETag, gzip, access --------------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = export ]; then
	"$SRC/tests/integ/export.sh" "$B" "$T" || crc=1
fi

# --- the MISP feed export: round trip through the MISP connector ----------
if [ -z "${INTEG_ONLY:-}" ] || [ "$INTEG_ONLY" = misp_export ]; then
	"$SRC/tests/integ/misp_export.sh" "$B" "$T" || crc=1
fi
exit $crc
