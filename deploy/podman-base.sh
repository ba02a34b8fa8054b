#!/usr/bin/env bash
# Makes a Python base image for deploy/Dockerfile from Debian packages, for machines that reach the Debian
# mirror but no public image registry (CI here). Users with a registry keep the Dockerfile's default base.
#   deploy/podman-base.sh [IMAGE]     # default localhost/spider-base:bookworm; nothing to do if it exists
# Then: podman build --build-arg PYTHON_IMAGE=localhost/spider-base:bookworm -f deploy/Dockerfile .
# The image is Debian 12 minbase with Debian's python3 (3.11), python3-venv and the CA store, and the mirror
# apt already uses on this machine as its only source (the Dockerfile's build stage installs gcc from it).
set -euo pipefail

IMAGE=${1:-localhost/spider-base:bookworm}
if podman image exists "$IMAGE"; then
    echo "podman-base: $IMAGE exists"
    exit 0
fi
for tool in podman debootstrap; do
    command -v "$tool" >/dev/null || { echo "podman-base: $tool missing (apt-get install podman runc debootstrap)" >&2; exit 1; }
done

# The first Debian mirror of this machine's apt sources (deb822 or one-line format).
mirror=$(grep -hoE '(URIs:|^deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d /var/tmp/spider-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
began=$(date +%s)
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# What an image does not need: downloaded packages and package lists (the build stage runs apt-get update).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "podman-base: $IMAGE made from $mirror in $(( $(date +%s) - began ))s"
