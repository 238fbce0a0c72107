#!/usr/bin/env bash
# A throw-away OpenSSH server on 127.0.0.1 for tests and benchmarks.
#
#   sshd.sh start DIR     generate keys (unless DIR already has them), pick a free
#                         high port, start /usr/sbin/sshd in the background and
#                         wait until it accepts connections
#   sshd.sh stop DIR      stop the server and every connection it serves
#   sshd.sh restart DIR   stop, then start again with the same port and keys
#   sshd.sh status DIR    exit 0 when the server answers
#   sshd.sh suspend DIR   SIGSTOP the server and its connections (a server that
#                         hangs without closing anything: for time-out tests)
#   sshd.sh resume DIR    SIGCONT them
#
# DIR then holds:
#   port          the TCP port
#   pid           the listening sshd's process ID
#   id_ed25519    the client's private key (id_ed25519.pub: its public key,
#                 authorized for the user running the script)
#   known_hosts   one line "[127.0.0.1]:PORT ssh-ed25519 ..." for the host key
#   ssh_config    a client config: Host kho-test-sshd with HostName, Port, User,
#                 IdentityFile, UserKnownHostsFile (for `ssh -F DIR/ssh_config`)
#   ssh_host_ed25519_key[.pub], sshd_config, authorized_keys, sshd.log
#
# The user is the one running the script (root in CI). sshd needs root to serve
# other users; as non-root it serves only its own user. Exits non-zero with the
# end of sshd.log when the server cannot be started.
set -euo pipefail

SSHD=${SSHD:-/usr/sbin/sshd}

usage() {
  echo "usage: $0 start|stop|restart|status|suspend|resume DIR" >&2
  exit 2
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# True when something accepts TCP connections on 127.0.0.1:$1 and speaks SSH.
answers() {
  local banner
  banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && head -c 4 <&3" 2>/dev/null) || return 1
  [[ $banner == SSH- ]]
}

# True while process $1 exists and is not a zombie (a zombie holds no port).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

# PIDs of $1 and all its descendants, parents first.
process_tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    process_tree "$child"
  done
}

make_keys() {
  local dir=$1
  [[ -f $dir/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C kho-test-host -f "$dir/ssh_host_ed25519_key"
  [[ -f $dir/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C kho-test-client -f "$dir/id_ed25519"
  chmod 600 "$dir/ssh_host_ed25519_key" "$dir/id_ed25519"
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
  chmod 600 "$dir/authorized_keys"
}

write_config() {
  local dir=$1 port=$2 user
  user=$(id -un)
  cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers $user
MaxStartups 100:30:200
MaxSessions 50
ClientAliveInterval 0
LogLevel INFO
Subsystem sftp internal-sftp
CONF
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
  cat >"$dir/ssh_config" <<CONF
Host kho-test-sshd
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $dir/id_ed25519
  UserKnownHostsFile $dir/known_hosts
CONF
}

start() {
  local dir=$1 port=${2:-}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  if [[ -f $dir/pid ]] && alive "$(cat "$dir/pid")"; then
    echo "sshd.sh: a server from $dir is already running (pid $(cat "$dir/pid"))" >&2
    exit 1
  fi
  [[ $(id -u) -eq 0 ]] && mkdir -p /run/sshd
  make_keys "$dir"
  local _attempt
  for _attempt in 1 2 3 4 5; do
    [[ -n $port ]] || port=$(free_port)
    write_config "$dir" "$port"
    "$SSHD" -t -f "$dir/sshd_config" 2>>"$dir/sshd.log" || {
      tail -n 20 "$dir/sshd.log" >&2
      echo "sshd.sh: $SSHD rejects $dir/sshd_config" >&2
      exit 1
    }
    # setsid: the server is not in the caller's process group, so a signal to
    # the test (Ctrl-C, a time-out) does not take it down by surprise; its
    # output goes to the log so the caller's pipes close when the caller exits.
    setsid "$SSHD" -D -e -f "$dir/sshd_config" </dev/null >>"$dir/sshd.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/pid"
    echo "$port" >"$dir/port"
    local _i
    for _i in $(seq 1 100); do
      if answers "$port"; then
        return 0
      fi
      alive "$pid" || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    if [[ -n ${2:-} ]]; then break; fi  # a fixed port: no other to try
    port=
  done
  echo "sshd.sh: sshd did not start (see $dir/sshd.log):" >&2
  tail -n 20 "$dir/sshd.log" >&2 || true
  exit 1
}

stop() {
  local dir=$1 pid pids
  [[ -f $dir/pid ]] || return 0
  pid=$(cat "$dir/pid")
  if alive "$pid"; then
    # The listener and every per-connection process it forked: stopping only
    # the listener would leave open sessions running.
    pids=$(process_tree "$pid")
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    local _i
    for _i in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.05
    done
  fi
  rm -f "$dir/pid" "$dir/sshd.pid"
}

# suspend/resume DIR: stop or continue every process of the server.
signal_all() {
  local dir=$1 sig=$2
  [[ -f $dir/pid ]] || {
    echo "sshd.sh: no server running from $dir" >&2
    exit 1
  }
  # shellcheck disable=SC2046
  kill "-$sig" $(process_tree "$(cat "$dir/pid")") 2>/dev/null || true
}

[[ $# -eq 2 ]] || usage
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  restart)
    [[ -f $2/port ]] || {
      echo "sshd.sh: $2 has no port file: start it first" >&2
      exit 1
    }
    port=$(cat "$2/port")
    stop "$2"
    start "$2" "$port"
    ;;
  status) [[ -f $2/port ]] && answers "$(cat "$2/port")" ;;
  suspend) signal_all "$2" STOP ;;
  resume) signal_all "$2" CONT ;;
  *) usage ;;
esac
