#!/usr/bin/env bash
# Installs what the local sandbox backend needs: bubblewrap (util-linux's prlimit/setpriv/unshare are
# part of every Debian base system). Idempotent and quiet; installing needs root.
# Usage: scripts/setup_sandbox.sh
set -euo pipefail

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
for tool in prlimit setpriv unshare; do
    command -v "$tool" >/dev/null 2>&1 || { missing+=(util-linux); break; }
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_sandbox.sh: missing ${missing[*]}; installing needs root (apt-get install ${missing[*]})" >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    echo "setup_sandbox.sh: apt-get install ${missing[*]} failed:" >&2
    cat "$log" >&2
    exit 1
fi
command -v bwrap >/dev/null 2>&1 || { echo "setup_sandbox.sh: bwrap still missing after install" >&2; exit 1; }
