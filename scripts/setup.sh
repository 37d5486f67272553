#!/usr/bin/env bash
# Python side of the setup: a virtual environment in .venv with rewardforge and its dev extras.
# Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
# torch==2.13.0 (CPU) is pinned in the dev extra; any other torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import rewardforge, torch; print('rewardforge', rewardforge.__version__, '| torch', torch.__version__)"
