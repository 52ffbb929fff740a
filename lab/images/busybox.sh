#!/usr/bin/env bash
# Tiny test image from Debian's busybox-static: localhost/appsnap/busybox:1.35
# shellcheck source=lab/images/lib.sh
. "$(dirname "$0")/lib.sh"
out=$LAB_IMAGES/busybox-$(recipe_hash "$0").tar
[ -s "$out" ] && { echo "$out"; exit 0; }
echo "[image] building busybox -> $out" >&2
work=$(mktemp -d "$APPSNAP_CACHE/tmp-busybox.XXXXXX"); trap 'rm -rf "$work"' EXIT
cd "$work" || exit
mkdir -p root/bin root/tmp root/etc
cp /bin/busybox root/bin/busybox
for a in $(root/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "root/bin/$a"; done
chmod 1777 root/tmp
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > root/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > root/etc/group
umoci init --layout oci
umoci new --image oci:1.35
umoci insert --image oci:1.35 root /
umoci config --image oci:1.35 --config.cmd=/bin/sh --config.env=PATH=/bin --architecture=amd64 --os=linux
oci_layout_to_tar oci 1.35 localhost/appsnap/busybox:1.35 "$out"
prune_old busybox "$out"
echo "$out"
