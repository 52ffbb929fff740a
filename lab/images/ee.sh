#!/usr/bin/env bash
# The collection's execution environment (EE) image, localhost/appsnap/ee:<galaxy.yml version>,
# built as the lab's other images are: a Debian bookworm root filesystem by mmdebstrap,
# assembled with umoci, imported into the lab's containerd by `lab/lab up`. No container
# engine, no registry, no Galaxy.
#   usage: lab/images/ee.sh   (prints the tarball's path; needs the test venv on PATH:
#                              ansible-builder, ansible-galaxy, pip)
#
# What goes in comes from meta/execution-environment.yml, through `ansible-builder create`
# (the same declarations an AWX admin's `ansible-builder build` reads):
#   - ANSIBLE_INSTALL_REFS of its Containerfile (ansible-core, ansible-runner);
#   - _build/requirements.yml (kubernetes.core): Galaxy is out of reach here, so the
#     kubernetes.core of the test venv (tests/requirements.txt's `ansible`) is packed into a
#     collection tarball and installed offline with `ansible-galaxy collection install`;
#   - the collection itself, `ansible-galaxy collection build` of this checkout;
#   - the Python requirements: ansible-builder's own introspect.py over the installed
#     collections, with _build/requirements.txt, exactly as its builder stage does;
#   - _build/bindep.txt: must stay empty of packages (the image is Debian, bindep's dnf is not).
# Versions are those of the supported stack: tests/requirements.txt's pins are the pip
# constraints. The image keeps what it was built from in /usr/share/appsnap-ee/ (the test
# tests/integration/awx/test_ee_image.py compares it with a fresh `ansible-builder create`).
#
# Caches, all in $APPSNAP_CACHE/ee (delete it and the tarball for a cold build): wheels, pip's
# cache, and the base layer (Debian, Python and the Python requirements: base-<key>/{root,oci}, <key> covering
# this script, lib.sh and the requirements), so a change to the collection rebuilds only the top
# layer (the collections). The tarball: $APPSNAP_CACHE/images/ee-<hash>.tar, <hash> covering this script,
# lib.sh, the builder context, the constraints and every file of the built collection but tests/,
# changelogs/ and README.md.
# shellcheck source=lab/images/lib.sh
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
EE_CACHE=$APPSNAP_CACHE/ee
mkdir -p "$EE_CACHE/wheels"
export PIP_CACHE_DIR=$EE_CACHE/pip PIP_DISABLE_PIP_VERSION_CHECK=1
# a PIP_FIND_LINKS naming no directory makes pip warn once per package
if [ -n "${PIP_FIND_LINKS:-}" ] && [ ! -d "$PIP_FIND_LINKS" ]; then unset PIP_FIND_LINKS; fi
for tool in ansible-builder ansible-galaxy python3; do
  command -v "$tool" > /dev/null || { echo "[image] ee: $tool not on PATH (run from tests/run, or put .venv/bin on PATH)" >&2; exit 1; }
done
version=$(sed -n 's/^version: *//p' "$REPO/galaxy.yml")
ref=localhost/appsnap/ee:$version
t0=$SECONDS
recipe=$(recipe_hash "$0")  # before the cd below: $0 and lib.sh may be relative paths

work=$(mktemp -d "$APPSNAP_CACHE/tmp-ee.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# the builder's context: what meta/execution-environment.yml declares
ansible-builder create -f "$REPO/meta/execution-environment.yml" --context context > builder.log 2>&1 \
  || { cat builder.log >&2; echo "[image] ee: ansible-builder create failed" >&2; exit 1; }
refs=$(sed -n 's/^ARG ANSIBLE_INSTALL_REFS="\(.*\)"$/\1/p' context/Dockerfile)
[ -n "$refs" ] || { echo "[image] ee: no ANSIBLE_INSTALL_REFS in ansible-builder's Containerfile" >&2; exit 1; }
if grep -qvE '^[[:space:]]*(#|$)' context/_build/bindep.txt; then
  echo "[image] ee: bindep.txt names system packages; this Debian image cannot install them with bindep (dnf): $(grep -vE '^[[:space:]]*(#|$)' context/_build/bindep.txt | tr '\n' ' ')" >&2
  exit 1
fi
# the supported stack's versions, as pip constraints
grep -E '^(ansible-core|ansible-runner|kubernetes|PyYAML)==' "$REPO/tests/requirements.txt" > constraints.txt
# the collection, and kubernetes.core built from the venv's installed copy
mkdir dist
ansible-galaxy collection build --output-path dist "$REPO" > /dev/null
# (the installed copy has no galaxy.yml: MANIFEST.json's collection_info is one, field for field)
python3 - kc-src <<'PY'
import json, os, shutil, sys
import yaml
import ansible_collections.kubernetes.core as kc
src = list(kc.__path__)[0]
shutil.copytree(src, sys.argv[1], ignore=shutil.ignore_patterns("MANIFEST.json", "FILES.json", "__pycache__"))
info = json.load(open(os.path.join(src, "MANIFEST.json")))["collection_info"]
yaml.safe_dump(info, open(os.path.join(sys.argv[1], "galaxy.yml"), "w"))
PY
ansible-galaxy collection build --output-path dist kc-src > /dev/null
# collections, installed offline by ansible-galaxy into the path ansible-builder uses, in the image's top layer
# (ANSIBLE_COLLECTIONS_PATH: only that path, or ansible-galaxy skips a dependency the host already has)
colls=overlay/usr/share/ansible/collections
mkdir -p "$colls"
ANSIBLE_COLLECTIONS_PATH=$colls ansible-galaxy collection install --offline -p "$colls" dist/kubernetes-core-*.tar.gz dist/appsnap-velero-"$version".tar.gz > galaxy.log 2>&1 \
  || { cat galaxy.log >&2; echo "[image] ee: ansible-galaxy collection install failed" >&2; exit 1; }
# the Python requirements, as ansible-builder's builder stage gathers them
python3 context/_build/scripts/introspect.py introspect --sanitize --user-pip=context/_build/requirements.txt \
  --user-bindep=context/_build/bindep.txt --write-pip=requirements.txt --write-bindep=bindep.txt "$colls" > introspect.log 2>&1 \
  || { cat introspect.log >&2; echo "[image] ee: introspect.py failed" >&2; exit 1; }
# system packages (bindep): only lines restricted to other platforms are allowed (kubernetes.core
# names kubectl for Fedora and RHEL, for its kubectl connection plugin, which the collection does not use)
touch bindep.txt  # introspect.py writes it only when some collection names system packages
debian_bindep=$(python3 - bindep.txt <<'PY'
import re, sys
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    platforms = re.findall(r"platform:([\w.-]+)", line)
    if line and not (platforms and all(re.match(r"(fedora|rhel|centos|redhat|rpm|suse)", p) for p in platforms)):
        print(line)
PY
)
[ -z "$debian_bindep" ] || { echo "[image] ee: the collections need system packages (bindep) this recipe does not install: $debian_bindep" >&2; exit 1; }
# shellcheck disable=SC2086  # refs: a list of requirement specifiers
printf '%s\n' $refs > install-refs.txt

# Two layers. The base (Debian, Python, the venv with every Python requirement) is cached in
# $EE_CACHE/base-<key>/ by what it is made of; the top layer (the collections, the record) is
# what a change to the collection rebuilds.
base_key=$( { echo "$recipe"; cat constraints.txt install-refs.txt requirements.txt; } | sha256sum | cut -c1-12)
base=$EE_CACHE/base-$base_key
h=$( { echo "$recipe $base_key"; cat context/Dockerfile context/_build/requirements.txt context/_build/requirements.yml
       # the collection's files but tests/, changelogs/ and README.md (never used in the image): editing them rebuilds nothing
       tar -xOzf dist/appsnap-velero-"$version".tar.gz FILES.json | python3 -c 'import json, sys
print(json.dumps([f for f in json.load(sys.stdin)["files"] if not f["name"].startswith(("tests/", "changelogs/", "README.md"))]))'
       ls dist; } | sha256sum | cut -c1-12)
out=$LAB_IMAGES/ee-$h.tar
[ -s "$out" ] && { echo "$out"; exit 0; }

# commands in the image's root: a clean environment (this host's PIP_* settings stay out)
in_root() { chroot root /usr/bin/env -i PATH=/opt/ee/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
if [ ! -d "$base/root" ]; then
  echo "[image] building the ee base (Debian bookworm, mmdebstrap, Python requirements; ~2-3 min) -> $base" >&2
  # root filesystem: Python and a user for the job (uid 1000, home /runner, as AWX's EE)
  # shellcheck disable=SC2016  # $1 is expanded by the hook's sh
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid 0 --home-dir /runner --no-create-home --shell /bin/bash runner' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    bookworm root "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" "deb http://deb.debian.org/debian-security bookworm-security main"
  install -d -m 0775 -o 1000 -g 0 root/runner
  # wheels on this host (same Python minor as bookworm's: 3.11), installed offline in the image
  python3 -m pip download -q --dest "$EE_CACHE/wheels" -c constraints.txt -r install-refs.txt -r requirements.txt \
    || { echo "[image] ee: pip download failed" >&2; exit 1; }
  mkdir -p root/tmp/ee
  cp constraints.txt install-refs.txt requirements.txt root/tmp/ee/
  in_root /usr/bin/python3 -m venv /opt/ee
  cp -rl "$EE_CACHE/wheels" root/tmp/wheels 2>/dev/null || cp -r "$EE_CACHE/wheels" root/tmp/wheels  # hard links when on one filesystem
  in_root /opt/ee/bin/pip install -q --no-index --find-links /tmp/wheels \
    -c /tmp/ee/constraints.txt -r /tmp/ee/install-refs.txt -r /tmp/ee/requirements.txt \
    || { echo "[image] ee: pip install in the image failed" >&2; exit 1; }
  rm -rf root/tmp/wheels root/tmp/ee root/root/.cache
  install -d root/usr/share/appsnap-ee
  in_root /opt/ee/bin/python -m pip list --format json > root/usr/share/appsnap-ee/pip-list.json
  rm -rf "$base.tmp"; mkdir -p "$base.tmp"
  umoci init --layout "$base.tmp/oci"
  umoci new --image "$base.tmp/oci:base"
  umoci insert --image "$base.tmp/oci:base" root /
  mv root "$base.tmp/root"
  for old in "$EE_CACHE"/base-????????????; do [ -e "$old" ] && rm -rf "$old"; done
  mv "$base.tmp" "$base"
fi
echo "[image] building ee $version on base $base_key -> $out" >&2

# the top layer: the collections (above), and what the image was built from, for the drift test and for
# whoever inspects it; checked and listed in the image's root by the image's own ansible tools
install -d overlay/usr/share/appsnap-ee
cp context/Dockerfile overlay/usr/share/appsnap-ee/Containerfile
cp context/_build/requirements.yml context/_build/requirements.txt context/_build/bindep.txt overlay/usr/share/appsnap-ee/
cp install-refs.txt constraints.txt overlay/usr/share/appsnap-ee/
cp requirements.txt overlay/usr/share/appsnap-ee/introspected-requirements.txt
# a copy of the base's root with hard links (files are never changed in place: new files only)
cp -al "$base/root" root
cp -a overlay/. root/
in_root /opt/ee/bin/ansible-runner --version > /dev/null
in_root /opt/ee/bin/ansible-galaxy collection list --format json > overlay/usr/share/appsnap-ee/collections.json
cp root/usr/share/appsnap-ee/pip-list.json overlay/usr/share/appsnap-ee/pip-list.json
rm -rf root

mkdir oci  # the base's layout: blobs (content-addressed, never rewritten) as hard links, the index copied
cp -rl "$base/oci/blobs" oci/
cp "$base/oci/index.json" "$base/oci/oci-layout" oci/
# the top layer with `umoci raw add-layer` of a tar made here: umoci 0.4.7's `insert` cuts the end off a
# layer whose last entry is a file (the tar stream ends mid-file; the base's ends with a directory)
tar --numeric-owner --owner=0 --group=0 -C overlay -cf top-layer.tar usr
umoci raw add-layer --image oci:base top-layer.tar
umoci config --image oci:base --tag "$version" --architecture=amd64 --os=linux \
  --config.user=1000 --config.workingdir=/runner --config.cmd=bash \
  --config.env=PATH=/opt/ee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env=HOME=/runner --config.env=LANG=C.UTF-8 \
  --config.label=ansible-execution-environment=true
umoci rm --image oci:base && umoci gc --layout oci
oci_layout_to_tar oci "$version" "$ref" "$out"
prune_old ee "$out"
echo "[image] ee $version built in $((SECONDS - t0))s ($(du -m "$out" | cut -f1) MiB)" >&2
echo "$out"
