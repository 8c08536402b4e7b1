#!/bin/sh
# Container entry point: the same two steps as `make run`.
#   1. build the index from the shipped seeds when none exists yet ($CITEQA_INDEX_DIR/CURRENT);
#   2. run the command (default `citeqa serve`).
#
# This script stays PID 1 and runs each step as its child, because:
#   - the kernel drops any signal that PID 1 has no handler for, so Python as PID 1 ignores
#     SIGTERM until uvicorn installs its handlers, and `citeqa index build` never does;
#   - uvicorn acts on SIGTERM only once start-up is over, and start-up (loading the index and
#     the models, the first ONNX export of the query encoder, the first derivation of the
#     int8 reader into /data/model-cache) can outlast a stop's budget.
# So on SIGTERM or SIGINT the child gets SIGTERM (a shell starts background children with
# SIGINT ignored), and SIGKILL if it is still running STOP_GRACE_S seconds later: the
# container stops within about 3 s at any point. Killing is safe: a write publishes a new
# index generation only by an atomic rename of CURRENT, and the query encoder's export and the
# int8 reader are published by a rename too (a damaged one is made again at the next start).
# A serving uvicorn stops by itself in well under a second.
set -eu

STOP_GRACE_S=3

: "${CITEQA_INDEX_DIR:=/data/index}"
export CITEQA_INDEX_DIR

child=""
stopping=""

# SIGTERM now, SIGKILL STOP_GRACE_S later; the KILL runs beside `wait`, which only a signal
# or the child's exit ends.
stop_child() {
    kill -TERM "$child" 2>/dev/null || true
    (sleep "$STOP_GRACE_S" && kill -KILL "$child" 2>/dev/null) &
}

on_signal() {
    stopping="$1"
    if [ -n "$child" ]; then
        stop_child
    fi
}

exit_stopped() {
    echo "citeqa: stopped on SIG$stopping" >&2
    # 0 when the child finished cleanly; otherwise 128 + the signal, as a shell reports it.
    if [ "${1:-1}" -eq 0 ]; then exit 0; fi
    if [ "$stopping" = INT ]; then exit 130; fi
    exit 143
}

# TMPDIR and the caches point into /data (Dockerfile), which a fresh volume or a bind mount
# may not hold yet; with `--read-only` nothing else is writable.
mkdir -p "${TMPDIR:-/data/tmp}" "${XDG_CACHE_HOME:-/data/cache}"

exec 3<&0
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

# Run "$@" as a child and wait for it; exit instead if a stop is asked for.
run_child() {
    if [ -n "$stopping" ]; then
        exit_stopped
    fi
    # A background child gets /dev/null as stdin; hand it the real one, kept as fd 3, so
    # `docker run -it citeqa bash` still works.
    "$@" <&3 3<&- &
    child=$!
    # A signal that came before $! was known found no child to forward to.
    if [ -n "$stopping" ]; then
        stop_child
    fi
    status=0
    # A trapped signal ends `wait` early (status > 128); wait again until the child is gone.
    while :; do
        wait "$child" && status=0 || status=$?
        if ! kill -0 "$child" 2>/dev/null; then
            break
        fi
    done
    child=""
    if [ -n "$stopping" ]; then
        exit_stopped "$status"
    fi
    return "$status"
}

if [ ! -f "$CITEQA_INDEX_DIR/CURRENT" ]; then
    if ! mkdir -p "$CITEQA_INDEX_DIR" 2>/dev/null || [ ! -w "$CITEQA_INDEX_DIR" ]; then
        echo "citeqa: $CITEQA_INDEX_DIR is not writable by uid $(id -u);" \
            "a mounted /data must belong to uid 10001" >&2
        exit 1
    fi
    echo "citeqa: no index in $CITEQA_INDEX_DIR, building it from /app/seeds" >&2
    run_child citeqa index build --source /app/seeds --index-dir "$CITEQA_INDEX_DIR"
fi

if [ "$#" -eq 0 ]; then
    set -- citeqa serve
fi
run_child "$@"
