#!/usr/bin/env bash
# velero-plugin-for-aws image, same layout as upstream's Dockerfile (v1.13/v1.14, unchanged):
#   FROM scratch, /plugins/velero-plugin-for-aws, /bin/cp-plugin (the repo's hack/cp-plugin,
#   a static Go copier), USER 65532:65532,
#   ENTRYPOINT cp-plugin /plugins/velero-plugin-for-aws /target/velero-plugin-for-aws
# `velero install --plugins IMAGE` runs it as an init container with an emptyDir at /target.
# Output: $APPSNAP_CACHE/images/velero-plugin-for-aws-<hash>.tar, imported as $PLUGIN_IMAGE.
# shellcheck source=lab/images/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lab/velero/common.sh
. "$(dirname "$0")/../velero/common.sh"
hash=$(recipe_hash "$0" "$VELERO_LAB_DIR/versions.env")
out=$LAB_IMAGES/velero-plugin-for-aws-$hash.tar
[ -s "$out" ] && { echo "$out"; exit 0; }
for b in velero-plugin-for-aws cp-plugin; do
  [ -x "$PLUGIN_BIN_DIR/$b" ] || "$VELERO_LAB_DIR/build.sh" plugin >&2
done
echo "[image] building $PLUGIN_IMAGE -> $out" >&2
tag=${PLUGIN_IMAGE##*:}
work=$(mktemp -d "$APPSNAP_CACHE/tmp-velero-plugin.XXXXXX"); trap 'rm -rf "$work"' EXIT
cd "$work" || exit
umoci init --layout oci
umoci new --image "oci:$tag"
umoci unpack --image "oci:$tag" bundle >/dev/null
install -d -m 0755 bundle/rootfs/plugins bundle/rootfs/bin
install -m 0755 "$PLUGIN_BIN_DIR/velero-plugin-for-aws" bundle/rootfs/plugins/
install -m 0755 "$PLUGIN_BIN_DIR/cp-plugin" bundle/rootfs/bin/
umoci repack --image "oci:$tag" bundle
umoci config --image "oci:$tag" --architecture=amd64 --os=linux --config.user=65532:65532 \
  --config.env=PATH=/bin --config.workingdir=/ \
  --config.entrypoint=/bin/cp-plugin --config.entrypoint=/plugins/velero-plugin-for-aws \
  --config.entrypoint=/target/velero-plugin-for-aws \
  --config.label=org.opencontainers.image.source=https://github.com/vmware-tanzu/velero-plugin-for-aws \
  --config.label=org.opencontainers.image.version="$PLUGIN_VERSION"
umoci gc --layout oci
oci_layout_to_tar oci "$tag" "$PLUGIN_IMAGE" "$out"
prune_old velero-plugin-for-aws "$out"
echo "$out"
