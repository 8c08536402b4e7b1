#!/bin/sh
# Container entry point: the same two steps as `make run`.
#   1. build the index from the shipped seeds when none exists yet ($CITEQA_INDEX_DIR/CURRENT);
#   2. exec the command (default `citeqa serve`), so it runs as PID 1 and gets SIGTERM.
set -eu

: "${CITEQA_INDEX_DIR:=/data/index}"
export CITEQA_INDEX_DIR

if [ ! -f "$CITEQA_INDEX_DIR/CURRENT" ]; then
    if ! mkdir -p "$CITEQA_INDEX_DIR" 2>/dev/null || [ ! -w "$CITEQA_INDEX_DIR" ]; then
        echo "citeqa: $CITEQA_INDEX_DIR is not writable by uid $(id -u);" \
            "a mounted /data must belong to uid 10001" >&2
        exit 1
    fi
    echo "citeqa: no index in $CITEQA_INDEX_DIR, building it from /app/seeds" >&2
    citeqa index build --source /app/seeds --index-dir "$CITEQA_INDEX_DIR"
fi

if [ "$#" -eq 0 ]; then
    set -- citeqa serve
fi
exec "$@"
