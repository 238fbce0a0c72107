#!/usr/bin/python3
"""Turns the raw measurements of bench/run.sh into the results table.

  report.py BENCH_DIR

Reads BENCH_DIR/raw/{steps.tsv,meta.tsv,limits.json,*.out}; prints the report and
writes BENCH_DIR/results.txt, results.md and results.json.
"""
import json
import os
import re
import sys

STEPS = [  # (key, label)
    ("init", "init"),
    ("backup-first", "first backup"),
    ("backup-unchanged", "unchanged re-backup"),
    ("backup-changed", "changed backup"),
    ("dump-day1", "dump day 1"),
    ("dump-day2", "dump day 2"),
    ("dump-day2-growth", "dump day 2: repo growth"),
    ("restore", "full restore"),
    ("check-read-data", "check --read-data"),
    ("sftp-backup", "SFTP: first backup"),
    ("sftp-restore", "SFTP: full restore"),
    ("rest-backup", "REST: first backup"),
    ("rest-restore", "REST: full restore"),
]

# Targets from issue 4: kho / restic ratios.
WALL_TARGETS = {"backup-first": 0.35, "backup-unchanged": 0.30, "backup-changed": 0.35, "restore": 0.30,
                "check-read-data": 0.50}
REPO_TARGETS = {"backup-first": 1.0, "backup-changed": 1.0, "dump-day2-growth": 1.0}
RSS_TARGET = 0.7
LINEAR_SLACK = 1.25  # marginal time per file of the last interval within 1.25x of the first interval's


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def load(bench_dir):
    raw = os.path.join(bench_dir, "raw")
    runs = {}  # tool -> step -> [measurement per run]
    with open(os.path.join(raw, "steps.tsv")) as f:
        for line in f:
            tool, step, run, wall, user, sys_, rss, repo = line.rstrip("\n").split("\t")
            m = {"run": int(run), "wall_s": float(wall), "cpu_s": round(float(user) + float(sys_), 2),
                 "user_s": float(user), "sys_s": float(sys_), "rss_kib": int(rss), "repo_bytes": int(repo)}
            summary = backup_summary(os.path.join(raw, f"{tool}-{step}-r{run}.out"))
            if summary:
                m["summary"] = summary
            runs.setdefault(tool, {}).setdefault(step, []).append(m)
    # One figure per tool and step: the median over the runs (the table's figure).
    steps = {}
    for tool, by_step in runs.items():
        for step, ms in by_step.items():
            agg = {k: median([m[k] for m in ms]) for k in ("wall_s", "cpu_s", "user_s", "sys_s", "rss_kib", "repo_bytes")}
            agg["runs"] = ms
            if "summary" in ms[-1]:
                agg["summary"] = ms[-1]["summary"]
            steps.setdefault(tool, {})[step] = agg
    meta = {}
    with open(os.path.join(raw, "meta.tsv")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    # Restore verification: identical only when every run's restore was.
    for tool in ("kho", "restic"):
        results = [v for k, v in sorted(meta.items()) if k.startswith(f"verify_{tool}_r")]
        if results:
            bad = [v for v in results if not v.startswith("identical")]
            meta[f"verify_{tool}"] = bad[0] if bad else results[-1] + (f" (all {len(results)} runs)" if len(results) > 1 else "")
    try:
        with open(os.path.join(raw, "limits.json")) as f:
            limits = json.load(f)
    except (OSError, ValueError):
        limits = {}
    for tool, s in steps.items():
        if "dump-day1" in s and "dump-day2" in s:
            s["dump-day2-growth"] = {"repo_bytes": s["dump-day2"]["repo_bytes"] - s["dump-day1"]["repo_bytes"]}
    return steps, meta, limits


def backup_summary(path):
    """files_new/changed/unmodified and data_added from a backup's --json output."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("message_type", "summary") != "summary":
            continue
        keys = ("files_new", "files_changed", "files_unmodified", "data_added")
        if all(k in j for k in keys):
            return {k: j[k] for k in keys}
    return None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def fmt_num(v, unit_div=1.0, digits=2):
    return "-" if v is None else f"{v / unit_div:.{digits}f}"


def build_rows(steps, a="kho", b="restic"):
    rows = []
    for key, label in STEPS:
        ka, kb = steps.get(a, {}).get(key, {}), steps.get(b, {}).get(key, {})
        if not ka and not kb:
            continue
        row = {"step": key, "label": label}
        for field, div in (("wall_s", 1), ("cpu_s", 1), ("rss_kib", 1024), ("repo_bytes", 1048576)):
            va, vb = ka.get(field), kb.get(field)
            row[field] = {a: va, b: vb, "ratio": ratio(va, vb)}
        rows.append(row)
    return rows


def table_lines(rows, markdown):
    head = ["step", "kho wall s", "restic wall s", "ratio", "kho CPU s", "restic CPU s", "ratio",
            "kho RSS MiB", "restic RSS MiB", "ratio", "kho repo MiB", "restic repo MiB", "ratio"]
    body = []
    for r in rows:
        cells = [r["label"]]
        for field, div, digits in (("wall_s", 1, 2), ("cpu_s", 1, 2), ("rss_kib", 1024, 1), ("repo_bytes", 1048576, 1)):
            c = r[field]
            cells += [fmt_num(c["kho"], div, digits), fmt_num(c["restic"], div, digits), fmt_ratio(c["ratio"])]
        body.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        out += ["| " + " | ".join(c) + " |" for c in body]
        return out
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))
    return [fmt(head), "  ".join("-" * w for w in widths)] + [fmt(c) for c in body]


def limits_section(meta, limits, steps):
    """Per-core limits and the share of them kho's first backup reaches."""
    cores = int(meta.get("cores", "1"))
    mbps = dict(limits.get("mb_per_s", {}))
    tree_bytes = int(meta.get("tree_bytes", "0"))
    # Reading the tree as a backup does (limits' read_tree, in-process); the
    # whole-tree cat is printed beside it, and stands in when there is no read_tree.
    read_s = float(meta.get("read_page_cache_s", "0") or 0)
    cat_mbps = tree_bytes / read_s / 1e6 if read_s > 0 else None
    read_tree = "read_tree" in mbps
    if read_tree:
        mbps["read_page_cache"] = mbps.pop("read_tree")
    elif cat_mbps:
        mbps["read_page_cache"] = cat_mbps
    names = [
        ("read_page_cache", "read the tree from page cache"),
        ("walk_read_tree", "walk and read the tree as a backup does"),
        ("write_page_cache", "write 16 MiB blocks to the page cache"),
        ("fastcdc", "FastCDC (kho's chunker, 512K/1M/8M)"),
        ("blake2b_256_keyed", "BLAKE2b-256 keyed (OpenSSL MAC)"),
        ("blake2b_256_keyed_libsodium", "BLAKE2b-256 keyed (libsodium)"),
        ("zstd3_compress", "zstd -3 compress (per chunk)"),
        ("zstd3_compress_tree", "zstd -3 compress (the tree, per file)"),
        ("zstd_decompress", "zstd decompress"),
        ("xchacha20poly1305_seal", "XChaCha20-Poly1305 seal (kho)"),
        ("xchacha20poly1305_seal_libsodium", "XChaCha20-Poly1305 seal (libsodium)"),
        ("xchacha20poly1305_open", "XChaCha20-Poly1305 open (kho)"),
        ("xchacha20poly1305_open_libsodium", "XChaCha20-Poly1305 open (libsodium)"),
        ("sha256", "SHA-256 (OpenSSL)"),
    ]
    cli = {
        "read_page_cache": read_tree and cat_mbps and f"cat of every file: {cat_mbps:.0f} MB/s",
        "zstd3_compress": meta.get("cli_zstd3") and f"zstd -b3 -T1 CLI: {meta['cli_zstd3']} (compress, decompress)",
        "blake2b_256_keyed": meta.get("cli_openssl_blake2b512") and f"openssl blake2b512: {meta['cli_openssl_blake2b512']} MB/s",
        "xchacha20poly1305_seal": meta.get("cli_openssl_chacha20-poly1305")
        and f"openssl chacha20-poly1305: {meta['cli_openssl_chacha20-poly1305']} MB/s",
    }
    out = {"cores": cores, "mb_per_s": mbps, "sample_bytes": limits.get("sample_bytes"),
           "zstd3_ratio": limits.get("zstd3_ratio"), "cli": {k: v for k, v in cli.items() if v}}
    lines = [f"Per-core limits, one thread each (MB = 10^6 bytes; sample: "
             f"{(limits.get('sample_bytes') or 0) / 1e6:.0f} MB of the tree, zstd -3 ratio "
             f"{limits.get('zstd3_ratio') or 0:.2f}; {cores} cores):"]
    for key, label in names:
        if key in mbps:
            extra = f"   [{cli[key]}]" if cli.get(key) else ""
            lines.append(f"  {label:<42} {mbps[key]:8.0f} MB/s{extra}")
    # Backup: every byte is read, chunked, hashed and compressed; the compressed
    # bytes are sealed, hashed into the pack's SHA-256 and written. Reading counts
    # every system call a backup makes for the tree (walk_read_tree: listing,
    # lstat, open, fstat, flistxattr, read, close) when it was measured.
    need = ["read_page_cache", "fastcdc", "blake2b_256_keyed", "zstd3_compress", "xchacha20poly1305_seal", "sha256"]
    kho_first = steps.get("kho", {}).get("backup-first")
    if all(k in mbps for k in need):
        cr = limits.get("zstd3_ratio") or 1.0
        stages = {k: mbps[k] for k in need[:4]}
        if "zstd3_compress_tree" in mbps:  # the tree's own files, as the backup compresses them
            stages["zstd3_compress"] = mbps["zstd3_compress_tree"]
        if "walk_read_tree" in mbps:
            stages["read_page_cache"] = mbps["walk_read_tree"]
        tight_key = min(stages, key=stages.get)
        tight = stages[tight_key]
        stored = [mbps[need[4]], mbps[need[5]]] + ([mbps["write_page_cache"]] if "write_page_cache" in mbps else [])
        serial = 1.0 / (sum(1.0 / stages[k] for k in need[:4]) + sum(1.0 / x for x in stored) / cr)
        out["backup_bound"] = {"tightest_stage": tight_key, "tightest_mb_per_s_per_core": tight,
                               "all_stages_mb_per_s_per_core": serial}
        lines.append(f"  backup bound: tightest stage {tight_key} {tight:.0f} MB/s/core = {tight * cores:.0f} MB/s on "
                     f"{cores} cores; all stages in series {serial:.0f} MB/s/core = {serial * cores:.0f} MB/s")
        # The shortest first backup these stages allow with every core busy, and
        # the ratio to restic's time it stands for: the lowest the target can be met at.
        floor_s = tree_bytes / 1e6 / (serial * cores)
        restic_first = steps.get("restic", {}).get("backup-first")
        if restic_first and restic_first["wall_s"] > 0 and floor_s > 0:
            floor_ratio = floor_s / restic_first["wall_s"]
            out["backup_bound"].update({"floor_s": floor_s, "floor_ratio": floor_ratio})
            calls = "walk_read_tree" in mbps
            out["backup_bound"]["counts_system_calls"] = calls
            with_calls = ", system calls included," if calls else ""
            lines.append(f"  first backup floor: the tree through all stages{with_calls} on {cores} cores takes "
                         f"{floor_s:.2f} s = {floor_ratio:.2f}x of restic's {restic_first['wall_s']:.2f} s")
        if kho_first and kho_first["wall_s"] > 0:
            tp = tree_bytes / kho_first["wall_s"] / 1e6
            share_t, share_s = tp / (tight * cores), tp / (serial * cores)
            out["kho_first_backup"] = {"mb_per_s": tp, "share_of_tightest": share_t, "share_of_all_stages": share_s}
            lines.append(f"  kho first backup: {tree_bytes / 1e6:.0f} MB in {kho_first['wall_s']:.2f} s = {tp:.0f} MB/s "
                         f"= {share_t:.0%} of the tightest-stage bound, {share_s:.0%} of the all-stages bound")
    # check --read-data: every stored byte is hashed (SHA-256) and opened; the
    # plain bytes are decompressed and their blob IDs recomputed (BLAKE2b).
    need_c = ["sha256", "xchacha20poly1305_open", "zstd_decompress", "blake2b_256_keyed"]
    kho_check = steps.get("kho", {}).get("check-read-data")
    if all(k in mbps for k in need_c) and kho_check and kho_check["wall_s"] > 0:
        cr = limits.get("zstd3_ratio") or 1.0
        per_raw = (1.0 / mbps["sha256"] + 1.0 / mbps["xchacha20poly1305_open"]) / cr + \
            1.0 / mbps["zstd_decompress"] + 1.0 / mbps["blake2b_256_keyed"]
        serial = 1.0 / per_raw  # MB of plain data per second per core
        plain = int(meta.get("tree2_bytes", "0")) or tree_bytes
        tp = plain / kho_check["wall_s"] / 1e6
        out["check_bound"] = {"all_stages_mb_per_s_per_core": serial, "kho_mb_per_s": tp, "share": tp / (serial * cores)}
        lines.append(f"  check --read-data bound (plain bytes, all stages in series): {serial:.0f} MB/s/core; "
                     f"kho: ~{tp:.0f} MB/s of plain data = {tp / (serial * cores):.0%}")
    return lines, out


def remote_section(steps, tree_bytes):
    """Throughput of the tree's backup and restore: local beside SFTP and REST on loopback."""
    lines, out = [], {}
    if not any(k.startswith(("sftp-", "rest-")) for t in steps.values() for k in t):
        return lines, out
    for tool in ("kho", "restic"):
        cells, res = [], {}
        for backend, first, rest in (("local", "backup-first", "restore"), ("sftp", "sftp-backup", "sftp-restore"),
                                     ("rest", "rest-backup", "rest-restore")):
            b, r = steps.get(tool, {}).get(first), steps.get(tool, {}).get(rest)
            if not b or not r or not tree_bytes:
                continue
            bm, rm = tree_bytes / 1e6 / b["wall_s"], tree_bytes / 1e6 / r["wall_s"]
            res[backend] = {"backup_mb_s": bm, "restore_mb_s": rm}
            cells.append(f"{backend} backup {bm:.0f} MB/s, restore {rm:.0f} MB/s")
        if cells:
            out[tool] = res
            lines.append(f"  {tool}: " + "; ".join(cells))
    return lines, out


def scaling_section(steps):
    lines, out = [], {}
    for tool in ("kho", "restic"):
        pts = sorted((int(k.split("-", 1)[1]), v) for k, v in steps.get(tool, {}).items() if k.startswith("scale-"))
        if not pts:
            continue
        out[tool] = [{"files": n, "wall_s": v["wall_s"], "cpu_s": v["cpu_s"], "rss_kib": v["rss_kib"],
                      "us_per_file": v["wall_s"] / n * 1e6} for n, v in pts]
        cells = ", ".join(f"{n:,} files {v['wall_s']:.2f} s ({v['wall_s'] / n * 1e6:.1f} us/file, "
                          f"RSS {v['rss_kib'] / 1024:.0f} MiB)" for n, v in pts)
        lines.append(f"  {tool}: {cells}")
        if len(pts) >= 2:
            marg = ", ".join(f"{a[0]:,}->{b[0]:,}: {(b[1]['wall_s'] - a[1]['wall_s']) / (b[0] - a[0]) * 1e6:.1f} us/file"
                             for a, b in zip(pts, pts[1:]))
            lines.append(f"  {tool} marginal: {marg}")
    return lines, out


def runs_section(steps, a="kho", b="restic"):
    """Each run of the timed steps side by side: the tools took turns, so run i of
    one and run i of the other ran minutes apart and their ratio pairs them; the
    fastest runs show each tool with the least disturbance (noise only adds time)."""
    lines, out = [], []
    for key, label in STEPS:
        if key not in WALL_TARGETS:
            continue
        ra = {m["run"]: m for m in steps.get(a, {}).get(key, {}).get("runs", [])}
        rb = {m["run"]: m for m in steps.get(b, {}).get(key, {}).get("runs", [])}
        paired = sorted(set(ra) & set(rb))
        if len(paired) < 2:
            continue
        parts, item = [], {"step": key, "runs": []}
        for n in paired:
            r = ratio(ra[n]["wall_s"], rb[n]["wall_s"])
            parts.append(f"{ra[n]['wall_s']:.2f}/{rb[n]['wall_s']:.2f} {fmt_ratio(r)}")
            item["runs"].append({"run": n, a: ra[n]["wall_s"], b: rb[n]["wall_s"], "ratio": r,
                                 f"{a}_sys_s": ra[n]["sys_s"], f"{b}_sys_s": rb[n]["sys_s"]})
        fa, fb = min(m["wall_s"] for m in ra.values()), min(m["wall_s"] for m in rb.values())
        item["fastest"] = {a: fa, b: fb, "ratio": ratio(fa, fb)}
        out.append(item)
        lines.append(f"  {label:<22} " + "; ".join(parts) + f"; fastest {fa:.2f}/{fb:.2f} {fmt_ratio(ratio(fa, fb))}")
    return lines, out


def targets_section(rows, steps, meta, scaling):
    by = {r["step"]: r for r in rows}
    lines, out = [], []

    def add(name, value, target, ok):
        mark = "-" if ok is None else ("met" if ok else "MISSED")
        out.append({"target": name, "value": value, "limit": target, "met": ok})
        lines.append(f"  {name:<42} {value:>26}  (target {target})  {mark}")

    for key, lim in WALL_TARGETS.items():
        r = by.get(key, {}).get("wall_s", {}).get("ratio")
        add(f"{key} wall time", fmt_ratio(r), f"<= {lim}x", None if r is None else r <= lim)
    for key, lim in REPO_TARGETS.items():
        r = by.get(key, {}).get("repo_bytes", {}).get("ratio")
        add(f"{key} repository size", fmt_ratio(r), f"<= {lim}x", None if r is None else r <= lim)
    rss = [(r["step"], r["rss_kib"]["ratio"]) for r in rows if r["rss_kib"]["ratio"] is not None]
    if rss:
        worst = max(rss, key=lambda x: x[1])
        over = [s for s, v in rss if v > RSS_TARGET]
        add(f"peak RSS, every step ({len(over)} over)", fmt_ratio(worst[1]) + f" {worst[0]}", f"<= {RSS_TARGET}x",
            not over)
    for tool in ("kho", "restic"):
        v = meta.get(f"verify_{tool}")
        if v:
            add(f"{tool} restore identical", v.split(":")[0], "identical", v.startswith("identical"))
    k = scaling.get("kho")
    if k and len(k) >= 3:
        # Marginal time per file of the last interval against the first one: the
        # fixed start-up cost (key derivation, index load) cancels out.
        first = (k[1]["wall_s"] - k[0]["wall_s"]) / (k[1]["files"] - k[0]["files"])
        last = (k[-1]["wall_s"] - k[-2]["wall_s"]) / (k[-1]["files"] - k[-2]["files"])
        g = last / first if first > 0 else float("inf")
        add("scaling: marginal time per file, last/first", f"{g:.2f}x", f"linear (<= {LINEAR_SLACK}x)", g <= LINEAR_SLACK)
    elif k and len(k) == 2:
        g = k[-1]["us_per_file"] / k[0]["us_per_file"]
        add("scaling: time per file, largest/smallest", f"{g:.2f}x", f"linear (<= {LINEAR_SLACK}x)", g <= LINEAR_SLACK)
    return lines, out


def parent_lines(steps):
    lines = []
    for tool in ("kho", "restic"):
        parts = []
        for key in ("backup-first", "backup-unchanged", "backup-changed", "dump-day2"):
            s = steps.get(tool, {}).get(key, {}).get("summary")
            if s:
                parts.append(f"{key}: new {s['files_new']}, changed {s['files_changed']}, unmodified "
                             f"{s['files_unmodified']}, added {s['data_added'] / 1048576:.1f} MiB")
        if parts:
            lines.append(f"  {tool}: " + "; ".join(parts))
    return lines


def main():
    bench_dir = sys.argv[1]
    steps, meta, limits = load(bench_dir)
    rows = build_rows(steps)
    lim_lines, lim_out = limits_section(meta, limits, steps)
    sc_lines, sc_out = scaling_section(steps)
    rm_lines, rm_out = remote_section(steps, int(meta.get("tree_bytes", "0")))
    tg_lines, tg_out = targets_section(rows, steps, meta, sc_out)
    ru_lines, ru_out = runs_section(steps)

    tb = int(meta.get("tree_bytes", "0"))
    header = [
        f"kho benchmark, {meta.get('date', '?')}: {meta.get('kho_version', '?')} vs {meta.get('restic_version', '?')}",
        f"machine: {meta.get('host_cpu', '?')}, {meta.get('cores', '?')} cores, {meta.get('mem_gib', '?')} GiB, "
        f"kernel {meta.get('kernel', '?')}, {meta.get('fs', '?')}; load average {meta.get('loadavg_start', '?')} at start, "
        f"{meta.get('loadavg_end', '?')} at end; warm page cache (nothing dropped); restores to a "
        f"{meta.get('restore_fs', '?')}",
        f"tree: {int(meta.get('tree_files', 0)):,} files, {int(meta.get('tree_dirs', 0)):,} dirs, "
        f"{int(meta.get('tree_symlinks', 0)):,} symlinks, {tb / 1e6:.0f} MB; modified copy: "
        f"{int(meta.get('tree2_files', 0)):,} files, {int(meta.get('tree2_bytes', 0)) / 1e6:.0f} MB ({meta.get('mutate', '')})",
        f"dumps: pgbench scale {meta.get('pg_scale', '?')}, day 1 {int(meta.get('dump1_bytes', 0)) / 1e6:.0f} MB, "
        f"day 2 {int(meta.get('dump2_bytes', 0)) / 1e6:.0f} MB after {meta.get('pg_tx', '?')} transactions",
        "ratio = kho / restic (lower is better); repo = repository size after the step (du -sb); "
        "RSS = peak resident set size" + (f"; median of {meta['runs']} runs, tools taking turns"
                                          if meta.get("runs", "1") != "1" else "; one run"),
    ]
    verify = [f"  {t}: {meta[f'verify_{t}']}" for t in ("kho", "restic") if f"verify_{t}" in meta]

    text = header + [""] + table_lines(rows, False) + ["", "Restored trees vs source:"] + verify
    text += ["", "Backup summaries (parent detection):"] + parent_lines(steps)
    if ru_lines:
        text += ["", "Each run, wall seconds kho/restic and ratio (the table shows the medians):"] + ru_lines
    text += [""] + lim_lines
    if rm_lines:
        text += ["", "Throughput of the tree, local and over loopback servers:"] + rm_lines
    if sc_lines:
        text += ["", "Scaling, backup of small files (1-4 KiB each):"] + sc_lines
    text += ["", "Targets (issue 4):"] + tg_lines
    report = "\n".join(text) + "\n"
    print(report, end="")

    md = ["# kho vs restic: benchmark results", ""] + [f"- {h}" for h in header] + [""]
    md += table_lines(rows, True)
    md += ["", "Restored trees vs source:", ""] + [f"- {v.strip()}" for v in verify]
    md += ["", "Backup summaries (parent detection):", ""] + [f"- {v.strip()}" for v in parent_lines(steps)]
    if ru_lines:
        md += ["", "Each run, wall seconds kho/restic and ratio (the table shows the medians):", ""]
        md += [f"- {v.strip()}" for v in ru_lines]
    md += ["", "```"] + lim_lines + ["```"]
    if rm_lines:
        md += ["", "Throughput of the tree, local and over loopback servers:", ""] + [f"- {v.strip()}" for v in rm_lines]
    if sc_lines:
        md += ["", "Scaling, backup of small files (1-4 KiB each):", ""] + [f"- {v.strip()}" for v in sc_lines]
    md += ["", "Targets (issue 4):", "", "```"] + tg_lines + ["```", ""]
    with open(os.path.join(bench_dir, "results.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(bench_dir, "results.txt"), "w") as f:
        f.write(report)
    with open(os.path.join(bench_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "steps": steps, "table": rows, "limits": lim_out, "scaling": sc_out,
                   "remote": rm_out, "runs": ru_out, "targets": tg_out}, f, indent=2)
        f.write("\n")
    print(f"\nwritten: {bench_dir}/results.md, results.json, results.txt")


if __name__ == "__main__":
    main()
