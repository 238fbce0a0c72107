#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets from a real local repository.

Usage: make_seeds.py REPO PASSWORD OUT_DIR

Opens the first key of REPO with PASSWORD (libsodium through ctypes, zstd through
the zstd command) and writes the decrypted objects as the targets take them:
config/, key/, index/, snapshot/, tree/ (tree blobs), pack_header/ (u32le blob
area || plaintext header), pack_tail/ (mode 0 || whole pack) and
sealed_object/ (type selector || stored file). Files are named by the SHA-256 of
their content, as libFuzzer names corpus files.
"""
import base64
import ctypes
import hashlib
import json
import os
import struct
import subprocess
import sys

sodium = ctypes.CDLL("libsodium.so.23")
assert sodium.sodium_init() >= 0


def derive(password, kdf):
    out = ctypes.create_string_buffer(32)
    salt = base64.b64decode(kdf["salt"])
    rc = sodium.crypto_pwhash(out, ctypes.c_ulonglong(32), password, ctypes.c_ulonglong(len(password)), salt,
                              ctypes.c_ulonglong(kdf["opslimit"]), ctypes.c_size_t(kdf["memlimit"]), ctypes.c_int(2))
    assert rc == 0, "crypto_pwhash failed"
    return out.raw


def aead_open(key, sealed, ad):
    nonce, ct = sealed[:24], sealed[24:]
    out = ctypes.create_string_buffer(len(ct))
    outlen = ctypes.c_ulonglong()
    rc = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, ctypes.byref(outlen), None, ct,
                                                           ctypes.c_ulonglong(len(ct)), ad,
                                                           ctypes.c_ulonglong(len(ad)), nonce, key)
    if rc != 0:
        raise ValueError("does not authenticate")
    return out.raw[:outlen.value]


def unzstd(frame):
    return subprocess.run(["zstd", "-dc"], input=frame, capture_output=True, check=True).stdout


def varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def open_object(key, typename, data):
    version, compression = data[0], data[1]
    payload = aead_open(key, data[2:], b"kho:" + typename.encode() + b":" + bytes([version, compression]))
    if compression == 0:
        return payload
    _, pos = varint(payload, 0)
    return unzstd(payload[pos:])


def write(out, target, content):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha256(content).hexdigest()[:40]), "wb") as f:
        f.write(content)


def main():
    repo, password, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    keys_dir = os.path.join(repo, "keys")
    key_file = open(os.path.join(keys_dir, sorted(os.listdir(keys_dir))[0]), "rb").read()
    write(out, "key", key_file)
    kf = json.loads(key_file)
    master = aead_open(derive(password, kf["kdf"]), base64.b64decode(kf["data"]), b"kho:key:v1")
    enc = master[:32]
    selectors = {"config": 0, "index": 1, "snapshot": 2, "lock": 3}
    config = open(os.path.join(repo, "config"), "rb").read()
    write(out, "config", open_object(enc, "config", config))
    write(out, "sealed_object", bytes([selectors["config"]]) + config)
    for typename, folder in (("index", "index"), ("snapshot", "snapshots"), ("lock", "locks")):
        d = os.path.join(repo, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            stored = open(os.path.join(d, name), "rb").read()
            write(out, typename, open_object(enc, typename, stored))
            write(out, "sealed_object", bytes([selectors[typename]]) + stored)
    data_dir = os.path.join(repo, "data")
    for sub in sorted(os.listdir(data_dir)):
        for name in sorted(os.listdir(os.path.join(data_dir, sub))):
            pack = open(os.path.join(data_dir, sub, name), "rb").read()
            (header_len,) = struct.unpack("<I", pack[-4:])
            blob_area = len(pack) - 4 - header_len
            plain = aead_open(enc, pack[blob_area:-4], b"kho:pack-header:v1")
            write(out, "pack_header", struct.pack("<I", blob_area) + plain)
            if len(pack) < 64 * 1024:
                write(out, "pack_tail", b"\x00" + pack)
            count, pos = varint(plain, 1)
            for _ in range(count):
                btype, comp, offset, stored_len, raw_len = struct.unpack("<BBIII", plain[pos:pos + 14])
                blob_id = plain[pos + 14:pos + 46]
                pos += 46
                if btype != 1:
                    continue
                payload = aead_open(enc, pack[offset:offset + stored_len], b"kho:blob:v1" + bytes([btype]) + blob_id)
                write(out, "tree", unzstd(payload) if comp == 1 else payload[:raw_len])


if __name__ == "__main__":
    main()
