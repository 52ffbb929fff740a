# shellcheck shell=bash
# shellcheck disable=SC2034  # constants for the scripts that source this file
# The lab's constants and shared helpers: one home for each. Sourced (not run) by
# lab/lab, lab/k8s/build.sh, lab/images/lib.sh, lab/velero/common.sh and tests/lib.sh.
# Sets no shell options and defines no log/die (each caller has its own prefix).
#
# Environment: APPSNAP_CACHE (default ~/.cache/appsnap: Go caches, built binaries,
# image tarballs; kept by `lab down`), APPSNAP_LAB_STATE (default /var/lib/appsnap-lab).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# kubectl writes its cache below $HOME (./.kube when unset); the lab runs as root
export HOME=${HOME:-/root}
export APPSNAP_CACHE=${APPSNAP_CACHE:-$HOME/.cache/appsnap}
LAB_IMAGES=$APPSNAP_CACHE/images               # image tarballs; `lab up` imports every *.tar here
LAB_STATE=${APPSNAP_LAB_STATE:-/var/lib/appsnap-lab}  # certs, kubeconfigs, etcd, containerd and kubelet roots, PVs
LAB_LOGS=$LAB_STATE/logs
LAB_ADMIN_KUBECONFIG=$LAB_STATE/admin.kubeconfig
LAB_KUBELET_ROOT=$LAB_STATE/kubelet
LAB_RUN=/run/appsnap-lab                        # pid files, containerd state and socket, CNI IPAM state
LAB_CTR_SOCK=$LAB_RUN/containerd/containerd.sock  # the lab's containerd (not a system one)
LAB_NODE_IP=10.88.0.1                           # bridge appsnap0: node IP, apiserver advertise address, MinIO
# Kubernetes version: the one lab/k8s/go.mod requires (v1.x.y); binaries built by lab/k8s/build.sh
LAB_K8S_VERSION=$(sed -n 's/^.*k8s\.io\/kubernetes \(v1\.[0-9]*\.[0-9]*\).*$/\1/p;T;q' "$LAB_DIR/k8s/go.mod")
LAB_K8S_BIN=$APPSNAP_CACHE/bin/k8s-$LAB_K8S_VERSION

# lab_go_env: Go settings of every lab build (caches under $APPSNAP_CACHE, static
# binaries, the installed toolchain only)
lab_go_env() {
  export GOCACHE=$APPSNAP_CACHE/go-build GOMODCACHE=$APPSNAP_CACHE/gomod GOTOOLCHAIN=local CGO_ENABLED=0
}

# debian_packages_missing PKG...: print the packages that are not installed, one a line
debian_packages_missing() {
  local p
  for p in "$@"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *"install ok installed"* ]] || echo "$p"
  done
}

# with_policy_rc_d_blocked CMD...: run CMD while /usr/sbin/policy-rc.d answers 101, so
# that package maintainer scripts start no daemons (etcd-server's postinst would start
# an etcd on :2379, postgresql's a cluster). An existing policy-rc.d is moved aside and
# put back afterwards. Returns CMD's exit status.
with_policy_rc_d_blocked() {
  local prc=/usr/sbin/policy-rc.d saved="" rc=0
  if [ -e "$prc" ]; then saved=$(mktemp "${prc%/*}/.policy-rc.d.appsnap.XXXXXX"); mv -f "$prc" "$saved"; fi
  printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod +x "$prc"
  "$@" || rc=$?
  rm -f "$prc"
  if [ -n "$saved" ]; then mv -f "$saved" "$prc"; fi
  return "$rc"
}

# apt_install_quiet PKG...: `apt-get install -q --no-install-recommends`, non-interactive,
# with daemons blocked; `apt-get update` (and a second try) only when the install fails
apt_install_quiet() { with_policy_rc_d_blocked _apt_install_quiet "$@"; }
_apt_install_quiet() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q)
  "${apt[@]}" install --no-install-recommends "$@" && return 0
  "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "$@"
}
