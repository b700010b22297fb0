#!/usr/bin/env python3
"""gen_obs.py -- input for the observable benchmark (tests/bench/obs.sh).

Writes N STIX 2.1 indicators, each with a pattern of ten equality
comparisons (four IPv4 addresses, two domain names, a URL, an e-mail
address, and one file given by MD5 and SHA-256 in one observation, so
each hash finds the other), as bundles of up to 100,000 objects; every
50th indicator also gives an IPv4 /24 range (in place of an address).
Also writes the values the benchmark asks for:
  batch.txt   10,000 values: 4,000 stored (IPs, domains, URLs, hashes),
              1,000 addresses inside stored ranges, 5,000 never stored
  singles.txt 100,000 values in the same mix, for single lookups
Deterministic for a given N and seed.
usage: gen_obs.py N OUTDIR [SEED]
"""
import json
import os
import random
import sys
import uuid

N = int(sys.argv[1])
OUT = sys.argv[2]
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
PER_FILE = 100000
os.makedirs(OUT, exist_ok=True)


def ip():
    return "%d.%d.%d.%d" % (rnd.randint(11, 223), rnd.randint(0, 255),
                            rnd.randint(0, 255), rnd.randint(1, 254))


def name():
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                   for _ in range(rnd.randint(6, 14)))


def hexs(n):
    return "%0*x" % (n, rnd.getrandbits(n * 4))


stored = []  # a sample of stored values, for the lookups
ranges = []
f = None
count = 0
for i in range(N):
    if i % PER_FILE == 0:
        if f:
            f.write("]}\n")
            f.close()
        f = open(os.path.join(OUT, "b%04d.json" % (i // PER_FILE)), "w")
        f.write('{"type":"bundle","id":"bundle--%s","objects":[' %
                uuid.UUID(int=rnd.getrandbits(128), version=4))
        first = True
    ips = [ip() for _ in range(4)]
    if i % 50 == 0:
        r = ips[3].rsplit(".", 1)[0] + ".0/24"
        ips[3] = r
        ranges.append(r)
    doms = ["%s.%s.%s" % (name(), name(), rnd.choice(["com", "net", "org",
                                                       "ru", "br", "in"]))
            for _ in range(2)]
    url = "https://%s/%s/%s.php?id=%d" % (doms[0], name(), name(), i)
    mail = "%s@%s" % (name(), doms[1])
    md5, sha = hexs(32), hexs(64)
    parts = ["[ipv4-addr:value = '%s']" % a for a in ips]
    parts += ["[domain-name:value = '%s']" % d for d in doms]
    parts += ["[url:value = '%s']" % url, "[email-addr:value = '%s']" % mail]
    parts.append("[file:hashes.MD5 = '%s' OR file:hashes.'SHA-256' = '%s']" %
                 (md5, sha))
    ts = "2026-%02d-%02dT%02d:%02d:%02d.000Z" % (
        1 + i % 11, 1 + i % 28, i % 24, i % 60, (i // 60) % 60)
    o = {"type": "indicator", "spec_version": "2.1",
         "id": "indicator--%s" % uuid.UUID(int=rnd.getrandbits(128),
                                           version=4),
         "created": ts, "modified": ts, "name": "bench %d" % i,
         "pattern": " OR ".join(parts), "pattern_type": "stix",
         "valid_from": ts, "indicator_types": ["malicious-activity"],
         "confidence": rnd.randint(10, 100),
         "object_marking_refs": [
             "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}
    f.write(("" if first else ",") + json.dumps(o, separators=(",", ":")))
    first = False
    if rnd.random() < 0.01:
        stored.append(rnd.choice(ips[:3] + doms + [url, md5, sha]))
if f:
    f.write("]}\n")
    f.close()


def mix(n):
    out = []
    for k in range(n):
        m = k % 10
        if m < 4 and stored:
            out.append(rnd.choice(stored))
        elif m == 4 and ranges:
            out.append(rnd.choice(ranges).rsplit(".", 1)[0] + ".%d" %
                       rnd.randint(1, 254))
        elif m < 7:
            out.append(ip())
        elif m < 9:
            out.append("%s.%s.com" % (name(), name()))
        else:
            out.append(hexs(64))
    return out


with open(os.path.join(OUT, "batch.txt"), "w") as g:
    g.write("\n".join(mix(10000)) + "\n")
with open(os.path.join(OUT, "singles.txt"), "w") as g:
    g.write("\n".join(mix(100000)) + "\n")
