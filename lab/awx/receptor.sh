#!/usr/bin/env bash
# receptor, the execution plane AWX uses for container groups (work-kubernetes), built from
# the Go module proxy into $APPSNAP_CACHE/bin/receptor-<version>/receptor.
# AWX 24.x pins receptorctl 1.4.4; the receptor of that release is built here.
#   usage: lab/awx/receptor.sh   (prints the binary's path; cached: built once per version)
#
# Why not `go install ...@v1.4.4`: its main package is cmd/receptor-cl (the release
# Makefile's `go build ./cmd/receptor-cl`), and `go install
# github.com/ansible/receptor/cmd/receptor@v1.4.4` fails with "module
# github.com/ansible/receptor@v1.4.4 found, but does not contain package
# github.com/ansible/receptor/cmd/receptor". `go install .../cmd/receptor-cl@v1.4.4` then
# fails before building: "loading deprecation for github.com/ansible/receptor: module
# github.com/ansible/receptor: reading https://proxy.golang.org/github.com/ansible/receptor/@v/list:
# 403 Forbidden" (go install asks for the module's latest version; the proxy refuses the
# list). So, as lab/velero/build.sh does for Velero: `go mod download` the release's module
# zip from the proxy (which it serves), and `go build` in a writable copy of it.
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "$0")/../lib.sh"
RECEPTOR_VERSION=v1.4.4
MODULE=github.com/ansible/receptor
out=$APPSNAP_CACHE/bin/receptor-$RECEPTOR_VERSION
if [ ! -x "$out/receptor" ]; then
  lab_go_env
  mkdir -p "$APPSNAP_CACHE/logs" "$APPSNAP_CACHE/src"
  log=$APPSNAP_CACHE/logs/build-receptor.log
  src=$APPSNAP_CACHE/src/receptor-$RECEPTOR_VERSION
  echo "[receptor] building $MODULE $RECEPTOR_VERSION from the Go module proxy (cold: a few minutes; log $log)" >&2
  t0=$SECONDS
  {
    go mod download "$MODULE@$RECEPTOR_VERSION"
    if [ ! -f "$src/go.mod" ]; then
      rm -rf "$src.tmp"; cp -r "$GOMODCACHE/$MODULE@$RECEPTOR_VERSION" "$src.tmp"
      chmod -R u+w "$src.tmp"; mv "$src.tmp" "$src"
    fi
    rm -rf "$out.tmp"; mkdir -p "$out.tmp"
    (cd "$src" && go build -trimpath -o "$out.tmp/receptor" \
       -ldflags "-s -w -X $MODULE/internal/version.Version=${RECEPTOR_VERSION#v}" ./cmd/receptor-cl)
  } > "$log" 2>&1 || { tail -30 "$log" >&2; echo "[receptor] build failed, see $log" >&2; exit 1; }
  rm -rf "$out"; mv "$out.tmp" "$out"
  echo "[receptor] built in $((SECONDS - t0))s -> $out/receptor" >&2
fi
echo "$out/receptor"
