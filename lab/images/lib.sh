# shellcheck shell=bash
# Shared helpers for lab image builds. Sourced, not executed.
# Images are built as OCI layouts with umoci and written as tarballs to
# $LAB_IMAGES/<name>-<hash>.tar ($APPSNAP_CACHE/images, see lab/lib.sh), where
# <hash> covers the recipe (build script, files it copies) and this file, so a
# tarball is rebuilt only when its recipe changes.
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
mkdir -p "$LAB_IMAGES"

# recipe_hash FILE...: short hash of the recipe files plus this library
recipe_hash() { cat "$@" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12; }

# oci_layout_to_tar LAYOUT_DIR TAG FULL_REF OUT_TAR
# Annotates the index entry with io.containerd.image.name so that
# `ctr images import` names the image FULL_REF without --base-name.
oci_layout_to_tar() {
  local layout=$1 tag=$2 ref=$3 out=$4
  python3 - "$layout/index.json" "$tag" "$ref" <<'PY'
import json, sys
path, tag, ref = sys.argv[1:]
idx = json.load(open(path))
ms = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
if not ms:
    sys.exit("tag %s not in %s" % (tag, path))
for m in ms:
    m["annotations"]["io.containerd.image.name"] = ref
idx["manifests"] = ms
json.dump(idx, open(path, "w"))
PY
  tar -C "$layout" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
}

# prune_old NAME KEEP: drop the other tarballs of image NAME, i.e. NAME-<12-char hash>.tar
# except KEEP (an exact pattern: velero-*.tar would also match velero-plugin-for-aws-*.tar)
prune_old() {
  local name=$1 keep=$2 f
  for f in "$LAB_IMAGES/$name"-????????????.tar; do [ -e "$f" ] && [ "$f" != "$keep" ] && rm -f "$f"; done
  return 0
}
