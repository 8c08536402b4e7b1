#!/usr/bin/env bash
# `make docker-smoke`: build the image and try it as a user would (issue #15). Not part of
# `make test`: a cold build takes minutes.
#
#   1. build the image (CPU torch) and check it is CPU-only and at most 2 GB;
#   2. start it on a fresh volume, published on 127.0.0.1 only;
#   3. wait for /readyz, ask the README's example question: 92, with a citation that slices
#      the document exactly (document.text[char_start:char_end] == answer);
#   4. a write without the key is refused (401), with the key it is accepted;
#   5. stop it (timed), start a new container on the same volume: the written document is
#      there and the index is not rebuilt; stop another one during its start-up (timed);
#   6. send SIGTERM during the first-start index build: the container must stop within 5 s.
# It prints the image size, its layers and each step's time.
#
# Uses podman or docker, whichever answers (CONTAINER_ENGINE=podman|docker to choose); where
# neither is installed or working it says why and exits 0.
# torch: TORCH_INDEX_URL is passed to the build when set. Otherwise PyTorch's CPU index is
# used when it answers; if it does not, a local CPU wheel of torch 2.13.0 (TORCH_WHEEL, or one
# found in pip's find-links folders) is served on 127.0.0.1 and passed as TORCH_INDEX_URL, and
# the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-citeqa:smoke}"
QUESTION="How many people has Mexico extradited?"
EXPECTED_ANSWER="92"
MAX_IMAGE_BYTES=2000000000
MAX_STOP_S=5
READY_TIMEOUT_S="${READY_TIMEOUT_S:-900}"
TORCH_VERSION=2.13.0
PYTORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"
API_KEY="smoke-$RANDOM$RANDOM"
run_id="$$"
workdir=""
containers=()
volumes=()
server_pid=""
step_names=()
step_seconds=()

say() { printf 'docker-smoke: %s\n' "$*"; }
fail() {
    printf 'docker-smoke: FAILED: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local name
    for name in "${containers[@]}"; do "$engine" rm -f "$name" >/dev/null 2>&1 || true; done
    for name in "${volumes[@]}"; do "$engine" volume rm -f "$name" >/dev/null 2>&1 || true; done
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    if [ -n "$workdir" ]; then rm -rf "$workdir"; fi
}

# Run "$@" as step $1 and record how long it took.
timed() {
    local name="$1" start end
    shift
    say "== $name"
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    step_names+=("$name")
    step_seconds+=("$(python3 -c "print(f'{$end - $start:.1f}')")")
    say "   $name: ${step_seconds[-1]} s"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the engine ---------------------------------------------------------------------------
engine=""
reasons=()
for candidate in ${CONTAINER_ENGINE:-podman docker}; do
    if ! command -v "$candidate" >/dev/null 2>&1; then
        reasons+=("$candidate: not installed")
    elif ! out=$("$candidate" info 2>&1 >/dev/null); then
        reasons+=("$candidate: installed but not working ($(printf '%s' "$out" | tail -1))")
    else
        engine="$candidate"
        break
    fi
done
if [ -z "$engine" ]; then
    say "skipped: no working container engine."
    for reason in "${reasons[@]}"; do say "  $reason"; done
    say "docker/README.md says how to install podman from Debian's packages."
    exit 0
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed on the host"
done
workdir="$(mktemp -d /tmp/citeqa-smoke.XXXXXX)"
trap cleanup EXIT
say "engine: $engine ($("$engine" --version))"

# --- where torch comes from ---------------------------------------------------------------
build_args=()
find_local_torch_wheel() {
    local dirs=() dir wheel
    if [ -n "${TORCH_WHEEL:-}" ]; then
        printf '%s\n' "$TORCH_WHEEL"
        return
    fi
    # pip's own find-links folders (e.g. from /etc/xdg/pip/pip.conf), in any section.
    while IFS= read -r dir; do
        dirs+=("${dir#file://}")
    done < <(python3 -m pip config list 2>/dev/null |
        sed -n "s/^[^=]*find-links='\(.*\)'$/\1/p" | tr ' ' '\n')
    for dir in "${dirs[@]}"; do
        for wheel in "$dir"/torch-"$TORCH_VERSION"+cpu-cp311-cp311-*linux*x86_64.whl; do
            if [ -f "$wheel" ]; then
                printf '%s\n' "$wheel"
                return
            fi
        done
    done
}

if [ -n "${TORCH_INDEX_URL:-}" ]; then
    say "torch: from TORCH_INDEX_URL=$TORCH_INDEX_URL (set by you)"
    build_args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
elif curl -sfI --max-time 15 "$PYTORCH_CPU_INDEX/torch/" >/dev/null 2>&1; then
    say "torch: from PyTorch's CPU index, $PYTORCH_CPU_INDEX (the Dockerfile's default)"
else
    wheel="$(find_local_torch_wheel)"
    if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
        fail "PyTorch's CPU index ($PYTORCH_CPU_INDEX) does not answer and no local CPU" \
            "wheel of torch $TORCH_VERSION was found: set TORCH_INDEX_URL or TORCH_WHEEL"
    fi
    mkdir -p "$workdir/index/torch"
    ln -s "$(readlink -f "$wheel")" "$workdir/index/torch/"
    # A fixed port keeps TORCH_INDEX_URL, and so the build cache, the same from run to run.
    port="${TORCH_WHEEL_PORT:-18765}"
    if ! python3 -c "import http.server as h; h.HTTPServer(('127.0.0.1', $port), None)" 2>/dev/null; then
        port="$(free_port)"
        say "torch: port ${TORCH_WHEEL_PORT:-18765} is taken, so $port (a cold build follows)"
    fi
    # The interpreter itself, not a wrapper (pyenv's shim) whose pid would not be the server's.
    python="$(python3 -c 'import sys; print(sys.executable)')"
    "$python" -m http.server --bind 127.0.0.1 --directory "$workdir/index" "$port" \
        >"$workdir/http.log" 2>&1 &
    server_pid=$!
    url="http://127.0.0.1:$port/"
    for _ in $(seq 50); do curl -sf "$url" >/dev/null 2>&1 && break; sleep 0.1; done
    say "torch: PyTorch's CPU index ($PYTORCH_CPU_INDEX) does not answer from here;"
    say "       INSTEAD the local CPU wheel $wheel"
    say "       is served at $url and passed as TORCH_INDEX_URL (build with --network host)"
    build_args+=(--build-arg "TORCH_INDEX_URL=$url" --network host)
fi
if [ "$engine" = podman ]; then
    # Podman's default OCI format drops HEALTHCHECK; the docker format keeps it.
    build_args+=(--format docker)
fi

# --- 1. build -----------------------------------------------------------------------------
build() {
    "$engine" build "${build_args[@]}" -f docker/Dockerfile -t "$IMAGE" . \
        >"$workdir/build.log" 2>&1 || {
        tail -40 "$workdir/build.log" >&2
        fail "the build failed (last lines above)"
    }
    grep -E '^torch ' "$workdir/build.log" | sed 's/^/docker-smoke:   build: /' || true
}
timed "build" build

size_bytes="$("$engine" image inspect --format '{{.Size}}' "$IMAGE")"
size_report="$(python3 -c "print(f'{$size_bytes / 1e9:.2f} GB ($size_bytes bytes)')")"
say "image $IMAGE: $size_report"
say "layers (newest first):"
"$engine" history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" |
    cut -c1-110 | sed 's/^/docker-smoke:   /'
[ "$size_bytes" -le "$MAX_IMAGE_BYTES" ] || fail "the image is over 2 GB: $size_report"
torch_build="$("$engine" run --rm --network none --entrypoint python "$IMAGE" \
    -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>"$workdir/torch.log")" || {
    cat "$workdir/torch.log" >&2
    fail "could not run python in the image"
}
say "torch in the image: $torch_build (version, CUDA)"
[ "${torch_build##* }" = None ] || fail "torch in the image is a CUDA build: $torch_build"

# --- helpers for the running container ---------------------------------------------------
# Start a container of the image on volume $2, published on 127.0.0.1:$port only, with a
# read-only root (docker/README.md says only /data is written: every step checks it).
start_container() {
    local name="$1" volume="$2"
    containers+=("$name")
    "$engine" run -d --read-only --name "$name" -p "127.0.0.1:$port:8000" -v "$volume:/data" \
        -e CITEQA_API_KEY="$API_KEY" "$IMAGE" >"$workdir/run.log" 2>&1 || {
        cat "$workdir/run.log" >&2
        fail "could not start $name"
    }
}

wait_ready() {
    local name="$1" deadline=$((SECONDS + READY_TIMEOUT_S))
    until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
        if [ "$("$engine" inspect --format '{{.State.Running}}' "$name")" != true ]; then
            "$engine" logs "$name" 2>&1 | tail -30 >&2
            fail "$name exited before it was ready"
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "$name not ready after $READY_TIMEOUT_S s"
        sleep 1
    done
}

# Stop container $1 (SIGTERM, then the engine's SIGKILL after 10 s) and require < MAX_STOP_S.
stop_within_limit() {
    local name="$1" start end took code
    start=$(date +%s.%N)
    # (stderr: podman without systemd complains that it has no health-check timer to remove)
    "$engine" stop -t 10 "$name" >/dev/null 2>"$workdir/stop.log" || {
        cat "$workdir/stop.log" >&2
        fail "could not stop $name"
    }
    end=$(date +%s.%N)
    took="$(python3 -c "print(f'{$end - $start:.1f}')")"
    code="$("$engine" inspect --format '{{.State.ExitCode}}' "$name")"
    say "   $name stopped in $took s, exit code $code"
    python3 -c "import sys; sys.exit(0 if $end - $start < $MAX_STOP_S else 1)" ||
        fail "$name took $took s to stop (limit $MAX_STOP_S s)"
    [ "$code" != 137 ] || fail "$name was killed by the engine (exit 137), not stopped"
}

# --- 2./3. fresh volume, 127.0.0.1 only, the README's question ----------------------------
port="$(free_port)"
volume="citeqa-smoke-$run_id"
volumes+=("$volume")
"$engine" volume create "$volume" >/dev/null
first="citeqa-smoke-first-$run_id"

first_start() {
    start_container "$first" "$volume"
    local published
    published="$("$engine" port "$first" 8000/tcp)"
    say "   published: $published"
    case "$published" in
    127.0.0.1:*) ;;
    *) fail "the port is published on $published, not on 127.0.0.1 only" ;;
    esac
    wait_ready "$first"
    if [ "$engine" = podman ]; then
        # Podman runs health checks from systemd timers; run it once by hand.
        "$engine" healthcheck run "$first" >/dev/null 2>&1 || fail "the health check fails"
        say "   health check: healthy"
    fi
}
timed "first start (index build) until /readyz" first_start

ask() {
    local answer
    curl -sf "http://127.0.0.1:$port/v1/query" -H 'content-type: application/json' \
        -d "{\"question\": \"$QUESTION\"}" >"$workdir/query.json" ||
        fail "POST /v1/query failed"
    answer="$(python3 -c '
import json, sys
answer = json.load(open(sys.argv[1]))["answer"] or {}
citation = answer.get("citation") or {}
print(answer.get("text"), citation.get("doc_id"), citation.get("char_start"), citation.get("char_end"))
' "$workdir/query.json")"
    read -r text doc_id char_start char_end <<<"$answer"
    say "   answer: $text  cited: $doc_id [$char_start:$char_end]"
    [ "$text" = "$EXPECTED_ANSWER" ] || fail "expected $EXPECTED_ANSWER, got $text"
    curl -sf "http://127.0.0.1:$port/v1/documents/$doc_id" >"$workdir/document.json" ||
        fail "GET /v1/documents/$doc_id failed"
    python3 -c '
import json, sys
text = json.load(open(sys.argv[1]))["text"]
start, end, expected = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.exit(0 if text[start:end] == expected else f"citation slices to {text[start:end]!r}")
' "$workdir/document.json" "$char_start" "$char_end" "$text"
    say "   document.text[$char_start:$char_end] == \"$text\""
}
timed "ask the README's question" ask

# --- 4. writes need the key ---------------------------------------------------------------
doc_body='{"doc_id": "smoke-check", "text": "The smoke check wrote this document on purpose.", "title": "Smoke check"}'
write() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/documents" \
        -H 'content-type: application/json' -d "$doc_body")"
    say "   POST /v1/documents without the key: $code"
    [ "$code" = 401 ] || fail "a write without the key got $code, not 401"
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/documents" \
        -H 'content-type: application/json' -H "Authorization: Bearer $API_KEY" -d "$doc_body")"
    say "   POST /v1/documents with the key: $code"
    [ "$code" = 200 ] || fail "a write with the key got $code, not 200"
}
timed "write without and with the key" write

# --- 5. stop, then a new container on the same volume ------------------------------------
timed "stop the serving container" stop_within_limit "$first"
second="citeqa-smoke-second-$run_id"
restart() {
    start_container "$second" "$volume"
    wait_ready "$second"
    curl -sf "http://127.0.0.1:$port/v1/documents/smoke-check" >"$workdir/kept.json" ||
        fail "the written document is gone after the restart"
    if "$engine" logs "$second" 2>&1 | grep -q 'building it from'; then
        fail "the new container rebuilt the index instead of using the volume's"
    fi
    say "   the written document is there; the index was not rebuilt"
}
timed "new container on the same volume until /readyz" restart
"$engine" rm -f "$second" >/dev/null 2>&1

# Wait (at most 2 minutes) until container $1's log shows $2; $3 says what that means.
wait_for_log() {
    local deadline=$((SECONDS + 120))
    until "$engine" logs "$1" 2>&1 | grep -q "$2"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$1 never $3"
        sleep 0.2
    done
}

# --- 5b. SIGTERM while the server starts (loading the index and the models) --------------
starting="citeqa-smoke-starting-$run_id"
stop_during_startup() {
    start_container "$starting" "$volume"
    wait_for_log "$starting" 'Waiting for application startup' "began its start-up"
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
        say "   (start-up was already over: this stop tested a serving container)"
    fi
    stop_within_limit "$starting"
}
timed "SIGTERM during the server's start-up" stop_during_startup

# --- 6. SIGTERM during the first-start index build ---------------------------------------
fresh="citeqa-smoke-fresh-$run_id"
volumes+=("$fresh")
"$engine" volume create "$fresh" >/dev/null
third="citeqa-smoke-build-$run_id"
stop_during_build() {
    start_container "$third" "$fresh"
    wait_for_log "$third" 'building it from' "started its index build"
    sleep 2 # well inside `citeqa index build`: it loads spaCy and the embedding model first
    if "$engine" exec "$third" test -f /data/index/CURRENT 2>/dev/null; then
        fail "the index build finished before SIGTERM could be sent during it"
    fi
    stop_within_limit "$third"
}
timed "SIGTERM during the first-start index build" stop_during_build

# --- summary ------------------------------------------------------------------------------
say "passed. image $IMAGE: $size_report; torch $torch_build"
for i in "${!step_names[@]}"; do
    printf 'docker-smoke:   %-48s %8s s\n' "${step_names[$i]}" "${step_seconds[$i]}"
done
