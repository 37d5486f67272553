#!/usr/bin/env bash
# Set up everything the tests need and run the whole suite:
#   Python deps (.venv), bubblewrap for the local sandbox, a Docker engine and the sandbox image,
#   and the trainers that pin their own dependencies (verl in .venv-verl, OpenRLHF in .venv-openrlhf).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_sandbox.sh
bash scripts/setup_docker.sh
bash scripts/setup_verl.sh && bash scripts/setup_openrlhf.sh   # trainers with their own pins
.venv/bin/python -m pytest "$@"
