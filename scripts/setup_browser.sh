#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package), which the HTML report's browser test
# renders and screenshots. Idempotent and quiet; installing needs root.
# Usage: scripts/setup_browser.sh
set -euo pipefail

command -v chromium >/dev/null 2>&1 && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_browser.sh: chromium is missing; installing needs root (apt-get install chromium)" >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
    echo "setup_browser.sh: apt-get install chromium failed:" >&2
    cat "$log" >&2
    exit 1
fi
command -v chromium >/dev/null 2>&1 || { echo "setup_browser.sh: chromium still missing after install" >&2; exit 1; }
