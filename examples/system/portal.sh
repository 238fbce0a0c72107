#!/usr/bin/env bash
# The live example system: the provincial portal of examples/portal running for
# real on this machine, so that kho can back it up, rehearse its recovery
# (kho drill) and recover it after a simulated ransomware attack.
#
#   examples/system/portal.sh setup        wipe ROOT and build the system, then start it
#   examples/system/portal.sh start-db | stop-db | start-web | stop-web | stop | status
#   examples/system/portal.sh attack       simulate ransomware (files encrypted, a table dropped)
#   examples/system/portal.sh fingerprint  uploads' sha256 + each table's row count and digest
#   examples/system/portal.sh install-config DESTDIR
#                                          DESTDIR/policies and DESTDIR/restore-scripts for this ROOT and these ports
#   portal.sh quarantine                   move the uploads aside (evidence) before a restore
#   portal.sh load-db PORT DUMP            recreate database portal on 127.0.0.1:PORT from a pg_dump -Fc file
#   portal.sh drill-db PORT                a throwaway PostgreSQL on 127.0.0.1:PORT, in the foreground,
#                                          removed when it is stopped (for drills)
#   portal.sh check-records WEB_PORT DUMP  the web service serves as many records as DUMP holds
#
# What setup makes, under ROOT (default /var/tmp/kho-example, or $KHO_EXAMPLE_ROOT):
#   srv/portal/uploads/   citizens' uploaded documents (from examples/portal)
#   pgdata/               PostgreSQL 15 cluster, 127.0.0.1:$KHO_EXAMPLE_DB_PORT (default 25433) only,
#                         role and database "portal" loaded from examples/portal/db/portal.sql
#   run/                  the cluster's Unix socket, the web service's pid file
#   log/                  postgresql.log, web.log
#   bin/                  this script and portal_web.py, so restore runbooks can call them by
#                         absolute path; this copy acts on ROOT with the ports of example.env
#   example.env           ROOT and the ports setup used
# The web service (portal_web.py) listens on 127.0.0.1:$KHO_EXAMPLE_WEB_PORT (default 28080).
#
# Run as root, PostgreSQL runs as the "postgres" user (it refuses root); otherwise
# as the current user. Nothing listens on anything but 127.0.0.1.
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
SELF_DIR=$(dirname "$SELF")
PG_BIN=${KHO_EXAMPLE_PG_BIN:-/usr/lib/postgresql/15/bin}

# The copy that setup installs in ROOT/bin acts on that ROOT, with the ports
# setup chose: it reads ROOT/example.env and ignores KHO_EXAMPLE_*.
if [[ -f $SELF_DIR/../example.env ]]; then
  # shellcheck source=/dev/null
  source "$SELF_DIR/../example.env"
  INSTALLED=1
else
  ROOT=${KHO_EXAMPLE_ROOT:-/var/tmp/kho-example}
  DB_PORT=${KHO_EXAMPLE_DB_PORT:-25433}
  WEB_PORT=${KHO_EXAMPLE_WEB_PORT:-28080}
  DRILL_DB_PORT=${KHO_EXAMPLE_DRILL_DB_PORT:-25434}
  DRILL_WEB_PORT=${KHO_EXAMPLE_DRILL_WEB_PORT:-28081}
  INSTALLED=0
fi
# The bundled data and the committed configuration (only in the source tree).
SRC_TREE=$(realpath -m "$SELF_DIR/../..")

UPLOADS=$ROOT/srv/portal/uploads
PGDATA=$ROOT/pgdata
RUN_DIR=$ROOT/run
LOG_DIR=$ROOT/log
WEB_PID=$RUN_DIR/web.pid
export PGCONNECT_TIMEOUT=5

say() { echo "portal: $*" >&2; }
die() {
  echo "portal: error: $*" >&2
  exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# as_pg CMD...: runs CMD as the user PostgreSQL's files belong to.
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# give_pg DIR...: hands DIRs to that user.
give_pg() {
  if is_root; then chown postgres:postgres "$@"; fi
}

need_pg_tools() {
  [[ -x $PG_BIN/initdb ]] || die "no PostgreSQL 15 at $PG_BIN (apt-get install postgresql, or scripts/deps.sh --example)"
  if is_root; then
    id -u postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (it comes with the postgresql package)"
  fi
}

# psql_admin PORT ARGS...: psql as the cluster's superuser.
psql_admin() {
  local port=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

# wait_db PORT [SECONDS]: until the server on 127.0.0.1:PORT accepts connections.
wait_db() {
  local port=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    pg_isready -q -h 127.0.0.1 -p "$port" && return 0
    sleep 0.1
  done
  return 1
}

# port_in_use PORT: something listens on 127.0.0.1:PORT.
port_in_use() {
  (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# init_cluster DIR PORT SOCKDIR: a new cluster in DIR (which must not exist or
# be empty) for 127.0.0.1:PORT only, superuser "postgres", trust, with role and
# database "portal" (owned by it) made before the server first opens its port:
# whoever sees the port open finds them.
init_cluster() {
  local dir=$1 port=$2 sock=$3
  mkdir -p "$dir" "$sock"
  chmod 700 "$dir"
  give_pg "$dir" "$sock"
  as_pg "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # The socket path has a length limit (107 bytes); every client here uses TCP,
  # so a ROOT too deep for it simply goes without the socket.
  if ((${#sock} + 20 > 100)); then sock=""; fi
  as_pg tee -a "$dir/postgresql.conf" >/dev/null <<CONF
# kho example
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '${sock//\'/\'\'}'
max_connections = 20
shared_buffers = 16MB
fsync = off
CONF
  # Single-user mode: one statement per line, nothing listens.
  printf '%s\n' "CREATE ROLE portal LOGIN" "CREATE DATABASE portal OWNER portal" |
    as_pg "$PG_BIN/postgres" --single -D "$dir" postgres >/dev/null
}

db_running() {
  [[ -f $PGDATA/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

cmd_start_db() {
  need_pg_tools
  [[ -f $ROOT/example.env ]] || die "no example at $ROOT; run setup first"
  if [[ ! -d $PGDATA ]]; then
    # A machine rebuilt from scratch: a new, empty cluster; load-db fills it.
    say "no cluster at $PGDATA: creating an empty one"
    init_cluster "$PGDATA" "$DB_PORT" "$RUN_DIR"
  fi
  if db_running; then
    say "database already running on 127.0.0.1:$DB_PORT"
    return 0
  fi
  mkdir -p "$LOG_DIR"
  touch "$LOG_DIR/postgresql.log"
  give_pg "$LOG_DIR/postgresql.log"
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOG_DIR/postgresql.log" -w -t 60 start </dev/null >/dev/null ||
    die "PostgreSQL did not start; see $LOG_DIR/postgresql.log"
  wait_db "$DB_PORT" 30 || die "PostgreSQL does not answer on 127.0.0.1:$DB_PORT"
  say "database running on 127.0.0.1:$DB_PORT"
}

cmd_stop_db() {
  if [[ -d $PGDATA ]] && db_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop </dev/null >/dev/null
    say "database stopped"
  else
    say "database not running"
  fi
}

web_pid() {
  local pid
  [[ -f $WEB_PID ]] || return 1
  pid=$(cat "$WEB_PID")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && grep -qa portal_web.py "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

cmd_start_web() {
  local pid i
  if pid=$(web_pid); then
    say "web service already running (pid $pid) on http://127.0.0.1:$WEB_PORT/"
    return 0
  fi
  port_in_use "$WEB_PORT" && die "127.0.0.1:$WEB_PORT is already in use"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  local web=$ROOT/bin/portal_web.py
  [[ -f $web ]] || web=$SELF_DIR/portal_web.py
  # Its own session, no terminal, output to the log: the caller (a runbook
  # step, a test) is not kept waiting on an open pipe.
  setsid python3 "$web" --port "$WEB_PORT" --db-port "$DB_PORT" --uploads "$UPLOADS" \
    </dev/null >>"$LOG_DIR/web.log" 2>&1 &
  echo $! >"$WEB_PID"
  for ((i = 0; i < 100; i++)); do
    port_in_use "$WEB_PORT" && break
    kill -0 "$(cat "$WEB_PID")" 2>/dev/null || die "the web service exited; see $LOG_DIR/web.log"
    sleep 0.1
  done
  port_in_use "$WEB_PORT" || die "the web service does not listen on 127.0.0.1:$WEB_PORT; see $LOG_DIR/web.log"
  say "web service running (pid $(cat "$WEB_PID")) on http://127.0.0.1:$WEB_PORT/"
}

cmd_stop_web() {
  local pid i
  if pid=$(web_pid); then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    say "web service stopped"
  else
    say "web service not running"
  fi
  rm -f "$WEB_PID"
}

# Stops drill clusters a killed drill left behind (their folder is ROOT/drill-db.*).
stop_drill_leftovers() {
  local d
  for d in "$ROOT"/drill-db.*; do
    [[ -d $d ]] || continue
    if [[ -f $d/data/postmaster.pid ]]; then
      as_pg "$PG_BIN/pg_ctl" -D "$d/data" -m immediate -w -t 30 stop </dev/null >/dev/null 2>&1 || true
    fi
    rm -rf "$d"
    say "removed drill database $d"
  done
}

cmd_stop() {
  cmd_stop_web
  cmd_stop_db
  stop_drill_leftovers
}

cmd_status() {
  local rc=0 pid
  echo "root:     $ROOT"
  if [[ -d $PGDATA ]] && db_running && pg_isready -q -h 127.0.0.1 -p "$DB_PORT"; then
    echo "database: running on 127.0.0.1:$DB_PORT"
  else
    echo "database: stopped"
    rc=3
  fi
  if pid=$(web_pid); then
    echo "web:      running (pid $pid) on http://127.0.0.1:$WEB_PORT/ ($(health))"
  else
    echo "web:      stopped"
    rc=3
  fi
  return $rc
}

# health: the web service's /health answer, as "HTTP <code>".
health() {
  python3 - "$WEB_PORT" <<'PY' || true
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=10) as r:
        print("health: HTTP", r.status)
except urllib.error.HTTPError as e:
    print("health: HTTP", e.code)
except Exception as e:
    print("health: no answer (%s)" % e)
PY
}

cmd_setup() {
  need_pg_tools
  local src=$SRC_TREE/examples/portal
  ((INSTALLED == 0)) || die "run setup from the source tree (examples/system/portal.sh), not from $ROOT/bin"
  [[ -f $src/db/portal.sql && -d $src/srv/portal/uploads ]] || die "no example data at $src"
  case $ROOT in
    / | "" | /var | /var/tmp | /tmp | /home | /root | /usr | /etc | /srv) die "refusing to use '$ROOT' as the example's root" ;;
  esac
  if [[ -e $ROOT && ! -f $ROOT/example.env && -n $(ls -A "$ROOT" 2>/dev/null) ]]; then
    die "$ROOT exists and is not the example's root (no example.env): not wiping it; choose another KHO_EXAMPLE_ROOT"
  fi
  # Whatever runs from an earlier setup goes first.
  if [[ -d $ROOT ]]; then
    cmd_stop >/dev/null 2>&1 || true
    port_in_use "$DB_PORT" && die "127.0.0.1:$DB_PORT is in use (another example? KHO_EXAMPLE_DB_PORT picks another port)"
    rm -rf "$ROOT"
  fi
  port_in_use "$DB_PORT" && die "127.0.0.1:$DB_PORT is already in use (set KHO_EXAMPLE_DB_PORT)"
  port_in_use "$WEB_PORT" && die "127.0.0.1:$WEB_PORT is already in use (set KHO_EXAMPLE_WEB_PORT)"
  mkdir -p "$ROOT"
  ROOT=$(realpath "$ROOT")
  UPLOADS=$ROOT/srv/portal/uploads PGDATA=$ROOT/pgdata RUN_DIR=$ROOT/run LOG_DIR=$ROOT/log WEB_PID=$ROOT/run/web.pid
  chmod 755 "$ROOT"
  {
    printf 'ROOT=%q\n' "$ROOT"
    printf 'DB_PORT=%q\nWEB_PORT=%q\n' "$DB_PORT" "$WEB_PORT"
    printf 'DRILL_DB_PORT=%q\nDRILL_WEB_PORT=%q\n' "$DRILL_DB_PORT" "$DRILL_WEB_PORT"
  } >"$ROOT/example.env"
  if is_root && ! runuser -u postgres -- test -x "$ROOT"; then
    die "the postgres user cannot reach $ROOT (a parent folder is not traversable: chmod o+x it)"
  fi

  say "files: $UPLOADS"
  mkdir -p "$ROOT/srv/portal"
  cp -a "$src/srv/portal/uploads" "$UPLOADS"

  say "programs: $ROOT/bin"
  mkdir -p "$ROOT/bin" "$RUN_DIR" "$LOG_DIR"
  install -m 755 "$SELF" "$ROOT/bin/portal.sh"
  install -m 755 "$SELF_DIR/portal_web.py" "$ROOT/bin/portal_web.py"

  say "database: PostgreSQL cluster $PGDATA on 127.0.0.1:$DB_PORT"
  init_cluster "$PGDATA" "$DB_PORT" "$RUN_DIR"
  cmd_start_db
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DB_PORT" -U portal -d portal -f "$src/db/portal.sql" >/dev/null
  cmd_start_web
  say "ready: $ROOT (database 127.0.0.1:$DB_PORT, web http://127.0.0.1:$WEB_PORT/)"
}

cmd_attack() {
  [[ -d $UPLOADS ]] || die "no uploads at $UPLOADS"
  local f d n=0
  # Every document: replaced by random bytes of the same size, renamed *.locked.
  while IFS= read -r -d '' f; do
    head -c "$(stat -c %s "$f")" /dev/urandom >"$f.locked"
    rm -f "$f"
    n=$((n + 1))
  done < <(find "$UPLOADS" -type f ! -name '*.locked' ! -name READ_ME_TO_RESTORE_FILES.txt -print0)
  while IFS= read -r -d '' d; do
    cat >"$d/READ_ME_TO_RESTORE_FILES.txt" <<'NOTE'
YOUR FILES ARE ENCRYPTED.
Pay 5 BTC to get the key. (Simulated attack of the kho example: nothing was paid, nothing left this machine.)
NOTE
  done < <(find "$UPLOADS" -type d -print0)
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DB_PORT" -U portal -d portal \
    -c "DROP TABLE ho_so CASCADE" >/dev/null 2>&1 || say "could not drop table ho_so (database down, or already gone)"
  say "attack done: $n files encrypted to *.locked, ransom notes dropped, table ho_so dropped"
}

cmd_fingerprint() {
  [[ -d $UPLOADS ]] || die "no uploads at $UPLOADS"
  local t tables
  echo "# files under srv/portal/uploads (sha256, path)"
  (cd "$UPLOADS" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum --)
  echo "# tables of database portal (rows, digest of the sorted rows)"
  tables=$(psql -X -h 127.0.0.1 -p "$DB_PORT" -U portal -d portal -At -v ON_ERROR_STOP=1 \
    -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1") ||
    die "database portal does not answer on 127.0.0.1:$DB_PORT"
  for t in $tables; do
    psql -X -h 127.0.0.1 -p "$DB_PORT" -U portal -d portal -At -v ON_ERROR_STOP=1 -c \
      "SELECT 'table $t ' || count(*) || ' ' || coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text)), '-') FROM public.\"$t\" r"
  done
}

# Moves the (encrypted) uploads aside, kept for the investigation, so that the
# restore puts back exactly the snapshot's files. Nothing to move is fine.
cmd_quarantine() {
  if [[ ! -e $UPLOADS ]]; then
    say "no uploads at $UPLOADS: nothing to set aside"
    return 0
  fi
  local dest
  dest=$ROOT/quarantine/uploads.$(date +%Y%m%dT%H%M%S).$$
  mkdir -p "$ROOT/quarantine"
  chmod 700 "$ROOT/quarantine"
  mv "$UPLOADS" "$dest"
  say "uploads moved aside to $dest ($(find "$dest" -type f | wc -l) files) for the investigation"
}

# load-db PORT DUMP: database portal on 127.0.0.1:PORT made again from DUMP
# (pg_dump --format=custom): dropped (closing its connections), created owned by
# role portal, loaded as portal so every object keeps that owner.
cmd_load_db() {
  local port=${1:?load-db PORT DUMP} dump=${2:?load-db PORT DUMP}
  [[ -s $dump ]] || die "no dump at $dump"
  wait_db "$port" 60 || die "no database server answers on 127.0.0.1:$port"
  psql_admin "$port" -d postgres -c "DROP DATABASE IF EXISTS portal WITH (FORCE)" \
    -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal') THEN CREATE ROLE portal LOGIN; END IF; END\$\$" \
    -c "CREATE DATABASE portal OWNER portal"
  pg_restore --exit-on-error --no-password -h 127.0.0.1 -p "$port" -U portal -d portal "$dump"
  say "database portal on 127.0.0.1:$port loaded from $dump: $(psql -X -At -h 127.0.0.1 -p "$port" -U portal -d portal -c 'SELECT count(*) FROM ho_so') records"
}

# drill-db PORT: a throwaway cluster with role and database portal, in a new
# folder ROOT/drill-db.XXXXXX, served on 127.0.0.1:PORT until this process is
# stopped (SIGTERM, SIGINT) or ends; then the server stops and the folder goes.
cmd_drill_db() {
  local port=${1:?drill-db PORT}
  need_pg_tools
  [[ $port =~ ^[0-9]+$ ]] || die "drill-db: '$port' is not a port"
  ((port != DB_PORT)) || die "drill-db: $port is the live database's port"
  port_in_use "$port" && die "drill-db: 127.0.0.1:$port is already in use"
  mkdir -p "$ROOT"
  DRILL_DIR=$(mktemp -d "$ROOT/drill-db.XXXXXX")
  chmod 755 "$DRILL_DIR"
  trap drill_db_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  trap 'exit 129' HUP
  init_cluster "$DRILL_DIR/data" "$port" "$DRILL_DIR/run"
  : >"$DRILL_DIR/postgresql.log"
  give_pg "$DRILL_DIR/postgresql.log"
  as_pg "$PG_BIN/pg_ctl" -D "$DRILL_DIR/data" -l "$DRILL_DIR/postgresql.log" -w -t 60 start </dev/null >/dev/null || {
    cat "$DRILL_DIR/postgresql.log" >&2
    die "drill-db: PostgreSQL did not start"
  }
  wait_db "$port" 30 || die "drill-db: PostgreSQL does not answer on 127.0.0.1:$port"
  say "drill database ready on 127.0.0.1:$port ($DRILL_DIR); stop this process to remove it"
  # Wait, interruptibly, until told to stop or until the server dies.
  local pidfile=$DRILL_DIR/data/postmaster.pid
  while [[ -f $pidfile ]]; do
    sleep 1 &
    wait $! || true
  done
  die "drill-db: the server on 127.0.0.1:$port stopped by itself"
}

drill_db_cleanup() {
  local rc=$?
  trap - EXIT TERM INT HUP
  if [[ -n ${DRILL_DIR:-} && -d $DRILL_DIR ]]; then
    if [[ -f $DRILL_DIR/data/postmaster.pid ]]; then
      as_pg "$PG_BIN/pg_ctl" -D "$DRILL_DIR/data" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1 ||
        as_pg "$PG_BIN/pg_ctl" -D "$DRILL_DIR/data" -m immediate -w -t 30 stop </dev/null >/dev/null 2>&1 || true
    fi
    rm -rf "$DRILL_DIR"
    say "drill database stopped and removed"
  fi
  exit "$rc"
}

# check-records WEB_PORT DUMP: /api/records lists as many records as table
# ho_so has in DUMP (a pg_dump --format=custom file).
cmd_check_records() {
  local web_port=${1:?check-records WEB_PORT DUMP} dump=${2:?check-records WEB_PORT DUMP} want got
  [[ -s $dump ]] || die "no dump at $dump"
  want=$(pg_restore --data-only --table=ho_so -f - "$dump" |
    awk '/^COPY /{c=1; next} /^\\\.$/{c=0} c{n++} END{print n+0}')
  got=$(python3 -c '
import json, sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/api/records" % sys.argv[1], timeout=20) as r:
    print(len(json.load(r)))' "$web_port") || die "no answer from http://127.0.0.1:$web_port/api/records"
  if [[ $want -gt 0 && $got == "$want" ]]; then
    echo "records match: the service serves $got records, the snapshot's dump holds $want"
  else
    echo "records differ: the service serves $got records, the snapshot's dump holds $want"
    return 1
  fi
}

# install-config DESTDIR: the committed policy and runbook of this example
# (policies/example-portal.yaml, restore-scripts/example-portal-recovery.yaml)
# rewritten for this ROOT and these ports, in DESTDIR/policies and
# DESTDIR/restore-scripts.
cmd_install_config() {
  local dest=${1:?install-config DESTDIR} f
  local pol=$SRC_TREE/policies/example-portal.yaml rb=$SRC_TREE/restore-scripts/example-portal-recovery.yaml
  [[ -f $pol && -f $rb ]] || die "install-config runs from the source tree (no $pol or $rb)"
  local root
  root=$(realpath -m "$ROOT")
  [[ $root != *[\|\&\\]* ]] || die "install-config: ROOT may not contain |, & or \\"
  mkdir -p "$dest/policies" "$dest/restore-scripts"
  for f in "$pol:$dest/policies/example-portal.yaml" "$rb:$dest/restore-scripts/example-portal-recovery.yaml"; do
    sed -e "s|/var/tmp/kho-example|$root|g" \
      -e "s/\\b25433\\b/$DB_PORT/g" -e "s/\\b28080\\b/$WEB_PORT/g" \
      -e "s/\\b25434\\b/$DRILL_DB_PORT/g" -e "s/\\b28081\\b/$DRILL_WEB_PORT/g" \
      "${f%%:*}" >"${f#*:}"
  done
  say "configuration for $root written to $dest/policies and $dest/restore-scripts"
}

usage() {
  sed -n '2,/^set -euo/p' "$SELF" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

case ${1:-} in
  setup) cmd_setup ;;
  start-db) cmd_start_db ;;
  stop-db) cmd_stop_db ;;
  start-web) cmd_start_web ;;
  stop-web) cmd_stop_web ;;
  start)
    cmd_start_db
    cmd_start_web
    ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  attack) cmd_attack ;;
  fingerprint) cmd_fingerprint ;;
  quarantine) cmd_quarantine ;;
  load-db) cmd_load_db "${@:2}" ;;
  drill-db) cmd_drill_db "${@:2}" ;;
  check-records) cmd_check_records "${@:2}" ;;
  install-config) cmd_install_config "${@:2}" ;;
  *) usage ;;
esac
