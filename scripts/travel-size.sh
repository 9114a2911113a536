#!/usr/bin/env bash
# What one device call sends, against its 64 MiB limit: the tracked and untracked-not-ignored files of this
# checkout, plus the carried paths given as arguments. Exit 1 when over.
#   bash scripts/travel-size.sh [CARRY_PATH ...]
# `--tree` prints only the tree's bytes (for scripts/gpu-data-split.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=$((64 * 1024 * 1024))
tree=$(git ls-files -z --cached --others --exclude-standard |
  xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
if [ "${1:-}" = --tree ]; then echo "$tree"; exit 0; fi
carry=0
for p in "$@"; do carry=$((carry + $(du -sb -- "$p" | cut -f1))); done
total=$((tree + carry))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "travel-size: tree $(mib "$tree") + carry $(mib "$carry") = $(mib "$total") (limit $(mib "$LIMIT"))"
[ "$total" -le "$LIMIT" ] || { echo "travel-size: over the limit by $(mib $((total - LIMIT)))" >&2; exit 1; }
