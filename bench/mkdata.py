#!/usr/bin/python3
"""Dataset helpers for bench/run.sh (deterministic: same machine, same data).

  mkdata.py select BUDGET_MB EXTRA_MB TREE_LIST EXTRA_LIST
      Chooses files under /usr for the benchmark tree (about BUDGET_MB) and, from
      directories not chosen, the files added to the modified copy (EXTRA_MB).
      Writes paths relative to / (for rsync --files-from). Whole directories are
      taken (their direct files and symlinks), picked by a hash of their path, so
      the tree keeps a natural shape: many small text files (/usr/include,
      /usr/share) and larger binaries (/usr/lib, /usr/bin).
  mkdata.py mutate DIR CHANGE_PCT DELETE_PCT
      Changes CHANGE_PCT % of the regular files under DIR in place (half get bytes
      appended, half get a range overwritten at the same size) and deletes
      DELETE_PCT % of them. Prints a summary line.
  mkdata.py smallfiles DIR COUNT
      Creates COUNT files of 1-4 KiB of random bytes under DIR, 100 per directory,
      in three levels (DIR/aNN/bNN/fNN).
"""
import hashlib
import os
import random
import stat
import sys

ROOTS = [  # (root, share of the budget)
    ("/usr/include", 0.12),
    ("/usr/share", 0.40),
    ("/usr/lib", 0.38),
    ("/usr/bin", 0.08),
    ("/usr/sbin", 0.02),
]


def dir_key(path):
    return int.from_bytes(hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()[:8], "big") / 2.0**64


def scan(root, cap):
    """[(dir, [(relpath, size)])] for every directory under root (not following links, one device)."""
    out = []
    try:
        dev = os.lstat(root).st_dev
    except OSError:
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        keep = []
        for d in dirnames:
            p = os.path.join(dirpath, d)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and st.st_dev == dev:
                keep.append(d)
            elif stat.S_ISLNK(st.st_mode):
                filenames.append(d)  # a symlink to a directory is an entry like a file
        dirnames[:] = sorted(keep)
        entries = []
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                entries.append((p.lstrip("/"), 0))
            elif stat.S_ISREG(st.st_mode) and st.st_size <= cap and os.access(p, os.R_OK):
                entries.append((p.lstrip("/"), st.st_size))
        if entries:
            out.append((dirpath, entries))
    return out


def select(budget_mb, extra_mb, tree_list, extra_list):
    budget = int(budget_mb * 1e6)
    extra_budget = int(extra_mb * 1e6)
    # No single file may dominate a small tree: at most 1/20 of the budget, 64 MB.
    cap = max(1_000_000, min(64_000_000, budget // 20))
    chosen, leftovers = [], []
    carry = 0
    total = 0
    for root, share in ROOTS:
        dirs = scan(root, cap)
        want = int(budget * share) + carry
        size = sum(s for _, e in dirs for _, s in e)
        p = min(1.0, want / size) if size else 0
        taken = 0
        picked = set()
        # First pass: directories whose hash falls below p, in path order.
        for i, (d, entries) in enumerate(dirs):
            if taken >= want:
                break
            if dir_key(d) < p:
                picked.add(i)
                for rel, s in entries:
                    if taken >= want:
                        break
                    chosen.append(rel)
                    taken += s
        # Second pass when the first fell short: more directories in hash order.
        if taken < want:
            for i in sorted(range(len(dirs)), key=lambda i: dir_key(dirs[i][0])):
                if taken >= want:
                    break
                if i in picked:
                    continue
                picked.add(i)
                for rel, s in dirs[i][1]:
                    if taken >= want:
                        break
                    chosen.append(rel)
                    taken += s
        leftovers += [dirs[i] for i in range(len(dirs)) if i not in picked]
        carry = max(0, want - taken)
        total += taken
    extra, extra_total = [], 0
    for d, entries in sorted(leftovers, key=lambda de: dir_key("extra:" + de[0])):
        if extra_total >= extra_budget:
            break
        for rel, s in entries:
            if extra_total >= extra_budget:
                break
            extra.append(rel)
            extra_total += s
    with open(tree_list, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(p + "\n" for p in chosen))
    with open(extra_list, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(p + "\n" for p in extra))
    print(f"selected {len(chosen)} entries, {total / 1e6:.0f} MB; {len(extra)} extra entries, {extra_total / 1e6:.0f} MB")


def mutate(top, change_pct, delete_pct):
    files = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            if stat.S_ISREG(os.lstat(p).st_mode):
                files.append(p)
    rng = random.Random(20240501)
    n_del = max(1, round(len(files) * delete_pct / 100))
    n_chg = max(1, round(len(files) * change_pct / 100))
    picked = rng.sample(files, n_del + n_chg)
    deleted, changed = picked[:n_del], picked[n_del:]
    for p in deleted:
        os.unlink(p)
    appended = overwritten = 0
    for i, p in enumerate(changed):
        size = os.path.getsize(p)
        mode = os.lstat(p).st_mode
        if not mode & stat.S_IWUSR:
            os.chmod(p, mode | stat.S_IWUSR)
        if i % 2 == 0 or size == 0:
            # Appended: a few lines of log-like text (compressible) and some binary.
            n = rng.randint(256, 65536)
            lines = b"".join(b"%d changed line %d %x\n" % (i, k, rng.getrandbits(64)) for k in range(n // 48))
            with open(p, "ab") as f:
                f.write(lines + rng.randbytes(n // 8))
            appended += len(lines) + n // 8
        else:
            # Overwritten in place: up to 4 KiB at a random offset, size unchanged.
            n = min(size, 4096)
            off = rng.randint(0, size - n)
            with open(p, "r+b") as f:
                f.seek(off)
                f.write(rng.randbytes(n))
            overwritten += n
        if not mode & stat.S_IWUSR:
            os.chmod(p, mode)
    print(f"{len(files)} files: deleted {n_del}, changed {n_chg} "
          f"({appended / 1e6:.1f} MB appended, {overwritten / 1e6:.1f} MB overwritten)")


def smallfiles(top, count):
    rng = random.Random(count)
    for i in range(count):
        d = os.path.join(top, "a%02d" % (i // 10000), "b%02d" % (i // 100 % 100))
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%02d" % (i % 100)), "wb") as f:
            f.write(rng.randbytes(rng.randint(1024, 4096)))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "select" and len(sys.argv) == 6:
        select(float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif cmd == "mutate" and len(sys.argv) == 5:
        mutate(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "smallfiles" and len(sys.argv) == 4:
        smallfiles(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
