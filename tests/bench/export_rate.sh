#!/bin/sh
# export_rate.sh -- the rate of a full blocklist export: imports N
# indicators of K IPv4 addresses each (N*K distinct values) into a fresh
# hub with `ctihub import`, then times GET export/ipv4.txt, all.csv and
# ipv4.txt with gzip over HTTPS with curl (the client on the same
# machine), and, as the reference measured in the same run, GET objects/
# pages of the same collection.  Prints MB/s and values/s.
# Usage: tests/bench/export_rate.sh build/release [N] [K]
set -eu
B=$(cd "${1:-build/release}" && pwd)
N=${2:-100000}
K=${3:-10}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/hub.sh"
T=$(mktemp -d /tmp/ctihub-xbench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=ca \
    2>/dev/null
openssl req $ec -keyout server.key -out s.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >s.ext
openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 2 -extfile s.ext 2>/dev/null
PW=bench-pass-1
PWLINE=$(echo $PW | "$B/ctihub" member passwd --stdin)
C=88888888-8888-4888-8888-888888888888
mkdir policy
printf 'member pub {\n\tname "P"\n\tcountry BR\n\troles publisher subscriber\n\t%s\n}\n' \
    "$PWLINE" >members.conf
cat >ctihub.conf <<EOM
listen 127.0.0.1:0
tls_cert server.pem
tls_key server.key
state_dir state
map_size 4G
members members.conf
policy_dir policy
metrics_listen off
api_root x1 {
	title "bench"
	collection $C {
		title "bench"
		read any
		write any
	}
}
EOM
python3 - "$N" "$K" >bundle.json <<'EOP'
import sys
n, k = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
out.write('{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[')
v = 0
for i in range(n):
    terms = []
    for j in range(k):
        terms.append("[ipv4-addr:value = '%d.%d.%d.%d']" % (
            10 + v // 16777216, v // 65536 % 256, v // 256 % 256, v % 256))
        v += 1
    out.write('%s{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x",'
              '"created":"2025-01-01T00:00:00.000Z","modified":"2025-01-01T00:00:00.000Z",'
              '"pattern":"%s","pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z",'
              '"confidence":70,"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}'
              % ("," if i else "", i, i, " OR ".join(terms)))
out.write(']}')
EOP
"$B/ctihub" import -c ctihub.conf -q --as pub --collection $C bundle.json
"$B/ctihubd" -c ctihub.conf 2>hub.log &
PID=$!
hub_wait hub.log $PID
PORT=$(hub_port hub.log)
U=https://127.0.0.1:$PORT/x1/collections/$C
get() { # get NAME URL [curl args]
	_n=$1
	_u=$2
	shift 2
	curl -s --cacert ca.pem -u pub:$PW -o out.$_n \
	    -w "$_n %{size_download} %{time_total}\n" "$@" "$_u"
}
report() {
	awk -v v="$1" '{ printf "%-14s %10d bytes %7.3f s %7.1f MB/s %9.0f values/s\n",
	    $1, $2, $3, $2 / $3 / 1e6, v / $3 }'
}
# EXPORT_PERF=FILE: perf record of the hub during the first export
if [ -n "${EXPORT_PERF:-}" ]; then
	perf record -q -g -p $PID -o "$EXPORT_PERF" 2>/dev/null &
	PERFPID=$!
	sleep 1
fi
get txt "$U/export/ipv4.txt" | report $((N * K))
if [ -n "${EXPORT_PERF:-}" ]; then
	kill -INT $PERFPID
	wait $PERFPID || :
fi
echo "# lines: $(wc -l <out.txt) (want $((N * K)))"
get csv "$U/export/all.csv" | report $((N * K))
get gzip "$U/export/ipv4.txt" -H 'Accept-Encoding: gzip' | report $((N * K))
# the reference: one page of 1,000 objects (the same TLS stack)
get objects "$U/objects/?limit=1000" -H \
    'Accept: application/taxii+json;version=2.1' | report 1000
