#!/bin/sh
# faults.sh -- the fault tests, run by run.sh in its prepared directory (the
# throwaway CA, certificates, members and configuration): each starts its
# own ctihubd on a state directory of its own, makes a fault and checks
# the hub's answer to it.  Prints TAP; every wait and every loop is
# bounded; FAULT_TRIALS (default 3) sets the number of SIGTERM trials.
# Usage: tests/integ/faults.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
cd "$T" || exit 1
TRIALS=${FAULT_TRIALS:-3}
FPID=
frc=0
cleanup_faults() {
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
}
trap cleanup_faults EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; frc=1; fi
}

# fconf NAME STATE_DIR [extra directives]: a configuration like run.sh's
# with its own state directory
fconf() {
	sed "s|^state_dir state$|state_dir $2|" ctihub.conf >"$1"
	shift 2
	for d in "$@"; do printf '%s\n' "$d" >>"$1"; done
}

# fstart CONF LOG: starts a hub, waits until it is ready (10 s at most)
fstart() {
	: >"$2"
	"$B/ctihubd" -c "$1" 2>"$2" &
	FPID=$!
	i=0
	while ! grep -q "ctihubd ready" "$2" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 $FPID 2>/dev/null; then
			sed 's/^/# hub: /' "$2" | tail -20
			return 1
		fi
		sleep 0.05
	done
	FPORT=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)/.*|\1|p' "$2" | head -1)
	export HUB_URL="https://127.0.0.1:$FPORT" HUB_PID=$FPID HUB_LOG="$T/$2"
}

# fstop SIG: signals the hub and waits for it (30 s at most); sets FRC to
# its exit status (128+n for a signal, 255 when it had to be killed)
fstop() {
	kill -"$1" "$FPID" 2>/dev/null
	i=0
	while kill -0 "$FPID" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if kill -0 "$FPID" 2>/dev/null; then
		kill -9 "$FPID"
		wait "$FPID" 2>/dev/null
		FRC=255
	else
		wait "$FPID"
		FRC=$?
	fi
	FPID=
}

# --- 9: SIGTERM during ingest ---------------------------------------------
# Every trial: publishers and readers at full speed, SIGTERM once the
# first envelope is acknowledged (plus a little more each trial); every
# request sent must be answered (200/202, or 503 once stopping) and the
# hub must exit with status 0 -- under the sanitizers too.
fconf sigterm.conf faults-sigterm
t=1
while [ $t -le "$TRIALS" ]; do
	if ! fstart sigterm.conf sigterm.log; then
		tap fail "SIGTERM under load, trial $t: the hub starts"
		break
	fi
	rm -f ready
	"$B/tests/integ_client" --fault load 30 "$T/ready" >load.out 2>&1 &
	LPID=$!
	i=0
	while [ ! -f ready ] && [ $i -lt 400 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep "0.$((t * 3 % 10))"
	fstop TERM
	wait $LPID
	lrc=$?
	cat load.out
	if [ $FRC -eq 0 ] && [ $lrc -eq 0 ] && grep -q "stopped" sigterm.log; then
		tap ok "SIGTERM under load, trial $t: every request answered, exit status 0"
	else
		tap fail "SIGTERM under load, trial $t: exit status $FRC, client $lrc"
		sed 's/^/# hub: /' sigterm.log | tail -30
	fi
	t=$((t + 1))
done

exit $frc
