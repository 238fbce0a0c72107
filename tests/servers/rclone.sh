#!/usr/bin/env bash
# A throw-away `rclone serve restic` (REST protocol v2) on 127.0.0.1 for tests and
# benchmarks. Everything lives in one directory of the caller's:
#
#   rclone.sh start DIR [--append-only] [--user U (--pass P | --pass-file F)]
#                       [--htpasswd FILE] [--port N] [-- EXTRA RCLONE ARGS...]
#       Serves DIR/data (created if missing) on 127.0.0.1. Without --port a free
#       high port is picked (and another one tried if rclone loses the race for
#       it). Waits until the server answers HTTP, then writes DIR/port and
#       DIR/pid and prints the base URL (http://127.0.0.1:PORT/). The log goes
#       to DIR/rclone.log. With --user, the password goes to the server in an
#       htpasswd file (DIR/htpasswd, {SHA} entry, mode 0600), never in argv.
#       The options are remembered in DIR/start.args for `restart`.
#       Exits 1, printing the log, when rclone does not start within 20 s.
#   rclone.sh stop DIR      SIGTERM, then SIGKILL after 5 s; removes DIR/pid.
#   rclone.sh kill DIR      SIGKILL at once (a crash); removes DIR/pid.
#   rclone.sh restart DIR   start again with the same options and port.
#   rclone.sh url DIR       prints http://127.0.0.1:PORT/ of the running server.
#
# Only the process recorded in DIR/pid is ever signalled.
set -euo pipefail

die() {
  echo "rclone.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,22p' "$0" >&2
  exit 2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# answers PORT: true when something speaks HTTP on 127.0.0.1:PORT.
answers() {
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/config" 2>/dev/null) || true
  [[ -n $code && $code != 000 ]]
}

alive() {
  [[ -f $1/pid ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

signal_and_wait() {
  local dir=$1 sig=$2 grace=$3 pid i
  [[ -f $dir/pid ]] || return 0
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$dir/pid"
}

# write_htpasswd FILE USER PASSWORD
write_htpasswd() {
  (
    umask 077
    python3 - "$1" "$2" <<'EOF'
import base64, hashlib, os, sys
path, user = sys.argv[1], sys.argv[2]
password = os.environ["RCLONE_SH_PASS"]
digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
with open(path, "w") as f:
    f.write("%s:{SHA}%s\n" % (user, digest))
EOF
  )
}

cmd_start() {
  local dir=$1
  shift
  local -a rclone_args=()
  local append_only=0 user="" pass="" have_pass=0 port="" htpasswd=""
  while (($#)); do
    case $1 in
      --append-only) append_only=1 ;;
      --user) user=${2:?--user needs a value}; shift ;;
      --pass) pass=${2?--pass needs a value}; have_pass=1; shift ;;
      --pass-file) pass=$(cat "${2:?--pass-file needs a file}"); have_pass=1; shift ;;
      --htpasswd) htpasswd=${2:?--htpasswd needs a file}; shift ;;
      --port) port=${2:?--port needs a value}; shift ;;
      --) shift; rclone_args+=("$@"); break ;;
      *) usage ;;
    esac
    shift
  done
  if [[ -n $user && $have_pass == 0 ]] || [[ -z $user && $have_pass == 1 ]]; then
    die "--user and --pass/--pass-file go together"
  fi
  command -v rclone >/dev/null || die "rclone is not installed (scripts/deps.sh --test installs it)"
  alive "$dir" && die "a server recorded in $dir/pid is still running; stop it first"
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd -P)

  if [[ -n $user ]]; then
    htpasswd=$dir/htpasswd
    RCLONE_SH_PASS=$pass write_htpasswd "$htpasswd" "$user"
  fi
  # What `restart` needs (the password only ever in the htpasswd file).
  local -a remember=()
  ((append_only)) && remember+=(--append-only)
  [[ -n $htpasswd ]] && remember+=(--htpasswd "$htpasswd")
  ((${#rclone_args[@]})) && remember+=(-- "${rclone_args[@]}")
  ((append_only)) && rclone_args=(--append-only "${rclone_args[@]}")
  [[ -n $htpasswd ]] && rclone_args=(--htpasswd "$htpasswd" "${rclone_args[@]}")

  local attempt fixed_port=$port pid i
  for ((attempt = 1; attempt <= 5; attempt++)); do
    [[ -n $fixed_port ]] || port=$(free_port)
    rm -f "$dir/pid" "$dir/port"
    rclone serve restic --config /dev/null --addr "127.0.0.1:$port" \
      "${rclone_args[@]}" "$dir/data" >>"$dir/rclone.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    for ((i = 0; i < 200; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      if answers "$port"; then
        echo "$port" >"$dir/port"
        printf '%s\n' "${remember[@]}" >"$dir/start.args"
        echo "http://127.0.0.1:$port/"
        return 0
      fi
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      signal_and_wait "$dir" KILL 0
      break # running but silent for 20 s: another port will not help
    fi
    rm -f "$dir/pid"
    # Lost a picked port to someone else: try another. A fixed port (restart)
    # may still be held by the old server's socket for a moment: wait and retry.
    grep -q 'address already in use' "$dir/rclone.log" || break
    [[ -n $fixed_port ]] && sleep 1
  done
  echo "rclone.sh: rclone serve restic did not start in $dir; its log:" >&2
  tail -n 30 "$dir/rclone.log" >&2 || true
  exit 1
}

cmd_restart() {
  local dir=$1
  [[ -f $dir/port && -f $dir/start.args ]] || die "no server was started in $dir"
  local port
  port=$(cat "$dir/port")
  signal_and_wait "$dir" TERM 5
  local -a args=()
  mapfile -t args <"$dir/start.args"
  cmd_start "$dir" --port "$port" "${args[@]}"
}

main() {
  (($# >= 2)) || usage
  local cmd=$1 dir=$2
  shift 2
  case $cmd in
    start) cmd_start "$dir" "$@" ;;
    stop) signal_and_wait "$dir" TERM 5 ;;
    kill) signal_and_wait "$dir" KILL 0 ;;
    restart) cmd_restart "$dir" ;;
    url) [[ -f $dir/port ]] || die "no server was started in $dir"; echo "http://127.0.0.1:$(cat "$dir/port")/" ;;
    *) usage ;;
  esac
}

main "$@"
