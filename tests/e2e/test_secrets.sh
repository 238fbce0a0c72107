#!/usr/bin/env bash
# Secrets stay secret. With distinctive passwords given every way kho takes
# them (KHO_PASSWORD, a password file, a password command, KHO_NEW_PASSWORD,
# --new-password-file), the main flows run: init, backup, key add/passwd, a
# policy run with hooks and a source command that record their argv and
# environment and their kho parent's, a scheduler pass, a runbook run and a
# drill, a report and metrics. Then:
#   - no password, and no form of the master key (hex, base64, raw bytes; read
#     from the key file with libsodium), is in any file of the state directory
#     (database, logs, incident records, locks), the repository, the reports,
#     the metrics, kho's stdout/stderr or what the hooks and steps captured;
#   - what kho creates in the state directory is 0600 (files) and 0700
#     (folders), and so are the repository's files, even under umask 000;
#   - a kho process holding keys has a core file size limit of 0 and is not
#     dumpable (its /proc/PID files belong to root although it runs as nobody),
#     while the hooks it starts get the core limit back.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
unset KHO_REPOSITORY KHO_PASSWORD

rand() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
PW="kho-Secret-$(rand)-pw"
PW2="kho-Second-$(rand)-pw"
PW3="kho-Third-$(rand)-pw"
POL=$TEST_DIR/policies
RB=$TEST_DIR/restore-scripts
STATE=$TEST_DIR/state
SRC=$TEST_DIR/src/app
CAP=$TEST_DIR/captures   # what hooks, source commands and steps recorded
OUTS=$TEST_DIR/outputs   # kho's stdout and stderr, every command
REPORTS=$TEST_DIR/reports
mkdir -p "$POL" "$RB" "$SRC/docs" "$CAP" "$OUTS" "$REPORTS"
printf '%s\n' "$PW" >"$TEST_DIR/pw.file"
printf '%s\n' "$PW3" >"$TEST_DIR/pw3.file"
chmod 600 "$TEST_DIR/pw.file" "$TEST_DIR/pw3.file"
random_file "$SRC/docs/a.bin" 200000
echo "config=1" >"$SRC/app.conf"
# Nothing kho writes may depend on the caller's umask.
umask 000
# Children kho starts should get the caller's core file size limit back.
ulimit -S -c unlimited 2>/dev/null || true
CALLER_CORE=$(ulimit -S -c)

# k CODE ARGS...: runs kho, expects CODE, keeps its output for the final scan.
k() {
  local want=$1
  shift
  expect_exit "$want" kho "$@"
  cat "$OUT_FILE" "$ERR_FILE" >>"$OUTS/all.log"
}

# A probe run by kho (hook, source command, runbook step): records its own
# argv and environment, and those of its nearest kho ancestor (found by name:
# a shell may stand between them), with that process's limits and the owner
# of its /proc files. $1 names the probe.
cat >"$TEST_DIR/probe.sh" <<'SH'
d=$PROBE_DIR/$1
mkdir -p "$d"
tr '\0' '\n' </proc/$$/cmdline >"$d/cmdline"
env >"$d/env"
tr '\0' '\n' </proc/$$/environ >"$d/environ"
grep '^Max core file size' /proc/$$/limits >"$d/own-limits"
p=$PPID
while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != kho ]; do p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status); done
echo "$p" >"$d/kho-pid"
if [ "$p" -gt 1 ]; then
  tr '\0' '\n' </proc/$p/cmdline >"$d/kho-cmdline" 2>/dev/null || echo unreadable >"$d/kho-cmdline"
  tr '\0' '\n' </proc/$p/environ >"$d/kho-environ" 2>/dev/null || echo unreadable >"$d/kho-environ"
  grep '^Max core file size' /proc/$p/limits >"$d/kho-limits"
  stat -c %u /proc/$p/environ >"$d/kho-proc-owner"
  stat -c %u /proc/$$/environ >"$d/own-proc-owner"
fi
SH
sed -i "1i PROBE_DIR=$CAP" "$TEST_DIR/probe.sh"

# core_soft FILE: the soft limit in a saved "Max core file size" line.
core_soft() { awk '{print $5}' "$1"; }

# assert_kho_protected PROBE: the kho process PROBE saw had no core limit.
assert_kho_protected() {
  local d=$CAP/$1
  [[ -s $d/kho-limits ]] || fail "probe $1 found no kho process above it (pid $(cat "$d/kho-pid"))"
  [[ $(core_soft "$d/kho-limits") == 0 ]] || fail "kho ($1) may dump core: $(cat "$d/kho-limits")"
}

step "init, backups and key changes with every password source"
KHO_PASSWORD=$PW k 0 -r "$REPO" init
k 0 -r "$REPO" --password-file "$TEST_DIR/pw.file" -v backup "$SRC"
k 0 -r "$REPO" --password-command "cat $TEST_DIR/pw.file" --json backup "$SRC"
KHO_PASSWORD=$PW KHO_NEW_PASSWORD=$PW2 k 0 -r "$REPO" key add
printf '%s\n' "$PW2" >"$TEST_DIR/pw2.file"
chmod 600 "$TEST_DIR/pw2.file"
k 0 -r "$REPO" --password-file "$TEST_DIR/pw2.file" key passwd --new-password-file "$TEST_DIR/pw3.file"
k 0 -r "$REPO" --password-file "$TEST_DIR/pw3.file" key list
KHO_PASSWORD=$PW k 0 -r "$REPO" snapshots
k 12 -r "$REPO" --password-file "$TEST_DIR/pw2.file" snapshots

step "the master key, unwrapped with libsodium from the key file"
MASTER=$(python3 - "$REPO" "$PW" <<'PY'
import base64, ctypes, glob, json, sys
so = ctypes.CDLL("libsodium.so.23")
assert so.sodium_init() >= 0
pw = sys.argv[2].encode()
for path in glob.glob(sys.argv[1] + "/keys/*"):
    j = json.load(open(path))
    salt = base64.b64decode(j["kdf"]["salt"])
    data = base64.b64decode(j["data"])
    key = ctypes.create_string_buffer(32)
    if so.crypto_pwhash(key, ctypes.c_ulonglong(32), pw, ctypes.c_ulonglong(len(pw)), salt,
                        ctypes.c_ulonglong(j["kdf"]["opslimit"]), ctypes.c_size_t(j["kdf"]["memlimit"]),
                        ctypes.c_int(2)) != 0:
        sys.exit("crypto_pwhash failed")
    out = ctypes.create_string_buffer(len(data))
    n = ctypes.c_ulonglong(0)
    ad = b"kho:key:v1"
    if so.crypto_aead_xchacha20poly1305_ietf_decrypt(out, ctypes.byref(n), None, data[24:],
                                                     ctypes.c_ulonglong(len(data) - 24), ad,
                                                     ctypes.c_ulonglong(len(ad)), data[:24], key.raw) == 0:
        print(out.raw[:n.value].hex())
        sys.exit(0)
sys.exit("no key file opens with the password")
PY
)
((${#MASTER} == 192)) || fail "the master key set should be 96 bytes, got ${#MASTER} hex digits"

step "a policy run with hooks and a source command that record what they get"
cat >"$POL/app.yaml" <<YAML
name: app
repository: $REPO
password_command: cat $TEST_DIR/pw.file
sources:
  - path: $SRC
  - command: sh $TEST_DIR/probe.sh source; printf 'dump of the app database\n'
    filename: db/app.sql
schedule: "* * * * *"
objectives: {rpo: 24h, rto: 10m}
hooks:
  before: ["sh $TEST_DIR/probe.sh before"]
  after: [["sh", "$TEST_DIR/probe.sh", "after"]]
YAML
# KHO_PASSWORD is set but unused by policies: kho must not hand it on, nor
# leave it readable in its /proc/PID/environ.
KHO_PASSWORD=$PW k 0 policy run app --policies "$POL" --state "$STATE"
for p in before after source; do
  [[ -s $CAP/$p/env ]] || fail "the $p probe did not run"
done
assert_kho_protected source
grep -qx -- "--password-command" "$CAP/source/kho-cmdline" || fail "the backup child should get the password command"
if grep -q '^KHO_PASSWORD=.' "$CAP/before/kho-environ"; then fail "kho policy run keeps KHO_PASSWORD in its environment"; fi
if grep -q '^KHO_PASSWORD' "$CAP/before/env" "$CAP/after/env" "$CAP/source/env"; then
  fail "a child of kho got KHO_PASSWORD"
fi
grep -q "^KHO_POLICY=app$" "$CAP/before/env" || fail "hooks should get KHO_POLICY"
if [[ ${KHO_SANITIZED:-0} != 1 && $CALLER_CORE == unlimited ]]; then
  # (A sanitizer runtime sets kho's own core limit to 0 before main.)
  [[ $(core_soft "$CAP/before/own-limits") == unlimited ]] ||
    fail "a hook should get the caller's core limit back: $(cat "$CAP/before/own-limits")"
fi

step "a scheduler pass, with metrics"
k 0 scheduler run --once --policies "$POL" --state "$STATE" --metrics-file "$REPORTS/kho.prom"

step "a runbook run and a drill"
cat >"$RB/app-recovery.yaml" <<YAML
name: app-recovery
policy: app
snapshot: latest
rto: 5m
steps:
  - name: Restore the files
    restore: {paths: [$SRC], target: /}
  - name: Record
    run: sh $TEST_DIR/probe.sh step-\$KHO_MODE
  - name: Service
    run: echo service output; exec sleep 30
    background: true
verify:
  - files_match_snapshot: $SRC
YAML
O=(--policies "$POL" --runbooks "$RB" --state "$STATE")
KHO_PASSWORD=$PW k 0 drill app-recovery "${O[@]}" --sandbox-dir "$TEST_DIR"
k 0 runbook run app-recovery --yes "${O[@]}"
[[ -s $CAP/step-drill/env && -s $CAP/step-real/env ]] || fail "the runbook steps did not run"
ls "$STATE"/incidents/*.json >/dev/null || fail "no incident record"
ls "$STATE"/logs/*/*.log >/dev/null || fail "no log of the background step"

step "reports"
k 0 report "${O[@]}" --format md -o "$REPORTS/report.md"
k 0 report "${O[@]}" --format html -o "$REPORTS/report.html"
k 0 report "${O[@]}" --format json -o "$REPORTS/report.json"
k 0 report "${O[@]}"

step "a kho process holding keys cannot dump core and is not dumpable"
# kho runs as nobody here: a dumpable process's /proc/PID files belong to its
# user, a non-dumpable one's to root. The password command looks while kho
# waits for it.
NB=$(mktemp -d /tmp/kho-e2e-secrets-nobody.XXXXXX)
cleanup_on_success "$NB"
chmod 755 "$NB"
cp -a "$REPO" "$NB/repo"
cp "$TEST_DIR/probe.sh" "$NB/probe.sh"
sed -i "1s|.*|PROBE_DIR=$NB/captures|" "$NB/probe.sh"
cp "$TEST_DIR/pw.file" "$NB/pw.file"
chown -R 65534:65534 "$NB"
expect_exit 0 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$NB" XDG_CACHE_HOME="$NB/cache" \
  timeout 600 "$KHO" -r "$NB/repo" --password-command "sh $NB/probe.sh pwcmd; cat $NB/pw.file" snapshots
cat "$OUT_FILE" "$ERR_FILE" >>"$OUTS/all.log"
D=$NB/captures/pwcmd
[[ $(cat "$D/own-proc-owner") == 65534 ]] || fail "the check is unsound: a dumpable process of nobody shows owner $(cat "$D/own-proc-owner")"
[[ $(cat "$D/kho-proc-owner") == 0 ]] || fail "kho is dumpable (its /proc/PID/environ belongs to uid $(cat "$D/kho-proc-owner"))"
grep -qx unreadable "$D/kho-environ" || fail "another process of the same user could read kho's environment"
[[ $(core_soft "$D/kho-limits") == 0 ]] || fail "kho may dump core: $(cat "$D/kho-limits")"

step "no password and no master key anywhere"
python3 - "$MASTER" "$PW" "$PW2" "$PW3" "$STATE" "$REPO" "$REPORTS" "$OUTS" "$CAP" "$NB/captures" \
  "$TEST_DIR/cache" <<'PY'
import base64, os, sys
master = bytes.fromhex(sys.argv[1])
parts = [master] + [master[i:i + 32] for i in (0, 32, 64)]
needles = {}
for i, pw in enumerate(sys.argv[2:5]):
    needles["password %d" % (i + 1)] = pw.encode()
for i, p in enumerate(parts):
    name = "master key" if i == 0 else "master key part %d" % i
    needles[name + " (raw)"] = p
    needles[name + " (hex)"] = p.hex().encode()
    needles[name + " (base64)"] = base64.b64encode(p)
    needles[name + " (base64url)"] = base64.urlsafe_b64encode(p).rstrip(b"=")
found, scanned = [], 0
for root in sys.argv[5:]:
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = os.path.join(dirpath, f)
            if not os.path.isfile(path):
                continue
            data = open(path, "rb").read()
            scanned += 1
            low = data.lower()
            for name, n in needles.items():
                if n in data or (name.endswith("(hex)") and n in low):
                    found.append("%s in %s" % (name, path))
if found:
    sys.exit("secrets found:\n  " + "\n  ".join(found))
if scanned < 20:
    sys.exit("only %d files scanned" % scanned)
print("scanned %d files" % scanned)
PY

step "modes: 0600 files and 0700 folders in the state directory and the repository"
bad=$(find "$STATE" "$REPO" \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) -printf '%m %p\n')
[[ -z $bad ]] || fail "too open: $bad"
for d in incidents locks logs; do
  [[ ! -e $STATE/$d || $(stat -c %a "$STATE/$d") == 700 ]] || fail "$STATE/$d is $(stat -c %a "$STATE/$d")"
done
# Reports and metrics are meant to be read by others (a web server,
# node_exporter) and hold no secret; none is writable by others.
bad=$(find "$REPORTS" -type f -perm /022 -printf '%m %p\n')
[[ -z $bad ]] || fail "writable by others: $bad"
