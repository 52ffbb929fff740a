# shellcheck shell=bash
# shellcheck disable=SC2034  # settings for the scripts that source this file
# Shared settings for lab/velero scripts. Source it; do not run it.
# The lab's own constants (APPSNAP_CACHE, LAB_STATE, the containerd socket, the node IP)
# come from lab/lib.sh.
VELERO_LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lab/lib.sh
. "$VELERO_LAB_DIR/../lib.sh"
# shellcheck source=lab/velero/versions.env
. "$VELERO_LAB_DIR/versions.env"
lab_go_env
VELERO_BIN_DIR="$APPSNAP_CACHE/bin/velero-$VELERO_VERSION"
PLUGIN_BIN_DIR="$APPSNAP_CACHE/bin/velero-plugin-for-aws-$PLUGIN_VERSION"
MINIO_BIN_DIR="$APPSNAP_CACHE/bin/minio-$MINIO_VERSION"
SRC_DIR="$APPSNAP_CACHE/src"
LOG_DIR="$APPSNAP_CACHE/logs"
# kubectl: $KUBECTL, else one on PATH, else the one lab/lab built
KUBECTL="${KUBECTL:-$(command -v kubectl || echo "$LAB_K8S_BIN/kubectl")}"
# the lab's containerd (not the system one) and kubelet root dir (node-agent's hostPath)
CTR_ADDRESS="${APPSNAP_CTR_ADDRESS:-$LAB_CTR_SOCK}"
KUBELET_ROOT_DIR="${APPSNAP_KUBELET_ROOT_DIR:-$LAB_KUBELET_ROOT}"
MINIO_ADDR="${APPSNAP_MINIO_ADDR:-$LAB_NODE_IP:9000}"
MINIO_DATA="$LAB_STATE/minio"
MINIO_PIDFILE="$LAB_STATE/minio.pid"
MINIO_LOG="$LAB_LOGS/minio.log"
MINIO_USER="${APPSNAP_MINIO_USER:-minio}"
MINIO_PASSWORD="${APPSNAP_MINIO_PASSWORD:-minio123}"
MINIO_REGION=minio
VELERO_BUCKET=velero
VELERO_NS="${APPSNAP_VELERO_NS:-velero}"
say() { printf '[velero-lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
