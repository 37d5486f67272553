#!/usr/bin/env bash
# OpenRLHF's own code for the OpenRLHF adapter tests (tests/integrations/test_openrlhf.py).
# OpenRLHF requires deepspeed, flash-attn and vLLM, which need a GPU; its reward-file loader and
# single-turn executor do not. So the package goes in without its dependencies, into a folder the
# tests put on sys.path (with pylatexenc, which its package __init__ imports). Cached by a stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.venv-openrlhf
STAMP="$DEST/.rewardforge-stamp"
want="$(sha256sum scripts/setup_openrlhf.sh | cut -d' ' -f1)"
if [ -d "$DEST/openrlhf" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  echo "openrlhf up to date ($DEST)"
  exit 0
fi
rm -rf "$DEST"
.venv/bin/python -m pip install --quiet --no-deps --target "$DEST" "openrlhf>=0.11,<0.12" "pylatexenc>=2.10" 2>&1 \
  | grep -v "^WARNING: Location" || true
rm -rf "$DEST/tests"   # OpenRLHF ships a top-level `tests` package; keep it off sys.path
test -f "$DEST/openrlhf/utils/agent.py"
echo "$want" > "$STAMP"
echo "openrlhf installed in $DEST"
