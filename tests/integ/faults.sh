#!/bin/sh
# faults.sh -- the fault tests, run by run.sh in its prepared directory (the
# throwaway CA, certificates, members and configuration): each starts its
# own ctihubd on a state directory of its own, makes a fault and checks
# the hub's answer to it.  Prints TAP; every wait and every loop is
# bounded; FAULT_TRIALS (default 3) sets the number of SIGTERM trials,
# FAULT_FLIPS (default 10) the number of damaged copies of a database.
# Usage: tests/integ/faults.sh BUILD_DIR RUN_DIR
set -u
B=$1
T=$2
. "$(dirname "$0")/../hub.sh"
cd "$T" || exit 1
TRIALS=${FAULT_TRIALS:-3}
FLIPS=${FAULT_FLIPS:-10}
FPID=
frc=0
cleanup_faults() {
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	umount "$T/faults-disk" "$T/faults-audit" 2>/dev/null
}
trap cleanup_faults EXIT

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then echo "ok - $2"; else echo "not ok - $2"; frc=1; fi
}

# wait_audit ACKED FILE: waits (10 s at most) until every publish in
# ACKED has its record in the audit log FILE; prints the figures
wait_audit() {
	i=0
	until "$B/tests/integ_client" --fault audit "$1" "$2" >audit.out; do
		i=$((i + 1))
		[ $i -lt 20 ] || break
		sleep 0.5
	done
	cat audit.out
	[ $i -lt 20 ]
}

# hublog LOG: the end of a hub's log, or its sanitizer report
hublog() {
	if grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$1"; then
		grep -A45 "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$1" |
		    grep -v "^ *0x\|Shadow\|^ *\(Addressable\|Partially\|Heap\|Freed\|Stack\|Global\|Poisoned\|Container\|Array\|Intra\|ASan\|Left\|Right\)" |
		    sed 's/^/# hub: /' | head -45
	else
		sed 's/^/# hub: /' "$1" | tail -"${2:-20}"
	fi
}

# fconf NAME STATE_DIR [extra directives]: a configuration like run.sh's
# with its own state directory
fconf() {
	fc=$1
	sed "s|^state_dir state$|state_dir $2|" ctihub.conf >"$fc"
	shift 2
	for d in "$@"; do printf '%s\n' "$d" >>"$fc"; done
}

# fstart CONF LOG: starts a hub, waits until it is ready (10 s at most)
fstart() {
	: >"$2"
	"$B/ctihubd" -c "$1" 2>"$2" &
	FPID=$!
	if ! hub_wait "$2" $FPID; then
		sed 's/^/# hub: /' "$2" | tail -20
		return 1
	fi
	FPORT=$(hub_port "$2")
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
		hublog sigterm.log 30
	fi
	t=$((t + 1))
done

# --- 10, 11: a full disk under the database ---------------------------------
# The state directory (database, audit and access logs) on a 3 MB tmpfs:
# publishing until it is full must end in a 507 TAXII error with a log
# line, reads must go on, and once there is room again every publish that
# was acknowledged must have its audit record, in a file without a cut
# line.
cleanup_disk() {
	umount "$T/faults-disk" 2>/dev/null
}
mkdir -p faults-disk
if mount -t tmpfs -o size=3m tmpfs faults-disk 2>/dev/null; then
	fconf disk.conf faults-disk/state
	if fstart disk.conf disk.log; then
		"$B/tests/integ_client" --fault publish d15c 400 100 disk.acked
		prc=$?
		n=$(wc -l <disk.acked)
		if [ $prc -eq 3 ] && grep -q "answered 507" disk.log; then
			tap ok "full disk: a 507 TAXII error and a log line after $n envelopes"
		else
			tap fail "full disk: a 507 TAXII error and a log line (publish exit $prc after $n envelopes)"
			sed 's/^/# hub: /' disk.log | tail -10
		fi
		if "$B/tests/integ_client" --fault snapshot disk.ref >/dev/null; then
			tap ok "full disk: reads go on"
		else
			tap fail "full disk: reads go on"
		fi
		# room again: the publish records waiting in the database
		# reach the audit log (exported every second)
		mount -o remount,size=64m faults-disk
		if wait_audit disk.acked faults-disk/state/audit.jsonl; then
			tap ok "full disk: every acknowledged publish has its audit record once there is room"
		else
			tap fail "full disk: every acknowledged publish has its audit record once there is room"
			sed 's/^/# hub: /' disk.log | grep audit | tail -5
		fi
		fstop TERM
		if [ $FRC -eq 0 ]; then
			tap ok "full disk: the hub stops cleanly"
		else
			tap fail "full disk: the hub stops cleanly (exit status $FRC)"
		fi
	else
		tap fail "full disk: the hub starts on a 3 MB file system"
	fi
	cleanup_disk
else
	echo "ok - full disk # SKIP cannot mount a tmpfs here (mount -t tmpfs needs root)"
fi

# --- 10: a full disk under the audit log ------------------------------------
# The audit log alone on a tmpfs that is filled up: publishes are
# acknowledged (the database has room), their records wait in the
# database, the log says the audit log cannot be written; once there is
# room every record is there and no line is cut.
mkdir -p faults-audit
if mount -t tmpfs -o size=256k tmpfs faults-audit 2>/dev/null; then
	fconf audit.conf faults-audit-state "audit_log faults-audit/audit.jsonl"
	if fstart audit.conf auditfull.log; then
		dd if=/dev/zero of=faults-audit/filler bs=4k count=64 2>/dev/null
		"$B/tests/integ_client" --fault publish a0d17 10 100 audit.acked >/dev/null
		prc=$?
		i=0
		while ! grep -q "audit log .*cannot write" auditfull.log && [ $i -lt 40 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if [ $prc -eq 0 ] && grep -q "audit log .*cannot write" auditfull.log; then
			tap ok "audit log on a full disk: publishes acknowledged, the log says the audit log cannot be written"
		else
			tap fail "audit log on a full disk: publishes acknowledged (exit $prc), the log says so"
			sed 's/^/# hub: /' auditfull.log | tail -10
		fi
		rm -f faults-audit/filler
		if wait_audit audit.acked faults-audit/audit.jsonl; then
			tap ok "audit log on a full disk: every record there once there is room, no line cut"
		else
			tap fail "audit log on a full disk: every record there once there is room, no line cut"
		fi
		fstop TERM
		[ $FRC -eq 0 ] || {
			tap fail "audit log on a full disk: the hub stops cleanly ($FRC)"
			hublog auditfull.log
		}
	else
		tap fail "audit log on a full disk: the hub starts"
	fi
	umount faults-audit
else
	echo "ok - audit log on a full disk # SKIP cannot mount a tmpfs here (mount -t tmpfs needs root)"
fi

# --- 18: the map grows; stale reader slots are cleared ----------------------
# A hub whose map starts at 1 MB takes 4 MB of objects (it grows the map,
# up to map_max); a reader killed with its slot leaves a stale slot that
# the hub clears; an import beside the hub grows the map further and the
# hub adopts the new size (no 503).
sed -e "s|^state_dir state$|state_dir faults-map|" -e "s|^map_size 1G$|map_size 1M|" \
    ctihub.conf >map.conf
echo "map_max 64M" >>map.conf
if fstart map.conf map.log; then
	"$B/tests/integ_client" --fault publish 3a9 40 100 map.acked >map.out
	prc=$?
	if [ $prc -eq 0 ] && grep -q "map grew from 1 to 2 MB" map.log; then
		tap ok "map: a full map grows (1 MB at start, $(wc -l <map.acked) envelopes of 100 objects taken)"
	else
		tap fail "map: a full map grows (publish exit $prc)"
		cat map.out
		sed 's/^/# hub: /' map.log | tail -5
	fi
	rm -f holding
	"$B/tests/integ_client" --fault hold-reader faults-map/db "$T/holding" &
	HPID=$!
	i=0
	while [ ! -f holding ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	kill -9 $HPID
	wait $HPID 2>/dev/null
	i=0
	while ! grep -q "cleared 1 stale reader slot" map.log && [ $i -lt 60 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if grep -q "cleared 1 stale reader slot" map.log; then
		tap ok "map: the reader slot of a killed process is cleared"
	else
		tap fail "map: the reader slot of a killed process is cleared"
	fi
	"$B/tests/integ_client" --fault bundle map.bundle 3aa 8000 &&
	    "$B/ctihub" import map.bundle --as alice --collection any -c map.conf --quiet >import.out 2>&1
	irc=$?
	"$B/tests/integ_client" --fault publish 3ab 2 100 map2.acked >/dev/null
	prc=$?
	if [ $irc -eq 0 ] && [ $prc -eq 0 ] &&
	    "$B/tests/integ_client" --fault snapshot map.ref >/dev/null &&
	    grep -q "map grew (another process)" map.log; then
		tap ok "map: the hub adopts a map an import grew"
	else
		tap fail "map: the hub adopts a map an import grew (import $irc, publish $prc)"
		sed 's/^/# import: /' import.out | tail -5
		sed 's/^/# hub: /' map.log | tail -5
	fi
	fstop TERM
	[ $FRC -eq 0 ] || tap fail "map: the hub stops cleanly ($FRC)"
else
	tap fail "map: the hub starts with a 1 MB map"
fi

# --- 12: a damaged database is never served ---------------------------------
# A small database (300 objects, the directory, statuses) is copied and
# bytes are flipped in each copy; on each the hub either refuses to start
# with a message, or starts and serves only objects as published (or
# refuses them with a TAXII error), and stops without a crash.  ctihub
# verify finds what the hub refused.
sanitizer_report() { # the log of a sanitizer build that found something
	grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$1"
}
rm -rf faults-corrupt
mkdir -p faults-corrupt
fconf corrupt.conf faults-corrupt/state
if fstart corrupt.conf corrupt.log &&
    "$B/tests/integ_client" --fault publish c0ffee 3 100 faults-corrupt/acked >/dev/null &&
    "$B/tests/integ_client" --fault snapshot faults-corrupt/ref; then
	fstop TERM
	cp -r faults-corrupt/state faults-corrupt/pristine
	rm -f faults-corrupt/pristine/db/lock.mdb
	tap ok "damaged database: a reference of $(wc -l <faults-corrupt/ref) objects"
else
	tap fail "damaged database: a reference database"
	FLIPS=0
	[ -n "$FPID" ] && fstop KILL
fi
# copy N: 1 both meta pages broken; the others N random bytes each
t=1
while [ $t -le "$FLIPS" ]; do
	rm -rf faults-corrupt/state
	cp -r faults-corrupt/pristine faults-corrupt/state
	db=faults-corrupt/state/db/data.mdb
	if [ $t -eq 1 ]; then
		printf '\377' | dd of=$db bs=1 seek=16 conv=notrunc 2>/dev/null
		printf '\377' | dd of=$db bs=1 seek=4112 conv=notrunc 2>/dev/null
		what="both meta pages"
	else
		what=$("$B/tests/integ_client" --fault flip $db $t $t | sed "s/^# //")
	fi
	ok=1
	why=
	if fstart corrupt.conf corrupt.log; then
		out=$("$B/tests/integ_client" --fault check faults-corrupt/ref) || {
			ok=0
			why="served damaged data"
		}
		fstop TERM
		if [ $FRC -ge 128 ]; then ok=0; why="$why; crashed at stop ($FRC)"; fi
		state="served"
	else
		# it did not start: a clean refusal, not a crash
		wait "$FPID" 2>/dev/null
		FRC=$?
		FPID=
		out=$(grep -v "^$" corrupt.log | tail -1)
		if [ $FRC -ge 128 ] || [ $FRC -eq 0 ]; then
			ok=0
			why="crashed at start ($FRC)"
		fi
		state="refused to start"
	fi
	if sanitizer_report corrupt.log; then ok=0; why="$why; sanitizer report"; fi
	"$B/ctihub" verify -c corrupt.conf >verify.out 2>&1
	vrc=$?
	if [ $vrc -gt 1 ] && [ "$state" = served ]; then
		ok=0
		why="$why; ctihub verify exit status $vrc"
	fi
	if grep -q "damaged" corrupt.log && [ "$state" = served ] && [ $vrc -ne 1 ]; then
		ok=0
		why="$why; the hub found damage, ctihub verify did not"
	fi
	echo "# copy $t ($what): $state, verify $vrc: $out"
	if [ $ok = 1 ]; then
		tap ok "damaged database, copy $t: nothing altered served, no crash"
	else
		tap fail "damaged database, copy $t: $why"
		sed 's/^/# hub: /' corrupt.log | tail -20
		sed 's/^/# verify: /' verify.out | tail -5
	fi
	t=$((t + 1))
done

exit $frc
