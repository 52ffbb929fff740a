#!/usr/bin/env bash
# Print the state of the lab's Velero stack: MinIO, Velero deployment,
# BackupStorageLocation `default`, node-agent. Exit status 0 only if all are good.
set -uo pipefail
# shellcheck source=lab/velero/common.sh
. "$(dirname "$0")/common.sh"
export KUBECONFIG="${KUBECONFIG:-$LAB_ADMIN_KUBECONFIG}"
k() { "$KUBECTL" --request-timeout=5s "$@"; }
rc=0
"$VELERO_LAB_DIR/minio.sh" status || rc=1
if [ ! -s "$KUBECONFIG" ] || [ ! -x "$KUBECTL" ]; then echo "velero: cluster unreachable (no kubeconfig/kubectl)"; exit 1; fi
img=$(k -n "$VELERO_NS" get deploy velero -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null)
avail=$(k -n "$VELERO_NS" get deploy velero -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
if [ -n "$img" ]; then echo "velero: deployment ${avail:-0}/1 available, image $img"; [ "${avail:-0}" -ge 1 ] || rc=1
else echo "velero: not installed"; exit 1; fi
bsl=$(k -n "$VELERO_NS" get backupstoragelocation default -o jsonpath='{.status.phase} {.status.lastValidationTime}' 2>/dev/null)
echo "bsl default: ${bsl:-missing}"; [ "${bsl%% *}" = Available ] || rc=1
want=$(k -n "$VELERO_NS" get ds node-agent -o jsonpath='{.status.desiredNumberScheduled}' 2>/dev/null)
ready=$(k -n "$VELERO_NS" get ds node-agent -o jsonpath='{.status.numberReady}' 2>/dev/null)
phases=$(k -n "$VELERO_NS" get pods -l name=node-agent -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase} {end}' 2>/dev/null)
echo "node-agent: ${ready:-0}/${want:-0} ready ${phases}"; [ -n "$want" ] && [ "$want" != 0 ] && [ "$ready" = "$want" ] || rc=1
exit $rc
