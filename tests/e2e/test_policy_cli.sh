#!/usr/bin/env bash
# kho policy list | validate | show: the bundled examples validate, broken files
# are reported as FILE:LINE:COLUMN: FIELD: MESSAGE with exit 2, and the default
# policies directory is ./policies.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

EXAMPLES=$E2E_SRC_DIR/../../policies

step "the bundled examples validate"
expect_exit 0 kho policy validate --policies "$EXAMPLES"
for name in portal fileshare mail-gateway mysql-app example-portal; do assert_output_contains "ok  $name"; done
assert_output_contains "5 policies valid"
expect_exit 0 kho --json policy validate --policies "$EXAMPLES"
j=$(json_last_line "$OUT_FILE")
[[ $(json_get "$j" valid) == True ]] || fail "--json validate: expected valid, got $j"

step "list and show; ./policies is the default directory"
(cd "$EXAMPLES/.." && expect_exit 0 kho policy list)
assert_output_contains "30 1 * * *"
assert_output_contains "Asia/Ho_Chi_Minh"
assert_output_contains "db/portal.dump (command)"
expect_exit 0 kho --json policy show portal --policies "$EXAMPLES"
j=$(json_last_line "$OUT_FILE")
[[ $(json_get "$j" name) == portal ]] || fail "show portal: wrong name in $j"
[[ $(json_get "$j" schedule) == "30 1 * * *" ]] || fail "show portal: wrong schedule in $j"
expect_exit 1 kho policy show nosuch --policies "$EXAMPLES"
assert_output_contains "no policy named 'nosuch'"

step "broken policies: file, line, column, field and message; exit 2"
BAD=$TEST_DIR/bad
mkdir "$BAD"
cat >"$BAD/web.yaml" <<'YAML'
name: web
repository: /srv/backup/web
password_file: /etc/kho/web.pass
sources:
  - path: /srv/www
schedul: "0 2 * * *"
objectives: {rpo: 24x}
YAML
cat >"$BAD/db.yaml" <<'YAML'
name: db
repository: /srv/backup/db
password_file: /etc/kho/db.pass
sources:
  - command: pg_dump app
    filename: db/app.dump
schedule: "61 1 * * *"
timezone: Asia/Hanoii
YAML
expect_exit 2 kho policy validate --policies "$BAD"
assert_output_contains "$BAD/web.yaml:6:1: schedul: unknown key"
assert_output_contains "did you mean 'schedule'"
assert_output_contains "$BAD/web.yaml:7:19: objectives.rpo:"
assert_output_contains "$BAD/db.yaml:7:11: schedule: bad cron schedule '61 1 * * *'"
assert_output_contains "61 is out of range 0-59"
assert_output_contains "$BAD/db.yaml:8:11: timezone:"
assert_output_contains "Asia/Hanoii"
expect_exit 2 kho --json policy validate "$BAD/db.yaml"
j=$(json_last_line "$OUT_FILE")
python3 - "$j" <<'PY' || fail "--json validate of a broken file: $j"
import json, sys
j = json.loads(sys.argv[1])
assert j["valid"] is False
fields = sorted(i["field"] for i in j["issues"])
assert fields == ["schedule", "timezone"], fields
assert all(i["line"] > 0 and i["column"] > 0 for i in j["issues"])
PY
# list still shows the valid policies, and says what is wrong with the others.
cp "$EXAMPLES/portal.yaml" "$BAD/portal.yaml"
expect_exit 2 kho policy list --policies "$BAD"
assert_output_contains "portal"
assert_output_contains "$BAD/db.yaml:7:11"

step "the same name in two files"
cp "$EXAMPLES/portal.yaml" "$TEST_DIR/portal-copy.yaml"
expect_exit 2 kho policy validate "$EXAMPLES/portal.yaml" "$TEST_DIR/portal-copy.yaml"
assert_output_contains "$TEST_DIR/portal-copy.yaml:1:7: name: policy name 'portal' is already used by"
