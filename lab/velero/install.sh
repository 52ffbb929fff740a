#!/usr/bin/env bash
# Install Velero into the lab cluster the way users install it:
#   velero install --provider aws --plugins <local plugin image> --image <local velero image>
#     --bucket velero --secret-file ... --use-volume-snapshots=false --use-node-agent
#     --backup-location-config region=minio,s3ForcePathStyle="true",s3Url=http://10.88.0.1:9000 --wait
# with MinIO running on the host. Called by `lab up` once the node is Ready.
# Idempotent: if Velero is already installed with these images it only (re)starts MinIO
# and waits for BSL `default` Available and node-agent Running. Installed with other
# images (an older Velero): applies the CRDs and sets the images (Velero's upgrade steps).
# Env: KUBECONFIG (default /var/lib/appsnap-lab/admin.kubeconfig), APPSNAP_CACHE,
#      APPSNAP_MINIO_ADDR (default 10.88.0.1:9000), APPSNAP_KUBELET_ROOT_DIR (default /var/lib/appsnap-lab/kubelet),
#      APPSNAP_CTR_ADDRESS (default /run/appsnap-lab/containerd/containerd.sock),
#      APPSNAP_VELERO_NS (default velero), APPSNAP_VELERO_PREFIX (bucket prefix, optional),
#      VELERO_REINSTALL=1 (run `velero install --apply` even if already installed: every
#      object is server-side applied, so the install matches this version's `velero install`).
set -euo pipefail
# shellcheck source=lab/velero/common.sh
. "$(dirname "$0")/common.sh"
T0=$SECONDS
export KUBECONFIG="${KUBECONFIG:-$LAB_ADMIN_KUBECONFIG}"
[ -s "$KUBECONFIG" ] || die "no kubeconfig at $KUBECONFIG (is the lab up?)"
VELERO="$VELERO_BIN_DIR/velero"
[ -x "$KUBECTL" ] || die "kubectl not found (set KUBECTL)"
k() { "$KUBECTL" "$@"; }
for _ in $(seq 1 60); do k --request-timeout=3s get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done
k --request-timeout=5s get --raw /readyz >/dev/null || die "apiserver not ready (KUBECONFIG=$KUBECONFIG)"

# 1. binaries and images (images must already be in containerd k8s.io: nothing is ever pulled)
[ -x "$VELERO" ] || "$VELERO_LAB_DIR/build.sh" velero
img_present() { ctr --address "$CTR_ADDRESS" -n k8s.io images ls -q 2>/dev/null | grep -qxF "$1"; }
for pair in "$VELERO_IMAGE:velero.sh" "$PLUGIN_IMAGE:velero-plugin-for-aws.sh"; do
  img=${pair%:*}; script=${pair##*:}
  if ! img_present "$img"; then
    tar=$("$VELERO_LAB_DIR/../images/$script")
    say "importing $tar into containerd k8s.io"
    ctr --address "$CTR_ADDRESS" -n k8s.io images import "$tar" >/dev/null
    img_present "$img" || die "image $img not in containerd k8s.io after importing $tar"
  fi
done

# 2. object store
"$VELERO_LAB_DIR/minio.sh" start
CREDS_DIR="$LAB_STATE/velero"; CREDS="$CREDS_DIR/credentials-velero"
mkdir -p "$CREDS_DIR"; umask 077
sed -e "s/@MINIO_USER@/$MINIO_USER/" -e "s/@MINIO_PASSWORD@/$MINIO_PASSWORD/" \
  "$VELERO_LAB_DIR/credentials-velero.template" | grep -v '^#' >"$CREDS.tmp"
mv "$CREDS.tmp" "$CREDS"; umask 022

# 3. velero install (skipped when already installed with the same images)
LAB_REPO_MAINTAIN=168h LAB_REPO_MAINTAIN_K8S=168h0m0s  # see 3b
cur_img=$(k -n "$VELERO_NS" get deploy velero -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)
cur_plugins=$(k -n "$VELERO_NS" get deploy velero -o jsonpath='{.spec.template.spec.initContainers[*].image}' 2>/dev/null || true)
since=""   # set by the upgrade: BSL default must then be validated by the new server
cur_na=$(k -n "$VELERO_NS" get ds node-agent -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)
if [ "${VELERO_REINSTALL:-0}" != 1 ] && [ "$cur_img" = "$VELERO_IMAGE" ] && [ "$cur_plugins" = "$PLUGIN_IMAGE" ] && [ "$cur_na" = "$VELERO_IMAGE" ]; then
  say "velero already installed ($VELERO_IMAGE, $PLUGIN_IMAGE); skipping velero install"
elif [ "${VELERO_REINSTALL:-0}" != 1 ] && [ -n "$cur_img" ] && [ -n "$cur_na" ]; then
  # Installed with other images (e.g. an older Velero): `velero install` without
  # --apply leaves existing objects alone, so upgrade the way Velero's upgrade docs
  # do: CRDs first, then the images of the server, the plugin init container and node-agent.
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  say "velero installed with $cur_img / $cur_plugins / node-agent $cur_na; upgrading to $VELERO_IMAGE / $PLUGIN_IMAGE"
  # (kubectl warns that CRDs made by `velero install` lack last-applied-configuration; noise)
  out=$("$VELERO" install --crds-only --dry-run -o yaml | k apply -f - 2>&1 >/dev/null) \
    || { printf '%s\n' "$out" >&2; die "applying the CRDs of $VELERO_VERSION failed"; }
  [ -z "$out" ] || printf '%s\n' "$out" | grep -v 'last-applied-configuration annotation' >&2 || true
  # the plugin's init container: the one running an image of the same repository, else the first
  init_name=$(k -n "$VELERO_NS" get deploy velero \
      -o jsonpath='{range .spec.template.spec.initContainers[*]}{.name}{" "}{.image}{"\n"}{end}' \
    | awk -v repo="${PLUGIN_IMAGE%:*}" 'index($2, repo ":") == 1 || $2 == repo { print $1; exit }')
  [ -n "$init_name" ] || init_name=$(k -n "$VELERO_NS" get deploy velero -o jsonpath='{.spec.template.spec.initContainers[0].name}')
  k -n "$VELERO_NS" set image deploy/velero "velero=$VELERO_IMAGE" ${init_name:+"$init_name=$PLUGIN_IMAGE"} >/dev/null
  k -n "$VELERO_NS" set image ds/node-agent "node-agent=$VELERO_IMAGE" >/dev/null
  k -n "$VELERO_NS" rollout status deploy/velero --timeout=180s
  k -n "$VELERO_NS" rollout status ds/node-agent --timeout=180s
else
  extra=()
  [ -n "${APPSNAP_VELERO_PREFIX:-}" ] && extra+=(--prefix "$APPSNAP_VELERO_PREFIX")
  # Over an existing install (VELERO_REINSTALL=1), --apply (new in v1.18) server-side
  # applies every object; without it `velero install` only creates what is missing.
  if [ -n "$cur_img" ] || [ -n "$cur_na" ]; then extra+=(--apply); fi
  say "velero install${extra[*]:+ ${extra[*]}} (image $VELERO_IMAGE, plugin $PLUGIN_IMAGE, s3Url http://$MINIO_ADDR)"
  "$VELERO" install --namespace "$VELERO_NS" "${extra[@]}" \
    --provider aws \
    --plugins "$PLUGIN_IMAGE" \
    --image "$VELERO_IMAGE" \
    --bucket "$VELERO_BUCKET" \
    --secret-file "$CREDS" \
    --use-volume-snapshots=false \
    --use-node-agent \
    --backup-location-config "region=$MINIO_REGION,s3ForcePathStyle=true,s3Url=http://$MINIO_ADDR" \
    --kubelet-root-dir "$KUBELET_ROOT_DIR" \
    --default-repo-maintain-frequency "$LAB_REPO_MAINTAIN" \
    --wait
fi

# 3b. repository upkeep in the lab. Velero's BackupRepository controller handles one
#    repository at a time: it prepares a new namespace's kopia repository, runs each
#    repository's due maintenance Job and waits for it (~5 s), and every 5 minutes
#    checks every repository for stale locks. The lab's tests make a namespace, so a
#    repository, per test; at 282 repositories (30 Nov 2026) a `lab up` after an hour
#    down made every one due (kopia's default: hourly), and a new namespace's first
#    backup waited up to 23 minutes behind the Jobs. So the lab maintains weekly, and
#    drops the BackupRepository objects of namespaces that no longer exist (their data
#    stays in the bucket; Velero creates the object again if an old backup is restored).
cur_args=$(k -n "$VELERO_NS" get deploy velero -o jsonpath='{.spec.template.spec.containers[0].args}')
if [[ "$cur_args" != *"--default-repo-maintain-frequency=$LAB_REPO_MAINTAIN"* ]]; then
  say "velero server: --default-repo-maintain-frequency=$LAB_REPO_MAINTAIN (restarts the server once)"
  # appended: of two values the last one counts
  k -n "$VELERO_NS" patch deploy velero --type json -p "[{\"op\": \"add\", \"path\": \"/spec/template/spec/containers/0/args/-\",
    \"value\": \"--default-repo-maintain-frequency=$LAB_REPO_MAINTAIN\"}]" >/dev/null
  k -n "$VELERO_NS" rollout status deploy/velero --timeout=180s
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi
live_ns=" $(k get namespaces -o jsonpath='{.items[*].metadata.name}') "
dropped=0; relaxed=0
while read -r repo ns freq; do
  [ -n "$repo" ] || continue
  if [[ "$live_ns" != *" $ns "* ]]; then
    k -n "$VELERO_NS" delete backuprepository "$repo" --wait=false >/dev/null; dropped=$((dropped + 1))
  elif [ "$freq" != "$LAB_REPO_MAINTAIN_K8S" ]; then
    k -n "$VELERO_NS" patch backuprepository "$repo" --type merge \
      -p "{\"spec\":{\"maintenanceFrequency\":\"$LAB_REPO_MAINTAIN_K8S\"}}" >/dev/null; relaxed=$((relaxed + 1))
  fi
done < <(k -n "$VELERO_NS" get backuprepositories.velero.io \
           -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.volumeNamespace}{" "}{.spec.maintenanceFrequency}{"\n"}{end}')
[ $((dropped + relaxed)) = 0 ] || say "backup repositories: dropped $dropped of gone namespaces, set $relaxed to maintain every $LAB_REPO_MAINTAIN"

# 4. wait for BSL default Available (after an upgrade: validated by the new server;
#    RFC 3339 UTC times compare as strings) and node-agent Running
deadline=$((SECONDS + ${VELERO_WAIT_SECONDS:-180}))
while :; do
  bsl=$(k -n "$VELERO_NS" get backupstoragelocation default -o jsonpath='{.status.phase}' 2>/dev/null || true)
  validated=$(k -n "$VELERO_NS" get backupstoragelocation default -o jsonpath='{.status.lastValidationTime}' 2>/dev/null || true)
  if [ -n "$since" ] && [[ "$validated" < "$since" ]]; then bsl="$bsl (last validated $validated, before $since)"; fi
  want=$(k -n "$VELERO_NS" get ds node-agent -o jsonpath='{.status.desiredNumberScheduled}' 2>/dev/null || true)
  ready=$(k -n "$VELERO_NS" get ds node-agent -o jsonpath='{.status.numberReady}' 2>/dev/null || true)
  if [ "$bsl" = Available ] && [ -n "$want" ] && [ "$want" != 0 ] && [ "$ready" = "$want" ]; then break; fi
  if [ $SECONDS -ge $deadline ]; then
    k -n "$VELERO_NS" get pods -o wide >&2 || true
    k -n "$VELERO_NS" get bsl default -o jsonpath='{.status.message}{"\n"}' >&2 || true
    die "timed out: BSL default phase='$bsl', node-agent ready=$ready/$want"
  fi
  sleep 2
done
say "velero ready: BSL default Available, node-agent $ready/$want Running ($((SECONDS-T0))s)"
