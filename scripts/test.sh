#!/usr/bin/env bash
# Set up everything the tests need and run the whole suite:
#   Python deps (.venv), bubblewrap for the local sandbox, a Docker engine and the sandbox image,
#   the trainers that pin their own dependencies (verl in .venv-verl, OpenRLHF in .venv-openrlhf),
#   and headless Chromium for the HTML report's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_sandbox.sh
bash scripts/setup_docker.sh
bash scripts/setup_verl.sh && bash scripts/setup_openrlhf.sh   # trainers with their own pins
bash scripts/setup_browser.sh
.venv/bin/python -m pytest "$@"
