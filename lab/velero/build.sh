#!/usr/bin/env bash
# Build Velero (velero, velero-helper, velero-restore-helper), velero-plugin-for-aws
# and MinIO from the Go module proxy into $APPSNAP_CACHE/bin/<name>-<version>/.
# Incremental: GOCACHE/GOMODCACHE live under $APPSNAP_CACHE; a component whose
# binaries exist is skipped (FORCE=1 rebuilds).
#   usage: lab/velero/build.sh [velero|plugin|minio|all]...   (default: all)
set -euo pipefail
# shellcheck source=lab/velero/common.sh
. "$(dirname "$0")/common.sh"
mkdir -p "$SRC_DIR" "$LOG_DIR" "$GOCACHE" "$GOMODCACHE"
LD_COMMON="-s -w"

have() { [ "${FORCE:-0}" != 1 ] && for f in "$@"; do [ -x "$f" ] || return 1; done; }

build_velero() {
  local out="$VELERO_BIN_DIR"
  if have "$out/velero" "$out/velero-helper" "$out/velero-restore-helper"; then
    say "velero $VELERO_VERSION: already built in $out"; return; fi
  local t0=$SECONDS mod="github.com/vmware-tanzu/velero"
  say "velero $VELERO_VERSION: downloading module"
  go mod download "$mod@$VELERO_VERSION"
  # go install refuses the module (go.mod has a kopia replace), so build inside a
  # writable copy of the module zip's contents (outside the project checkout).
  local src="$SRC_DIR/velero-$VELERO_VERSION"
  if [ ! -f "$src/go.mod" ]; then
    rm -rf "$src.tmp"; cp -r "$GOMODCACHE/$mod@$VELERO_VERSION" "$src.tmp"
    chmod -R u+w "$src.tmp"; mv "$src.tmp" "$src"
  fi
  # dependency versions the proxy refuses, raised to a patch it serves (versions.env)
  local req; for req in ${VELERO_GO_REQUIRE:-}; do
    ( cd "$src" && go mod edit -require="$req" ); done
  say "velero $VELERO_VERSION: go build (log $LOG_DIR/build-velero.log)"
  mkdir -p "$out.tmp"
  ( cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$out.tmp/" \
      -ldflags "$LD_COMMON -X $mod/pkg/buildinfo.Version=$VELERO_VERSION ${VELERO_GIT_SHA:+-X $mod/pkg/buildinfo.GitSHA=$VELERO_GIT_SHA} -X $mod/pkg/buildinfo.GitTreeState=clean -X $mod/pkg/buildinfo.ImageRegistry=$IMAGE_REGISTRY" \
      ./cmd/velero ./cmd/velero-helper ./cmd/velero-restore-helper ) >"$LOG_DIR/build-velero.log" 2>&1 \
    || { tail -30 "$LOG_DIR/build-velero.log"; die "velero build failed"; }
  rm -rf "$out"; mv "$out.tmp" "$out"
  say "velero $VELERO_VERSION: built in $((SECONDS-t0))s -> $out"
}

plugin_source() {
  # The plugin's module zip from the Go module proxy, copied to a writable directory
  # (outside the checkout). No other source: a version the proxy does not serve fails.
  local src="$1" mod="github.com/vmware-tanzu/velero-plugin-for-aws"
  go mod download "$mod@$PLUGIN_VERSION" \
    || die "plugin $PLUGIN_VERSION: the Go module proxy does not serve it (pick a version it serves in versions.env)"
  rm -rf "$src.tmp"; cp -r "$GOMODCACHE/$mod@$PLUGIN_VERSION" "$src.tmp"
  chmod -R u+w "$src.tmp"; mv "$src.tmp" "$src"
}

build_plugin() {
  local out="$PLUGIN_BIN_DIR"
  if have "$out/velero-plugin-for-aws" "$out/cp-plugin"; then
    say "velero-plugin-for-aws $PLUGIN_VERSION: already built in $out"; return; fi
  local t0=$SECONDS src="$SRC_DIR/velero-plugin-for-aws-$PLUGIN_VERSION"
  if [ ! -f "$src/go.mod" ]; then rm -rf "$src"; plugin_source "$src"; fi
  say "velero-plugin-for-aws $PLUGIN_VERSION: go build (log $LOG_DIR/build-plugin.log)"
  mkdir -p "$out.tmp"
  ( cd "$src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$LD_COMMON" -o "$out.tmp/" \
      ./velero-plugin-for-aws ./hack/cp-plugin ) >"$LOG_DIR/build-plugin.log" 2>&1 \
    || { tail -30 "$LOG_DIR/build-plugin.log"; die "plugin build failed"; }
  rm -rf "$out"; mv "$out.tmp" "$out"
  say "velero-plugin-for-aws $PLUGIN_VERSION: built in $((SECONDS-t0))s -> $out"
}

build_minio() {
  local out="$MINIO_BIN_DIR"
  if have "$out/minio"; then say "minio $MINIO_VERSION: already built in $out"; return; fi
  local t0=$SECONDS
  say "minio $MINIO_VERSION: go install (log $LOG_DIR/build-minio.log)"
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -trimpath -ldflags "$LD_COMMON" "github.com/minio/minio@$MINIO_VERSION" \
      >"$LOG_DIR/build-minio.log" 2>&1 \
    || { tail -30 "$LOG_DIR/build-minio.log"; die "minio build failed"; }
  rm -rf "$out"; mv "$out.tmp" "$out"
  say "minio $MINIO_VERSION: built in $((SECONDS-t0))s -> $out"
}

[ $# -gt 0 ] || set -- all
T0=$SECONDS
for c in "$@"; do
  case "$c" in
    velero) build_velero ;; plugin) build_plugin ;; minio) build_minio ;;
    all) build_velero; build_plugin; build_minio ;;
    *) die "unknown component $c" ;;
  esac
done
say "build done in $((SECONDS-T0))s"
