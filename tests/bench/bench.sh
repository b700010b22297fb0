# bench.sh -- sourced by the benchmark scripts (run.sh, push.sh): the
# members they create and the hub configuration they share.  POSIX sh.

# bench_member NAME COUNTRY PWLINE: appends a member with every role and
# the password line PWLINE (from `ctihub member passwd`) to members.conf
bench_member() {
	cat >>members.conf <<EOM
member $1 {
	name "Bench $1"
	country $2
	roles publisher subscriber
	$3
}
EOM
}

# bench_conf FILE STATE [POLICYDIR]: a hub on 127.0.0.1 (ports chosen by
# the system) with one collection, "bench" under the API root "bench",
# that every member may read and write; no access or audit log; the
# directives in BENCH_CONF_EXTRA (lines) added, e.g. "index_observables no"
bench_conf() {
	cat >"$1" <<EOM
listen 127.0.0.1:0
state_dir $2
map_size 8G
members members.conf
policy_dir ${3:-policy}
access_log off
audit_log off
api_root bench {
	title "Benchmark"
	max_content_length 64M
	collection 3a8f5c7e-1b2d-4e6f-8a9b-0c1d2e3f4a5b {
		title "Bench"
		alias bench
		read any
		write any
	}
}
metrics_listen 127.0.0.1:0
${BENCH_CONF_EXTRA:-}
EOM
}
