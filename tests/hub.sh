# hub.sh -- sourced by the test and benchmark scripts that start ctihubd:
# waiting for it to be ready, and the ports it listens on.  POSIX sh, and
# safe under set -e.

# hub_wait LOG PID [N]: waits, 10 s at most, until LOG holds N (default 1)
# "ctihubd ready" lines; 1 when the daemon PID exits or is not ready by
# then.
hub_wait() {
	_hw_n=${3:-1}
	_hw_i=0
	while :; do
		_hw_c=$(grep -c "ctihubd ready" "$1" 2>/dev/null || :)
		[ "${_hw_c:-0}" -ge "$_hw_n" ] && return 0
		_hw_i=$((_hw_i + 1))
		if [ $_hw_i -gt 200 ] || ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
}

# hub_port LOG: the TAXII port of the last start logged in LOG
hub_port() {
	sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)/.*|\1|p' "$1" |
	    tail -1
}

# hub_metrics_port LOG: the operations port of the last start in LOG
hub_metrics_port() {
	sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$1" |
	    tail -1
}

# hub_term PID [TICKS]: SIGTERM, then waits until PID is gone, TICKS
# times 50 ms at most (default 200: 10 s); 1 when it is still running.
hub_term() {
	kill -TERM "$1" 2>/dev/null
	_ht_i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $_ht_i -lt "${2:-200}" ] || return 1
		sleep 0.05
		_ht_i=$((_ht_i + 1))
	done
	return 0
}
