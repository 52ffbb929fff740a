#!/usr/bin/env bash
# PostgreSQL 15 image from Debian bookworm packages: localhost/appsnap/postgres:15
# Root filesystem by mmdebstrap (minbase), assembled with umoci, our own entrypoint.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
h=$(cat "$0" "$here/postgres-entrypoint.sh" "$here/lib.sh" | sha256sum | cut -c1-12)
out=$IMG_DIR/postgres-$h.tar
[ -s "$out" ] && { echo "$out"; exit 0; }
echo "[image] building postgres (mmdebstrap, ~1-2 min) -> $out" >&2
work=$(mktemp -d "$APPSNAP_CACHE/tmp-postgres.XXXXXX"); trap 'rm -rf "$work"' EXIT
cd "$work"
mmdebstrap --quiet --variant=minbase --include=postgresql-15,gosu,bash,tzdata,xz-utils \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --setup-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d"' \
  --setup-hook='printf "create_main_cluster = false\n" > "$1/etc/postgresql-common/createcluster.d/appsnap.conf"' \
  --customize-hook='sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '"'"'*'"'"'!" "$1/usr/share/postgresql/15/postgresql.conf.sample"' \
  --customize-hook='grep -F "listen_addresses = '"'"'*'"'"'" "$1/usr/share/postgresql/15/postgresql.conf.sample"' \
  --customize-hook='mkdir -p "$1/docker-entrypoint-initdb.d" "$1/var/lib/postgresql/data" "$1/var/run/postgresql"' \
  --customize-hook='chroot "$1" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql' \
  --customize-hook='chmod 03775 "$1/var/run/postgresql"; chmod 0700 "$1/var/lib/postgresql/data"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
  bookworm root \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"
install -m 0755 "$here/postgres-entrypoint.sh" root/usr/local/bin/docker-entrypoint.sh
[ -x root/usr/lib/postgresql/15/bin/pgbench ] || echo "[image] note: pgbench not in postgresql-15" >&2
for b in pg_dump psql pg_isready postgres initdb pg_ctl; do [ -x root/usr/lib/postgresql/15/bin/$b ] || { echo "missing $b" >&2; exit 1; }; done
umoci init --layout oci
umoci new --image oci:15
umoci insert --image oci:15 root /
umoci config --image oci:15 --architecture=amd64 --os=linux \
  --config.entrypoint=/usr/local/bin/docker-entrypoint.sh --config.cmd=postgres \
  --config.env=PGDATA=/var/lib/postgresql/data \
  --config.env=PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env=LANG=C.UTF-8 --config.env=PG_MAJOR=15 \
  --config.stopsignal=SIGINT --config.exposedports=5432/tcp --config.volume=/var/lib/postgresql/data
oci_layout_to_tar oci 15 localhost/appsnap/postgres:15 "$out"
prune_old postgres "$out"
echo "$out"
