#!/usr/bin/env bash
# Set up (see setup.sh) and run the demo: score the bundled examples with a composed reward, then train a
# tiny model with GRPO on the toy arithmetic task (a shortened examples/grpo_toy.yaml, about 30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rewardforge demo "$@"
