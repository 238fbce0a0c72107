#!/usr/bin/env python3
"""Compares two directory trees entry by entry, without kho.

usage: compare_trees.py A B [--mtime ns|s|none] [--dir-mtime ns|s|none]
                            [--owners] [--modes] [--hardlinks] [--xattrs]
                            [--no-root] [--skip-type fifo,...] [--ignore REL]...

Checks that A and B hold the same paths with the same type, content (SHA-256),
symlink target, and, when asked, permission bits, uid/gid, mtime (to the
nanosecond or second), hardlink groups and user xattrs. Prints every
difference and exits 1 when there is one.
"""
import argparse
import hashlib
import os
import stat
import sys


def kind(mode):
    for name, test in (("dir", stat.S_ISDIR), ("file", stat.S_ISREG), ("symlink", stat.S_ISLNK),
                       ("fifo", stat.S_ISFIFO), ("chardev", stat.S_ISCHR), ("blockdev", stat.S_ISBLK)):
        if test(mode):
            return name
    return "other"


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def listing(root, args):
    out = {}
    inodes = {}
    root_b = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root_b):
        names = dirnames + filenames
        if dirpath == root_b and not args.no_root:
            names = names + [b"."]
        for n in names:
            p = os.path.normpath(os.path.join(dirpath, n))
            rel = os.path.relpath(p, root_b)
            if any(rel == i or rel.startswith(i + b"/") for i in args.ignore):
                continue
            st = os.lstat(p)
            k = kind(st.st_mode)
            if k in args.skip_type:
                continue
            e = {"type": k}
            if k == "file":
                e["sha256"] = digest(p)
                e["size"] = st.st_size
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            if k == "symlink":
                e["target"] = os.readlink(p)
            if args.modes and k != "symlink":
                e["mode"] = oct(stat.S_IMODE(st.st_mode))
            if args.owners:
                e["owner"] = (st.st_uid, st.st_gid)
            which = args.dir_mtime if k == "dir" else args.mtime
            if k != "symlink" or args.symlink_mtime:
                if which == "ns":
                    e["mtime"] = st.st_mtime_ns
                elif which == "s":
                    e["mtime"] = st.st_mtime_ns // 1_000_000_000
            if args.xattrs and k in ("file", "dir"):
                e["xattrs"] = sorted((x, os.getxattr(p, x, follow_symlinks=False))
                                     for x in os.listxattr(p, follow_symlinks=False) if x.startswith("user."))
            out[rel] = e
    if args.hardlinks:
        for group in inodes.values():
            g = sorted(group)
            for rel in g:
                out[rel]["links"] = g
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--mtime", default="ns", choices=["ns", "s", "none"])
    ap.add_argument("--dir-mtime", default=None, choices=["ns", "s", "none"])
    ap.add_argument("--symlink-mtime", action="store_true")
    ap.add_argument("--owners", action="store_true")
    ap.add_argument("--modes", action="store_true")
    ap.add_argument("--hardlinks", action="store_true")
    ap.add_argument("--xattrs", action="store_true")
    ap.add_argument("--no-root", action="store_true")
    ap.add_argument("--skip-type", default="")
    ap.add_argument("--ignore", action="append", default=[], help="a relative path left out (repeatable)")
    args = ap.parse_args()
    args.skip_type = [t for t in args.skip_type.split(",") if t]
    args.ignore = [os.fsencode(i) for i in args.ignore]
    if args.dir_mtime is None:
        args.dir_mtime = args.mtime
    a, b = listing(args.a, args), listing(args.b, args)
    problems = []
    for rel in sorted(set(a) | set(b)):
        shown = os.fsdecode(rel)
        if rel not in a:
            problems.append(f"only in {args.b}: {shown}")
        elif rel not in b:
            problems.append(f"only in {args.a}: {shown}")
        elif a[rel] != b[rel]:
            diffs = {k: (a[rel].get(k), b[rel].get(k)) for k in set(a[rel]) | set(b[rel]) if a[rel].get(k) != b[rel].get(k)}
            problems.append(f"differs: {shown}: {diffs}")
    if not a:
        problems.append(f"{args.a} is empty")
    for p in problems[:60]:
        print(p, file=sys.stderr)
    if problems:
        print(f"compare_trees: {len(problems)} difference(s) between {args.a} and {args.b}", file=sys.stderr)
        sys.exit(1)
    print(f"compare_trees: {len(a)} entries identical")


if __name__ == "__main__":
    main()
