#!/usr/bin/env bash
# Make a STAND-IN for the `python:3.11-slim` base image on a host that reaches no container
# registry (only Debian's package mirror): Debian bookworm from debootstrap, with Debian's own
# Python 3.11, tagged docker.io/library/python:3.11-slim so `FROM python:3.11-slim` finds it
# locally. It is not the official image (that one builds CPython 3.11.x from source into
# /usr/local); it only has to give the Dockerfile what it uses: `python` with venv and pip,
# groupadd/useradd, and CA certificates (Debian's, plus any the host added itself).
#
# Usage (as root, with podman or docker):  scripts/make-standin-base.sh [ENGINE]
# Needs: debootstrap (apt-get install -y debootstrap).
set -euo pipefail

engine="${1:-}"
if [ -z "$engine" ]; then
    for candidate in podman docker; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" info >/dev/null 2>&1; then
            engine="$candidate"
            break
        fi
    done
fi
if [ -z "$engine" ]; then
    echo "make-standin-base: no working podman or docker" >&2
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "make-standin-base: debootstrap is missing (apt-get install -y debootstrap)" >&2
    exit 1
fi

tag="docker.io/library/python:3.11-slim"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d /tmp/citeqa-standin.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

# minbase: essential packages only (bash, coreutils, passwd for useradd, tar); python3.11-venv
# brings ensurepip, which `python -m venv` needs to put pip in the venv; it depends on the
# virtual python3.11-distutils, which debootstrap cannot resolve, so python3-distutils is named.
debootstrap --variant=minbase \
    --include=python3.11,python3.11-venv,python3-distutils,ca-certificates \
    bookworm "$rootfs" "$mirror"

# Trust what the host trusts: a host that reaches PyPI only through a TLS-intercepting proxy
# has that proxy's CA in /usr/local/share/ca-certificates, and pip inside the build needs it
# too. (The official image trusts Debian's list only; see docker/README.md.)
host_cas=(/usr/local/share/ca-certificates/*.crt)
if [ -e "${host_cas[0]}" ]; then
    cp "${host_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates
    echo "make-standin-base: added the host's CA certificates: ${host_cas[*]##*/}"
fi

# The official image's names: `python` and `python3` on PATH.
ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python"
ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python3"
# What the official slim image also leaves out: apt's lists and caches, docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar -C "$rootfs" -c . | "$engine" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag"
"$engine" run --rm "$tag" python -c 'import sys, venv, ssl; print("stand-in base:", sys.version)'
echo "make-standin-base: tagged $tag (a STAND-IN, not the official image)"
