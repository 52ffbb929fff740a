#!/usr/bin/env bash
# The docs site: every module, filter and role page of appsnap.velero and the guides that
# docs/docsite/extra-docs.yml lists, built with antsibull-docs and Sphinx. Any warning fails:
# a broken reference, an option without description, a filter without examples, a Sphinx
# or docutils warning.
#   docs/build.sh     ->  build/docs/html/index.html (the collection's index)
# The tools are the pins of docs/requirements.txt, in $APPSNAP_CACHE/docs-venv (made once).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../tests/lib.sh"
cd "$REPO_ROOT"

ensure_docs_venv
layout_collection
# this collection, and kubernetes.core for the doc fragments the modules use
export ANSIBLE_COLLECTIONS_PATH="$BUILD/collections:$DOCS_COLLECTIONS"
export PATH="$DOCS_VENV/bin:$PATH"
out="$BUILD/docs"
# A fresh tree each time: Sphinx reports the warnings of the pages it reads only, and an
# incremental build would not read the unchanged ones again.
rm -rf "$out"
mkdir -p "$out"

# Every page says where the collection comes from. It is on no Galaxy server (galaxy.yml
# names no repository), so not antsibull-docs' default Galaxy page and `ansible-galaxy
# collection install appsnap.velero`: the site's own index, and the tarball that
# `ansible-galaxy collection build` makes (README.md, "Install it into your own project").
version="$(sed -n 's/^version: *//p' galaxy.yml)"
cat > "$out/antsibull-docs.cfg" <<CFG
collection_url = {
  appsnap.velero = "index.html"
  * = "https://galaxy.ansible.com/ui/repo/published/{namespace}/{name}/"
}
collection_install = {
  appsnap.velero = "ansible-galaxy collection install appsnap-velero-$version.tar.gz"
  * = "ansible-galaxy collection install {namespace}.{name}"
}
CFG

log "antsibull-docs lint-collection-docs --plugin-docs"
# semantic markup (O(), RV(), M(), ...) that names no existing option, return value or
# plugin of this collection or of one it depends on, and rstcheck of the guides
antsibull-docs --config-file "$out/antsibull-docs.cfg" lint-collection-docs --plugin-docs \
  "$BUILD/collections/ansible_collections/appsnap/velero"

log "antsibull-docs collection -> $out/rst"
# antsibull-docs writes only into a directory that no one else may write to
mkdir -m 700 "$out/rst"
antsibull-docs --config-file "$out/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
  --fail-on-error --dest-dir "$out/rst" appsnap.velero
# antsibull-docs renders a plugin without EXAMPLES without a word: each module and filter needs them
# (a pattern that matched nothing stays as it is, and fails as a missing page)
for page in "$out"/rst/*_module.rst "$out"/rst/*_filter.rst; do
  [ -f "$page" ] || { echo "antsibull-docs wrote no page $page"; exit 1; }
  grep -qx 'Examples' "$page" || { echo "no EXAMPLES: ${page##*/}"; exit 1; }
done

log "sphinx-build -W --keep-going -> $out/html"
sphinx-build -b html -c docs -d "$out/doctrees" -W --keep-going -q -j auto "$out/rst" "$out/html"
echo "$out/html/index.html"
