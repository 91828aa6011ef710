#!/usr/bin/env bash
# scripts/services.sh - run the real servers the sink connectors are tested
# against (PostgreSQL, an S3 server, OpenSearch) on loopback, for tests and users.
# Whatever is missing is installed on first use (apt-get / pip / mvn) and cached.
#
# Usage: scripts/services.sh start|stop|status [postgres|s3|elasticsearch ...]
#        (no service names = all three; "es" and "opensearch" = elasticsearch)
#
#   start    install what is missing, start each service that is not running and
#            wait until it answers. A service that is already running is left alone.
#   stop     stop only what this script started (pid files / pg_ctl on its own
#            data dir); a server started by anyone else is never touched.
#   status   print a table (service, state, address, pid); exit 3 if any of the
#            named services is not running and answering.
#
# Services (all bound to 127.0.0.1):
#   postgres       PostgreSQL (Debian package, 15 on Debian 12) on 127.0.0.1:15432,
#                  user postgres, trust auth (no password), database postgres,
#                  wal_level=logical. Data survives stop/start.
#   s3             moto_server (PyPI moto[server], in a venv under the cache) on
#                  http://127.0.0.1:9000, region us-east-1, path-style requests.
#                  Use access key "ferry" / secret "ferrysecret" (moto accepts any
#                  credentials and does not check signatures). moto keeps
#                  everything in memory: stop/start loses all buckets and objects.
#                  Multipart: every part but the last must be >= 5 MiB
#                  (EntityTooSmall otherwise), as on AWS.
#   elasticsearch  OpenSearch (integ-test-zip from Maven Central: no security
#                  plugin, plain HTTP, no auth) on http://127.0.0.1:9200
#                  (transport 9300), single node, heap 512 MiB, run as the system
#                  user ferry-svc (created if missing) with the newest JDK 21+
#                  under /usr/lib/jvm. Indices get 1 replica by default, so
#                  health is yellow (wait for yellow, not green). Data survives
#                  stop/start. Also accepted as "es" and "opensearch". The zip
#                  is cached in the cache dir; it is unpacked there too unless
#                  the run user cannot enter it (root's home), then into
#                  /var/cache/ferry.
#
# Environment:
#   FERRY_SERVICES_DIR            state, data, logs, pid files: <dir>/<service>/
#                                 (default /tmp/ferry-services)
#   FERRY_CACHE_DIR               download cache (default $HOME/.cache/ferry)
#   FERRY_SERVICES_START_TIMEOUT  seconds start waits for a service (default 180)
#   FERRY_ES_JAVA_HOME            JDK for OpenSearch (default: newest 21+ in /usr/lib/jvm)
#   FERRY_ES_HEAP_OPTS            OpenSearch heap flags (default -Xms512m -Xmx512m)
#   FERRY_SERVICES_STARTED_FILE   start appends the name of each service it really
#                                 started (not already running) to this file, so a
#                                 caller can stop exactly those afterwards
#   FERRY_PG_PORT, FERRY_S3_PORT, FERRY_ES_PORT, FERRY_ES_TRANSPORT_PORT
#                                 ports (defaults 15432, 9000, 9200, 9300). With its own
#                                 FERRY_SERVICES_DIR and ports, a second, private instance
#                                 runs beside the shared one (tests/tests/outages.rs stops
#                                 and starts such instances)
#   FERRY_SVC_USER                user OpenSearch runs as when started by root
#                                 (default ferry-svc)
#
# Exit codes: 0 ok, 1 failure, 2 usage error, 3 (status) a service is not running.
set -euo pipefail

readonly STATE_ROOT=${FERRY_SERVICES_DIR:-/tmp/ferry-services}
readonly CACHE_DIR=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}
readonly START_TIMEOUT=${FERRY_SERVICES_START_TIMEOUT:-180}
readonly STOP_TIMEOUT=30
readonly HOST=127.0.0.1
readonly ALL_SERVICES=(postgres s3 elasticsearch)

readonly PG_PORT=${FERRY_PG_PORT:-15432}
readonly S3_PORT=${FERRY_S3_PORT:-9000}
readonly ES_PORT=${FERRY_ES_PORT:-9200}
readonly MOTO_VERSION=5.2.5
readonly MOTO_VENV=$CACHE_DIR/venv-moto
readonly S3_ACCESS_KEY=ferry S3_SECRET_KEY=ferrysecret S3_REGION=us-east-1
readonly ES_TRANSPORT_PORT=${FERRY_ES_TRANSPORT_PORT:-9300}
readonly OPENSEARCH_VERSION=3.6.0
readonly OPENSEARCH_ARTIFACT=org.opensearch.distribution.integ-test-zip:opensearch:${OPENSEARCH_VERSION}:zip
readonly ES_MAIN_CLASS=org.opensearch.bootstrap.OpenSearch
readonly ES_MIN_JAVA=21
readonly ES_HEAP=${FERRY_ES_HEAP_OPTS:--Xms512m -Xmx512m}
readonly DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
if [[ $(id -u) -eq 0 ]]; then ES_USER=${FERRY_SVC_USER:-ferry-svc}; else ES_USER=""; fi
readonly ES_USER

say() { printf 'services.sh: %s\n' "$*"; }
die() { printf 'services.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
usage: scripts/services.sh start|stop|status [postgres|s3|elasticsearch ...]
  no names = all three
  postgres       127.0.0.1:$PG_PORT, user postgres, trust auth, db postgres, wal_level=logical
  s3             http://$HOST:$S3_PORT (moto), key $S3_ACCESS_KEY / $S3_SECRET_KEY, region $S3_REGION;
                 in memory: a stop/start loses all buckets
  elasticsearch  http://$HOST:$ES_PORT, OpenSearch $OPENSEARCH_VERSION, no auth (alias es, opensearch)
  env: FERRY_SERVICES_DIR (default /tmp/ferry-services), FERRY_CACHE_DIR (default ~/.cache/ferry),
       FERRY_SERVICES_START_TIMEOUT (default 180 s)
EOF
  exit 2
}

# ---------------------------------------------------------------- temp cleanup
CLEANUP_PATHS=()
cleanup() {
  local p
  for p in "${CLEANUP_PATHS[@]+"${CLEANUP_PATHS[@]}"}"; do
    rm -rf -- "$p"
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
svc_dir() { echo "$STATE_ROOT/$1"; }

# Seconds (with milliseconds) since $1, a value of $EPOCHREALTIME.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# True while process $1 exists and is not a zombie.
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Command line of process $1 with spaces between the arguments.
pid_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }

port_open() { (: <>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Runs "$@" as root (sudo -n when not root).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  else
    command -v sudo >/dev/null || die "need root for: $* (no sudo)"
    sudo -n "$@"
  fi
}

APT_UPDATED=0
# Installs Debian packages (apt-get update first, once per run). Serialised
# with other services.sh processes; dpkg's own lock is waited for too.
apt_install() {
  mkdir -p -- "$STATE_ROOT"
  (
    flock -w 900 8 || die "timed out waiting for $STATE_ROOT/.apt.lock"
    if [[ $APT_UPDATED == 0 ]]; then
      say "apt-get update"
      as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "$@" >/dev/null
  ) 8>"$STATE_ROOT/.apt.lock" || die "apt-get install $* failed"
  APT_UPDATED=1
}

show_log_tail() {
  local log=$1
  echo "----- last 40 lines of $log -----" >&2
  tail -n 40 -- "$log" >&2 2>/dev/null || echo "(no log)" >&2
  echo "-----" >&2
}

# Polls a readiness check every 0.5 s until it succeeds; returns 1 as soon as
# the service's process is gone (its pid function fails), 2 after the start
# timeout. Usage: wait_until <service> <pid-function> <check command...>
wait_until() {
  local svc=$1 pid_fn=$2
  shift 2
  local deadline=$((SECONDS + START_TIMEOUT))
  printf 'services.sh: %s: waiting until it answers (up to %s s) ' "$svc" "$START_TIMEOUT"
  while :; do
    if "$@" >/dev/null 2>&1; then
      echo " ready"
      return 0
    fi
    if ! "$pid_fn" >/dev/null; then
      echo " exited"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo " timeout"
      return 2
    fi
    printf '.'
    sleep 0.5
  done
}

# ================================================================ postgres
# Server binaries of the newest PostgreSQL major version installed from Debian.
PG_BIN=""
pg_find_bin() {
  local d
  PG_BIN=""
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4n); do
    [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]] && PG_BIN=$d
  done
  [[ -n $PG_BIN ]]
}
pg_dir() { svc_dir postgres; }
pg_data() { echo "$(pg_dir)/data"; }
pg_sock() { echo "$(pg_dir)/sock"; }
pg_log() { echo "$(pg_dir)/postgres.log"; }
pg_addr() { echo "$HOST:$PG_PORT"; }
pg_url() { echo "postgresql://postgres@$(pg_addr)/postgres"; }

# Runs "$@" as the postgres user (the server refuses to run as root).
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Prints the postmaster pid of our data dir; fails when it is not running.
pg_pid() {
  local pidfile pid
  pidfile="$(pg_data)/postmaster.pid"
  [[ -r $pidfile ]] || return 1
  pid=$(head -n1 -- "$pidfile" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [[ $(pid_cmdline "$pid") == *"-D $(pg_data)"* ]] || return 1
  echo "$pid"
}

pg_ready() {
  pg_find_bin || return 1
  "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -t 2 || return 1
  [[ $("$PG_BIN/psql" -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -XtAc 'show wal_level' 2>/dev/null) == logical ]]
}

pg_install() {
  if pg_find_bin; then
    say "postgres: using $PG_BIN ($("$PG_BIN/postgres" --version))"
    return
  fi
  say "postgres: PostgreSQL server not installed; installing the Debian package"
  apt_install postgresql
  pg_find_bin || die "postgres: installed postgresql but found no server under /usr/lib/postgresql/*/bin"
  say "postgres: installed $("$PG_BIN/postgres" --version)"
}

pg_start() {
  local pid t0=$EPOCHREALTIME
  if pid=$(pg_pid); then
    say "postgres: already running (pid $pid, $(pg_addr)); nothing to do"
    return 0
  fi
  pg_install
  if port_open "$PG_PORT"; then
    die "postgres: port $(pg_addr) is already in use by a process not started by services.sh"
  fi
  local dir data
  dir=$(pg_dir)
  data=$(pg_data)
  mkdir -p -- "$dir" "$(pg_sock)"
  if [[ $(id -u) -eq 0 ]]; then
    chmod 755 -- "$STATE_ROOT" "$dir"
    chown postgres:postgres -- "$(pg_sock)"
  fi
  if [[ ! -f $data/PG_VERSION ]]; then
    # initdb into a temporary dir, then rename: an interrupted initdb leaves no
    # half-made data dir behind
    rm -rf -- "$data" "$dir/data.tmp"
    mkdir -p -- "$dir/data.tmp"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres -- "$dir/data.tmp"
    CLEANUP_PATHS+=("$dir/data.tmp")
    say "postgres: initdb $data (user postgres, trust auth, UTF8)"
    local out
    if ! out=$(as_pg "$PG_BIN/initdb" -D "$dir/data.tmp" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 2>&1); then
      printf '%s\n' "$out" >&2
      die "postgres: initdb failed"
    fi
    mv -T -- "$dir/data.tmp" "$data"
  else
    say "postgres: reusing data dir $data"
  fi
  [[ -s $(pg_log) ]] && mv -f -- "$(pg_log)" "$(pg_log).prev"
  if [[ $(id -u) -eq 0 ]]; then touch -- "$(pg_log)" && chown postgres:postgres -- "$(pg_log)"; fi
  say "postgres: starting on $(pg_addr) (wal_level=logical), log $(pg_log)"
  local opts
  opts="-c listen_addresses=$HOST -p $PG_PORT -k $(pg_sock) -c wal_level=logical"
  opts+=" -c max_replication_slots=20 -c max_wal_senders=20 -c max_connections=200"
  # pg_ctl -w waits until the server accepts connections; 9>&-: the server
  # must not inherit our lock
  if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$(pg_log)" -w -t "$START_TIMEOUT" -o "$opts" \
      start </dev/null >/dev/null 2>&1 9>&-; then
    show_log_tail "$(pg_log)"
    pg_pid >/dev/null && as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 9>&-
    die "postgres: pg_ctl start failed (log $(pg_log))"
  fi
  if ! wait_until postgres pg_pid pg_ready; then
    show_log_tail "$(pg_log)"
    pg_pid >/dev/null && as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 9>&-
    die "postgres: not answering on $(pg_addr)"
  fi
  say "postgres: running (pid $(pg_pid), $(pg_addr)), ready $(elapsed "$t0") s after start;" \
    "psql -h $HOST -p $PG_PORT -U postgres postgres"
}

pg_stop() {
  local pid
  if ! pid=$(pg_pid); then
    say "postgres: not running (no postmaster for $(pg_data))"
    return 0
  fi
  pg_find_bin || die "postgres: running as pid $pid but no pg_ctl found"
  say "postgres: stopping pid $pid (pg_ctl -D $(pg_data) -m fast stop)"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1 9>&-; then
    if pid_alive "$pid"; then
      say "postgres: still alive after ${STOP_TIMEOUT} s; SIGQUIT (immediate shutdown) to pid $pid"
      kill -QUIT "$pid" 2>/dev/null || true
      local i
      for ((i = 0; i < 20; i++)); do pid_alive "$pid" || break; sleep 0.5; done
    fi
  fi
  pg_pid >/dev/null && die "postgres: could not be stopped (pid $pid)"
  say "postgres: stopped"
}

# ================================================================ generic pid-file service
# Stops the process of service $1 (pid function $2, pid file $3): SIGTERM,
# SIGKILL after STOP_TIMEOUT seconds; removes the pid file.
stop_by_pidfile() {
  local svc=$1 pid_fn=$2 pidfile=$3 pid
  if ! pid=$("$pid_fn"); then
    if [[ -f $pidfile ]]; then
      say "$svc: removing stale pid file $pidfile (pid $(<"$pidfile") is not our server)"
      rm -f -- "$pidfile"
    fi
    say "$svc: not running"
    return 0
  fi
  say "$svc: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while "$pid_fn" >/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$svc: still alive after ${STOP_TIMEOUT} s; SIGKILL to pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  "$pid_fn" >/dev/null && die "$svc: could not be stopped (pid $pid)"
  rm -f -- "$pidfile"
  say "$svc: stopped"
}

# Prints the pid in pid file $1 if that process is alive and its command line
# contains every further argument (guards against recycled pids).
pidfile_pid() {
  local pidfile=$1 pid cmdline pat
  shift
  [[ -r $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  cmdline=$(pid_cmdline "$pid") || return 1
  for pat in "$@"; do
    [[ $cmdline == *"$pat"* ]] || return 1
  done
  echo "$pid"
}

# ================================================================ s3 (moto_server)
s3_dir() { svc_dir s3; }
s3_pidfile() { echo "$(s3_dir)/moto.pid"; }
s3_log() { echo "$(s3_dir)/moto.log"; }
s3_url() { echo "http://$HOST:$S3_PORT"; }
s3_pid() { pidfile_pid "$(s3_pidfile)" "$MOTO_VENV/bin/moto_server" "-p $S3_PORT"; }
# Any S3 answer will do (moto serves ListBuckets without checking credentials).
s3_ready() { curl -sf -o /dev/null --max-time 2 "$(s3_url)/"; }

# Python that makes the venv: Debian's own when present (pyenv shims may move).
s3_python() {
  if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi
}

s3_venv_ok() {
  [[ -x $MOTO_VENV/bin/moto_server && -f $MOTO_VENV/.ferry-installed &&
    "$(<"$MOTO_VENV/.ferry-installed")" == "moto[server]==$MOTO_VERSION" ]]
}

s3_install() {
  local stamp="moto[server]==$MOTO_VERSION"
  if s3_venv_ok; then
    say "s3: using $stamp in $MOTO_VENV"
    return
  fi
  mkdir -p -- "$CACHE_DIR"
  (
    # one installer at a time, across state dirs (the venv is shared)
    flock -w 900 7 || die "s3: timed out waiting for $CACHE_DIR/.venv-moto.lock"
    if s3_venv_ok; then
      say "s3: another services.sh installed $stamp meanwhile; using it"
      exit 0
    fi
    py=$(s3_python) || die "s3: python3 not found"
    t0=$EPOCHREALTIME
    if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
      say "s3: $py has no venv/ensurepip module; installing python3-venv"
      apt_install python3-venv
    fi
    # a venv cannot be moved after creation: build it in place; the stamp file
    # written last marks it complete (an interrupted install is redone)
    rm -rf -- "$MOTO_VENV"
    say "s3: creating venv $MOTO_VENV ($("$py" --version)) and pip installing '$stamp'"
    "$py" -m venv "$MOTO_VENV" || die "s3: python -m venv $MOTO_VENV failed"
    if ! "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "$stamp" \
        >"$CACHE_DIR/venv-moto.pip.log" 2>&1; then
      cat -- "$CACHE_DIR/venv-moto.pip.log" >&2
      die "s3: pip install '$stamp' failed (output above)"
    fi
    echo "$stamp" >"$MOTO_VENV/.ferry-installed"
    say "s3: installed $stamp (boto3 $("$MOTO_VENV/bin/python" -c 'import boto3; print(boto3.__version__)')) in $(elapsed "$t0") s"
  ) 7>"$CACHE_DIR/.venv-moto.lock" || exit 1
}

# A real S3 round trip with boto3 from the venv: create bucket, put, list, delete.
s3_smoke_test() {
  AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_DEFAULT_REGION=$S3_REGION \
    "$MOTO_VENV/bin/python" - "$(s3_url)" <<'EOF'
import sys, uuid
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}))
bucket = "ferry-smoke-" + uuid.uuid4().hex[:12]
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="t+0+0000000000.json", Body=b'{"ok":true}\n')
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
assert keys == ["t+0+0000000000.json"], keys
s3.delete_object(Bucket=bucket, Key=keys[0])
s3.delete_bucket(Bucket=bucket)
EOF
}

s3_start() {
  local pid t0=$EPOCHREALTIME
  if pid=$(s3_pid); then
    say "s3: already running (pid $pid, $(s3_url)); nothing to do"
    return 0
  fi
  [[ -f $(s3_pidfile) ]] && rm -f -- "$(s3_pidfile)"
  command -v curl >/dev/null || apt_install curl
  s3_install
  if port_open "$S3_PORT"; then
    die "s3: port $HOST:$S3_PORT is already in use by a process not started by services.sh"
  fi
  local log
  log=$(s3_log)
  [[ -f $log ]] && mv -f -- "$log" "$log.prev"
  say "s3: starting moto_server $MOTO_VERSION on $(s3_url), log $log"
  # setsid: own session, survives the caller's terminal; 9>&-: not our lock
  setsid "$MOTO_VENV/bin/moto_server" -H "$HOST" -p "$S3_PORT" </dev/null >"$log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$(s3_pidfile)"
  if ! wait_until s3 s3_pid s3_ready; then
    show_log_tail "$log"
    stop_by_pidfile s3 s3_pid "$(s3_pidfile)"
    die "s3: moto_server did not answer on $(s3_url) (log $log)"
  fi
  if ! s3_smoke_test; then
    stop_by_pidfile s3 s3_pid "$(s3_pidfile)"
    die "s3: boto3 smoke test (create bucket, put, list) against $(s3_url) failed"
  fi
  say "s3: running (pid $pid, $(s3_url)), boto3 create/put/list ok, ready $(elapsed "$t0") s after start"
}

s3_stop() { stop_by_pidfile s3 s3_pid "$(s3_pidfile)"; }

# ================================================================ elasticsearch (OpenSearch)
es_dir() { svc_dir elasticsearch; }
es_conf() { echo "$(es_dir)/config"; }
es_pidfile() { echo "$(es_dir)/opensearch.pid"; }
es_log() { echo "$(es_dir)/opensearch.out"; }
es_url() { echo "http://$HOST:$ES_PORT"; }
es_pid() { pidfile_pid "$(es_pidfile)" "$ES_MAIN_CLASS" "-Dopensearch.path.conf=$(es_conf) "; }
es_ready() {
  local health
  health=$(curl -sf --max-time 3 "$(es_url)/_cluster/health?wait_for_status=yellow&timeout=1s") || return 1
  [[ $health =~ \"status\":\"(green|yellow)\" ]]
}

# The distribution is unpacked where the unprivileged run user can read it:
# the cache when that user can reach it, else /var/cache/ferry (root's home is
# usually closed to other users).
ES_HOME=""
es_locate_home() {
  local root=$CACHE_DIR
  if [[ $(id -u) -eq 0 ]] && ! setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
      test -r "$root" -a -x "$root" 2>/dev/null; then
    root=${FERRY_SERVICES_SHARED_CACHE:-/var/cache/ferry}
  fi
  ES_HOME=$root/opensearch-$OPENSEARCH_VERSION
}

# The unprivileged user OpenSearch runs as (it refuses to run as root).
es_ensure_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  say "elasticsearch: creating system user $ES_USER (OpenSearch refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$ES_USER" 2>/dev/null || id -u "$ES_USER" >/dev/null 2>&1 ||
    die "elasticsearch: useradd $ES_USER failed"
}

# Newest JDK under /usr/lib/jvm (or FERRY_ES_JAVA_HOME) with a major version
# of at least $ES_MIN_JAVA (OpenSearch 3.x needs Java 21+).
ES_JAVA_HOME=""
es_find_java() {
  local d v major best=0
  if [[ -n ${FERRY_ES_JAVA_HOME:-} ]]; then
    [[ -x $FERRY_ES_JAVA_HOME/bin/java ]] || die "elasticsearch: no bin/java in FERRY_ES_JAVA_HOME=$FERRY_ES_JAVA_HOME"
    ES_JAVA_HOME=$FERRY_ES_JAVA_HOME
    return 0
  fi
  ES_JAVA_HOME=""
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [[ -x $d/bin/java && -f $d/release && ! -L $d ]] || continue
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$d/release")
    major=${v%%.*}
    [[ $major =~ ^[0-9]+$ ]] || continue
    if ((major >= ES_MIN_JAVA && major > best)); then
      best=$major
      ES_JAVA_HOME=$d
    fi
  done
  [[ -n $ES_JAVA_HOME ]] ||
    die "elasticsearch: OpenSearch $OPENSEARCH_VERSION needs Java $ES_MIN_JAVA+, none found under /usr/lib/jvm (set FERRY_ES_JAVA_HOME)"
}

es_install() {
  es_locate_home
  if [[ -f $ES_HOME/.ferry-installed ]]; then
    say "elasticsearch: using OpenSearch $OPENSEARCH_VERSION in $ES_HOME"
    return
  fi
  command -v mvn >/dev/null || apt_install maven
  command -v unzip >/dev/null || apt_install unzip
  local root
  root=$(dirname "$ES_HOME")
  mkdir -p -- "$CACHE_DIR" "$root"
  (
    flock -w 900 7 || die "elasticsearch: timed out waiting for $root/.opensearch.lock"
    if [[ -f $ES_HOME/.ferry-installed ]]; then
      say "elasticsearch: another services.sh installed OpenSearch meanwhile; using it"
      exit 0
    fi
    zip=$CACHE_DIR/opensearch-$OPENSEARCH_VERSION.zip
    if [[ ! -f $zip ]]; then
      t0=$EPOCHREALTIME
      tmp=$(mktemp -d "$CACHE_DIR/.opensearch-dl.XXXXXX")
      trap 'rm -rf -- "$tmp"' EXIT
      say "elasticsearch: downloading $OPENSEARCH_ARTIFACT with mvn (first use)"
      if ! mvn -q -B "$DEPENDENCY_PLUGIN:copy" -Dartifact="$OPENSEARCH_ARTIFACT" \
          -DoutputDirectory="$tmp" </dev/null >"$tmp/mvn.log" 2>&1; then
        cat -- "$tmp/mvn.log" >&2
        die "elasticsearch: mvn could not fetch $OPENSEARCH_ARTIFACT (output above)"
      fi
      [[ -f $tmp/opensearch-$OPENSEARCH_VERSION.zip ]] || die "elasticsearch: mvn finished but the zip is missing"
      mv -f -- "$tmp/opensearch-$OPENSEARCH_VERSION.zip" "$zip"
      say "elasticsearch: downloaded $(du -h "$zip" | cut -f1) in $(elapsed "$t0") s"
    fi
    t0=$EPOCHREALTIME
    utmp=$(mktemp -d "$root/.opensearch-unpack.XXXXXX")
    trap 'rm -rf -- "${tmp:-}" "$utmp"' EXIT
    say "elasticsearch: unpacking $zip into $ES_HOME"
    unzip -q "$zip" -d "$utmp" || die "elasticsearch: unzip $zip failed"
    [[ -x $utmp/opensearch-$OPENSEARCH_VERSION/bin/opensearch ]] ||
      die "elasticsearch: $zip has no opensearch-$OPENSEARCH_VERSION/bin/opensearch"
    chmod -R go+rX,go-w -- "$utmp/opensearch-$OPENSEARCH_VERSION"
    touch -- "$utmp/opensearch-$OPENSEARCH_VERSION/.ferry-installed"
    rm -rf -- "$ES_HOME"
    mv -T -- "$utmp/opensearch-$OPENSEARCH_VERSION" "$ES_HOME"
    chmod 755 -- "$root"
    say "elasticsearch: unpacked in $(elapsed "$t0") s"
  ) 7>"$root/.opensearch.lock" || exit 1
}

# Writes the node's config dir (rewritten at every start).
es_write_config() {
  local conf dir
  dir=$(es_dir)
  conf=$(es_conf)
  rm -rf -- "$conf"
  mkdir -p -- "$conf" "$dir/data" "$dir/logs" "$dir/tmp"
  cp -r -- "$ES_HOME/config/." "$conf/"
  # jvm.options names paths relative to the working dir (the read-only
  # distribution): point them into the state dir; keep GC logs small
  sed -i -e "s#file=logs/gc.log:\([^:]*\):filecount=[0-9]*,filesize=[0-9a-z]*#file=$dir/logs/gc.log:\1:filecount=2,filesize=16m#" \
    -e "s#^-XX:HeapDumpPath=.*#-XX:HeapDumpPath=$dir/data#" \
    -e "s#^-XX:ErrorFile=logs/#-XX:ErrorFile=$dir/logs/#" "$conf/jvm.options"
  cat >"$conf/opensearch.yml" <<EOF
# generated by ferry scripts/services.sh (rewritten at every start)
cluster.name: ferry-services
node.name: ferry-node
network.host: $HOST
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
discovery.type: single-node
path.data: $dir/data
path.logs: $dir/logs
# a shared build machine's disk may pass the watermarks: never make indices read-only
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  if [[ $(id -u) -eq 0 ]]; then
    chmod 755 -- "$STATE_ROOT" "$dir"
    chown -R "$ES_USER:$ES_USER" -- "$conf" "$dir/data" "$dir/logs" "$dir/tmp"
  fi
}

es_start() {
  local pid t0=$EPOCHREALTIME
  if pid=$(es_pid); then
    say "elasticsearch: already running (pid $pid, $(es_url)); nothing to do"
    return 0
  fi
  [[ -f $(es_pidfile) ]] && rm -f -- "$(es_pidfile)"
  command -v curl >/dev/null || apt_install curl
  es_ensure_user
  es_find_java
  es_install
  local port
  for port in "$ES_PORT" "$ES_TRANSPORT_PORT"; do
    if port_open "$port"; then
      die "elasticsearch: port $HOST:$port is already in use by a process not started by services.sh"
    fi
  done
  es_write_config
  local log dir
  dir=$(es_dir)
  log=$(es_log)
  [[ -f $log ]] && mv -f -- "$log" "$log.prev"
  local runas=()
  [[ $(id -u) -eq 0 ]] && runas=(setpriv "--reuid=$ES_USER" "--regid=$ES_USER" --init-groups)
  say "elasticsearch: starting OpenSearch $OPENSEARCH_VERSION on $(es_url) as" \
    "${ES_USER:+user $ES_USER }(Java $(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$ES_JAVA_HOME/release")," \
    "$ES_HEAP), log $log, node logs $dir/logs"
  # setsid: own session; setpriv and env exec (no fork), so $! becomes the
  # JVM's pid; 9>&-: the server must not inherit our lock
  setsid "${runas[@]}" env -i PATH=/usr/bin:/bin HOME="$dir" LANG=C.UTF-8 \
    OPENSEARCH_JAVA_HOME="$ES_JAVA_HOME" OPENSEARCH_PATH_CONF="$(es_conf)" \
    OPENSEARCH_TMPDIR="$dir/tmp" OPENSEARCH_JAVA_OPTS="$ES_HEAP" \
    "$ES_HOME/bin/opensearch" </dev/null >"$log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$(es_pidfile)"
  # the launcher script first runs a JVM to compute options, then execs the node
  local i
  for ((i = 0; i < 600; i++)); do
    es_pid >/dev/null && break
    pid_alive "$pid" || break
    sleep 0.1
  done
  if ! es_pid >/dev/null || ! wait_until elasticsearch es_pid es_ready; then
    sleep 0.5
    show_log_tail "$log"
    [[ -f $dir/logs/ferry-services.log ]] && show_log_tail "$dir/logs/ferry-services.log"
    if pid_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    stop_by_pidfile elasticsearch es_pid "$(es_pidfile)"
    die "elasticsearch: OpenSearch did not become healthy on $(es_url) (log $log)"
  fi
  local version
  version=$(curl -sf --max-time 3 "$(es_url)/" | sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' | head -n1)
  say "elasticsearch: running (pid $pid, $(es_url), OpenSearch ${version:-?}, cluster health yellow/green)," \
    "ready $(elapsed "$t0") s after start"
}

es_stop() { stop_by_pidfile elasticsearch es_pid "$(es_pidfile)"; }

# ================================================================ dispatch
# Function prefix and port of each service.
svc_prefix() {
  case $1 in
    postgres) echo pg ;;
    s3) echo s3 ;;
    elasticsearch) echo es ;;
  esac
}
svc_port() {
  case $1 in
    postgres) echo "$PG_PORT" ;;
    s3) echo "$S3_PORT" ;;
    elasticsearch) echo "$ES_PORT" ;;
  esac
}

# Prints "state<TAB>pid" for service $1: running (our process answers),
# not-answering (our process is alive but does not answer: starting or stuck),
# port-taken (not ours, but something else listens on its port), stopped.
svc_state() {
  local p pid
  p=$(svc_prefix "$1")
  if pid=$("${p}_pid"); then
    if "${p}_ready" >/dev/null 2>&1; then
      printf 'running\t%s\n' "$pid"
    else
      printf 'not-answering\t%s\n' "$pid"
    fi
  elif port_open "$(svc_port "$1")"; then
    printf 'port-taken\t-\n'
  else
    printf 'stopped\t-\n'
  fi
}

cmd_status() {
  local svc state pid rc=0 taken=0
  printf '%-14s %-14s %-48s %s\n' SERVICE STATE ADDRESS PID
  for svc in "$@"; do
    IFS=$'\t' read -r state pid <<<"$(svc_state "$svc")"
    [[ $state == running ]] || rc=3
    [[ $state == port-taken ]] && taken=1
    printf '%-14s %-14s %-48s %s\n' "$svc" "$state" "$("$(svc_prefix "$svc")_url")" "$pid"
  done
  if [[ $taken == 1 ]]; then
    echo "(port-taken: a server not started by services.sh listens on the port)"
  fi
  return "$rc"
}

# Runs start/stop of service $2 under its lock (start/stop of one service by
# concurrent callers are serialised; fd 9 is not passed on to the servers).
with_lock() {
  local cmd=$1 svc=$2 dir
  dir=$(svc_dir "$svc")
  mkdir -p -- "$dir"
  exec 9>"$dir/.lock"
  if ! flock -w 900 9; then die "$svc: timed out waiting for the lock $dir/.lock"; fi
  local p pid
  p=$(svc_prefix "$svc")
  if [[ $cmd == start ]] && pid=$("${p}_pid") && ! "${p}_ready" >/dev/null 2>&1; then
    # ours, but not answering (yet): give it the start timeout, do not start another
    say "$svc: running (pid $pid) but not answering on $("${p}_url")"
    wait_until "$svc" "${p}_pid" "${p}_ready" ||
      die "$svc: pid $pid does not answer; 'scripts/services.sh stop $svc' and start it again"
  fi
  local was_running=0
  "${p}_pid" >/dev/null && was_running=1
  "${p}_$cmd"
  if [[ $cmd == start && $was_running == 0 && -n ${FERRY_SERVICES_STARTED_FILE:-} ]]; then
    echo "$svc" >>"$FERRY_SERVICES_STARTED_FILE"
  fi
  exec 9>&-
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1 svc list=()
  shift
  for svc in "$@"; do
    case $svc in
      postgres | postgresql | pg) list+=(postgres) ;;
      s3 | moto) list+=(s3) ;;
      elasticsearch | es | opensearch) list+=(elasticsearch) ;;
      -h | --help) usage ;;
      *)
        echo "services.sh: unknown service: $svc" >&2
        usage
        ;;
    esac
  done
  [[ ${#list[@]} -gt 0 ]] || list=("${ALL_SERVICES[@]}")
  case $cmd in
    start)
      local t0=$EPOCHREALTIME
      for svc in "${list[@]}"; do with_lock start "$svc"; done
      say "started ${list[*]} in $(elapsed "$t0") s"
      ;;
    stop)
      # stop in reverse order of start
      local i
      for ((i = ${#list[@]} - 1; i >= 0; i--)); do with_lock stop "${list[$i]}"; done
      ;;
    status) cmd_status "${list[@]}" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
