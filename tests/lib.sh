# shellcheck shell=bash
# Set-up shared by tests/run and the main job: a virtualenv with the pinned
# tools, Debian packages the tests use, and the collection laid out where
# Ansible and ansible-test look for it. Everything is created from a bare
# clone; caches live outside the checkout so reruns are incremental.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# APPSNAP_CACHE (exported) and the Debian package helpers, shared with the lab
# shellcheck source=lab/lib.sh
. "$REPO_ROOT/lab/lib.sh"
VENV="$REPO_ROOT/.venv"
BUILD="$REPO_ROOT/build"
export PIP_CACHE_DIR="$APPSNAP_CACHE/pip" PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\n==> %s\n' "$*"; }

ensure_debian_packages() {
  local missing=()
  mapfile -t missing < <(debian_packages_missing "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  # package postinst scripts must not start services (e.g. postgresql) on their own
  apt_install_quiet "${missing[@]}" > /dev/null
}

ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want="$(cat "$REPO_ROOT/tests/requirements.txt" "$REPO_ROOT/requirements.txt" | sha256sum | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "creating $VENV with the pinned test tools"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$REPO_ROOT/tests/requirements.txt" -r "$REPO_ROOT/requirements.txt"
  echo "$want" > "$stamp"
}

# The docs tools (docs/requirements.txt) in a venv of their own, and kubernetes.core
# (whose doc fragments the modules use) at $DOCS_COLLECTIONS, taken from the wheel of
# the ansible package tests/requirements.txt pins. That copy lives outside any Git work
# tree: antsibull-docs lint-collection-docs copies a collection inside one with
# `git ls-files`, which lists nothing of an ignored .venv.
DOCS_VENV="$APPSNAP_CACHE/docs-venv"
DOCS_COLLECTIONS="$DOCS_VENV/collections"
ensure_docs_venv() {
  local stamp="$DOCS_VENV/.requirements.sha256" want ansible_pin wheels
  ansible_pin="$(grep -E '^ansible==' "$REPO_ROOT/tests/requirements.txt")"
  want="$( (cat "$REPO_ROOT/docs/requirements.txt"; echo "$ansible_pin") | sha256sum | cut -d' ' -f1)"
  if [ -x "$DOCS_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "creating $DOCS_VENV with the pinned docs tools and kubernetes.core from $ansible_pin"
  rm -rf "$DOCS_VENV"
  python3 -m venv "$DOCS_VENV"
  "$DOCS_VENV/bin/pip" install -q --upgrade pip
  "$DOCS_VENV/bin/pip" install -q -r "$REPO_ROOT/docs/requirements.txt"
  wheels="$(mktemp -d)"
  "$DOCS_VENV/bin/pip" download -q --no-deps --only-binary :all: -d "$wheels" "$ansible_pin"
  "$DOCS_VENV/bin/python" - "$wheels"/ansible-*.whl "$DOCS_COLLECTIONS" <<'EOF'
import sys, zipfile
prefix = "ansible_collections/kubernetes/core/"
with zipfile.ZipFile(sys.argv[1]) as wheel:
    members = [m for m in wheel.namelist() if m.startswith(prefix)]
    if not members:
        sys.exit(f"{sys.argv[1]} holds no {prefix}")
    wheel.extractall(sys.argv[2], members)
EOF
  rm -rf "$wheels"
  echo "$want" > "$stamp"
}

# The collection as Ansible finds it: build/collections/ansible_collections/appsnap/velero -> the checkout.
layout_collection() {
  mkdir -p "$BUILD/collections/ansible_collections/appsnap"
  ln -sfn "$REPO_ROOT" "$BUILD/collections/ansible_collections/appsnap/velero"
  export ANSIBLE_COLLECTIONS_PATH="$BUILD/collections:$VENV/lib/python3.11/site-packages"
  export PATH="$VENV/bin:$PATH"
}

# ansible-test wants a real tree (it resolves symlinks), holding only the collection's files.
# It lists its targets with git, so the tree is a repository of its own, outside
# this checkout: inside it, build/ is ignored and ansible-test would skip everything.
layout_sanity_tree() {
  local root="$APPSNAP_CACHE/sanity" tree="$APPSNAP_CACHE/sanity/ansible_collections/appsnap/velero"
  rm -rf "$root"
  mkdir -p "$tree"
  (cd "$REPO_ROOT" && git ls-files -co --exclude-standard | grep -v '^lab/' | tar -cf - -T -) | tar -xf - -C "$tree"
  # validate-modules resolves kubernetes.core's doc fragment and module_utils: put the shipped copy beside ours.
  mkdir -p "$root/ansible_collections/kubernetes"
  cp -r "$VENV/lib/python3.11/site-packages/ansible_collections/kubernetes/core" "$root/ansible_collections/kubernetes/core"
  git -C "$tree" init -q && git -C "$tree" add -A
  echo "$tree"
}
