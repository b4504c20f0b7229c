#!/bin/sh
# Installs what a fresh Debian or Ubuntu machine lacks for a purpose:
#   tests/deps.sh build|test|bench|demo...
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -eu

packages=""
need() {	# need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || packages="$packages $2"
}
need_file() {	# need_file PATH PACKAGE: for what is not on PATH
	[ -e "$1" ] || packages="$packages $2"
}
need_glob() {	# need_glob PATTERN PACKAGE: a file of some version
	# shellcheck disable=SC2086
	for f in $1; do [ -e "$f" ] && return 0; done
	packages="$packages $2"
}

for purpose in "$@"; do
	case $purpose in
	build)
		need musl-gcc musl-tools
		need make make
		need gcc gcc
		;;
	test)
		need unshare util-linux
		need ps procps
		need podman podman
		need runc runc
		# podman only recommends its network backend and the pause
		# process of pods; --no-install-recommends leaves them out
		need_file /usr/lib/podman/netavark netavark
		need_file /usr/lib/podman/aardvark-dns aardvark-dns
		need catatonit catatonit
		need supervisord supervisor
		# test_ready.py: the endpoints over the socket, and the
		# reference sender of ready=notify
		need curl curl
		need systemd-notify systemd
		# test_examples.py: the manifests, and the nodehook image
		need node nodejs
		[ -x /bin/busybox ] || packages="$packages busybox-static"
		/usr/bin/python3 -c 'import pytest' 2>/dev/null ||
			packages="$packages python3-pytest"
		# tests/test_web.py: a real browser with a font for its
		# screenshot, npm for playwright-core (which the test installs
		# into a cache and runs with node), and promtool
		need chromium chromium
		need_file /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
			fonts-dejavu-core
		need npm npm
		need promtool prometheus
		# tests/test_examples.py reads the manifests
		/usr/bin/python3 -c 'import yaml' 2>/dev/null ||
			packages="$packages python3-yaml"
		;;
	bench)
		need tini-static tini
		need dumb-init dumb-init
		need catatonit catatonit
		need supervisord supervisor
		need supervisorctl supervisor
		need wrk wrk
		# the bench's helpers are built with cc, static when libc.a
		# is there; gcc only recommends glibc's headers and libc.a
		need_file /usr/include/stdio.h libc6-dev
		;;
	demo)
		need unshare util-linux
		;;
	fuzz)
		# libFuzzer and the sanitizers' runtimes: clang only
		# recommends them
		need clang clang
		need_glob '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' \
			libclang-rt-14-dev
		;;
	soak)
		need curl curl
		need prlimit util-linux
		;;
	*)
		echo "tests/deps.sh: unknown purpose '$purpose'" >&2
		exit 2
		;;
	esac
done

[ -n "$packages" ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages; run: sudo apt-get install -y$packages" >&2
	exit 1
fi
echo "installing:$packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
