"""tls_srv.py -- what the tests' Python HTTPS servers (push_rx.py,
feed_srv.py) share: a threading HTTPServer on 127.0.0.1 that does each
TLS handshake in the connection's thread, a keep-alive request handler
base, JSON lines appended to a record file, and a main loop that writes
the port file once listening, stops by itself after a number of seconds
and on SIGTERM.  Standard library only."""

import json
import os
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOP = threading.Event()
LOCK = threading.Lock()


def append_line(path, rec):
    """rec as one JSON line at the end of path (None: nowhere)."""
    if path is None:
        return
    line = json.dumps(rec, separators=(",", ":")) + "\n"
    with LOCK:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; the log goes to stderr unless
    server.opts.quiet."""
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection

    def log_message(self, fmt, *args):
        if not self.server.opts.quiet:
            sys.stderr.write("%s: %s\n" % (self.server.name, fmt % args))


class Server(ThreadingHTTPServer):
    """opts.quiet silences the errors; name prefixes them."""
    daemon_threads = True
    allow_reuse_address = True
    name = "tls_srv"

    def __init__(self, port, handler, opts, cert, key):
        super().__init__(("127.0.0.1", port), handler)
        self.opts = opts
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self.tls.load_cert_chain(cert, key)

    def finish_request(self, request, client_address):
        # the TLS handshake in the connection's thread, not in accept()
        request.settimeout(self.RequestHandlerClass.timeout)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if not self.opts.quiet:
                sys.stderr.write("%s: TLS: %s\n" % (self.name, e))
            return
        self.RequestHandlerClass(conn, client_address, self)

    def handle_error(self, request, client_address):
        if not self.opts.quiet:
            sys.stderr.write("%s: connection from %s:%d failed: %s\n"
                             % (self.name, client_address[0],
                                client_address[1], sys.exc_info()[1]))


def serve(srv, max_seconds, port_file):
    """Writes port_file (atomically) and prints "NAME listening on
    127.0.0.1:PORT", then serves until max_seconds pass or SIGTERM comes;
    STOP is set when it returns."""
    port = srv.server_address[1]

    def stop(*_):
        STOP.set()
        # shutdown() waits for serve_forever: not from its own thread
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    timer = threading.Timer(max_seconds, stop)
    timer.daemon = True
    timer.start()
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
        os.rename(tmp, port_file)
    print("%s listening on 127.0.0.1:%d" % (srv.name, port), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    STOP.set()
    srv.server_close()
    return 0
