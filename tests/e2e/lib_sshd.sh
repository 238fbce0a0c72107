# shellcheck shell=bash
# An OpenSSH server on 127.0.0.1 for end-to-end tests (source after lib.sh).
#
#   sshd_start            starts a server (tests/servers/sshd.sh) in $TEST_DIR/sshd;
#                         the test FAILS when it cannot start. The server is
#                         stopped when the test exits, whatever the outcome.
#   sshd_stop             kills the server and every connection it serves
#   sshd_restart          starts it again, same port and keys
#   sshd_suspend / sshd_resume   SIGSTOP / SIGCONT it (a hung server)
#   sftp_url PATH         sftp://127.0.0.1:PORT/PATH (PATH absolute)
#   host_key_fingerprint  the server's key as ssh-keygen shows it (SHA256:...)
# After sshd_start:
#   SSHD_DIR, SSHD_PORT
#   SFTP_OPTS             -o options with the client key and known_hosts, for kho
SSHD_SCRIPT=$E2E_SRC_DIR/../servers/sshd.sh
SSHD_DIR=
SSHD_PORT=
SFTP_OPTS=()

_sshd_on_exit() {
  local status=$1
  if [[ -n $SSHD_DIR ]]; then
    bash "$SSHD_SCRIPT" stop "$SSHD_DIR" >/dev/null 2>&1 || true
  fi
  _e2e_on_exit "$status"
}

sshd_start() {
  SSHD_DIR=$TEST_DIR/sshd
  trap '_sshd_on_exit $?' EXIT
  if ! bash "$SSHD_SCRIPT" start "$SSHD_DIR"; then
    fail "could not start sshd for the test (see $SSHD_DIR/sshd.log)"
  fi
  SSHD_PORT=$(cat "$SSHD_DIR/port")
  # shellcheck disable=SC2034  # read by the sourcing test
  SFTP_OPTS=(-o "sftp.identity=$SSHD_DIR/id_ed25519" -o "sftp.known_hosts=$SSHD_DIR/known_hosts")
}

sshd_stop() {
  bash "$SSHD_SCRIPT" stop "$SSHD_DIR"
}

sshd_restart() {
  bash "$SSHD_SCRIPT" restart "$SSHD_DIR" || fail "could not restart sshd (see $SSHD_DIR/sshd.log)"
}

sshd_suspend() {
  bash "$SSHD_SCRIPT" suspend "$SSHD_DIR"
}

sshd_resume() {
  bash "$SSHD_SCRIPT" resume "$SSHD_DIR"
}

sftp_url() {
  echo "sftp://127.0.0.1:$SSHD_PORT$1"
}

host_key_fingerprint() {
  ssh-keygen -l -E sha256 -f "$SSHD_DIR/ssh_host_ed25519_key.pub" | awk '{print $2}'
}
