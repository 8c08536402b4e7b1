#!/usr/bin/env bash
# Installs the Chromium that the tests marked `browser` drive.
#
# Debian's package rather than `playwright install`: Playwright downloads its browsers from a
# CDN, which is unreachable where citeqa is built, while the distribution mirror is not.
# Without apt-get or root this only explains itself and exits 0, and the browser tests skip.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $CHROMIUM is already installed; nothing to do."
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: apt-get is not available; install Chromium at $CHROMIUM by hand" \
        "or the browser tests will be skipped."
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: not root; run 'sudo $0' to install Chromium," \
        "or the browser tests will be skipped."
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium

if [ ! -x "$CHROMIUM" ]; then
    echo "install-browser: apt-get installed chromium but $CHROMIUM is missing." >&2
    exit 1
fi
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)."
