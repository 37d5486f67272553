#!/usr/bin/env bash
# verl's own virtualenv for the verl adapter tests (tests/integrations/test_verl.py).
# verl pins an older transformers than the dev extra, so it cannot share .venv. The environment is
# cached: it is rebuilt only when this script or pyproject.toml changes (a stamp holds their hash).
# torch is held at the CPU build the dev extra pins, so no CUDA torch is pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-verl
STAMP="$VENV/.rewardforge-stamp"
want="$(cat scripts/setup_verl.sh pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  echo "verl venv up to date ($VENV)"
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pins="$(mktemp)"
trap 'rm -f "$pins"' EXIT
echo "torch==2.13.0" > "$pins"
quiet() { grep -v "^WARNING: Location" || true; }
"$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | quiet
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0" 2>&1 | quiet
"$VENV/bin/python" -m pip install --quiet -c "$pins" -e ".[verl]" 2>&1 | quiet
"$VENV/bin/python" -c "import verl, torch, transformers, rewardforge; \
print('verl', verl.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
echo "$want" > "$STAMP"
