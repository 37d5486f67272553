#!/usr/bin/env bash
# Idempotent setup of the Docker sandbox (run as root; CI runs it before the tests):
#   1. installs docker.io and debootstrap with apt-get when they are missing;
#   2. starts dockerd (overlay2) in the background when no engine answers, and waits until one does;
#   3. builds the default sandbox image once (python -m rewardforge.sandbox.image build reuses it after).
# The engine it starts has no bridge network and touches no iptables: sandbox containers run with
# network "none", and the image is imported from a local debootstrap, never pulled.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${RF_PYTHON:-$ROOT/.venv/bin/python}"  # needs the docker SDK (scripts/setup.sh)
[ -x "$PYTHON" ] || PYTHON=python3
TAG="${RF_DOCKER_IMAGE:-rewardforge-sandbox:py3}"
LOG="${RF_DOCKERD_LOG:-/var/log/rewardforge-dockerd.log}"

if [ "$(id -u)" != 0 ]; then
  echo "setup_docker.sh: must run as root (installs packages, starts dockerd, runs debootstrap)" >&2
  exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup_docker.sh: installing ${missing[*]}"
  apt-get update -o DPkg::Lock::Timeout=600 -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! engine_answers; then
  echo "setup_docker.sh: starting dockerd (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  setsid nohup dockerd --storage-driver=overlay2 --bridge=none --iptables=false \
    >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 90); do
    engine_answers && break
    sleep 1
  done
  if ! engine_answers; then
    echo "setup_docker.sh: dockerd did not answer within 90s; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
fi
echo "setup_docker.sh: engine $(docker version --format '{{.Server.Version}}') answers"

cd "$ROOT"
"$PYTHON" -m rewardforge.sandbox.image build --tag "$TAG"
