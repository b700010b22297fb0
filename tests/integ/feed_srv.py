#!/usr/bin/env python3
"""feed_srv.py -- a static HTTPS file server for the feed tests: serves a
directory on 127.0.0.1 the way a feed's web server does (a MISP feed tree,
a CSV, a TAXII-less JSON dump), with validators, conditional requests,
gzip and authentication, and records every request so a test can assert
what the hub asked for.  Python's standard library only.

  feed_srv.py --cert server.pem --key server.key --root DIR [--port 0]
      [--port-file FILE] [--log FILE] [--no-gzip] [--basic USER:PASSWORD]
      [--bearer TOKEN] [--drip BYTES] [--max-seconds 300] [--quiet]

GET and HEAD of a file under --root (read at each request, so a test may
change the tree while the server runs) answer 200 with
  ETag           "<first 32 hex digits of the content's SHA-256>"
                 (W/"..." on a gzip body, as nginx does)
  Last-Modified  the file's mtime (HTTP date)
  Content-Type   by extension (json, csv, txt; else octet-stream)
and 304 without a body when If-None-Match matches the ETag (weak
comparison, "*" too), or when there is no If-None-Match and
If-Modified-Since is not before the mtime.  The body is gzip-compressed
(Content-Encoding: gzip, Vary: Accept-Encoding) when Accept-Encoding names
gzip with a nonzero q, unless --no-gzip.  A directory, a path that leaves
the root, or a missing file is 404; any other method is 405.

With --basic and/or --bearer, a request without one of those credentials
gets 401 with WWW-Authenticate (Basic realm="feed" or Bearer).

Fault modes, by the path's first component (the rest names the file):
  /500/...      500, always
  /429/...      429 with Retry-After: 1
  /slow/...     the file, with Content-Length, --drip bytes (default 64)
                every 0.1 s
  /trunc/...    Content-Length of the whole file, half of it, then close
  /hang/...     reads the request, never answers (until the client goes
                or the server stops)
  /endless/     200 chunked, "[" then {"n":N}, objects forever: never ends

Every request appends one JSON line to --log:
  {"method", "path", "status", "if_none_match", "if_modified_since",
   "accept_encoding", "auth" ("basic", "bearer" or null: what was sent,
   not whether it was right), "encoding" ("gzip" or null), "bytes" (body
   bytes written)}
(the header fields are null when the header was absent).

It stops by itself after --max-seconds (default 300) and on SIGTERM, so
no test can leave it running.  It prints "feed_srv listening on
127.0.0.1:PORT" once ready and writes PORT to --port-file (atomically).
"""

import argparse
import base64
import email.utils
import gzip
import hashlib
import hmac
import os
import select
import ssl
import sys
import time
import urllib.parse

import tls_srv

STOP = tls_srv.STOP

TYPES = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
}
FAULTS = ("500", "429", "slow", "trunc", "hang", "endless")


def wants_gzip(header):
    """Accept-Encoding names gzip (or *) with a nonzero q."""
    for item in (header or "").split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0].lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for p in parts[1:]:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def etag_matches(header, etag):
    """If-None-Match, weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    bare = etag[2:] if etag.startswith("W/") else etag
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == bare:
            return True
    return False


class Handler(tls_srv.Handler):
    server_version = "feed_srv/1"

    def record(self, status, encoding=None, nbytes=0):
        h = self.headers
        auth = (h.get("Authorization") or "").split(" ", 1)[0].lower()
        tls_srv.append_line(self.server.opts.log, {
            "method": self.command,
            "path": self.path,
            "status": status,
            "if_none_match": h.get("If-None-Match"),
            "if_modified_since": h.get("If-Modified-Since"),
            "accept_encoding": h.get("Accept-Encoding"),
            "auth": auth if auth in ("basic", "bearer") else None,
            "encoding": encoding,
            "bytes": nbytes,
        })

    def plain(self, status, text, headers=()):
        data = b"" if self.command == "HEAD" else text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text.encode())))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.record(status, None, len(data))

    def authorized(self):
        opts = self.server.opts
        if opts.basic is None and opts.bearer is None:
            return True
        got = self.headers.get("Authorization") or ""
        if opts.basic is not None:
            want = "Basic " + base64.b64encode(opts.basic.encode()).decode()
            if hmac.compare_digest(got.encode(), want.encode()):
                return True
        if opts.bearer is not None:
            want = "Bearer " + opts.bearer
            if hmac.compare_digest(got.encode(), want.encode()):
                return True
        return False

    def resolve(self, rel):
        """The file under the root that rel names, or None."""
        root = self.server.root
        rel = urllib.parse.unquote(rel.split("?", 1)[0]).lstrip("/")
        path = os.path.realpath(os.path.join(root, rel))
        if path != root and not path.startswith(root + os.sep):
            return None
        return path if os.path.isfile(path) else None

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if not self.authorized():
            challenges = []
            if self.server.opts.basic is not None:
                challenges.append(("WWW-Authenticate", 'Basic realm="feed"'))
            if self.server.opts.bearer is not None:
                challenges.append(("WWW-Authenticate", "Bearer"))
            self.plain(401, "who?", challenges)
            return
        first, _, rest = self.path.lstrip("/").partition("/")
        fault = first if first in FAULTS else None
        if fault is None:
            rest = self.path
        if fault == "500":
            self.plain(500, "broken")
            return
        if fault == "429":
            self.plain(429, "later", [("Retry-After", "1")])
            return
        if fault == "hang":
            self.record(0)
            self.hang()
            return
        if fault == "endless":
            self.endless()
            return
        path = self.resolve(rest)
        if path is None:
            self.plain(404, "no such file")
            return
        try:
            with open(path, "rb") as f:
                data = f.read()
            mtime = os.stat(path).st_mtime
        except OSError:
            self.plain(404, "no such file")
            return
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
        encoding = None
        if not self.server.opts.no_gzip and wants_gzip(
                self.headers.get("Accept-Encoding")):
            encoding = "gzip"
            data = gzip.compress(data, mtime=0)
            etag = "W/" + etag
        lastmod = email.utils.formatdate(mtime, usegmt=True)
        if self.not_modified(etag, mtime):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", lastmod)
            self.end_headers()
            self.record(304, encoding)
            return
        self.send_response(200)
        ctype = TYPES.get(os.path.splitext(path)[1].lower(),
                          "application/octet-stream")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", lastmod)
        if not self.server.opts.no_gzip:
            self.send_header("Vary", "Accept-Encoding")
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        if self.command == "HEAD":
            self.record(200, encoding, 0)
            return
        if fault == "trunc":
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.record(200, encoding, len(data) // 2)
            return
        if fault == "slow":
            sent = 0
            drip = max(1, self.server.opts.drip)
            while sent < len(data) and not STOP.is_set():
                self.wfile.write(data[sent:sent + drip])
                self.wfile.flush()
                sent += len(data[sent:sent + drip])
                time.sleep(0.1)
            self.record(200, encoding, sent)
            return
        self.wfile.write(data)
        self.record(200, encoding, len(data))

    def not_modified(self, etag, mtime):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag_matches(inm, etag)
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False  # an invalid date is ignored (RFC 9110 13.1.3)
        return int(mtime) <= since

    def hang(self):
        """Until the client closes the connection or the server stops."""
        conn = self.connection
        while not STOP.wait(0.2):
            r, _, _ = select.select([conn], [], [], 0)
            if r:
                try:
                    if not conn.recv(1):
                        break
                except (OSError, ssl.SSLError):
                    break
        self.close_connection = True

    def endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent, n = 0, 0
        try:
            piece = b"["
            while not STOP.is_set():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
                piece = b"".join(b'{"n":%d},' % (n + i) for i in range(512))
                n += 512
        except OSError:
            pass  # the client went: that is how this ends
        self.close_connection = True
        self.record(200, None, sent)

    def do_POST(self):
        self.plain(405, "read only", [("Allow", "GET, HEAD")])

    do_PUT = do_DELETE = do_PATCH = do_POST


class Server(tls_srv.Server):
    name = "feed_srv"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--no-gzip", action="store_true")
    p.add_argument("--basic", metavar="USER:PASSWORD")
    p.add_argument("--bearer", metavar="TOKEN")
    p.add_argument("--drip", type=int, default=64)
    p.add_argument("--max-seconds", type=float, default=300)
    p.add_argument("--quiet", action="store_true")
    opts = p.parse_args()
    if opts.basic is not None and ":" not in opts.basic:
        sys.exit("feed_srv: --basic USER:PASSWORD")
    if not os.path.isdir(opts.root):
        sys.exit("feed_srv: %s: not a directory" % opts.root)

    srv = Server(opts.port, Handler, opts, opts.cert, opts.key)
    srv.root = os.path.realpath(opts.root)
    return tls_srv.serve(srv, opts.max_seconds, opts.port_file)

if __name__ == "__main__":
    sys.exit(main())
