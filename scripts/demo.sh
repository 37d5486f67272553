#!/usr/bin/env bash
# Set up (see setup.sh) and run the demo: score the bundled examples with a composed reward.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rewardforge demo "$@"
