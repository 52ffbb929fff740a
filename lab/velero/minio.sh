#!/usr/bin/env bash
# MinIO as a host process for the lab's BackupStorageLocation.
#   lab/velero/minio.sh start   start (if not running), wait until live, create bucket `velero`
#   lab/velero/minio.sh stop    stop the pid in the pid file
#   lab/velero/minio.sh status  print "minio: running pid N on ADDR" or "minio: stopped"
# Listens on $APPSNAP_MINIO_ADDR (default 10.88.0.1:9000, the lab bridge appsnap0, so
# pods and the host both reach it). Data: /var/lib/appsnap-lab/minio; log: .../logs/minio.log.
set -euo pipefail
# shellcheck source=lab/velero/common.sh
. "$(dirname "$0")/common.sh"
MINIO="$MINIO_BIN_DIR/minio"

minio_pid() {  # prints the pid if the pid file points at a live minio process
  local pid
  [ -s "$MINIO_PIDFILE" ] || return 1
  pid=$(cat "$MINIO_PIDFILE")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "minio server" || return 1
  echo "$pid"
}

live() { curl -fs -m 2 -o /dev/null "http://$MINIO_ADDR/minio/health/live"; }

make_bucket() {
  # S3 CreateBucket, signed with SigV4 by curl itself (no mc / aws CLI needed).
  local code
  code=$(curl -sS -m 10 -o /tmp/appsnap-minio-mb.$$ -w '%{http_code}' -X PUT \
    --aws-sigv4 "aws:amz:$MINIO_REGION:s3" --user "$MINIO_USER:$MINIO_PASSWORD" \
    "http://$MINIO_ADDR/$VELERO_BUCKET")
  case "$code" in
    200) say "minio: created bucket $VELERO_BUCKET" ;;
    409) grep -q BucketAlreadyOwnedByYou /tmp/appsnap-minio-mb.$$ || { cat /tmp/appsnap-minio-mb.$$ >&2; rm -f /tmp/appsnap-minio-mb.$$; die "minio: bucket create: HTTP 409"; }
         say "minio: bucket $VELERO_BUCKET exists" ;;
    *)   cat /tmp/appsnap-minio-mb.$$ >&2; rm -f /tmp/appsnap-minio-mb.$$; die "minio: bucket create: HTTP $code" ;;
  esac
  rm -f /tmp/appsnap-minio-mb.$$
}

start() {
  local pid
  if pid=$(minio_pid); then
    say "minio: already running (pid $pid)"
  else
    [ -x "$MINIO" ] || "$VELERO_LAB_DIR/build.sh" minio
    ip -o addr show 2>/dev/null | grep -q " ${MINIO_ADDR%:*}/" \
      || die "minio: ${MINIO_ADDR%:*} is not an address of this machine (is the lab bridge up?)"
    mkdir -p "$MINIO_DATA" "$(dirname "$MINIO_LOG")"
    # no console, no update checks, no call-home: only the S3 API on $MINIO_ADDR
    MINIO_ROOT_USER="$MINIO_USER" MINIO_ROOT_PASSWORD="$MINIO_PASSWORD" \
    MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off \
      setsid "$MINIO" server "$MINIO_DATA" --address "$MINIO_ADDR" --quiet --anonymous \
      </dev/null >>"$MINIO_LOG" 2>&1 &
    echo $! >"$MINIO_PIDFILE"
    say "minio: started pid $(cat "$MINIO_PIDFILE") on $MINIO_ADDR (log $MINIO_LOG)"
  fi
  for _ in $(seq 1 60); do live && break; minio_pid >/dev/null || { tail -20 "$MINIO_LOG" >&2; die "minio exited"; }; sleep 0.5; done
  live || die "minio: not live on $MINIO_ADDR after 30s"
  make_bucket
}

stop() {
  local pid
  if pid=$(minio_pid); then
    kill "$pid"
    for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
    [ -d "/proc/$pid" ] && { say "minio: pid $pid still alive after 10s, sending KILL"; kill -9 "$pid"; }
    say "minio: stopped pid $pid"
  else
    say "minio: not running"
  fi
  rm -f "$MINIO_PIDFILE"
}

status() {
  local pid
  if pid=$(minio_pid) && live; then echo "minio: running pid $pid on $MINIO_ADDR"
  elif pid=$(minio_pid); then echo "minio: pid $pid, NOT live on $MINIO_ADDR"; return 1
  else echo "minio: stopped"; return 1; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
