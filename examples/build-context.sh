#!/bin/sh
# Assembles the build context of one example image in DIR:
#     examples/build-context.sh tini|web|nodehook DIR
# DIR gets the example's own files, the static tend built by `make` in the
# repository root, and a static busybox (Debian's busybox-static); for
# nodehook also /usr/bin/node with the shared libraries it links, under
# DIR/rootfs. Then: docker build -t IMAGE DIR (podman build --format docker
# keeps the HEALTHCHECK of the web image).
set -eu
[ $# -eq 2 ] || { echo "usage: $0 tini|web|nodehook DIR" >&2; exit 2; }
example=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
busybox=${BUSYBOX:-/bin/busybox}
[ -d "$here/$example" ] || { echo "$0: no example '$example'" >&2; exit 2; }
[ -x "$root/tend" ] || { echo "$0: build tend first: make -C $root" >&2; exit 1; }
[ -x "$busybox" ] || { echo "$0: $busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir"
cp -R "$here/$example/." "$dir/"
cp "$root/tend" "$dir/tend"
cp "$busybox" "$dir/busybox"
if [ "$example" = nodehook ]; then
	node=${NODE:-/usr/bin/node}
	[ -x "$node" ] || { echo "$0: $node is missing (apt-get install nodejs)" >&2; exit 1; }
	mkdir -p "$dir/rootfs/usr/bin"
	cp "$node" "$dir/rootfs/usr/bin/node"
	# node is not static: its libraries and loader go along, at the paths
	# it was linked with
	ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		mkdir -p "$dir/rootfs$(dirname "$lib")"
		cp -L "$lib" "$dir/rootfs$lib"
	done
fi
