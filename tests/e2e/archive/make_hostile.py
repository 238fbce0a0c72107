#!/usr/bin/env python3
"""Writes crafted archives for test_archive_hostile.sh into DIR.

usage: make_hostile.py DIR OUTSIDE

OUTSIDE is an absolute directory outside any restore target: entries try to
land there (absolute paths, '..', a symlink to it).
"""
import io
import os
import sys
import tarfile
import zipfile

out, outside = sys.argv[1], sys.argv[2]


def tar(name, entries, fmt=tarfile.PAX_FORMAT):
    """entries: (name, kind, payload) with kind file|dir|symlink|hardlink."""
    with tarfile.open(os.path.join(out, name), "w", format=fmt) as t:
        for ename, kind, payload in entries:
            info = tarfile.TarInfo(ename)
            info.mtime = 1700000000
            info.mode = 0o644
            if kind == "file":
                data = payload.encode() if isinstance(payload, str) else payload
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                t.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
                t.addfile(info)


# 1. Absolute paths: sanitised (stored below the import prefix).
tar("absolute.tar", [(outside + "/abs-evil.txt", "file", "absolute\n"), ("ok.txt", "file", "ok\n")])

# 1b. A path nested deeper than kho's trees may be (1100 levels, past the 1024
#     an import takes): refused; the entry beside it is imported.
tar("deep.tar", [("d/" * 1100 + "deep-evil.txt", "file", "deep\n"), ("ok.txt", "file", "ok\n")])

# 2. '..' components: refused.
tar("dotdot.tar", [("../dotdot-evil.txt", "file", "up\n"),
                   ("a/../../dotdot-evil2.txt", "file", "up2\n"),
                   ("ok.txt", "file", "ok\n")])

# 3. A symlink to OUTSIDE, then a file "through" it: the file is refused.
tar("through.tar", [("link", "symlink", outside),
                    ("link/through-evil.txt", "file", "through\n"),
                    ("dir", "dir", None),
                    ("dir/ok.txt", "file", "ok\n")])

# 4. Names with invalid UTF-8 (sanitised) and with a NUL (cut there by
#    libarchive: only "nul-safe.txt" can reach the snapshot).
tar("names.tar", [(b"bad-\xff\xfe.txt".decode("utf-8", "surrogateescape"), "file", "latin\n"),
                  ("ok.txt", "file", "ok\n")], fmt=tarfile.GNU_FORMAT)
hdr = tarfile.TarInfo("x")
raw = bytearray(hdr.tobuf(format=tarfile.USTAR_FORMAT))
# ustar header by hand: name field holds "nul-safe.txt\0../../nul-evil.txt"
name = b"nul-safe.txt\x00../../nul-evil.txt"
data = b"nul\n"
block = bytearray(512)
block[0:len(name)] = name
block[100:108] = b"0000644\x00"
block[108:116] = b"0000000\x00"
block[116:124] = b"0000000\x00"
block[124:136] = b"%011o\x00" % len(data)
block[136:148] = b"%011o\x00" % 1700000000
block[156:157] = b"0"
block[257:263] = b"ustar\x00"
block[263:265] = b"00"
block[148:156] = b" " * 8
block[148:156] = b"%06o\x00 " % sum(block)
with open(os.path.join(out, "nul.tar"), "wb") as f:
    f.write(bytes(block) + data.ljust(512, b"\0") + b"\0" * 1024)

# 5. Duplicates: a file twice (the later wins), then a file over a directory (refused).
tar("duplicates.tar", [("dup.txt", "file", "first\n"), ("dup.txt", "file", "second\n"),
                       ("d", "dir", None), ("d/in.txt", "file", "in\n"), ("d", "file", "file over dir\n")])

# 6. A hard link to something not in the archive (refused), and to OUTSIDE.
tar("hardlinks.tar", [("ok.txt", "file", "ok\n"), ("l1", "hardlink", "missing.txt"),
                      ("l2", "hardlink", outside + "/x"), ("l3", "hardlink", "ok.txt")])

# 7. An absurd declared size: 2^40 bytes announced, 10 bytes there (base-256 size field).
block = bytearray(512)
block[0:9] = b"huge.bin\x00"
block[100:108] = b"0000644\x00"
block[108:116] = b"0000000\x00"
block[116:124] = b"0000000\x00"
size = 1 << 40
block[124:136] = bytes([0x80]) + size.to_bytes(11, "big")
block[136:148] = b"%011o\x00" % 1700000000
block[156:157] = b"0"
block[257:263] = b"ustar\x00"
block[263:265] = b"00"
block[148:156] = b" " * 8
block[148:156] = b"%06o\x00 " % sum(block)
with open(os.path.join(out, "absurd.tar"), "wb") as f:
    f.write(bytes(block) + b"0123456789".ljust(512, b"\0") + b"\0" * 1024)

# 8. A zip bomb: 1 GiB of zeros deflated (~1 MB).
with zipfile.ZipFile(os.path.join(out, "bomb.zip"), "w", compression=zipfile.ZIP_DEFLATED) as z:
    with z.open("zeros.bin", "w", force_zip64=True) as f:
        chunk = bytes(1 << 20)
        for _ in range(1024):
            f.write(chunk)

# 9. A zip with '..' and an absolute name (zip's own way).
with zipfile.ZipFile(os.path.join(out, "evil.zip"), "w") as z:
    z.writestr("../zip-evil.txt", "up\n")
    z.writestr(outside + "/zip-abs.txt", "abs\n")
    z.writestr("ok.txt", "ok\n")

# 10. A good archive to truncate and corrupt (made by the shell script).
tar("good.tar", [("d", "dir", None)] + [("d/f%d.bin" % i, "file", os.urandom(200000)) for i in range(8)])
