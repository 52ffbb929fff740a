#!/usr/bin/env bash
# Velero server image, same file layout as upstream's Dockerfile (v1.17/v1.18, unchanged):
#   /velero, /velero-helper, /velero-restore-helper at the root, user cnb (1002:1000).
# The Deployment runs `/velero server`, node-agent `/velero node-agent server`,
# data-mover pods `/velero ...`, the restore-wait init container `/velero-restore-helper`.
# Upstream also ships /usr/bin/restic; it is left out (kopia is the only uploader since 1.17).
# Static Go binaries on one layer plus /tmp, /etc/passwd, /etc/group; no shell, no libc.
# Output: $APPSNAP_CACHE/images/velero-<hash>.tar, imported as $VELERO_IMAGE.
# shellcheck source=lab/images/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab/velero/common.sh
. "$(dirname "$0")/../velero/common.sh"
hash=$(recipe_hash "$0" "$VELERO_LAB_DIR/versions.env")
out=$LAB_IMAGES/velero-$hash.tar
[ -s "$out" ] && { echo "$out"; exit 0; }
for b in velero velero-helper velero-restore-helper; do
  [ -x "$VELERO_BIN_DIR/$b" ] || "$VELERO_LAB_DIR/build.sh" velero >&2
done
echo "[image] building $VELERO_IMAGE -> $out" >&2
tag=${VELERO_IMAGE##*:}
work=$(mktemp -d "$APPSNAP_CACHE/tmp-velero.XXXXXX"); trap 'rm -rf "$work"' EXIT
cd "$work" || exit
umoci init --layout oci
umoci new --image "oci:$tag"
umoci unpack --image "oci:$tag" bundle >/dev/null
r=bundle/rootfs
install -m 0755 "$VELERO_BIN_DIR"/velero "$VELERO_BIN_DIR"/velero-helper "$VELERO_BIN_DIR"/velero-restore-helper "$r/"
install -d -m 1777 "$r/tmp"
install -d -m 0755 "$r/etc" "$r/root"
install -d -m 0755 -o 1002 -g 1000 "$r/home/cnb"
printf 'root:x:0:0:root:/root:/sbin/nologin\ncnb:x:1002:1000:cnb:/home/cnb:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
printf 'root:x:0:\ncnb:x:1000:\nnonroot:x:65532:\n' >"$r/etc/group"
umoci repack --image "oci:$tag" bundle
umoci config --image "oci:$tag" --architecture=amd64 --os=linux --config.user=1002:1000 \
  --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=HOME=/home/cnb --config.workingdir=/ \
  --config.label=org.opencontainers.image.source=https://github.com/vmware-tanzu/velero \
  --config.label=org.opencontainers.image.version="$VELERO_VERSION"
umoci gc --layout oci
oci_layout_to_tar oci "$tag" "$VELERO_IMAGE" "$out"
prune_old velero "$out"
echo "$out"
