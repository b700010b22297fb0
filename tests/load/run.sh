#!/bin/sh
# run.sh -- bounded load tests of what clients can make the hub hold
# (issue #9, items 1, 2, 3, 6): starts ctihubd on an ephemeral loopback
# port with a temporary state directory, runs build/.../load_client
# against it (figures on "# " lines, results as TAP), then once more under
# a small descriptor limit.  Stops by itself: every wait is bounded.
# Usage: tests/load/run.sh build/release
# LOAD_BASELINE=1 leaves out the directives of these limits, to measure a
# build from before them the same way.
set -u
B=$(cd "${1:-build/release}" && pwd)
. "$(dirname "$0")/../hub.sh"
T=$(mktemp -d /tmp/ctihub-load.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1

TOKOUT=$("$B/ctihub" member token 2>/dev/null) || exit 1
cat >members.conf <<EOM
member loader {
	name "Load tester"
	country BR
	roles publisher subscriber
	$(echo "$TOKOUT" | sed -n 2p)
}
EOM
mkdir -p policy
# conf FILE WORKERS TIMEOUT PER_ADDR MAX_CONNS
conf() {
	cat >"$1" <<EOM
listen 127.0.0.1:0
state_dir state
map_size 1G
workers $2
request_timeout $(($3 + 1))s
members members.conf
policy_dir policy
access_log off
audit_log off
api_root api1 {
	title "Load"
	collection 6f9d8f5e-4e6c-4a8b-9a10-1f2e3d4c5b6a {
		title "Load"
		alias load
		read any
		write any
	}
}
metrics_listen 127.0.0.1:0
EOM
	if [ -z "${LOAD_BASELINE:-}" ]; then
		printf '%s\n' "header_timeout $3s" "body_timeout $3s" \
		    "max_conns_per_addr $4" "max_conns $5" >>"$1"
	fi
}

# start FILE [ULIMIT]: the hub in the background, its port in PORT
start() {
	: >hub.log
	if [ -n "${2:-}" ]; then
		(ulimit -n "$2" && exec "$B/ctihubd" -c "$1") 2>hub.log &
	else
		"$B/ctihubd" -c "$1" 2>hub.log &
	fi
	PID=$!
	if ! hub_wait hub.log $PID; then
		echo "not ok - ctihubd starts"
		sed 's/^/# hub: /' hub.log
		exit 1
	fi
	PORT=$(hub_port hub.log)
	export LOAD_PORT=$PORT HUB_PID=$PID HUB_LOG="$T/hub.log"
}

# stop NAME: SIGTERM; a clean exit (status 0, and no sanitizer report in
# a sanitizer build) is one more test
stop() {
	hub_term $PID 300 || kill -9 $PID 2>/dev/null
	wait $PID
	src=$?
	PID=
	if [ $src -eq 0 ]; then
		echo "ok - $1: the hub stops cleanly after the load"
	else
		echo "not ok - $1: the hub stops cleanly after the load (status $src)"
		sed "s/^/# hub: /" hub.log | grep -v "^# hub: .*info" | grep -E -A12 "Direct leak|ERROR" | head -60
		rc=1
	fi
}

export LOAD_TOKEN=$(echo "$TOKOUT" | sed -n 1p) LOAD_PER_ADDR=120 \
    LOAD_MAX_CONNS=300
rc=0
conf load.conf 2 2 $LOAD_PER_ADDR $LOAD_MAX_CONNS
start load.conf
for t in slow noread unauth limits; do
	timeout 120 "$B/tests/load_client" $t || rc=1
done
[ $rc -eq 0 ] || sed 's/^/# hub: /' hub.log | tail -20
stop load

# descriptors: a limit of 64 the hub reaches with a few dozen clients
conf fds.conf 1 30 100000 100000
start fds.conf 64
timeout 120 "$B/tests/load_client" fds || rc=1
grep accept hub.log | head -5 | sed 's/^/# hub: /'
stop descriptors
exit $rc
