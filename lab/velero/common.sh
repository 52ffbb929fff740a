# Shared settings for lab/velero scripts. Source it; do not run it.
VELERO_LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$VELERO_LAB_DIR/versions.env"
export APPSNAP_CACHE="${APPSNAP_CACHE:-$HOME/.cache/appsnap}"
export GOCACHE="$APPSNAP_CACHE/go-build"
export GOMODCACHE="$APPSNAP_CACHE/gomod"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
VELERO_BIN_DIR="$APPSNAP_CACHE/bin/velero-$VELERO_VERSION"
PLUGIN_BIN_DIR="$APPSNAP_CACHE/bin/velero-plugin-for-aws-$PLUGIN_VERSION"
MINIO_BIN_DIR="$APPSNAP_CACHE/bin/minio-$MINIO_VERSION"
IMAGES_DIR="$APPSNAP_CACHE/images"
SRC_DIR="$APPSNAP_CACHE/src"
LOG_DIR="$APPSNAP_CACHE/logs"
LAB_STATE="${APPSNAP_LAB_STATE:-/var/lib/appsnap-lab}"
KUBECONFIG_DEFAULT="$LAB_STATE/admin.kubeconfig"
# the lab's containerd (not the system one) and kubelet root dir (node-agent's hostPath)
CTR_ADDRESS="${APPSNAP_CTR_ADDRESS:-/run/appsnap-lab/containerd/containerd.sock}"
KUBELET_ROOT_DIR="${APPSNAP_KUBELET_ROOT_DIR:-$LAB_STATE/kubelet}"
MINIO_ADDR="${APPSNAP_MINIO_ADDR:-10.88.0.1:9000}"
MINIO_DATA="$LAB_STATE/minio"
MINIO_PIDFILE="$LAB_STATE/minio.pid"
MINIO_LOG="$LAB_STATE/logs/minio.log"
MINIO_USER="${APPSNAP_MINIO_USER:-minio}"
MINIO_PASSWORD="${APPSNAP_MINIO_PASSWORD:-minio123}"
MINIO_REGION=minio
VELERO_BUCKET=velero
VELERO_NS="${APPSNAP_VELERO_NS:-velero}"
say() { printf '[velero-lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
