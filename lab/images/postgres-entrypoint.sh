#!/usr/bin/env bash
# Entrypoint of the lab's PostgreSQL image (written for appsnap, not copied).
# Honours the documented contract of the official postgres image:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD,
#   the *_FILE variants, PGDATA, initdb only when PGDATA is empty,
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz, and a first
#   argument starting with '-' meaning "postgres <args>".
# Started as root it prepares PGDATA and re-executes itself as postgres (gosu);
# started as any other uid (Kubernetes runAsUser) it runs as that uid, and initdb,
# which needs a passwd entry for the current uid, gets one from nss_wrapper.
set -Eeo pipefail

log() { echo "appsnap-postgres-entrypoint: $*" >&2; }

# file_env VAR [DEFAULT]: VAR or the content of the file named by VAR_FILE
file_env() {
  local var=$1 def=${2:-} fvar="${1}_FILE" val
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
    log "both $var and $fvar are set (but are exclusive)"; exit 1
  fi
  val=$def
  if [ -n "${!var:-}" ]; then val=${!var}
  elif [ -n "${!fvar:-}" ]; then val=$(< "${!fvar}"); fi
  export "$var"="$val"
  unset "$fvar"
}

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

wants_help() { local a; for a in "$@"; do case $a in -'?'|--help|--describe-config|-V|--version) return 0;; esac; done; return 1; }

if [ "$1" != postgres ] || wants_help "$@"; then exec "$@"; fi

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA" || :
  chown -R postgres:postgres "$PGDATA" || :
  chown postgres:postgres /var/run/postgresql; chmod 03775 /var/run/postgresql
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"; chown -R postgres:postgres "$POSTGRES_INITDB_WALDIR"; chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

# not root: prepare what this uid may (chmod fails on what it does not own; initdb and
# postgres then report it). /var/run/postgresql is 3777 in the image, so any uid can
# put its socket and lock file there.
mkdir -p "$PGDATA"; chmod 00700 "$PGDATA" 2>/dev/null || :
mkdir -p /var/run/postgresql 2>/dev/null || :
if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
  mkdir -p "$POSTGRES_INITDB_WALDIR"; chmod 700 "$POSTGRES_INITDB_WALDIR" 2>/dev/null || :
fi

# with_passwd_entry CMD...: run CMD; when the current uid has no passwd entry (an
# arbitrary runAsUser), run it under nss_wrapper with a copy of /etc/passwd in which
# the postgres entry carries the current uid and gid (and a copy of /etc/group in
# which the postgres group carries the current gid, unless that gid has a group of
# its own). Only initdb needs this ("could not look up effective user ID"): the
# server, pg_ctl and psql with --username do not, so nothing else runs with it.
with_passwd_entry() {
  local uid gid dir rc=0
  uid=$(id -u); gid=$(id -g)
  if getent passwd "$uid" > /dev/null; then "$@"; return; fi
  if ! compgen -G '/usr/lib/*/libnss_wrapper.so' > /dev/null; then
    log "uid $uid has no passwd entry and libnss_wrapper.so is missing; trying anyway"
    "$@"; return
  fi
  dir=$(mktemp -d)
  awk -F: -v OFS=: -v uid="$uid" -v gid="$gid" '$1 == "postgres" { $3 = uid; $4 = gid } { print }' \
    /etc/passwd > "$dir/passwd"
  if getent group "$gid" > /dev/null; then cp /etc/group "$dir/group"
  else awk -F: -v OFS=: -v gid="$gid" '$1 == "postgres" { $3 = gid } { print }' /etc/group > "$dir/group"; fi
  log "uid $uid has no passwd entry: running $1 under nss_wrapper as postgres ($uid:$gid)"
  LD_PRELOAD="libnss_wrapper.so${LD_PRELOAD:+ $LD_PRELOAD}" \
    NSS_WRAPPER_PASSWD=$dir/passwd NSS_WRAPPER_GROUP=$dir/group "$@" || rc=$?
  rm -rf "$dir"
  return "$rc"
}

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
auth=${POSTGRES_HOST_AUTH_METHOD:-}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    log "database is uninitialized and superuser password is not specified."
    log "set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)"; exit 1
  fi
  if [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
    log "PGDATA=$PGDATA is not empty but has no PG_VERSION; initdb would refuse"; fi
  initdb_args=(--username="$POSTGRES_USER")
  [ -n "${POSTGRES_INITDB_WALDIR:-}" ] && initdb_args+=(--waldir "$POSTGRES_INITDB_WALDIR")
  log "running initdb in $PGDATA"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is word-split on purpose
  with_passwd_entry initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  if [ -z "$auth" ]; then
    if [ -n "$POSTGRES_PASSWORD" ]; then auth=scram-sha-256; else auth=trust; fi
  fi
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

  # temporary server, unix socket only
  PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD \
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  psql_cmd=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  export PGPASSWORD=$POSTGRES_PASSWORD
  if [ "$POSTGRES_DB" != postgres ]; then
    exists=$("${psql_cmd[@]}" --dbname postgres -tA -v db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "$exists" ]; then
      "${psql_cmd[@]}" --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
  fi
  # shellcheck disable=SC1090  # sources the user's *.sh scripts
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh) if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
      *.sql) log "running $f"; "${psql_cmd[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql_cmd[@]}" --dbname "$POSTGRES_DB" ;;
      *.sql.xz) log "running $f"; xzcat "$f" | "${psql_cmd[@]}" --dbname "$POSTGRES_DB" ;;
      *) log "ignoring $f" ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  log "init process complete; ready for start up"
else
  log "PostgreSQL database directory appears to contain a database; skipping initialization"
fi

exec "$@"
