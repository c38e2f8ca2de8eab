#!/usr/bin/env bash
# Provides the real services the tests and the demo need: the Temporal CLI binary (dev server),
# a private PostgreSQL cluster and an S3 server (versitygw, posix backend), and promtool for the
# alert rule tests (deploy/prometheus). Idempotent.
#
#   bash scripts/services.sh up|down|status|env
#
# State lives in ${TRAINSET_HOME:-<repo>/.trainset}; built tools in ${TRAINSET_TOOLS:-~/.cache/trainset/bin}.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRAINSET_HOME="${TRAINSET_HOME:-$REPO_ROOT/.trainset}"
TRAINSET_TOOLS="${TRAINSET_TOOLS:-$HOME/.cache/trainset/bin}"
PG_PORT="${TRAINSET_PG_PORT:-55432}"
S3_PORT="${TRAINSET_S3_PORT:-7070}"

TEMPORAL_CLI_VERSION="v1.5.1"
TEMPORAL_CLI_MODULE="github.com/temporalio/cli"
VERSITYGW_VERSION="v1.7.0"
VERSITYGW_MODULE="github.com/versity/versitygw"
PROMTOOL_VERSION="v0.316.0"
PROMTOOL_MODULE="github.com/prometheus/prometheus"
# The Go release that PROMTOOL_MODULE's go.mod asks for, and the approved newer toolchain the go command fetches
# from the module proxy when the local Go is older (only for this build: nothing else needs it).
PROMTOOL_MIN_GO="1.26.7"
PROMTOOL_GOTOOLCHAIN="go1.27.3"

PG_USER="trainset"
PG_PASSWORD="trainset"
PG_DB="trainset"
S3_ACCESS_KEY="trainset"
S3_SECRET_KEY="trainset-secret"
S3_BUCKET="trainset-test"
S3_REGION="us-east-1"

S3_DIR="$TRAINSET_HOME/s3"
S3_PIDFILE="$TRAINSET_HOME/versitygw.pid"
S3_LOG="$TRAINSET_HOME/versitygw.log"
ENV_FILE="$TRAINSET_HOME/services.env"

log() { printf '[services] %s\n' "$*" >&2; }
die() {
  printf '[services] ERROR: %s\n' "$*" >&2
  exit 1
}
is_root() { [[ "$(id -u)" == "0" ]]; }

# ---------------------------------------------------------------- Go tools

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

# A binary that a plain `go install` left in $(go env GOPATH)/bin counts only if its embedded
# module version is exactly the pinned one (`go version -m` reads it from the binary).
gopath_binary_at_version() {
  local name="$1" module="$2" version="$3" go bin
  go="$(find_go)" || return 1
  bin="$("$go" env GOPATH)/bin/$name"
  [[ -x "$bin" ]] || return 1
  "$go" version -m "$bin" 2>/dev/null | awk -v m="$module" -v v="$version" '$1 == "mod" && $2 == m && $3 == v { ok = 1 } END { exit !ok }' || return 1
  echo "$bin"
}

# Builds (or copies from GOPATH/bin) `name` into $TRAINSET_TOOLS; prints the resulting path.
install_go_tool() {
  local name="$1" pkg="$2" module="$3" version="$4" go existing start elapsed
  mkdir -p "$TRAINSET_TOOLS"
  if existing="$(gopath_binary_at_version "$name" "$module" "$version")"; then
    log "copying $existing ($module@$version, built earlier by go install) into $TRAINSET_TOOLS"
    cp "$existing" "$TRAINSET_TOOLS/$name.tmp.$$"
    mv -f "$TRAINSET_TOOLS/$name.tmp.$$" "$TRAINSET_TOOLS/$name"
    echo "$TRAINSET_TOOLS/$name"
    return 0
  fi
  go="$(find_go)" || die "$name is missing and Go is not installed to build it. Install Go >= 1.22 (https://go.dev/dl, or put it at /usr/local/go), or put a '$name' binary on PATH or at $TRAINSET_TOOLS/$name."
  start=$SECONDS
  GOBIN="$TRAINSET_TOOLS" "$go" install "$pkg@$version" >&2 ||
    die "go install $pkg@$version failed (see output above). It needs the Go module proxy; set GOPROXY if yours differs, or put a '$name' binary on PATH or at $TRAINSET_TOOLS/$name."
  elapsed=$((SECONDS - start))
  log "built $name $version in ${elapsed}s -> $TRAINSET_TOOLS/$name"
  [[ -x "$TRAINSET_TOOLS/$name" ]] || die "go install reported success but $TRAINSET_TOOLS/$name is missing."
  echo "$TRAINSET_TOOLS/$name"
}

# Resolution order: $TEMPORAL_CLI_PATH, `temporal` on PATH, $TRAINSET_TOOLS/temporal, then build (when $1 == build).
# An installed tool: the path in environment variable $2 when set (it must be executable), else $1 on PATH, else
# $TRAINSET_TOOLS/$1; fails when there is none.
installed_tool() {
  local name="$1" var="${2:-}"
  if [[ -n "$var" && -n "${!var:-}" ]]; then
    [[ -x "${!var}" ]] || die "$var=${!var} is not an executable file. Fix or unset it."
    echo "${!var}"
    return 0
  fi
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return 0
  fi
  if [[ -x "$TRAINSET_TOOLS/$name" ]]; then
    echo "$TRAINSET_TOOLS/$name"
    return 0
  fi
  return 1
}

resolve_temporal() {
  local mode="${1:-build}"
  installed_tool temporal TEMPORAL_CLI_PATH && return 0
  [[ "$mode" == "build" ]] || return 1
  if ! gopath_binary_at_version temporal "$TEMPORAL_CLI_MODULE" "$TEMPORAL_CLI_VERSION" >/dev/null; then
    log "building Temporal CLI $TEMPORAL_CLI_VERSION with go install (takes a few minutes)..."
  fi
  install_go_tool temporal "$TEMPORAL_CLI_MODULE/cmd/temporal" "$TEMPORAL_CLI_MODULE" "$TEMPORAL_CLI_VERSION"
}

resolve_versitygw() {
  local mode="${1:-build}"
  installed_tool versitygw && return 0
  [[ "$mode" == "build" ]] || return 1
  if ! gopath_binary_at_version versitygw "$VERSITYGW_MODULE" "$VERSITYGW_VERSION" >/dev/null; then
    log "building versitygw $VERSITYGW_VERSION with go install (takes a few minutes)..."
  fi
  install_go_tool versitygw "$VERSITYGW_MODULE/cmd/versitygw" "$VERSITYGW_MODULE" "$VERSITYGW_VERSION"
}

# Resolution order: $PROMTOOL_PATH, `promtool` on PATH, $TRAINSET_TOOLS/promtool, then build (when $1 == build).
resolve_promtool() {
  local mode="${1:-build}" go goversion toolchain
  installed_tool promtool PROMTOOL_PATH && return 0
  [[ "$mode" == "build" ]] || return 1
  toolchain=""
  if go="$(find_go)"; then
    goversion="$("$go" env GOVERSION 2>/dev/null || true)"
    goversion="${goversion#go}"
    if [[ -n "$goversion" && "$(printf '%s\n%s\n' "$PROMTOOL_MIN_GO" "$goversion" | sort -V | head -n1)" != "$PROMTOOL_MIN_GO" ]]; then
      log "promtool $PROMTOOL_VERSION needs Go >= $PROMTOOL_MIN_GO (this is $goversion): building it with GOTOOLCHAIN=$PROMTOOL_GOTOOLCHAIN"
      toolchain="$PROMTOOL_GOTOOLCHAIN"
    fi
  fi
  if ! gopath_binary_at_version promtool "$PROMTOOL_MODULE" "$PROMTOOL_VERSION" >/dev/null; then
    log "building promtool $PROMTOOL_VERSION with go install (takes a few minutes)..."
  fi
  if [[ -n "$toolchain" ]]; then
    GOTOOLCHAIN="$toolchain" install_go_tool promtool "$PROMTOOL_MODULE/cmd/promtool" "$PROMTOOL_MODULE" "$PROMTOOL_VERSION"
  else
    install_go_tool promtool "$PROMTOOL_MODULE/cmd/promtool" "$PROMTOOL_MODULE" "$PROMTOOL_VERSION"
  fi
}

promtool_up() {
  local bin
  bin="$(resolve_promtool build)"
  "$bin" --version >/dev/null 2>&1 || die "promtool at $bin does not run ('$bin --version' failed). Delete it and rerun, or set PROMTOOL_PATH to a working binary."
  log "promtool: $bin ($("$bin" --version 2>/dev/null | head -n1))"
}

temporal_up() {
  local bin
  bin="$(resolve_temporal build)"
  "$bin" --version >/dev/null 2>&1 || die "the Temporal CLI at $bin does not run ('$bin --version' failed). Delete it and rerun, or set TEMPORAL_CLI_PATH to a working binary."
  log "temporal: $bin ($("$bin" --version 2>/dev/null | head -n1))"
}

# ---------------------------------------------------------------- PostgreSQL

pg_bindir() {
  local initdb
  initdb="$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n "$initdb" ]] || return 1
  dirname "$initdb"
}

pg_install() {
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin/initdb) and apt-get is not available. Install PostgreSQL >= 14 server packages."
  is_root || die "PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin/initdb). Install them: sudo apt-get install -y postgresql"
  log "installing PostgreSQL from Debian packages (apt-get install postgresql)..."
  local start=$SECONDS
  # The package may create and start its own 'main' cluster on 5432; we leave that one alone and never use it.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed; PostgreSQL cannot be installed."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed (see output above)."
  log "installed PostgreSQL in $((SECONDS - start))s"
}

# The server refuses to run as root, so as root the cluster runs as the 'postgres' OS user, which must be able
# to reach its data dir. When TRAINSET_HOME sits below a private dir (e.g. a clone in /root), use a dir under /tmp.
pg_home() {
  if [[ -n "${TRAINSET_PG_DIR:-}" ]]; then
    echo "$TRAINSET_PG_DIR"
  elif ! is_root || runuser -u postgres -- test -x "$TRAINSET_HOME" 2>/dev/null; then
    echo "$TRAINSET_HOME/pg"
  else
    echo "${TMPDIR:-/tmp}/trainset-pg-$(printf '%s' "$TRAINSET_HOME" | cksum | cut -d' ' -f1)"
  fi
}

as_pg() {
  if is_root; then
    # From /: the caller's cwd may be unreadable for postgres (e.g. a clone in /root).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

database_url() { echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"; }

pg_healthy() {
  local bindir="$1"
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1 || return 1
  [[ "$("$bindir/psql" "$(database_url)" -X -tAc 'SELECT 1' 2>/dev/null)" == "1" ]]
}

pg_running() {
  local bindir="$1" data
  data="$(pg_home)/data"
  [[ -f "$data/PG_VERSION" ]] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_up() {
  local bindir home data sock pglog
  if ! bindir="$(pg_bindir)"; then
    pg_install
    bindir="$(pg_bindir)" || die "PostgreSQL install finished but /usr/lib/postgresql/*/bin/initdb is still missing."
  fi
  if is_root; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' OS user is missing (it comes with Debian's postgresql package): reinstall it with apt-get install --reinstall postgresql-common"
  fi
  home="$(pg_home)"
  data="$home/data"
  sock="$home/run"
  pglog="$home/postgres.log"
  if pg_running "$bindir"; then
    if pg_healthy "$bindir"; then
      log "postgres: already running on 127.0.0.1:$PG_PORT ($data)"
      return 0
    fi
    log "postgres: running but not healthy on port $PG_PORT; restarting it"
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
  port_in_use "$PG_PORT" && die "port $PG_PORT is taken by another process, not our PostgreSQL ($data). Stop it or pick another port: TRAINSET_PG_PORT=<port> bash scripts/services.sh up"

  mkdir -p "$home" "$sock"
  if [[ "$home" != "$TRAINSET_HOME/pg" ]]; then
    log "postgres: $TRAINSET_HOME is not reachable by the 'postgres' OS user; keeping the cluster in $home"
  fi
  is_root && chown postgres: "$home" "$sock"
  if [[ ! -f "$data/PG_VERSION" ]]; then
    rm -rf "$data" # a half-made dir from an interrupted initdb is ours to redo
    log "postgres: initdb $data"
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 ||
      die "initdb failed; see $home/initdb.log"
  fi
  local start=$SECONDS
  as_pg "$bindir/pg_ctl" -D "$data" -l "$pglog" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$sock" start >/dev/null 2>&1 ||
    die "PostgreSQL did not start; last lines of $pglog:
$(tail -n 20 "$pglog" 2>/dev/null)"

  local superuser=("$bindir/psql" -X -q -h "$sock" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  if [[ "$("${superuser[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]]; then
    "${superuser[@]}" -c "CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'" >/dev/null
  fi
  if [[ "$("${superuser[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]]; then
    "${superuser[@]}" -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
  fi
  pg_healthy "$bindir" || die "PostgreSQL started but 'SELECT 1' through $(database_url) failed; see $pglog"
  log "postgres: up on 127.0.0.1:$PG_PORT in $((SECONDS - start))s ($data)"
}

pg_down() {
  local bindir data
  bindir="$(pg_bindir)" || return 0
  data="$(pg_home)/data"
  if pg_running "$bindir"; then
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    log "postgres: stopped"
  else
    log "postgres: not running"
  fi
}

# ---------------------------------------------------------------- S3 (versitygw)

s3_admin() {
  [[ -d "$REPO_ROOT/node_modules/@aws-sdk/client-s3" ]] || die "node_modules/@aws-sdk/client-s3 is missing; run 'npm ci' first."
  S3_ENDPOINT="http://127.0.0.1:$S3_PORT" S3_REGION="$S3_REGION" AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" \
    AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" node --no-warnings "$REPO_ROOT/scripts/s3-admin.cjs" "$@"
}

s3_pid() {
  local pid
  [[ -f "$S3_PIDFILE" ]] || return 1
  pid="$(cat "$S3_PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q versitygw "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

s3_up() {
  local bin pid start
  bin="$(resolve_versitygw build)"
  if pid="$(s3_pid)"; then
    if s3_admin health >/dev/null 2>&1; then
      s3_admin ensure-bucket "$S3_BUCKET" >/dev/null
      log "s3: already running on 127.0.0.1:$S3_PORT (pid $pid, bucket $S3_BUCKET)"
      return 0
    fi
    log "s3: versitygw (pid $pid) does not answer; restarting it"
    s3_down
  fi
  rm -f "$S3_PIDFILE"
  port_in_use "$S3_PORT" && die "port $S3_PORT is taken by another process, not our versitygw. Stop it or pick another port: TRAINSET_S3_PORT=<port> bash scripts/services.sh up"
  mkdir -p "$S3_DIR"
  start=$SECONDS
  # setsid: the server outlives this script and a Ctrl-C in the terminal that ran `npm test`.
  setsid nohup "$bin" --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" --region "$S3_REGION" \
    --port "127.0.0.1:$S3_PORT" --quiet posix "$S3_DIR" >>"$S3_LOG" 2>&1 </dev/null &
  echo $! >"$S3_PIDFILE"
  local ok=""
  for _ in $(seq 1 60); do
    # Only liveness here: right after the fork the pid may not have exec'd into versitygw yet.
    kill -0 "$(cat "$S3_PIDFILE")" 2>/dev/null || break
    if s3_admin health >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.5
  done
  [[ -n "$ok" ]] || die "versitygw did not answer S3 ListBuckets on 127.0.0.1:$S3_PORT within 30s; last lines of $S3_LOG:
$(tail -n 20 "$S3_LOG" 2>/dev/null)"
  s3_admin ensure-bucket "$S3_BUCKET" >/dev/null
  log "s3: versitygw up on 127.0.0.1:$S3_PORT in $((SECONDS - start))s (pid $(cat "$S3_PIDFILE"), bucket $S3_BUCKET, data $S3_DIR)"
}

s3_down() {
  local pid
  if pid="$(s3_pid)"; then
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "s3: stopped (pid $pid)"
  else
    log "s3: not running"
  fi
  rm -f "$S3_PIDFILE"
}

# ---------------------------------------------------------------- commands

env_lines() {
  local temporal promtool
  temporal="$(resolve_temporal nobuild)" || die "the Temporal CLI is not available yet; run 'bash scripts/services.sh up' first."
  promtool="$(resolve_promtool nobuild)" || die "promtool is not available yet; run 'bash scripts/services.sh up' first."
  cat <<EOF
export TEMPORAL_CLI_PATH='$temporal'
export PROMTOOL_PATH='$promtool'
export DATABASE_URL='$(database_url)'
export S3_ENDPOINT='http://127.0.0.1:$S3_PORT'
export S3_BUCKET='$S3_BUCKET'
export S3_REGION='$S3_REGION'
export AWS_ACCESS_KEY_ID='$S3_ACCESS_KEY'
export AWS_SECRET_ACCESS_KEY='$S3_SECRET_KEY'
export S3_FORCE_PATH_STYLE='true'
EOF
}

cmd_up() {
  local start=$SECONDS
  mkdir -p "$TRAINSET_HOME"
  temporal_up
  promtool_up
  pg_up
  s3_up
  env_lines >"$ENV_FILE.tmp.$$"
  mv -f "$ENV_FILE.tmp.$$" "$ENV_FILE"
  log "all services up in $((SECONDS - start))s; environment written to $ENV_FILE"
}

cmd_down() {
  s3_down
  pg_down
}

cmd_status() {
  local temporal promtool bindir pid failed=0
  if temporal="$(resolve_temporal nobuild)"; then
    echo "temporal: available at $temporal"
  else
    echo "temporal: MISSING (run: bash scripts/services.sh up)"
    failed=1
  fi
  if promtool="$(resolve_promtool nobuild)"; then
    echo "promtool: available at $promtool"
  else
    echo "promtool: MISSING (run: bash scripts/services.sh up)"
    failed=1
  fi
  if bindir="$(pg_bindir)" && pg_healthy "$bindir"; then
    echo "postgres: healthy at $(database_url) (data $(pg_home)/data)"
  else
    echo "postgres: DOWN (port $PG_PORT)"
    failed=1
  fi
  if pid="$(s3_pid)" && s3_admin health >/dev/null 2>&1; then
    echo "s3: healthy at http://127.0.0.1:$S3_PORT (pid $pid, data $S3_DIR)"
  else
    echo "s3: DOWN (port $S3_PORT)"
    failed=1
  fi
  return "$failed"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) env_lines ;;
  *)
    echo "usage: bash scripts/services.sh up|down|status|env" >&2
    exit 2
    ;;
esac
