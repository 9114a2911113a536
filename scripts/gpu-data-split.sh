#!/usr/bin/env bash
# Splits a device data folder into parts that each travel beside the checkout in one device call (64 MiB in all,
# scripts/travel-size.sh): DATA-1, DATA-2, … with the same layout, files hard-linked, whole files per part.
#   bash scripts/gpu-data-split.sh gpu-data          → gpu-data-1 … gpu-data-N (git-ignored like DATA)
# The machine keeps ignored folders between calls while it stays warm, so all parts but the last are sent by
# calls that do nothing else, and the last call runs `bash scripts/gpu-train.sh gpu-data-1 … gpu-data-N`
# (training/README.md, "Training on a GPU machine"). PART_BYTES overrides the size of a part (tests).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: gpu-data-split.sh DATA}
DATA=${DATA%/}
[ -d "$DATA" ] || { echo "gpu-data-split: $DATA is not a folder" >&2; exit 1; }
MARGIN=$((2 * 1024 * 1024)) # headroom: files that appear later (logs, a stray untracked file), rounding
PART=${PART_BYTES:-$((64 * 1024 * 1024 - $(bash scripts/travel-size.sh --tree) - MARGIN))}
[ "$PART" -gt 0 ] || { echo "gpu-data-split: the tree alone fills a device call" >&2; exit 1; }
REL=$(realpath --relative-to=. "$DATA")
INSIDE=$([ "${REL#..}" = "$REL" ] && echo 1 || echo 0) # inside the checkout: the parts must be git-ignored
if [ "$INSIDE" = 1 ] && ! git check-ignore -q "$DATA/"; then
  echo "gpu-data-split: $DATA is not git-ignored, so it would travel too: echo /$REL/ >> .git/info/exclude" >&2
  exit 1
fi
rm -rf "$DATA"-[0-9]*
LIST=$(mktemp); trap 'rm -f "$LIST"' EXIT
# Whole files, largest first, each into the first part with room (first-fit decreasing: few parts, few calls).
(cd "$DATA" && find . -type f -printf '%s %P\n' | sort -k1,1nr -k2) |
  awk -v part="$PART" '
    $1 > part { print "gpu-data-split: " $2 " alone is larger than a part" > "/dev/stderr"; exit 1 }
    { for (k = 1; k <= n && used[k] + $1 > part; k++) {}
      if (k > n) n = k
      used[k] += $1; print k, $2 }' > "$LIST"
n=0
while read -r k f; do
  mkdir -p "$DATA-$k/$(dirname "$f")"
  ln "$DATA/$f" "$DATA-$k/$f"
  [ "$k" -gt "$n" ] && n=$k
done < "$LIST"
for k in $(seq 1 "$n"); do
  if [ "$INSIDE" = 1 ] && ! git check-ignore -q "$DATA-$k/"; then echo "/$REL-$k/" >> .git/info/exclude; fi
  echo "gpu-data-split: $DATA-$k $(du -sb "$DATA-$k" | awk '{ printf "%.1f MiB", $1 / 1048576 }')"
done
