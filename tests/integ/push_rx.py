#!/usr/bin/env python3
"""push_rx.py -- a Standard Webhooks receiver for the push tests: an HTTPS
server on 127.0.0.1 that checks every request's webhook-signature with its
own implementation (HMAC-SHA256 "v1" with the hmac module, Ed25519 "v1a"
with python3-cryptography), never with ctihub's code, and records what it
accepts.

  push_rx.py --cert server.pem --key server.key [--port 0]
      [--port-file FILE] [--secret whsec_... | --secret-file FILE]...
      [--public-key whpk_...]... [--no-verify] [--no-challenge]
      [--out FILE] [--challenges FILE] [--ctl FILE] [--max-seconds 300]

Every POST must carry webhook-id, webhook-timestamp (Unix seconds, at most
5 minutes from now) and webhook-signature (a space-separated list; one
entry valid under one of the given keys is enough): otherwise 400 (a header
missing or malformed) or 401 (a bad signature or a stale timestamp).

A signed body {"type": "webhook.challenge", "challenge": C} is answered
200 {"challenge": C} (unless --no-challenge: then 200 {}) and appended to
--challenges.  Any other accepted request is a delivery: appended to --out
as one JSON line {"id": webhook-id, "ts": timestamp, "body": parsed body}
and answered 200 {}.

The control file (--ctl), read at each request, holds one word that
changes the answer to deliveries (after the signature check):
  ok            200 (also when the file is missing or empty)
  500 | 410     that status
  429           429 with Retry-After: 1
  413:N         413 when the payload holds more than N objects, else ok
  hang          never answers (holds the connection until the end)
  drop          closes the connection without an answer
  slow:SECONDS  waits, then answers ok
Objects are counted in the body's "objects" array (or "events", or the same
inside "data").  Nothing is recorded unless the answer is 200.

It stops by itself after --max-seconds (default 300), so no test can leave
it running.  It prints "push_rx listening on 127.0.0.1:PORT" once ready
and writes PORT to --port-file.
"""

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import os
import socket
import sys
import time

import tls_srv

TOLERANCE = 5 * 60
MAX_BODY = 64 << 20

STOP = tls_srv.STOP


def b64decode_strict(s):
    """Standard base64, padded; None when malformed."""
    try:
        return base64.b64decode(s.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None


def load_secret(s):
    if not s.startswith("whsec_"):
        sys.exit("push_rx: a secret is whsec_<base64>")
    raw = b64decode_strict(s[len("whsec_"):])
    if not raw:
        sys.exit("push_rx: the secret is not base64")
    return raw


def load_public(s):
    if not s.startswith("whpk_"):
        sys.exit("push_rx: a public key is whpk_<base64>")
    raw = b64decode_strict(s[len("whpk_"):])
    if raw is None or len(raw) != 32:
        sys.exit("push_rx: the public key is not base64 of 32 bytes")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PublicKey)
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_ok(secrets, publics, msg_id, ts, body, header):
    """Any entry of the header that one of the keys verifies."""
    good = False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    macs = [hmac.new(k, signed, hashlib.sha256).digest() for k in secrets]
    for entry in header.split(" "):
        if "," not in entry:
            continue
        version, sig = entry.split(",", 1)
        raw = b64decode_strict(sig)
        if raw is None:
            continue
        if version == "v1":
            for m in macs:
                if hmac.compare_digest(m, raw):
                    good = True
        elif version == "v1a" and len(raw) == 64:
            for pk in publics:
                try:
                    pk.verify(raw, signed)
                    good = True
                except Exception:  # cryptography's InvalidSignature
                    pass
    return good


def count_objects(body):
    if not isinstance(body, dict):
        return 0
    for name in ("objects", "events"):
        if isinstance(body.get(name), list):
            return len(body[name])
    for name in ("data", "envelope"):
        if isinstance(body.get(name), dict):
            return count_objects(body[name])
    if isinstance(body.get("deleted"), list):
        return len(body["deleted"])
    return 0


def read_ctl(path):
    if path is None:
        return "ok"
    try:
        with open(path, encoding="utf-8") as f:
            word = f.read().strip()
    except OSError:
        return "ok"
    return word or "ok"


SEQ = itertools.count(1)


class Handler(tls_srv.Handler):
    server_version = "push_rx/1"

    def answer(self, status, obj=None, headers=()):
        data = json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    return None
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    # --- a TAXII 2.1 receiver stub under /taxii/: Add Objects answers a
    # status resource, pending or complete, with or without a failure, as
    # the --taxii-ctl word says (ok, pending, fail); Get Status completes
    def taxii_status(self, sid, n, failed):
        return {"id": sid, "status": "complete", "total_count": n,
                "success_count": n - failed, "failure_count": failed,
                "pending_count": 0,
                "failures": [{"id": "indicator--0", "message": "told to"}]
                if failed else []}

    def do_GET(self):
        if self.path.startswith("/taxii/") and "/status/" in self.path:
            sid = self.path.rstrip("/").rsplit("/", 1)[-1]
            tls_srv.append_line(self.server.opts.taxii_out, {"status_poll": sid})
            self.answer(200, self.taxii_status(sid, 1, 0))
            return
        self.answer(405, {"error": "POST only"})

    def do_DELETE(self):
        if self.path.startswith("/taxii/"):
            tls_srv.append_line(self.server.opts.taxii_out,
                        {"taxii_delete": self.path})
            self.answer(200, {})
            return
        self.answer(405, {"error": "POST only"})

    def taxii_post(self):
        opts = self.server.opts
        body = self.read_body()
        try:
            payload = json.loads(body)
        except (TypeError, ValueError):
            self.answer(400, {"error": "not JSON"})
            return
        n = len(payload.get("objects", []))
        word = read_ctl(opts.taxii_ctl)
        sid = "s%d-%d" % (os.getpid(), next(SEQ))
        tls_srv.append_line(opts.taxii_out, {"taxii": word, "status_id": sid,
                               "body": payload})
        if word == "pending":
            self.answer(202, {"id": sid, "status": "pending",
                              "total_count": n, "success_count": 0,
                              "failure_count": 0, "pending_count": n})
        else:
            self.answer(202, self.taxii_status(sid, n,
                                               1 if word == "fail" else 0))

    def do_POST(self):
        opts = self.server.opts
        if self.path.startswith("/taxii/"):
            self.taxii_post()
            return
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.answer(400, {"error": "malformed body framing"})
            return
        if body is None:
            self.close_connection = True
            self.answer(413, {"error": "body too large"})
            return
        msg_id = self.headers.get("webhook-id")
        ts = self.headers.get("webhook-timestamp")
        sig = self.headers.get("webhook-signature")
        if not opts.no_verify:
            if not msg_id or not ts or not sig or not ts.isdigit():
                self.answer(400, {"error": "missing or malformed headers"})
                return
            if abs(time.time() - int(ts)) > TOLERANCE:
                self.answer(401, {"error": "timestamp too old or new"})
                return
            if not signature_ok(self.server.secrets, self.server.publics,
                                msg_id, ts, body, sig):
                self.answer(401, {"error": "bad signature"})
                return
        try:
            payload = json.loads(body)
        except ValueError:
            self.answer(400, {"error": "not JSON"})
            return
        if (isinstance(payload, dict)
                and payload.get("type") == "webhook.challenge"):
            tls_srv.append_line(opts.challenges, {"id": msg_id, "ts": ts,
                                          "body": payload})
            if opts.no_challenge:
                self.answer(200, {})
            else:
                self.answer(200, {"challenge": payload.get("challenge")})
            return
        word = read_ctl(opts.ctl)
        if word == "hang":
            while not STOP.wait(1):
                pass
            self.close_connection = True
            return
        if word == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if word.startswith("slow:"):
            STOP.wait(float(word[5:]))
            word = "ok"
        if word in ("500", "410"):
            self.answer(int(word), {"error": "told to"})
            return
        if word == "429":
            self.answer(429, {"error": "told to"}, [("Retry-After", "1")])
            return
        if word.startswith("413:"):
            if count_objects(payload) > int(word[4:]):
                self.answer(413, {"error": "too many objects"})
                return
        tls_srv.append_line(opts.out, {"id": msg_id,
                               "ts": int(ts) if ts and ts.isdigit() else ts,
                               "body": payload})
        self.answer(200, {})


class Server(tls_srv.Server):
    name = "push_rx"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--secret", action="append", default=[])
    p.add_argument("--secret-file", action="append", default=[])
    p.add_argument("--public-key", action="append", default=[])
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--no-challenge", action="store_true")
    p.add_argument("--out")
    p.add_argument("--challenges")
    p.add_argument("--ctl")
    p.add_argument("--taxii-ctl")
    p.add_argument("--taxii-out")
    p.add_argument("--max-seconds", type=float, default=300)
    p.add_argument("--quiet", action="store_true")
    opts = p.parse_args()

    secrets = [load_secret(s) for s in opts.secret]
    for path in opts.secret_file:
        with open(path, encoding="ascii") as f:
            secrets.append(load_secret(f.readline().strip()))
    publics = [load_public(s) for s in opts.public_key]
    if not secrets and not publics and not opts.no_verify:
        sys.exit("push_rx: give --secret, --public-key or --no-verify")

    srv = Server(opts.port, Handler, opts, opts.cert, opts.key)
    srv.secrets, srv.publics = secrets, publics
    return tls_srv.serve(srv, opts.max_seconds, opts.port_file)

if __name__ == "__main__":
    sys.exit(main())
