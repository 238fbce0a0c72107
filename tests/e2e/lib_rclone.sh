# shellcheck shell=bash
# Helpers for end-to-end tests against `rclone serve restic` on 127.0.0.1,
# through tests/servers/rclone.sh. Source it after lib.sh.
#
# Each server has a NAME; its state (port, pid, log, htpasswd) is kept in
# $TEST_DIR/rclone-NAME and the files it serves in $TEST_DIR/rclone-NAME/data.
# Every server still running when the test ends is stopped.
#
#   rclone_start NAME [rclone.sh start options]   starts it; fails the test if it cannot
#   rclone_start_on NAME OTHER [options]          serves the files of server OTHER
#                                                 (a second view of the same repositories,
#                                                 e.g. an append-only one)
#   rclone_url NAME            http://127.0.0.1:PORT/
#   rclone_port NAME           PORT
#   rclone_data NAME           the directory served
#   rclone_stop NAME | rclone_kill NAME | rclone_restart NAME (same port and options)

RCLONE_SH=$E2E_SRC_DIR/../servers/rclone.sh
RCLONE_NAMES=()

command -v rclone >/dev/null || fail "rclone is not installed (scripts/deps.sh --test installs it)"

_rclone_dir() {
  echo "$TEST_DIR/rclone-$1"
}

_rclone_stop_all() {
  local name
  for name in ${RCLONE_NAMES[@]+"${RCLONE_NAMES[@]}"}; do
    bash "$RCLONE_SH" stop "$(_rclone_dir "$name")" >/dev/null 2>&1 || true
  done
}

# Servers stop before lib.sh's exit handler decides what to keep.
_rclone_on_exit() {
  local status=$1
  _rclone_stop_all
  _e2e_on_exit "$status"
}
trap '_rclone_on_exit $?' EXIT

rclone_start() {
  local name=$1
  shift
  local dir
  dir=$(_rclone_dir "$name")
  mkdir -p "$dir"
  if ! bash "$RCLONE_SH" start "$dir" "$@" >"$dir/start.out" 2>&1; then
    cat "$dir/start.out" >&2
    fail "rclone serve restic '$name' did not start (log: $dir/rclone.log)"
  fi
  RCLONE_NAMES+=("$name")
}

rclone_start_on() {
  local name=$1 other=$2
  shift 2
  mkdir -p "$(_rclone_dir "$name")"
  ln -sfn "$(_rclone_dir "$other")/data" "$(_rclone_dir "$name")/data"
  rclone_start "$name" "$@"
}

rclone_port() {
  cat "$(_rclone_dir "$1")/port"
}

rclone_url() {
  echo "http://127.0.0.1:$(rclone_port "$1")/"
}

rclone_data() {
  echo "$(_rclone_dir "$1")/data"
}

rclone_stop() {
  bash "$RCLONE_SH" stop "$(_rclone_dir "$1")"
}

rclone_kill() {
  bash "$RCLONE_SH" kill "$(_rclone_dir "$1")"
}

rclone_restart() {
  local dir
  dir=$(_rclone_dir "$1")
  if ! bash "$RCLONE_SH" restart "$dir" >"$dir/start.out" 2>&1; then
    cat "$dir/start.out" >&2
    fail "rclone serve restic '$1' did not restart (log: $dir/rclone.log)"
  fi
}
