# Shared helpers for lab image builds. Sourced, not executed.
# Images are built as OCI layouts with umoci and written as tarballs to
# $APPSNAP_CACHE/images/<name>-<hash>.tar, where <hash> covers the build script
# and this file, so a tarball is rebuilt only when its recipe changes.
set -euo pipefail
APPSNAP_CACHE=${APPSNAP_CACHE:-$HOME/.cache/appsnap}
IMG_DIR=$APPSNAP_CACHE/images
mkdir -p "$IMG_DIR"

# recipe_hash SCRIPT: short hash of the build script plus this library
recipe_hash() { cat "$1" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12; }

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

# drop older tarballs of the same image name (other recipe hashes)
prune_old() { local name=$1 keep=$2; for f in "$IMG_DIR/$name"-*.tar; do [ -e "$f" ] && [ "$f" != "$keep" ] && rm -f "$f"; done; return 0; }
