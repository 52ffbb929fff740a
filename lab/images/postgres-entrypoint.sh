#!/usr/bin/env bash
# Entrypoint of the lab's PostgreSQL image (written for appsnap, not copied).
# Honours the documented contract of the official postgres image:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD,
#   the *_FILE variants, PGDATA, initdb only when PGDATA is empty,
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz, and a first
#   argument starting with '-' meaning "postgres <args>".
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

mkdir -p "$PGDATA"; chmod 00700 "$PGDATA" 2>/dev/null || :

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
  initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
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
