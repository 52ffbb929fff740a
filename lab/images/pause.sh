#!/usr/bin/env bash
# Sandbox image: Debian's static catatonit in pause mode (-P).
# Imported as registry.k8s.io/pause:3.6 (containerd 1.6's default sandbox_image).
# shellcheck source=lab/images/lib.sh
. "$(dirname "$0")/lib.sh"
out=$LAB_IMAGES/pause-$(recipe_hash "$0").tar
[ -s "$out" ] && { echo "$out"; exit 0; }
echo "[image] building pause -> $out" >&2
work=$(mktemp -d "$APPSNAP_CACHE/tmp-pause.XXXXXX"); trap 'rm -rf "$work"' EXIT
cd "$work" || exit
umoci init --layout oci
umoci new --image oci:3.6
umoci insert --image oci:3.6 /usr/bin/catatonit /pause
umoci config --image oci:3.6 --config.entrypoint=/pause --config.entrypoint=-P --config.user=65535:65535 \
  --architecture=amd64 --os=linux
oci_layout_to_tar oci 3.6 registry.k8s.io/pause:3.6 "$out"
prune_old pause "$out"
echo "$out"
