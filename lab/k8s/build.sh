#!/usr/bin/env bash
# Build Kubernetes binaries from the Go module proxy through the wrapper module
# in this directory (go.mod/go.sum committed). Incremental: skips binaries that
# already exist in $APPSNAP_CACHE/bin/k8s-<version>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/lib.sh
. "$here/../lib.sh"   # APPSNAP_CACHE, LAB_K8S_VERSION (from this go.mod), LAB_K8S_BIN, lab_go_env
lab_go_env
# go.mod and go.sum are committed and complete: never let the build modify them
export GOFLAGS=-mod=readonly
V=${LAB_K8S_VERSION#v}
[ -n "$V" ] || { echo "[k8s build] cannot read k8s.io/kubernetes version from go.mod" >&2; exit 1; }
MINOR=$(echo "$V" | cut -d. -f2)
out=$LAB_K8S_BIN
mkdir -p "$out"
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kubeadm kube-proxy)
[ $# -gt 0 ] && BINS=("$@")
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=v$V -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
n=${#BINS[@]}; i=0
for b in "${BINS[@]}"; do
  i=$((i+1))
  if [ -x "$out/$b" ]; then echo "[k8s build] $i/$n $b v$V: cached"; continue; fi
  echo "[k8s build] $i/$n $b v$V: building ($(date -u +%T))"
  t0=$(date +%s)
  (cd "$here" && go build -trimpath -ldflags "$LD" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b")
  mv "$out/$b.tmp" "$out/$b"
  echo "[k8s build] $i/$n $b v$V: done in $(( $(date +%s) - t0 ))s"
done
# crictl (cri-tools, no replace directives): used by `lab down` to stop pod sandboxes
CRICTL_V=v1.34.0
if [ -x "$out/crictl" ]; then echo "[k8s build] crictl $CRICTL_V: cached"
else
  echo "[k8s build] crictl $CRICTL_V: building ($(date -u +%T))"
  t0=$(date +%s)
  GOFLAGS="" GOBIN="$out" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_V" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_V"
  echo "[k8s build] crictl $CRICTL_V: done in $(( $(date +%s) - t0 ))s"
fi
echo "$out"
