#!/usr/bin/env python3
"""Reads a ustar/GNU tar stream on stdin and prints the SHA-256 of member NAME's
content, streaming in 1 MiB reads (constant memory). Exits 1 when NAME is not
in the archive. Handles plain headers only (what `kho export --format tar`
writes for short names)."""
import hashlib
import sys

name = sys.argv[1].encode()
inp = sys.stdin.buffer


def read_exact(n):
    b = inp.read(n)
    if len(b) != n:
        sys.exit("tar_member_sha256: truncated stream")
    return b


while True:
    hdr = read_exact(512)
    if hdr == b"\0" * 512:
        sys.exit("tar_member_sha256: %s not in the archive" % name.decode())
    member = hdr[0:100].split(b"\0", 1)[0]
    size = int(hdr[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
    padded = (size + 511) // 512 * 512
    if member == name:
        h = hashlib.sha256()
        left = size
        while left:
            b = inp.read(min(left, 1 << 20))
            if not b:
                sys.exit("tar_member_sha256: truncated member")
            h.update(b)
            left -= len(b)
        print(h.hexdigest())
        sys.exit(0)
    read_exact(padded)
