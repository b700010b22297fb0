# tls_test.sh -- sourced by the tests of the tests' Python servers
# (push_rx_test.sh, feed_srv_test.sh): TAP lines prefixed with $TAP_NAME,
# a failure count in $fails, and a throwaway CA with a server certificate
# for 127.0.0.1 made with openssl in the current directory.

fails=0

tap() { # tap ok|fail name
	if [ "$1" = ok ]; then
		echo "ok - $TAP_NAME: $2"
	else
		echo "not ok - $TAP_NAME: $2"
		fails=$((fails + 1))
	fi
}
check() { # check NAME GOT WANT
	if [ "$2" = "$3" ]; then
		tap ok "$1"
	else
		tap fail "$1 (got $2, want $3)"
	fi
}

# ca.pem, server.pem and server.key (CN localhost, SAN 127.0.0.1)
tls_make_certs() {
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 \
	    -subj "/CN=$TAP_NAME test CA" 2>/dev/null || return 1
	openssl req $ec -keyout server.key -out server.csr \
	    -subj "/CN=localhost" 2>/dev/null || return 1
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	    "extendedKeyUsage=serverAuth" >server.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out server.pem -days 2 -extfile server.ext \
	    2>/dev/null
}
