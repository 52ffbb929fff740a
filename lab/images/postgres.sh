#!/usr/bin/env bash
# PostgreSQL images from Debian packages, one recipe for every major:
#   localhost/appsnap/postgres:15  postgresql-15 from Debian bookworm
#   localhost/appsnap/postgres:17  postgresql-17 from Debian trixie
#   localhost/appsnap/postgres:18  postgresql-18 from Debian sid
# Root filesystem by mmdebstrap (minbase), assembled with umoci, our own entrypoint
# (postgres-entrypoint.sh, the same for every major). Runs as root (drops to postgres) or as
# any other uid: libnss-wrapper gives initdb a passwd entry, /run/postgresql is 3777 and
# /var/lib/postgresql 1777, as in the official image. Like the official image it carries zstd and
# xz-utils: the plain-compressed dump format replays through `zstd -dc` (gzip is in every image).
#   usage: lab/images/postgres.sh [MAJOR...]   (default: all; prints one tarball path a line)
# Output: $APPSNAP_CACHE/images/postgres-<major>-<hash>.tar (<hash>: this script, the
# entrypoint and lib.sh). sid moves: a rebuild may bring newer packages than the cached image.
# shellcheck source=lab/images/lib.sh
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
h=$(recipe_hash "$0" "$here/postgres-entrypoint.sh")

# major:the Debian suite that ships postgresql-<major> (the images this recipe builds)
SUITES=(15:bookworm 17:trixie 18:sid)
suite_of() { local s; for s in "${SUITES[@]}"; do [ "${s%%:*}" = "$1" ] && { echo "${s#*:}"; return 0; }; done; return 1; }

build() { # MAJOR: prints the tarball path (building it when missing); run it in a subshell
  local major=$1 suite out t0 b
  suite=$(suite_of "$major") || { echo "[image] postgres: no Debian suite known for major '$major'" >&2; return 1; }
  out=$LAB_IMAGES/postgres-$major-$h.tar
  [ -s "$out" ] && { echo "$out"; return 0; }
  echo "[image] building postgres $major (Debian $suite, mmdebstrap, ~1-2 min) -> $out" >&2
  t0=$SECONDS
  work=$(mktemp -d "$APPSNAP_CACHE/tmp-postgres-$major.XXXXXX"); trap 'rm -rf "$work"' EXIT  # global: the trap runs after build returns
  cd "$work" || return 1
  local sources=("deb http://deb.debian.org/debian $suite main")
  [ "$suite" = sid ] || sources+=("deb http://deb.debian.org/debian $suite-updates main"
                                  "deb http://deb.debian.org/debian-security $suite-security main")
  # Hooks are sh snippets, $1 = the root directory; PG_MAJOR reaches them through the
  # environment. Paths below /var/run go through chroot: /var/run -> /run is an absolute
  # symlink, which outside the chroot would name the host's /run.
  # shellcheck disable=SC2016  # $1 and $PG_MAJOR are expanded by the hook's sh
  # Acquire::Check-Valid-Until=false (as in this machine's own apt configuration): the
  # Debian mirror here may serve a suite past its Release file's Valid-Until (sid's is a
  # week); the signatures are still checked.
  PG_MAJOR=$major mmdebstrap --quiet --variant=minbase --include="postgresql-$major,gosu,bash,tzdata,xz-utils,zstd,libnss-wrapper" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d"' \
    --setup-hook='printf "create_main_cluster = false\n" > "$1/etc/postgresql-common/createcluster.d/appsnap.conf"' \
    --customize-hook='sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '"'"'*'"'"'!" "$1/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"' \
    --customize-hook='grep -F "listen_addresses = '"'"'*'"'"'" "$1/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"' \
    --customize-hook='mkdir -p "$1/docker-entrypoint-initdb.d" "$1/var/lib/postgresql/data"' \
    --customize-hook='chroot "$1" chown -R postgres:postgres /var/lib/postgresql' \
    --customize-hook='chmod 0700 "$1/var/lib/postgresql/data"' \
    --customize-hook='chmod 1777 "$1/var/lib/postgresql"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    "$suite" root "${sources[@]}"
  # the socket directory (mmdebstrap empties /run at the end), as in the official image:
  # owned by postgres, world-writable so that any uid (runAsUser) can create its socket
  # and lock file, sticky so that no uid can remove another's, setgid (group postgres)
  install -d -m 03777 -o "$(chroot root id -u postgres)" -g "$(chroot root id -g postgres)" root/run/postgresql
  install -m 0755 "$here/postgres-entrypoint.sh" root/usr/local/bin/docker-entrypoint.sh
  local bin=root/usr/lib/postgresql/$major/bin
  [ -x "$bin/pgbench" ] || echo "[image] note: pgbench not in postgresql-$major" >&2
  for b in postgres initdb pg_ctl pg_dump pg_dumpall pg_restore psql pg_isready; do
    [ -x "$bin/$b" ] || { echo "[image] postgres $major: missing $bin/$b" >&2; return 1; }
  done
  # the plain-compressed format's decompressors (zstd for PostgreSQL 16+, gzip otherwise)
  chroot root sh -c 'command -v zstd && command -v gzip' > /dev/null || { echo "[image] postgres $major: zstd or gzip missing" >&2; return 1; }
  # the entrypoint's non-root path: LD_PRELOAD=libnss_wrapper.so, awk
  if ! compgen -G 'root/usr/lib/*/libnss_wrapper.so' > /dev/null || [ ! -x root/usr/bin/awk ]; then
    echo "[image] postgres $major: libnss_wrapper.so or awk missing" >&2; return 1
  fi
  umoci init --layout oci
  umoci new --image "oci:$major"
  umoci insert --image "oci:$major" root /
  umoci config --image "oci:$major" --architecture=amd64 --os=linux \
    --config.entrypoint=/usr/local/bin/docker-entrypoint.sh --config.cmd=postgres \
    --config.env=PGDATA=/var/lib/postgresql/data \
    --config.env="PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.env=LANG=C.UTF-8 --config.env="PG_MAJOR=$major" \
    --config.stopsignal=SIGINT --config.exposedports=5432/tcp --config.volume=/var/lib/postgresql/data
  oci_layout_to_tar oci "$major" "localhost/appsnap/postgres:$major" "$out"
  prune_old "postgres-$major" "$out"
  echo "[image] postgres $major built in $((SECONDS - t0))s ($(du -m "$out" | cut -f1) MiB)" >&2
  echo "$out"
}

[ $# -gt 0 ] || set -- "${SUITES[@]%%:*}"
for major in "$@"; do ( build "$major" ); done
prune_old postgres ""  # the single-major recipe's postgres-<hash>.tar (was :15)
