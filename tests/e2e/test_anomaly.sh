#!/usr/bin/env bash
# Ransomware anomaly score. A tree of real files from this machine (documents,
# compressed changelogs, programs, images, PDFs, office-like zip files, logs, a
# database dump) is backed up, then changed the ways normal work changes it
# (edits, log growth, new photos and archives, a package upgrade of binaries, a
# daily dump, a folder cleaned up): none of those snapshots is flagged. Then an
# attack: a third of the files overwritten with `openssl enc` output, half of
# those renamed to .locked, a ransom note in every folder. That snapshot is
# flagged with the right reasons, latest-clean picks the one before it,
# `kho snapshots` and `kho diff` show it, a policy run notifies `anomaly` and
# skips retention, and mark-clean / mark-suspect record a person's decision.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SRC=$TEST_DIR/share
mkdir -p "$SRC"/{docs/a,docs/b,docs/c,changelogs,bin,images,pdf,office,logs,db,tmp-old}

step "a tree of real files from this machine"
n=0
while IFS= read -r f; do
  d=$(basename "$(dirname "$f")")
  sub=$(printf 'a\nb\nc\n' | sed -n "$((n % 3 + 1))p")
  cp "$f" "$SRC/docs/$sub/$d.txt"
  n=$((n + 1))
  ((n >= 150)) && break
done < <(find /usr/share/doc -name copyright -type f -size +1k 2>/dev/null | sort)
n=0
while IFS= read -r f; do
  cp "$f" "$SRC/changelogs/$(basename "$(dirname "$f")").changelog.gz"
  n=$((n + 1))
  ((n >= 40)) && break
done < <(find /usr/share/doc -name 'changelog*.gz' -type f -size +2k 2>/dev/null | sort)
n=0
while IFS= read -r f; do
  [[ $(head -c 4 "$f" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] || continue
  cp "$f" "$SRC/bin/$(basename "$f")"
  n=$((n + 1))
  ((n >= 60)) && break
done < <(find /usr/bin -maxdepth 1 -type f -size +20k -size -2M 2>/dev/null | sort)
n=0
while IFS= read -r f; do
  cp "$f" "$SRC/images/img$n.png"
  n=$((n + 1))
  ((n >= 40)) && break
done < <(find /usr/share -name '*.png' -type f -size +2k 2>/dev/null | sort)
n=0
while IFS= read -r f; do
  cp "$f" "$SRC/pdf/doc$n.pdf"
  n=$((n + 1))
  ((n >= 10)) && break
done < <(find /usr/share -name '*.pdf' -type f 2>/dev/null | sort)
# Where this machine has few images or PDFs, make real ones (valid formats).
python3 - "$SRC" <<'PY'
import os, random, struct, sys, zlib
src = sys.argv[1]
rnd = random.Random(7)
def png(path, w, h):
    raw = b"".join(b"\0" + bytes(rnd.randrange(256) if (x // 8 + y // 8) % 3 == 0 else (x * y) % 256
                                 for x in range(w * 3)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
def pdf(path, text):
    body = b"BT /F1 12 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream"]
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    with open(path, "wb") as f:
        f.write(out)
have = len(os.listdir(os.path.join(src, "images")))
for i in range(have, 40):
    png(os.path.join(src, "images", "img%d.png" % i), 64, 48)
have = len(os.listdir(os.path.join(src, "pdf")))
for i in range(have, 10):
    pdf(os.path.join(src, "pdf", "doc%d.pdf" % i), "Ho so so %d - So Thong tin va Truyen thong" % i)
PY
for i in $(seq 1 20); do
  (cd "$SRC/docs/a" && zip -q "$SRC/office/report$i.docx" "$(ls | sed -n "${i}p")")
done
for i in 1 2 3; do seq 1 2000 | sed "s/^/$(date +%F) service $i line /" >"$SRC/logs/service$i.log"; done
python3 -c '
import sys
print("-- PostgreSQL database dump")
for i in range(3000): print("INSERT INTO ho_so VALUES (%d, %r);" % (i, "HS-2026-%06d" % i))
' >"$SRC/db/app.sql"
for i in $(seq 1 10); do echo "old temporary file $i" >"$SRC/tmp-old/t$i.txt"; done
total=$(find "$SRC" -type f | wc -l)
echo "the tree holds $total files"
((total >= 250)) || fail "test set-up: only $total files gathered"

expect_exit 0 kho init

# backs the tree up; prints the snapshot's anomaly object
backup() {
  expect_exit 0 kho backup --json "$SRC"
  json_last_line "$OUT_FILE" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["anomaly"]))'
}
assert_not_flagged() {
  local what=$1 anomaly=$2
  python3 - "$what" "$anomaly" <<'PY'
import json, sys
a = json.loads(sys.argv[2])
assert a is not None, "no anomaly record"
print("%-40s score %.3f  %s" % (sys.argv[1], a["score"], "; ".join(a["reasons"])))
assert a["flagged"] is False, "%s was flagged: %s" % (sys.argv[1], a)
assert a["score"] < a["threshold"], a
PY
}

step "first backup"
assert_not_flagged "first backup" "$(backup)"
FIRST=$(kho snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')

step "normal change is not flagged"
for f in $(ls "$SRC"/docs/b/*.txt | head -5); do echo "Cập nhật: sửa đổi bổ sung điều 3" >>"$f"; done
assert_not_flagged "edits to 5 documents" "$(backup)"
for i in 1 2 3; do seq 1 5000 | sed "s/^/$(date +%F) service $i more /" >>"$SRC/logs/service$i.log"; done
assert_not_flagged "log growth" "$(backup)"
mkdir -p "$SRC/images/2026"
for i in $(seq 0 29); do cp "$SRC/images/img$((i % 40)).png" "$SRC/images/2026/photo$i.png"; printf 'x%s' "$i" >>"$SRC/images/2026/photo$i.png"; done
for i in 1 2 3 4 5; do (cd "$SRC/changelogs" && zip -q "$SRC/images/2026/album$i.zip" $(ls | sed -n "$((i * 3)),$((i * 3 + 2))p")); done
assert_not_flagged "new photos and zip files" "$(backup)"
mapfile -t others < <(find /usr/bin -maxdepth 1 -type f -size +20k -size -2M 2>/dev/null | sort | tail -40)
i=0
for f in $(ls "$SRC"/bin | head -20); do
  o=${others[$i]}
  [[ $(head -c 4 "$o" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] && cp "$o" "$SRC/bin/$f"
  i=$((i + 1))
done
assert_not_flagged "package upgrade of 20 binaries" "$(backup)"
sed -i 's/HS-2026/HS-2027/' "$SRC/db/app.sql"
assert_not_flagged "the daily database dump" "$(backup)"
rm -rf "$SRC/tmp-old"
assert_not_flagged "a folder cleaned up" "$(backup)"
CLEAN=$(kho snapshots --json | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin), key=lambda s: s["time"])[-1]["id"])')

step "an attack: a third of the files encrypted with openssl enc, half renamed .locked, a ransom note per folder"
mapfile -t files < <(find "$SRC" -type f | sort)
count=0
for ((i = 0; i < ${#files[@]}; i += 3)); do
  f=${files[$i]}
  openssl enc -aes-256-cbc -pbkdf2 -salt -pass pass:attacker -in "$f" -out "$f.enc"
  if ((count % 2 == 0)); then
    mv "$f.enc" "$f.locked"
    rm "$f"
  else
    mv "$f.enc" "$f"
  fi
  count=$((count + 1))
done
while IFS= read -r d; do
  printf 'YOUR FILES HAVE BEEN ENCRYPTED!\nAll your documents are encrypted. To decrypt them send 0.5 bitcoin (BTC) to the wallet below.\nContact us via Tor browser: http://abcdefghijklmnop.onion\nDo not try to decrypt the files yourself.\n' >"$d/READ_ME_TO_RESTORE_FILES.txt"
done < <(find "$SRC" -type d)
echo "$count of ${#files[@]} files encrypted"
attack=$(backup)
python3 - "$attack" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
print("attack: score %.3f" % a["score"])
for r in a["reasons"]: print("  -", r)
assert a["flagged"] is True, a
assert a["score"] >= a["threshold"], a
text = " ".join(a["reasons"]).lower()
assert "encrypt" in text, a["reasons"]
assert ".locked" in text, a["reasons"]
assert "ransom note" in text, a["reasons"]
assert a["examples"] and len(a["examples"]) <= 20, a["examples"]
assert any(e.endswith(".locked") or "READ_ME" in e for e in a["examples"]), a["examples"]
PY
ATTACK=$(kho snapshots --json | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin), key=lambda s: s["time"])[-1]["id"])')

step "latest-clean picks the snapshot before the attack, everywhere a snapshot is taken"
expect_exit 0 kho snapshots
assert_output_contains "FLAGGED"
expect_exit 0 kho snapshots --json
python3 - "$OUT_FILE" "$ATTACK" <<'PY'
import json, sys
snaps = {s["id"]: s for s in json.load(open(sys.argv[1]))}
a = snaps[sys.argv[2]]["anomaly"]
for k in ("score", "flagged", "reasons", "examples"): assert k in a, a
PY
expect_exit 0 kho ls latest-clean --json
[[ $(head -1 "$OUT_FILE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') == "$CLEAN" ]] ||
  fail "ls latest-clean should list the snapshot before the attack"
expect_exit 0 kho restore latest-clean --target "$TEST_DIR/restored"
[[ -e $TEST_DIR/restored$SRC/db/app.sql ]] || fail "restore latest-clean did not restore the clean tree"
grep -q "HS-2027" "$TEST_DIR/restored$SRC/db/app.sql" || fail "restore latest-clean restored an older snapshot"
[[ -z $(find "$TEST_DIR/restored" -name '*.locked' -o -name 'READ_ME_TO_RESTORE_FILES.txt') ]] ||
  fail "restore latest-clean brought back the attacker's files"

step "kho diff marks the suspicious files"
expect_exit 0 kho diff latest-clean "$ATTACK"
assert_output_contains "!!"
assert_output_contains "ransom note"
expect_exit 0 kho diff --json latest-clean "$ATTACK"
python3 - "$OUT_FILE" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sus = [c for c in d["changes"] if c["suspicious"]]
assert d["totals"]["suspicious"] == len(sus) and len(sus) >= 50, (d["totals"], len(sus))
assert any(c["path"].endswith(".locked") for c in sus), sus[:5]
PY

step "mark-clean and mark-suspect record a person's decision"
expect_exit 0 kho snapshot mark-clean "$ATTACK" --reason "test: a planned re-encryption" --json
MARKED=$(json_last_line "$OUT_FILE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ $MARKED != "$ATTACK" ]] || fail "a marked snapshot is stored under a new ID"
expect_exit 0 kho ls latest-clean --json
[[ $(head -1 "$OUT_FILE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') == "$MARKED" ]] ||
  fail "after mark-clean, latest-clean should take the marked snapshot"
expect_failure kho snapshot mark-suspect "$ATTACK"  # that ID is gone: the snapshot was rewritten
expect_exit 0 kho snapshot mark-suspect "$MARKED" --json
SUSPECT=$(json_last_line "$OUT_FILE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
expect_exit 0 kho snapshots --json
python3 - "$OUT_FILE" "$SUSPECT" "$CLEAN" <<'PY'
import json, sys
snaps = {s["id"]: s for s in json.load(open(sys.argv[1]))}
a = snaps[sys.argv[2]]["anomaly"]
assert a["marked"] == "suspect" and a["marked_by"] and a["flagged"] is True, a
assert sys.argv[3] in snaps
PY
expect_exit 0 kho ls latest-clean --json
[[ $(head -1 "$OUT_FILE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') == "$CLEAN" ]] ||
  fail "after mark-suspect, latest-clean should skip it again"
expect_exit 0 kho check

step "a policy run that makes a flagged snapshot notifies 'anomaly' and keeps every snapshot"
HOOKS=$TEST_DIR/webhook
mkdir "$HOOKS"
python3 "$E2E_SRC_DIR/../servers/webhook.py" "$HOOKS" &
WEBHOOK_PID=$!
trap 'rc=$?; kill $WEBHOOK_PID 2>/dev/null || true; _e2e_on_exit $rc' EXIT
for _ in $(seq 100); do [[ -e $HOOKS/port ]] && break; sleep 0.1; done
PORT=$(cat "$HOOKS/port")
printf '%s\n' "$KHO_PASSWORD" >"$TEST_DIR/pass"
chmod 600 "$TEST_DIR/pass"
mkdir -p "$TEST_DIR/policies"
cat >"$TEST_DIR/policies/share.yaml" <<YAML
name: share
repository: $TEST_DIR/repo2
password_file: $TEST_DIR/pass
sources: [{path: $SRC}]
retention: {keep_last: 1}
notify: {webhook: "http://127.0.0.1:$PORT/kho", on: [anomaly]}
YAML
unset KHO_REPOSITORY
expect_exit 0 kho -r "$TEST_DIR/repo2" init
# The policy's first snapshot is the clean tree (restored above), the second the attacked one.
mv "$SRC" "$SRC.attacked"
mv "$TEST_DIR/restored$SRC" "$SRC"
expect_exit 0 kho policy run share --policies "$TEST_DIR/policies" --state "$TEST_DIR/state"
rm -rf "$SRC"
mv "$SRC.attacked" "$SRC"
expect_exit 0 kho policy run share --policies "$TEST_DIR/policies" --state "$TEST_DIR/state"
assert_output_contains "ransomware"
for _ in $(seq 50); do compgen -G "$HOOKS/*.json" >/dev/null && break; sleep 0.1; done
grep -l '"anomaly"' "$HOOKS"/*.json >/dev/null || fail "no anomaly notification was sent"
[[ $(kho -r "$TEST_DIR/repo2" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 2 ]] ||
  fail "retention (keep_last 1) must not remove the clean snapshot after a flagged backup"
sqlite3 "$TEST_DIR/state/state.db" "SELECT figures FROM runs WHERE kind='backup' ORDER BY id DESC LIMIT 1" |
  python3 -c 'import json,sys; f=json.load(sys.stdin); assert f["anomaly_flagged"] == 1 and f["anomaly_score"] > 0, f'
